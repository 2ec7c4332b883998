"""The campaign feature's reactions to subscriber events."""

from datetime import datetime, timedelta

from sqlalchemy import select, update

from campaign.campaigns.models import Delivery, DeliveryStatus
from campaign.extensions import db
from campaign.subscribers.signals import subscriber_unsubscribed

# An unsubscribe counts against the newsletter the reader got last, if this recent.
UNSUBSCRIBE_WINDOW_DAYS = 7


@subscriber_unsubscribed.connect
def credit_unsubscribe(subscriber_id: int, at: datetime, **_: object) -> None:
    """Mark the newsletter the reader got last within the window before ``at`` as the
    one they left after; in the unsubscribe's transaction.

    Each delivery counts one unsubscribe at most: a reader who signs up again and
    leaves before the next newsletter is not counted twice against the last one.
    """
    last_received = (
        select(Delivery.id)
        .where(
            Delivery.subscriber_id == subscriber_id,
            Delivery.status == DeliveryStatus.SENT,
            Delivery.sent_at <= at,
            Delivery.sent_at > at - timedelta(days=UNSUBSCRIBE_WINDOW_DAYS),
        )
        .order_by(Delivery.sent_at.desc(), Delivery.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == last_received, Delivery.unsubscribed_at.is_(None))
        .values(unsubscribed_at=at)
        .execution_options(synchronize_session=False)
    )
