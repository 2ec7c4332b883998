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
    imported = services.added_by_import(subscriber)
    # The invitation goes to people who did not ask for it: it carries the one-click
    # unsubscribe (RFC 8058) that Gmail and Yahoo want on such mail, and that keeps the
    # address out of later invitations and imports.
    url, unsubscribe = unsubscribe_link(subscriber.id) if imported else (None, None)
    return Email(
        # The spelling the signup typed: confirming proves it, and the row then takes it.
        to=services.confirmation_address(subscriber),
        subject=f"Please confirm your subscription to {clinic.details().name}",
        template="confirm",
        context={
            # Whoever signs up types the name, for any address: greeting by it would
            # carry a stranger's words ("WIN £1000 at scam.example") to that inbox. The
            # clinic's own list is the clinic's words.
            "first_name": subscriber.first_name if imported else None,
            "confirm_url": public_url(f"/confirm/{token}"),
            "valid_days": days,
            "welcome": welcome_promise(subscriber),
            # Someone from the clinic's own list never signed up: "if you did not sign
            # up, ignore this" would read as a stranger's doing, and be reported as spam.
            "from_clinic_list": imported,
            "footer_note": (
                f"You receive this because {clinic.details().name} has this address on its "
                "list of clients."
                if imported
                else None
            ),
        },
        unsubscribe_url=url,
        unsubscribe_token=unsubscribe,
    )


def welcome_email(subscriber: Subscriber, extra: dict | None = None) -> Email:
    url, token = unsubscribe_link(subscriber.id)
    back = services.returning(subscriber.id)
    return Email(
        to=subscriber.email,
        subject=f"Welcome {'back ' if back else ''}to the {clinic.details().name} newsletter",
        template="welcome",
        context={"first_name": subscriber.first_name, "returning": back, **(extra or {})},
        unsubscribe_url=url,
        unsubscribe_token=token,
    )
