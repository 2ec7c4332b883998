"""The emails of the subscriber lifecycle."""

from __future__ import annotations

from flask import current_app

from campaign import clinic
from campaign.emails import Email, public_url
from campaign.subscribers import services
from campaign.subscribers.models import Subscriber


def unsubscribe_link(subscriber_id: int) -> tuple[str, str]:
    token = services.unsubscribe_token(subscriber_id)
    return public_url(f"/unsubscribe/{token}"), token


def confirmation_email(subscriber: Subscriber) -> Email:
    from campaign.coupons.services import welcome_promise  # coupons build on subscribers

    token = services.confirm_token(subscriber)
    days = current_app.config["CONFIRM_MAX_AGE_SECONDS"] // 86400
    return Email(
        # The spelling the signup typed: confirming proves it, and the row then takes it.
        to=services.confirmation_address(subscriber),
        subject=f"Please confirm your subscription to {clinic.details().name}",
        template="confirm",
        context={
            "first_name": subscriber.first_name,
            "confirm_url": public_url(f"/confirm/{token}"),
            "valid_days": days,
            "welcome": welcome_promise(subscriber),
        },
    )


def welcome_email(subscriber: Subscriber, extra: dict | None = None) -> Email:
    url, token = unsubscribe_link(subscriber.id)
    return Email(
        to=subscriber.email,
        subject=f"Welcome to the {clinic.details().name} newsletter",
        template="welcome",
        context={"first_name": subscriber.first_name, **(extra or {})},
        unsubscribe_url=url,
        unsubscribe_token=token,
    )
