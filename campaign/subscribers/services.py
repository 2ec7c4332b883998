"""The subscriber lifecycle: signup, double opt-in, unsubscribe.

These functions add and flush; the caller (a view, a task, a CLI command) commits.
A confirmation email is queued in the subscriber's row and a worker is woken after the
commit (``wake_after_commit``), so nothing is mailed for a signup that rolls back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cache
from unicodedata import normalize

from flask import current_app
from sqlalchemy import Executable, bindparam, case, func, insert, select, update

from campaign import audit, database
from campaign.database import insert_unless_exists, scalar_alone, utcnow
from campaign.extensions import db, rate_limits
from campaign.outbox import wake, wake_after_commit
from campaign.subscribers import signals
from campaign.subscribers.addresses import (
    InvalidAddress,
    canonical_address,
    has_control_characters,
    normalize_address,
)
from campaign.subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from campaign.tokens import (
    Purpose,
    TokenExpired,
    TokenInvalid,
    make_token,
    read_token,
    row_id,
)

logger = logging.getLogger(__name__)

_SUBSCRIBER = Subscriber.__table__
_CONSENT = ConsentRecord.__table__
FIRST_ROUND = 1
MAX_FIRST_NAME = 100
MAX_USER_AGENT = 512
RESEND_SCOPE = "confirmation-resends"
# The consent wording of the records a CSV import writes (the clinic's list, not a form).
IMPORT_WORDING = "import"
# The unsubscribe link of test copies and the live preview: it shows what the link
# does and changes nothing, where an invalid link's page would say it is broken.
SAMPLE_UNSUBSCRIBE_TOKEN = "sample-unsubscribe-link"  # noqa: S105 - not a secret
SOURCE_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


class SignupInvalid(ValueError):
    """The signup cannot be accepted; ``field`` names the input at fault."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Signup:
    """A checked signup: build it with ``Signup.parse``."""

    email: str
    first_name: str | None
    source: str
    ip: str | None
    user_agent: str | None

    @classmethod
    def parse(
        cls,
        *,
        email: object,
        first_name: object = None,
        consent: object,
        source: object = "web",
        ip: str | None = None,
        user_agent: str | None = None,
    ) -> Signup:
        """Check raw input and raise ``SignupInvalid`` for the first problem found."""
        if not isinstance(email, str):
            raise SignupInvalid("email", "invalid_email", "Please enter your email address.")
        try:
            address = normalize_address(email)
        except InvalidAddress as exc:
            raise SignupInvalid("email", "invalid_email", str(exc)) from None
        if consent is not True:
            raise SignupInvalid(
                "consent", "consent_required", "Please tick the box to agree to receive emails."
            )
        name = clean_first_name(first_name)
        if source is None:
            source = "web"
        if not isinstance(source, str) or not SOURCE_PATTERN.fullmatch(source):
            raise SignupInvalid(
                "source", "invalid_source", "source must be 1-64 letters, digits or _.:-"
            )
        agent = (user_agent or "")[:MAX_USER_AGENT] or None
        if agent and has_control_characters(agent):
            agent = "".join(ch for ch in agent if ch.isprintable())
        return cls(email=address, first_name=name, source=source, ip=ip, user_agent=agent)


def clean_first_name(value: object) -> str | None:
    """The first name as stored (spaces folded), None when blank; ``SignupInvalid``
    for what no first name holds. Imports apply the same rule."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise SignupInvalid("first_name", "invalid_first_name", "first_name must be text.")
    # Composed (NFC): "é" typed as e and a combining accent (as some phones and Macs
    # send it) is one letter, counted and matched as one.
    name = None if has_control_characters(value) else normalize("NFC", " ".join(value.split()))
    if name is None:
        raise SignupInvalid(
            "first_name",
            "invalid_first_name",
            "The first name contains characters that are not allowed.",
        )
    if len(name) > MAX_FIRST_NAME:
        raise SignupInvalid(
            "first_name", "invalid_first_name", "Please keep the first name under 100 characters."
        )
    return name or None


def subscribe(signup: Signup) -> None:
    """Record a signup and, where it is due, queue a confirmation email.

    The caller learns nothing about the address's previous state, by design: the
    answer to a signup must be the same for every address. A new address starts its
    first opt-in round. A pending, unsubscribed or bounced one starts a new round, at
    most once per resend interval and ``CONFIRMATION_RESEND_LIMIT`` times a day, which
    leaves the person's row as it is until that round is confirmed (see
    ``_open_round``). A confirmed one gets nothing.
    """
    canonical = canonical_address(signup.email)
    # A second pass only if the known row was erased between the two statements.
    for _ in range(2):
        if _subscribe_new_address(signup, canonical) or _subscribe_known_address(signup, canonical):
            return


def subscribe_now(signup: Signup) -> None:
    """``subscribe``, committed: for a request that writes nothing else.

    On PostgreSQL a new address is one statement (the subscriber and the consent
    record), which then runs by itself in autocommit, without the BEGIN and COMMIT
    round trips of a session transaction: two of a signup's three. Known addresses,
    and requests that have already written, go through ``subscribe`` and the session.
    """
    if not db.session().in_transaction() and _subscribe_new_address_alone(signup):
        return
    subscribe(signup)
    db.session.commit()


def _subscribe_new_address_alone(signup: Signup) -> bool:
    """True when the address was new and its signup is committed (PostgreSQL only)."""
    insert_subscriber, insert_consent = _new_address_statements(db.engine.dialect.name)
    if insert_consent is not None:  # two statements here: they need a transaction
        return False
    values = _new_address_values(signup, canonical_address(signup.email))
    if scalar_alone(insert_subscriber, values) is None:
        return False
    from campaign.subscribers.tasks import send_queued_confirmations

    wake(send_queued_confirmations)  # committed already: no session commit to wait for
    return True


def _subscribe_new_address(signup: Signup, canonical: str) -> bool:
    """The common case, in plain statements: an address never seen before.

    Inserting first (skipped when the canonical address exists) answers "new?" and
    closes the race of two simultaneous signups in one statement. On PostgreSQL the
    consent record is inserted from that insert's result in the same statement: one
    round trip per signup. (The flush-driven ORM path, five statements, cost a burst
    of signups more than everything else in the request together.)
    """
    values = _new_address_values(signup, canonical)
    insert_subscriber, insert_consent = _new_address_statements(db.engine.dialect.name)
    subscriber_id = db.session.scalar(insert_subscriber, values)
    if subscriber_id is None:
        return False
    if insert_consent is not None:
        db.session.execute(insert_consent, {**values, "signup_subscriber": subscriber_id})
    _queue_confirmation_email(subscriber_id)
    return True


def _new_address_values(signup: Signup, canonical: str) -> dict:
    return {
        "signup_email": signup.email,
        "signup_canonical": canonical,
        "signup_first_name": signup.first_name,
        "signup_source": signup.source,
        "signup_at": utcnow(),
        "signup_ip": signup.ip,
        "signup_agent": signup.user_agent,
        "signup_wording": current_app.config["CONSENT_WORDING_VERSION"],
    }


@cache
def _new_address_statements(dialect: str) -> tuple[Executable, Executable | None]:
    """The subscriber insert and the consent insert (None when the first does both).

    Built once per database kind with named parameters: building and hashing the
    statements anew for each signup cost about as much CPU as running them.
    """
    now = bindparam("signup_at", type_=_SUBSCRIBER.c.created_at.type)
    source = bindparam("signup_source", type_=_SUBSCRIBER.c.source.type)
    subscriber = (
        insert_unless_exists(_SUBSCRIBER, dialect)
        .values(
            email=bindparam("signup_email"),
            email_canonical=bindparam("signup_canonical"),
            first_name=bindparam("signup_first_name"),
            source=source,
            status=SubscriberStatus.PENDING,
            created_at=now,
            optin_round=FIRST_ROUND,
            # Queued here, as ``queue_confirmation`` would; the wake-up follows the commit.
            confirmation_sent_at=now,
            confirmation_queued_at=now,
            bounce_count=0,  # every column given: the statement runs prepared
        )
        .returning(_SUBSCRIBER.c.id)
    )
    consent = {
        "created_at": now,
        "ip": bindparam("signup_ip", type_=_CONSENT.c.ip.type),
        "user_agent": bindparam("signup_agent", type_=_CONSENT.c.user_agent.type),
        "wording_version": bindparam("signup_wording", type_=_CONSENT.c.wording_version.type),
        "source": source,
    }
    if dialect == "postgresql":
        inserted = subscriber.cte("new_subscriber")
        both = (
            insert(_CONSENT)
            .from_select(["subscriber_id", *consent], select(inserted.c.id, *consent.values()))
            .returning(_CONSENT.c.subscriber_id)
        )
        return both, None
    return subscriber, insert(_CONSENT).values(
        subscriber_id=bindparam("signup_subscriber"), **consent
    )


def _consent_values(signup: Signup, now: datetime) -> dict:
    return {
        "created_at": now,
        "ip": signup.ip,
        "user_agent": signup.user_agent,
        "wording_version": current_app.config["CONSENT_WORDING_VERSION"],
        "source": signup.source,
    }


def _subscribe_known_address(signup: Signup, canonical: str) -> bool:
    known = db.session.execute(
        select(Subscriber.id, Subscriber.status).filter_by(email_canonical=canonical)
    ).first()
    if known is None:
        return False
    if known.status in REOPENABLE:
        _open_round(known.id, signup)
    # Confirmed: subscribed already; the signup is answered all the same.
    return True


# The states a signup may open a new round from. A bounced address comes back only if
# its owner confirms from it: the mailbox works again (it was full, or moved back).
REOPENABLE = [SubscriberStatus.PENDING, SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED]
# Rows left without a round (unsubscribe and bounce end it) that a signup has reopened.
_CLOSED = [SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.BOUNCED]


def _open_round(subscriber_id: int, signup: Signup) -> bool:
    """Start a new opt-in round for a known address and owe its confirmation, unless
    one was mailed within the resend interval; True if this call opened it.

    Anyone can type any address, so the signup changes nothing of the person's row:
    its details wait in the round's consent record (which numbers the round) and
    ``confirm`` applies them when the link of this round is used. A signup that is not
    mailed writes nothing: no link could ever confirm it. One conditional UPDATE
    claims the send, so simultaneous signups of one address open one round.
    """
    now = utcnow()
    if not _resend_budget_left(subscriber_id):
        return False
    claimed = db.session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.status.in_(REOPENABLE),
            # No round open (an unsubscribe or a bounce ended it): the first signup since
            # is mailed.
            Subscriber.optin_round.is_(None) | _resend_due(now),
        )
        .values(confirmation_sent_at=now, confirmation_queued_at=now)
    ).rowcount
    if not claimed:
        logger.info("confirmation for subscriber %s not resent: sent recently", subscriber_id)
        return False
    _spend_resend(subscriber_id)
    consent = ConsentRecord(
        subscriber_id=subscriber_id,
        email=signup.email,
        first_name=signup.first_name,
        **_consent_values(signup, now),
    )
    db.session.add(consent)
    db.session.flush()
    # Links of the round before (mailed to the same mailbox) say "use the newest email".
    db.session.execute(
        update(Subscriber).where(Subscriber.id == subscriber_id).values(optin_round=consent.id)
    )
    _queue_confirmation_email(subscriber_id)
    return True


def _resend_due(now: datetime):
    """No confirmation mailed yet, or none within the resend interval."""
    interval = timedelta(seconds=current_app.config["CONFIRMATION_RESEND_INTERVAL_SECONDS"])
    sent = Subscriber.confirmation_sent_at
    return sent.is_(None) | (sent <= now - interval)


def _awaiting_confirmation():
    """Rows whose current round waits for its link: pending, or unsubscribed or
    bounced with a round that a signup has opened since the last one ended."""
    return (Subscriber.status == SubscriberStatus.PENDING) | (
        Subscriber.status.in_(_CLOSED) & Subscriber.optin_round.is_not(None)
    )


def awaits_confirmation(subscriber: Subscriber) -> bool:
    """``_awaiting_confirmation`` for a loaded row: a confirmation email is due to it."""
    return subscriber.status == SubscriberStatus.PENDING or (
        subscriber.status in _CLOSED and subscriber.optin_round is not None
    )


def queue_confirmation(subscriber_id: int) -> bool:
    """Queue the current round's confirmation again unless one went out within the
    resend interval.

    One conditional UPDATE claims the send, so two simultaneous signups of the same
    address mail it once.
    """
    now = utcnow()
    if not _resend_budget_left(subscriber_id):
        return False
    claimed = db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, _awaiting_confirmation(), _resend_due(now))
        .values(confirmation_sent_at=now, confirmation_queued_at=now)
    ).rowcount
    if not claimed:
        logger.info("confirmation for subscriber %s not resent: sent recently", subscriber_id)
        return False
    _spend_resend(subscriber_id)
    _queue_confirmation_email(subscriber_id)
    return True


def release_confirmation(subscriber_id: int, sent_at: datetime | None) -> None:
    """The confirmation claimed at ``sent_at`` was refused for good: nothing reached
    the person, so their next signup is mailed at once instead of waiting out the
    resend interval for an email that never came. A newer claim is left alone."""
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.confirmation_sent_at == sent_at)
        .values(confirmation_sent_at=None)
    )


# The budget is looked at before the send is claimed and spent once it is: a signup
# refused by the interval spends nothing, so a stranger's repeats cannot use up the
# person's own resends. (Two claims at the same moment may both pass; one is mailed.)
def _resend_budget_left(subscriber_id: int) -> bool:
    limit = current_app.config["CONFIRMATION_RESEND_LIMIT"]
    if rate_limits.has_room(limit, RESEND_SCOPE, str(subscriber_id)):
        return True
    logger.info("confirmation for subscriber %s not resent: daily budget spent", subscriber_id)
    return False


def _spend_resend(subscriber_id: int) -> None:
    rate_limits.hit(
        current_app.config["CONFIRMATION_RESEND_LIMIT"], RESEND_SCOPE, str(subscriber_id)
    )


def _queue_confirmation_email(subscriber_id: int) -> None:
    """The row already says the email is owed; wake a worker once this commits."""
    from campaign.subscribers.tasks import send_queued_confirmations

    wake_after_commit(send_queued_confirmations)


def take_queued_confirmations(limit: int) -> list[int]:
    """Take up to ``limit`` owed confirmations, oldest first; each is taken once.

    The conditional UPDATE re-checks each row, so two workers draining at the same
    moment never both take one.
    """
    queued = Subscriber.confirmation_queued_at.is_not(None)
    oldest = select(Subscriber.id).where(queued).order_by(Subscriber.confirmation_queued_at)
    return list(
        db.session.scalars(
            update(Subscriber)
            .where(Subscriber.id.in_(oldest.limit(limit).scalar_subquery()), queued)
            .values(confirmation_queued_at=None)
            .returning(Subscriber.id)
        )
    )


def owe_confirmations(subscriber_ids: list[int]) -> None:
    """Put taken confirmations back as owed (their email tasks never reached the broker)."""
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.id.in_(subscriber_ids), Subscriber.confirmation_queued_at.is_(None))
        .values(confirmation_queued_at=utcnow())
    )


class ConfirmOutcome(StrEnum):
    CONFIRMED = "confirmed"
    ALREADY_CONFIRMED = "already_confirmed"
    STALE = "stale"


def confirm_token(subscriber: Subscriber) -> str:
    return make_token(Purpose.CONFIRM, [subscriber.id, subscriber.optin_round])


def read_confirm_token(token: str) -> tuple[int, int]:
    """Return (subscriber id, opt-in round); raises ``TokenExpired``/``TokenInvalid``."""
    payload = read_token(
        Purpose.CONFIRM, token, max_age=current_app.config["CONFIRM_MAX_AGE_SECONDS"]
    )
    return confirm_payload(payload)


def confirm_payload(payload: object) -> tuple[int, int]:
    if not isinstance(payload, list) or len(payload) != 2:
        raise TokenInvalid("unexpected payload")
    return row_id(payload[0]), row_id(payload[1])


class _Keep:
    """``confirm``'s default first name: the one the round's signup typed."""


KEEP = _Keep()


def name_to_confirm(subscriber_id: int, optin_round: int) -> str | None | _Keep:
    """The first name confirming this round gives the person, for the confirm page to
    show and let them change; ``KEEP`` when the round no longer waits (the page says
    so instead). Anyone can sign an address up with a name of their choosing: the
    person sees it before it is theirs."""
    subscriber = database.get(Subscriber, subscriber_id)
    if (
        subscriber is None
        or subscriber.optin_round != optin_round
        or not awaits_confirmation(subscriber)
    ):
        return KEEP
    consent = _round_consent(subscriber_id, optin_round)
    return (consent.first_name if consent else None) or subscriber.first_name


def confirm(
    subscriber_id: int,
    optin_round: int,
    ip: str | None,
    first_name: str | None | _Keep = KEEP,
) -> ConfirmOutcome:
    """Confirm the opt-in round named by a confirmation link.

    One conditional UPDATE decides, so a double click or a replayed link confirms
    once; the replay answers ``ALREADY_CONFIRMED``. A link from an older round (the
    person has since unsubscribed, or signed up again) answers ``STALE``. The round's
    own consent record is the one confirmed (with its source), and the address as
    typed becomes the person's now, not before. So does the first name: the one the
    person left on the confirm page (``first_name``, cleaned; None for none), else the
    round's. (The row's source stays where they first came from, which the dashboard
    counts signups by.)
    """
    now = utcnow()
    consent = _round_consent(subscriber_id, optin_round)
    details = {}
    if consent is not None:
        if consent.email:
            details["email"] = consent.email
        if consent.first_name:
            details["first_name"] = consent.first_name
    if not isinstance(first_name, _Keep):
        details["first_name"] = clean_first_name(first_name)
    won = db.session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.optin_round == optin_round,
            _awaiting_confirmation(),
        )
        .values(
            status=SubscriberStatus.CONFIRMED,
            confirmed_at=now,
            unsubscribed_at=None,
            bounce_count=0,  # confirming from the address shows that it takes mail
            **details,
        )
    ).rowcount
    if won:
        if consent is not None:
            consent.confirmed_at = now
            consent.confirmed_ip = ip
        db.session.flush()
        signals.subscriber_confirmed.send(subscriber_id)
        return ConfirmOutcome.CONFIRMED
    if already_confirmed(subscriber_id, optin_round):
        return ConfirmOutcome.ALREADY_CONFIRMED
    return ConfirmOutcome.STALE


def returning(subscriber_id: int) -> bool:
    """Confirmed in an earlier round too: back after an unsubscribe or a bounce."""
    confirmed_rounds = (
        select(func.count())
        .select_from(ConsentRecord)
        .where(
            ConsentRecord.subscriber_id == subscriber_id, ConsentRecord.confirmed_at.is_not(None)
        )
    )
    return db.session.scalar(confirmed_rounds) > 1


def _round_consent(subscriber_id: int, optin_round: int) -> ConsentRecord | None:
    """The consent record that opened this round: the one its confirmation confirms.

    A later round is numbered by its record's id; the first round of a new address is
    its first record. (A round opened before rounds were numbered so falls back to the
    latest record, which is what confirming stamped then.)
    """
    records = select(ConsentRecord).where(ConsentRecord.subscriber_id == subscriber_id)
    own = db.session.scalar(records.where(ConsentRecord.id == optin_round))
    if own is not None:
        return own
    first = optin_round == FIRST_ROUND
    order = ConsentRecord.id.asc() if first else ConsentRecord.id.desc()
    return db.session.scalar(records.order_by(order).limit(1))


def _current_round_consent(subscriber: Subscriber) -> ConsentRecord | None:
    if subscriber.optin_round is None:
        return None
    return _round_consent(subscriber.id, subscriber.optin_round)


def confirmation_address(subscriber: Subscriber) -> str:
    """Where the current round's confirmation goes: the address as its signup typed it,
    so that confirming proves the spelling the row then takes."""
    consent = _current_round_consent(subscriber)
    return consent.email if consent is not None and consent.email else subscriber.email


def added_by_import(subscriber: Subscriber) -> bool:
    """Whether the clinic's own list (a CSV import) opened the current round, not the
    person: their confirmation email says so, rather than "you signed up"."""
    consent = _current_round_consent(subscriber)
    return consent is not None and consent.wording_version == IMPORT_WORDING


def already_confirmed(subscriber_id: int, optin_round: int) -> bool:
    """True when this round's link was used and the person is still subscribed."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    return (
        subscriber is not None
        and subscriber.status == SubscriberStatus.CONFIRMED
        and subscriber.optin_round == optin_round
    )


def resend_after_expiry(subscriber_id: int, optin_round: int) -> bool:
    """Send a fresh confirmation for an expired link, within the resend limit."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if (
        subscriber is None
        or not awaits_confirmation(subscriber)
        or subscriber.optin_round != optin_round
    ):
        return False
    return queue_confirmation(subscriber_id)


def unsubscribe_token(subscriber_id: int) -> str:
    return make_token(Purpose.UNSUBSCRIBE, subscriber_id)


def read_unsubscribe_token(token: str) -> int:
    payload = read_token(
        Purpose.UNSUBSCRIBE, token, max_age=current_app.config["UNSUBSCRIBE_MAX_AGE_SECONDS"]
    )
    return row_id(payload)


def read_leaving_token(token: str) -> tuple[int, bool]:
    """The subscriber an Unsubscribe link names, and whether it is within its age.

    Leaving works with a genuine link of any age: an old newsletter's link (or its
    mail app's button, which posts it) must still stop the mail, and all it can do is
    that. What the age guards (the way back, the web copy) takes fresh links only.
    """
    try:
        return read_unsubscribe_token(token), True
    except TokenExpired as exc:
        return row_id(exc.payload), False


def unsubscribe(subscriber_id: int, staff_id: int | None = None) -> bool:
    """Stop all mail to this subscriber at once; True if this call made the change.

    The opt-in round ends too, so no confirmation link (mailed before, or owed for a
    signup since an earlier unsubscribe) brings them back. Idempotent: unsubscribing
    twice, or an address we no longer hold, is not an error. ``staff_id`` is the staff
    member who did it at the person's request (audited); None for the person's own link.
    """
    unsubscribed = Subscriber.status == SubscriberStatus.UNSUBSCRIBED
    now = utcnow()
    changed = db.session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.status.in_([SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED])
            | (Subscriber.status.in_(_CLOSED) & Subscriber.optin_round.is_not(None)),
        )
        .values(
            status=SubscriberStatus.UNSUBSCRIBED,
            # A round opened since they unsubscribed ends; the unsubscribe stays dated.
            unsubscribed_at=case((unsubscribed, Subscriber.unsubscribed_at), else_=now),
            optin_round=None,
            confirmation_queued_at=None,
        )
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if changed:
        logger.info("subscriber %s unsubscribed", subscriber_id)
        signals.subscriber_unsubscribed.send(subscriber_id, at=now)
        if staff_id is not None:
            audit.record(
                "subscriber.unsubscribed", staff_id=staff_id, target=f"subscriber:{subscriber_id}"
            )
    return bool(changed)


def can_unsubscribe(subscriber: Subscriber) -> bool:
    """Whether ``unsubscribe`` would change anything for this row (the same test)."""
    return subscriber.status in {SubscriberStatus.PENDING, SubscriberStatus.CONFIRMED} or (
        subscriber.status in _CLOSED and subscriber.optin_round is not None
    )


def already_unsubscribed(subscriber_id: int) -> bool:
    """True when the person is unsubscribed and nothing waits to bring them back."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    return (
        subscriber is not None
        and subscriber.status == SubscriberStatus.UNSUBSCRIBED
        and not can_unsubscribe(subscriber)
    )


def resubscribe(subscriber_id: int, ip: str | None, user_agent: str | None) -> None:
    """The way back from the unsubscribe page: a new double opt-in round.

    The link is the person's own, as it was for the unsubscribe, so their row is
    pending again at once; a signup on the form, which anyone can make, leaves an
    unsubscribed row as it is until its round is confirmed.
    """
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        return
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.status == SubscriberStatus.UNSUBSCRIBED)
        # A round a form signup opened meanwhile gives way to the one this opens now.
        .values(status=SubscriberStatus.PENDING, unsubscribed_at=None, optin_round=None)
    )
    _subscribe_known_address(
        Signup(
            email=subscriber.email,
            first_name=None,  # nothing new was typed: the row keeps its own
            source="resubscribe",
            ip=ip,
            user_agent=(user_agent or "")[:MAX_USER_AGENT] or None,
        ),
        subscriber.email_canonical,
    )
