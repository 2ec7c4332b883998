"""The coupon feature's reactions to subscriber events."""

from campaign.coupons.tasks import welcome_subscriber
from campaign.outbox import after_commit
from campaign.subscribers.signals import subscriber_confirmed


@subscriber_confirmed.connect
def queue_welcome(subscriber_id: int, **_: object) -> None:
    """On confirmation, the worker issues the welcome coupon and mails it."""
    after_commit(welcome_subscriber, subscriber_id)
