"""Emails to staff: the set-password link of a new account or of a reset."""

from __future__ import annotations

import logging

from celery import shared_task

from campaign import clinic
from campaign.emails import MAX_RETRIES, Email, public_url, send_or_retry
from campaign.extensions import db
from campaign.outbox import after_commit
from campaign.staff import services
from campaign.staff.models import Staff

logger = logging.getLogger(__name__)

SUBJECTS = {
    "invite": "Your staff account at {clinic}",
    "reset": "Set a new password for {clinic}",
}


@shared_task(bind=True, max_retries=MAX_RETRIES)
def send_password_email(self, staff_id: int, kind: str) -> None:
    """The link is minted here, from the account as it is now: a retry or a late run
    never mails a link that an earlier password change has already spent."""
    staff = db.session.get(Staff, staff_id)
    if staff is None or not staff.active:
        logger.info("password email for staff %s skipped: no active account", staff_id)
        return
    send_or_retry(self, password_email(staff, kind))


@shared_task
def send_password_email_to(address: str) -> None:
    """A "forgot your password?" request: a link, if the address has an active account
    (and it has not had its links for the hour)."""
    staff = services.forgot_link_recipient(address)
    if staff is None:
        logger.info("password link not sent: no active account for that address, or enough")
        db.session.rollback()
        return
    # Sent by a task of its own, with its own retries: a retry of this one would
    # count the same request twice.
    after_commit(send_password_email, staff.id, "reset")
    db.session.commit()


def password_email(staff: Staff, kind: str) -> Email:
    name = clinic.details().name
    return Email(
        to=staff.email,
        subject=SUBJECTS[kind].format(clinic=name),
        template="staff_password",
        context={
            "kind": kind,
            "name": staff.display_name,
            "role": staff.role.label,
            "link": public_url(f"/staff/password/{services.password_link_token(staff)}"),
            "login_url": public_url("/staff/login"),
            "valid_days": services.PASSWORD_LINK_MAX_AGE_SECONDS // 86400,
            "footer_note": "You receive this because your address has a staff account here.",
        },
    )
