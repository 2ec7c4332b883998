"""The coupon feature's reactions to subscriber events."""

from campaign.coupons.services import owe_welcome
from campaign.subscribers.signals import subscriber_confirmed


@subscriber_confirmed.connect
def queue_welcome(subscriber_id: int, **_: object) -> None:
    """On confirmation the welcome is owed, in the confirmation's own transaction;
    a worker issues the coupon and mails it once that commits."""
    owe_welcome(subscriber_id)
