"""Someone typing many invalid codes may be guessing: log it and pause the account."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app

from campaign import audit
from campaign.database import utcnow
from campaign.extensions import rate_limits
from campaign.staff.models import Staff

logger = logging.getLogger(__name__)


def note_invalid_code(staff: Staff) -> bool:
    """Count an invalid code against ``staff``; lock the account after a burst.

    Returns True when this call locked the account. The count lives in the rate-limit
    storage (Redis in production), so it is shared by every web process.
    """
    if rate_limits.hit(current_app.config["INVALID_CODE_BURST"], "invalid-code", str(staff.id)):
        return False
    minutes = current_app.config["INVALID_CODE_LOCK_MINUTES"]
    staff.locked_until = utcnow() + timedelta(minutes=minutes)
    logger.warning(
        "staff %s locked for %s minutes after a burst of invalid coupon codes", staff.id, minutes
    )
    audit.record("staff.locked", staff_id=staff.id, reason="invalid coupon codes")
    return True


def lift_pause(staff: Staff, by: Staff) -> bool:
    """An admin ends a pause early (a shared desk tablet, a scanner misread a batch):
    the account checks codes again at once, with a fresh count. True if it was paused."""
    if not staff.is_locked():
        return False
    staff.locked_until = None
    rate_limits.clear(current_app.config["INVALID_CODE_BURST"], "invalid-code", str(staff.id))
    audit.record("staff.unlocked", staff_id=by.id, target=f"staff:{staff.id}")
    return True
