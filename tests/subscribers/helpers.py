import time
from contextlib import contextmanager

from itsdangerous import TimestampSigner
from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers import services
from campaign.subscribers.models import Subscriber
from campaign.subscribers.services import Signup


def pending_subscriber(email: str, first_name: str | None = None) -> Subscriber:
    services.subscribe(Signup.parse(email=email, first_name=first_name, consent=True))
    db.session.commit()
    return db.session.scalar(select(Subscriber).filter_by(email=email))


def confirmed_subscriber(email: str) -> Subscriber:
    subscriber = pending_subscriber(email)
    services.confirm(subscriber.id, subscriber.optin_round, ip="127.0.0.1")
    db.session.commit()
    db.session.refresh(subscriber)
    return subscriber


@contextmanager
def minted_in_the_past(seconds: int):
    """Tokens made inside this block carry a timestamp ``seconds`` ago."""
    original = TimestampSigner.get_timestamp
    TimestampSigner.get_timestamp = lambda self: int(time.time()) - seconds
    try:
        yield
    finally:
        TimestampSigner.get_timestamp = original
