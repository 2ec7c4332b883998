"""Issuing, looking up, redeeming, undoing and voiding coupons.

Redemption is one conditional UPDATE whose row count decides, so any number of desks
pressing Redeem at once yield exactly one success. Functions add and flush; the caller
commits.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache

from flask import current_app
from sqlalchemy import (
    Executable,
    String,
    bindparam,
    cast,
    delete,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError

from campaign import audit, clinic
from campaign.coupons import codes
from campaign.coupons.codes import CouponCode, InvalidCode
from campaign.coupons.models import (
    WELCOME,
    Coupon,
    CouponStatus,
    Offer,
    OwedWelcome,
    Redemption,
)
from campaign.database import insert_unless_exists, utcnow
from campaign.emails import public_url
from campaign.extensions import db
from campaign.outbox import wake_after_commit
from campaign.staff.models import Role, Staff
from campaign.subscribers.addresses import has_control_characters
from campaign.subscribers.models import Subscriber, SubscriberStatus
from campaign.tokens import Purpose, make_token

logger = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(minutes=15)
DEFAULT_OFFER = {
    "title": "Free massage oil",
    "terms": "One bottle per person, on your next visit. Not exchangeable for cash.",
    "validity_days": 90,
}


def _secret() -> str:
    return current_app.config["SECRET_KEY"]


def owner_key(canonical_email: str) -> str:
    """A keyed hash of the canonical email: one person, whatever address variant."""
    key = hmac.new(_secret().encode(), b"coupon-owner", hashlib.sha256).digest()
    return hmac.new(key, canonical_email.encode(), hashlib.sha256).hexdigest()


def current_welcome_offer() -> Offer | None:
    """The welcome offer as stored, or None before its first use (reads only)."""
    return db.session.scalar(select(Offer).filter_by(kind=WELCOME))


def welcome_offer() -> Offer:
    """The welcome offer, created with sensible defaults on first use.

    The first confirmations of a new install come together (a launch), each worker
    finding no offer: the insert skips a row another made meanwhile (the unique
    index), so all of them use one offer, and a person's one coupon stays one.
    """
    offer = current_welcome_offer()
    if offer is None:
        db.session.execute(
            insert_unless_exists(Offer.__table__).values(kind=WELCOME, **DEFAULT_OFFER)
        )
        offer = current_welcome_offer()
    return offer


def welcome_promise(subscriber: Subscriber | None = None) -> str | None:
    """What the welcome coupon gives (the offer's title, as the pages and the
    confirmation email promise it), or None when there is nothing to promise: the
    offer is switched off, or ``subscriber`` has had theirs (one per person, ever)
    and it is used up. A person back with a coupon still good is sent it again."""
    offer = current_welcome_offer()
    if offer is None:  # not saved yet: the defaults, as welcome_offer() will store them
        return DEFAULT_OFFER["title"]
    if not offer.active:
        return None
    if subscriber is not None:
        held = _coupon_for_owner(offer.id, owner_key(subscriber.email_canonical))
        if held is not None:  # sent again if still good, with the wording it had
            good = held.effective_status() == CouponStatus.ISSUED
            return held.offer_title.rstrip(".") if good else None
    return offer.title.rstrip(".")


def update_welcome_offer(
    staff: Staff,
    *,
    title: str,
    terms: str,
    validity_days: int,
    reminder_days: int | None = None,
    active: bool | None = None,
) -> Offer:
    """Admins edit the one welcome offer in place, so its one-per-person rule holds.
    The reminder (``reminders``) applies to every coupon not reminded of yet. Switched
    off (``active``), no page or email promises it and no coupon is issued; coupons
    already sent stay good."""
    offer = welcome_offer()
    offer.title, offer.terms, offer.validity_days = title, terms, validity_days
    if reminder_days is not None:
        offer.reminder_days = reminder_days
    if active is not None:
        offer.active = active
    audit.record(
        "offer.updated",
        staff_id=staff.id,
        target=f"offer:{offer.id}",
        title=title,
        active=offer.active,
    )
    db.session.flush()
    return offer


def code_of(coupon: Coupon) -> CouponCode:
    return codes.code_for(_secret(), coupon.nonce)


def coupon_page_token(coupon: Coupon) -> str:
    return make_token(Purpose.COUPON, coupon.id)


def usable_coupons(subscriber_ids: list[int]) -> dict[int, tuple[str, str]]:
    """(code, coupon page link) of each of these people's unredeemed, unexpired
    coupon: what a newsletter shows them. Of two (an install's early race gave a few
    people a second), the one that ends first: read last, it is the one kept."""
    coupons = db.session.scalars(
        select(Coupon)
        .where(
            Coupon.subscriber_id.in_(subscriber_ids),
            Coupon.status == CouponStatus.ISSUED,
            Coupon.expires_at > utcnow(),
        )
        .order_by(Coupon.expires_at.desc())
    ).all()
    return {
        coupon.subscriber_id: (
            code_of(coupon).display,
            public_url(f"/coupon/{coupon_page_token(coupon)}"),
        )
        for coupon in coupons
    }


def expiry_for(issued_at: datetime, validity_days: int) -> datetime:
    """When a coupon issued at ``issued_at`` (stored UTC) stops being good: the end of
    the clinic's day ``validity_days`` calendar days after the day it was issued, in
    the clinic's time zone, summer time included.

    The email, the coupon page and the desk name that day, so the coupon is good all
    of it: ``expires_at`` is the day's last microsecond (``clinic.end_of_day``), which
    every display writes as that day, and every check stays ``expires_at > now``.
    """
    issued_on = clinic.local_time(issued_at).date()
    return clinic.end_of_day(issued_on + timedelta(days=validity_days))


def issue_welcome_coupon(subscriber_id: int) -> Coupon | None:
    """The subscriber's welcome coupon, issued now if they have none (idempotent).

    Unique per offer and canonical email, so resubscribing or signing up with a
    ``+tag`` or Gmail-dot variant returns the coupon already issued.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.status != SubscriberStatus.CONFIRMED:
        return None
    offer = welcome_offer()
    if not offer.active:
        return None
    key = owner_key(subscriber.email_canonical)
    existing = _coupon_for_owner(offer.id, key)
    if existing is not None:
        if existing.subscriber_id is None:
            # Their data was erased, the coupon kept anonymously (one per person):
            # back through double opt-in with the same address, it is theirs again,
            # so the desk, the newsletter and their export know it.
            existing.subscriber_id = subscriber.id
            db.session.flush()
        return existing
    now = utcnow()
    for _ in range(5):
        nonce = codes.new_nonce()
        coupon = Coupon(
            offer=offer,
            offer_title=offer.title,
            offer_terms=offer.terms,
            subscriber_id=subscriber.id,
            owner_key=key,
            nonce=nonce,
            code_digest=codes.code_for(_secret(), nonce).digest(_secret()),
            issued_at=now,
            expires_at=expiry_for(now, offer.validity_days),
        )
        try:
            with db.session.begin_nested():
                db.session.add(coupon)
        except IntegrityError:
            # Either a concurrent task issued this person's coupon, or (1 in 2**40
            # per pair) two codes collided; the first returns, the second retries.
            existing = _coupon_for_owner(offer.id, key)
            if existing is not None:
                return existing
            continue
        logger.info("issued welcome coupon %s to subscriber %s", coupon.id, subscriber.id)
        return coupon
    raise RuntimeError("could not issue a unique coupon code")


def owe_welcome(subscriber_id: int) -> None:
    """Record the welcome as owed and wake the drain after the commit."""
    owe_welcomes([subscriber_id])


def owe_welcomes(subscriber_ids: list[int]) -> None:
    """Record welcomes as owed (one statement; also for taken ones whose tasks never
    reached the broker) and wake the drain after the commit."""
    from campaign.coupons.tasks import send_owed_welcomes

    now = utcnow()
    db.session.execute(
        insert_unless_exists(OwedWelcome.__table__),
        [{"subscriber_id": subscriber_id, "queued_at": now} for subscriber_id in subscriber_ids],
    )
    wake_after_commit(send_owed_welcomes)


def take_owed_welcomes(limit: int) -> list[int]:
    """Take up to ``limit`` owed welcomes, oldest first; each is taken once (deleted:
    two drains at the same moment never both take one)."""
    oldest = select(OwedWelcome.subscriber_id).order_by(OwedWelcome.queued_at).limit(limit)
    return list(
        db.session.scalars(
            delete(OwedWelcome)
            .where(OwedWelcome.subscriber_id.in_(oldest.scalar_subquery()))
            .returning(OwedWelcome.subscriber_id)
        )
    )


def _coupon_for_owner(offer_id: int, key: str) -> Coupon | None:
    return db.session.scalar(select(Coupon).filter_by(offer_id=offer_id, owner_key=key))


class Outcome(StrEnum):
    VALID = "valid"
    REDEEMED = "redeemed"
    VOIDED = "voided"  # this call voided it; VOID: it was void before
    ALREADY_REDEEMED = "already_redeemed"
    EXPIRED = "expired"
    VOID = "void"
    INVALID_CODE = "invalid_code"
    NOT_FOUND = "not_found"
    UNDONE = "undone"
    NOT_REDEEMED = "not_redeemed"
    UNDO_NOT_ALLOWED = "undo_not_allowed"
    REASON_REQUIRED = "reason_required"


@dataclass(frozen=True)
class CouponCard:
    """What the desk is shown of a coupon, as plain values."""

    status: CouponStatus  # as the desk reads it: an issued coupon past expiry is expired
    offer: str
    terms: str
    expires_at: datetime
    redeemed_at: datetime | None
    redeemed_by: str | None  # the redeemer's display name
    owner: str | None  # masked
    redemption_id: int | None = None
    undone_at: datetime | None = None


def card_of(coupon: Coupon, redemption: Redemption | None = None) -> CouponCard:
    return CouponCard(
        status=coupon.effective_status(),
        offer=coupon.offer_title,
        terms=coupon.offer_terms,
        expires_at=coupon.expires_at,
        redeemed_at=coupon.redeemed_at,
        redeemed_by=coupon.redeemed_by.display_name if coupon.redeemed_by else None,
        owner=owner_of(coupon),
        redemption_id=redemption.id if redemption else None,
        undone_at=redemption.undone_at if redemption else None,
    )


@dataclass
class CouponResult:
    outcome: Outcome
    coupon: Coupon | None = None
    code: CouponCode | None = None
    redemption: Redemption | None = None
    # Given by a redemption, which reads what the desk is shown in its own statement;
    # otherwise read off ``coupon`` when first asked for.
    card: CouponCard | None = None

    def shown(self) -> CouponCard | None:
        """What the desk is shown, or None when no coupon was found."""
        if self.card is None and self.coupon is not None:
            self.card = card_of(self.coupon, self.redemption)
        return self.card


def _find(text: str) -> CouponResult:
    try:
        code = codes.parse(_secret(), text)
    except InvalidCode:
        return CouponResult(Outcome.INVALID_CODE)
    coupon = db.session.scalar(select(Coupon).filter_by(code_digest=code.digest(_secret())))
    if coupon is None:
        return CouponResult(Outcome.NOT_FOUND, code=code)
    return CouponResult(_state_outcome(coupon), coupon=coupon, code=code)


def _state_outcome(coupon: Coupon) -> Outcome:
    return {
        CouponStatus.ISSUED: Outcome.VALID,
        CouponStatus.REDEEMED: Outcome.ALREADY_REDEEMED,
        CouponStatus.EXPIRED: Outcome.EXPIRED,
        CouponStatus.VOID: Outcome.VOID,
    }[coupon.effective_status()]


def lookup(text: str) -> CouponResult:
    """What the desk sees before redeeming. Changes nothing."""
    result = _find(text)
    if result.coupon is not None and result.outcome is Outcome.ALREADY_REDEEMED:
        result.redemption = latest_redemption(result.coupon.id)
    return result


def latest_redemption(coupon_id: int) -> Redemption | None:
    return db.session.scalar(
        select(Redemption)
        .where(Redemption.coupon_id == coupon_id, Redemption.undone_at.is_(None))
        .order_by(Redemption.id.desc())
        .limit(1)
    )


def redeem(text: str, staff: Staff, ip: str | None = None) -> CouponResult:
    """Redeem a coupon exactly once.

    The invalid-code check needs no database. Then a single conditional UPDATE
    (still issued, not expired) decides: a returned row means this caller redeemed it;
    none means someone else did first, or it expired or was voided, and the answer says which.
    """
    try:
        code = codes.parse(_secret(), text)
    except InvalidCode:
        return CouponResult(Outcome.INVALID_CODE)
    now = utcnow()
    values = {"digest": code.digest(_secret()), "at": now, "staff": staff.id, "from_ip": ip}
    for _ in range(REDEEM_TRIES):
        redeemed = _try_redeem(values)
        if redeemed is not None:
            break
        result = lookup(text)
        # Issued, though the UPDATE just found it redeemed: an undo committed between
        # the two statements' snapshots (READ COMMITTED). Answered as it read, the desk
        # showed "Redeemed" for a coupon still unused. It is free now: try again.
        if result.outcome is not Outcome.VALID:
            return result
    else:  # redeemed and undone again each time: someone else holds it
        return CouponResult(Outcome.ALREADY_REDEEMED, result.coupon, code, result.redemption)
    card = CouponCard(
        status=CouponStatus.REDEEMED,
        offer=redeemed["offer"],
        terms=redeemed["terms"],
        expires_at=redeemed["expires_at"],
        redeemed_at=now,
        redeemed_by=staff.display_name,
        owner=masked_owner(redeemed["first_name"], redeemed["email"]),
        redemption_id=redeemed["redemption_id"],
    )
    return CouponResult(Outcome.REDEEMED, code=code, card=card)


# Rounds of a redemption that each found the coupon taken and then free again.
REDEEM_TRIES = 3


def _try_redeem(values: dict) -> dict | None:
    """The redemption's row if this call redeemed the coupon, else None."""
    statements = _redeem_statements(db.engine.dialect.name)
    if statements.record is None:  # the whole redemption in one statement
        row = db.session.execute(statements.redeem, values).one_or_none()
        return row._asdict() if row is not None else None
    return _redeem_in_steps(statements, values)


def _redeem_in_steps(statements: _RedeemStatements, values: dict) -> dict | None:
    """The redemption where one statement cannot write to two tables (SQLite)."""
    redeemed = db.session.execute(statements.redeem, values).one_or_none()
    if redeemed is None:
        return None
    row = {**values, **redeemed._asdict()}
    row |= db.session.execute(statements.record, row).one()._asdict()
    audit.record("coupon.redeemed", staff_id=row["staff"], target=f"coupon:{row['coupon_id']}")
    return row | db.session.execute(statements.shown, row).one()._asdict()


@dataclass(frozen=True)
class _RedeemStatements:
    # The conditional UPDATE that decides. On PostgreSQL it is the whole redemption:
    # the UPDATE, the redemption record and the audit event in CTEs, and the row the
    # desk is shown. Elsewhere ``record`` and ``shown`` follow it.
    redeem: Executable
    record: Executable | None = None
    shown: Executable | None = None


@cache
def _redeem_statements(dialect: str) -> _RedeemStatements:
    """Built once per database kind: building and hashing them per request cost more
    than running them.

    Plain table statements, not ORM ones: no object is loaded or brought up to date,
    no unit of work is flushed, and each returns only what the desk is shown (loading
    the coupon, its offer, its owner and the redemption as objects cost more than the
    rest of the redemption together).
    """
    coupon, record = Coupon.__table__, Redemption.__table__
    owner = Subscriber.__table__
    now, staff = bindparam("at", type_=coupon.c.redeemed_at.type), bindparam("staff")
    ip = bindparam("from_ip", type_=record.c.ip.type)
    redeem = (
        update(coupon)
        .where(
            coupon.c.code_digest == bindparam("digest"),
            coupon.c.status == CouponStatus.ISSUED,
            coupon.c.expires_at > now,
        )
        .values(status=CouponStatus.REDEEMED, redeemed_at=now, redeemed_by_id=staff)
        .returning(
            coupon.c.id.label("coupon_id"),
            coupon.c.offer_id,
            coupon.c.subscriber_id,
            coupon.c.expires_at,
            coupon.c.offer_title.label("offer"),
            coupon.c.offer_terms.label("terms"),
        )
    )
    record_columns = ["coupon_id", "staff_id", "redeemed_at", "ip"]
    shown = (owner.c.first_name, owner.c.email)
    if dialect == "postgresql":
        redeemed = redeem.cte("redeemed")
        recorded = (
            insert(record)
            .from_select(record_columns, select(redeemed.c.coupon_id, staff, now, ip))
            .returning(record.c.id)
            .cte("recorded")
        )
        target = literal("coupon:") + cast(redeemed.c.coupon_id, String)
        audited = audit.insert_from(select(now, literal("coupon.redeemed"), staff, target, ip)).cte(
            "audited"
        )
        whole = (
            select(
                recorded.c.id.label("redemption_id"),
                redeemed.c.expires_at,
                redeemed.c.offer,
                redeemed.c.terms,
                *shown,
            )
            .join_from(redeemed, recorded, true())
            .outerjoin(owner, owner.c.id == redeemed.c.subscriber_id)
            # A data-modifying CTE runs whether or not the answer reads it.
            .add_cte(audited)
        )
        return _RedeemStatements(redeem=whole)
    record_it = (
        insert(record)
        .values(coupon_id=bindparam("coupon_id"), staff_id=staff, redeemed_at=now, ip=ip)
        .returning(record.c.id.label("redemption_id"))
    )
    shown_by_ids = (
        select(*shown)
        .outerjoin_from(coupon, owner, owner.c.id == coupon.c.subscriber_id)
        .where(coupon.c.id == bindparam("coupon_id"))
    )
    return _RedeemStatements(redeem=redeem, record=record_it, shown=shown_by_ids)


def undo_redemption(text: str, staff: Staff, reason: str | None = None) -> CouponResult:
    """Put a redeemed coupon back to issued.

    A receptionist may undo their own redemption within 15 minutes; an admin may undo
    any, at any time, giving a reason. Both are logged.
    """
    result = _find(text)
    if result.coupon is None:
        return result
    redemption = latest_redemption(result.coupon.id)
    if result.coupon.status != CouponStatus.REDEEMED or redemption is None:
        return CouponResult(Outcome.NOT_REDEEMED, coupon=result.coupon, code=result.code)
    reason = (reason or "").strip()[:REASON_MAX] or None
    is_admin = staff.has_role(Role.ADMIN)
    own_and_recent = (
        redemption.staff_id == staff.id and utcnow() - redemption.redeemed_at <= UNDO_WINDOW
    )
    if not is_admin and not own_and_recent:
        return CouponResult(Outcome.UNDO_NOT_ALLOWED, coupon=result.coupon, code=result.code)
    if is_admin and not own_and_recent and not reason:
        return CouponResult(Outcome.REASON_REQUIRED, coupon=result.coupon, code=result.code)
    now = utcnow()
    undone = db.session.execute(
        update(Redemption)
        .where(Redemption.id == redemption.id, Redemption.undone_at.is_(None))
        .values(undone_at=now, undone_by_id=staff.id, undo_reason=reason)
    ).rowcount
    if not undone:
        # Another undo of this redemption won the race: to this caller, as when the two
        # come one after the other, the coupon is no longer redeemed.
        db.session.refresh(result.coupon)
        return CouponResult(Outcome.NOT_REDEEMED, coupon=result.coupon, code=result.code)
    db.session.execute(
        update(Coupon)
        .where(Coupon.id == result.coupon.id, Coupon.status == CouponStatus.REDEEMED)
        .values(status=CouponStatus.ISSUED, redeemed_at=None, redeemed_by_id=None)
    )
    audit.record(
        "coupon.redemption_undone",
        staff_id=staff.id,
        target=f"coupon:{result.coupon.id}",
        reason=reason,
    )
    db.session.flush()
    db.session.refresh(result.coupon)
    db.session.refresh(redemption)
    return CouponResult(
        Outcome.UNDONE, coupon=result.coupon, code=result.code, redemption=redemption
    )


REASON_MAX = 200


class ReasonInvalid(ValueError):
    """A reason the audit log cannot keep as one line of text; says what to fix."""


def clean_reason(text: str | None) -> str | None:
    """A void's or an undo's reason as the audit log keeps it: one line, spaces
    collapsed, None when there is none. Line breaks become spaces; other control
    and format characters (a direction override turns the log's text around) are
    refused, as is a reason over ``REASON_MAX`` characters."""
    reason = " ".join((text or "").split())
    if has_control_characters(reason):
        raise ReasonInvalid("Use text only in the reason: no control characters.")
    if len(reason) > REASON_MAX:
        raise ReasonInvalid(f"Give a reason of at most {REASON_MAX} characters.")
    return reason or None


def void_coupon(text: str, staff: Staff, reason: str) -> CouponResult:
    """Admins cancel an unused coupon for good (lost, abused, issued in error).

    ``VOIDED`` when this call voided it; else the state that stopped it (already
    redeemed, or ``VOID`` when it was voided before)."""
    result = _find(text)
    if result.coupon is None:
        return result
    changed = db.session.execute(
        update(Coupon)
        .where(Coupon.id == result.coupon.id, Coupon.status == CouponStatus.ISSUED)
        .values(status=CouponStatus.VOID, voided_at=utcnow(), void_reason=reason[:REASON_MAX])
    ).rowcount
    if changed:
        audit.record(
            "coupon.voided",
            staff_id=staff.id,
            target=f"coupon:{result.coupon.id}",
            reason=reason[:REASON_MAX],
        )
    db.session.flush()
    db.session.refresh(result.coupon)
    outcome = Outcome.VOIDED if changed else _state_outcome(result.coupon)
    return CouponResult(outcome, coupon=result.coupon, code=result.code)


def redemptions_today(staff: Staff, day_start: datetime) -> list[Redemption]:
    """This staff member's redemptions since ``day_start`` (UTC), newest first."""
    return list(
        db.session.scalars(
            select(Redemption)
            .where(Redemption.staff_id == staff.id, Redemption.redeemed_at >= day_start)
            .order_by(Redemption.id.desc())
            .limit(200)
        )
    )


def mask_name(name: str | None) -> str | None:
    if not name:
        return None
    return " ".join(part[0] + "***" for part in name.split())


# Mail services that millions share: their name tells nothing about whose address it
# is, and helps the desk ("your Gmail one?"). Any other domain may be a family's own.
SHARED_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk",
        "live.com", "live.co.uk", "msn.com", "yahoo.com", "yahoo.co.uk", "ymail.com",
        "icloud.com", "me.com", "mac.com", "aol.com", "proton.me", "protonmail.com",
        "gmx.com", "gmx.de", "gmx.net", "web.de", "t-online.de", "mail.com", "zoho.com",
        "btinternet.com", "sky.com", "virginmedia.com", "orange.fr", "free.fr", "laposte.net",
    }
)  # fmt: skip


def mask_email(address: str) -> str:
    """``a***@gmail.com``; a domain of its own is masked too (``a***@s***.co.uk``), as
    ``smithfamily.co.uk`` would name the guest to anyone reading the desk's screen."""
    local, _, domain = address.rpartition("@")
    if domain.lower() not in SHARED_MAIL_DOMAINS:
        labels = domain.split(".")
        # What stays is the suffix anyone shares: "com", or "co.uk" and the like.
        shared = (
            2 if len(labels) > 2 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 1
        )
        kept = "." + ".".join(labels[-shared:]) if len(labels) > 1 else ""
        domain = f"{labels[0][:1]}***{kept}"
    return f"{local[:1]}***@{domain}"


_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "ac", "gov", "ltd", "plc", "me", "or", "ne"})


def masked_owner(first_name: str | None, email: str | None) -> str | None:
    """Enough for the desk to recognise a guest, not enough to harvest an address.

    None when the coupon has no owner left (erased on request).
    """
    if email is None:
        return None
    name = mask_name(first_name)
    return f"{name}, {mask_email(email)}" if name else mask_email(email)


def owner_of(coupon: Coupon) -> str | None:
    subscriber = coupon.subscriber
    return masked_owner(subscriber.first_name, subscriber.email) if subscriber else None
