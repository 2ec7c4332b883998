"""A failure budget per login address, beside the per-IP limit on the login form.

The per-IP limit alone lets someone with many addresses guess at one account without
end. Here every password attempt for an address spends one of its
``LOGIN_ACCOUNT_FAILURE_LIMIT`` ("10 per 15 minutes"), and a successful login gives the
budget back: what is counted is the failures since the owner last got in.

The attempt is counted before the password is checked, in the rate-limit storage's one
atomic increment: a thousand guesses sent at the same moment from a thousand addresses
still get ten checks, where "look, verify, then count" would let them all through.

An address without an account has a budget like any other, so a spent budget tells
nobody whether the account exists. A budget is spent for one window at most, and a
set-password link (forgot password, or from an admin) still logs its owner in: nobody
can keep a real user out, only make them use the link.
"""

from __future__ import annotations

import math

from flask import current_app
from limits import parse_many

from campaign.extensions import rate_limits
from campaign.subscribers.addresses import InvalidAddress, normalize_address

SCOPE = "login-failures"


def budget_key(email: str) -> str:
    """``login:<address>``, the one form every spelling of the address shares (case,
    spaces around it, an internationalised domain typed or in ASCII), as
    ``services.find_staff`` finds the account by any of them."""
    typed = email.strip().lower()[:254]
    try:
        address = normalize_address(typed).lower()
    except InvalidAddress:
        address = typed
    return f"login:{address}"


def _limit() -> str:
    return current_app.config["LOGIN_ACCOUNT_FAILURE_LIMIT"]


def spend_attempt(email: str) -> bool:
    """Count one password attempt for the address; False once its budget is spent.

    If the storage cannot be reached, the attempt goes through (``rate_limits.hit``):
    the per-IP limit still holds.
    """
    return rate_limits.hit(_limit(), SCOPE, budget_key(email))


def forget_failures(email: str) -> None:
    """The owner got in: the failures before do not count against their next login."""
    rate_limits.clear(_limit(), SCOPE, budget_key(email))


def seconds_to_wait(email: str) -> int:
    """Until the address's spent budget frees an attempt (a 429's ``Retry-After``)."""
    return rate_limits.seconds_to_reset(_limit(), SCOPE, budget_key(email))


def wait_minutes() -> int:
    """The longest a spent budget stays spent: its longest window, in minutes."""
    return max(math.ceil(item.get_expiry() / 60) for item in parse_many(_limit()))
