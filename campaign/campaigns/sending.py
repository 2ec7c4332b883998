"""The sending engine: claim a batch of deliveries, send them, record each answer.

Guarantees, all from the ledger (``Delivery`` rows):
- nobody is skipped: a claim is a lease; a dead worker's claims are taken over after
  ``SEND_LEASE_SECONDS``;
- nobody is mailed twice in normal running: a delivery is marked sent, with the
  server's answer, the moment the server accepts it, and that mark is committed
  (together with the next reader's check) before the next message is sent. The
  check comes last before the SMTP dialogue, after the waits (the connection, the
  rate limit's token): it renews the reader's claim to a whole lease, or finds that
  the claim lapsed and was taken over, and leaves the reader to the new owner. Only
  a message in flight when a worker dies, or whose dialogue outlasts the lease
  (``MAIL_TIMEOUT`` bounds each server reply), can go out twice;
- nobody who unsubscribed is mailed: each reader's status is read just before sending.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import re
import smtplib
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from campaign import emails, throttle
from campaign.campaigns.ledger import Ledger, Verdict
from campaign.campaigns.message import Reader, Skeleton, build_skeleton, personalize
from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.campaigns.rendering import Rendered, first_name_defaults
from campaign.campaigns.services import cancel_unsent
from campaign.coupons.services import usable_coupons
from campaign.database import utcnow
from campaign.emails import is_temporary
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus
from campaign.subscribers.services import unsubscribe_token

logger = logging.getLogger(__name__)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def claim_batch(campaign_id: int, size: int, now: datetime | None = None) -> list[int]:
    """Atomically take up to ``size`` deliveries whose lease expired or that are due.

    Two claims, each on one (campaign, status) prefix of ``ix_delivery_campaign_status``
    and without a sort, so the database stops at ``size`` rows. One query with both
    statuses OR-ed (and ordered by id) read every delivery of the campaign on each
    claim: a send of 100k took quadratic time.
    """
    now = now or utcnow()
    lease = timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    lapsed = and_(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at < now - lease)
    due = and_(
        Delivery.status == DeliveryStatus.QUEUED,
        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= now),
    )
    ids: list[int] = []
    for condition in (lapsed, due):  # a dead worker's readers have waited longest
        if len(ids) < size:
            ids += _claim(campaign_id, condition, size - len(ids), now)
    db.session.commit()
    return sorted(ids)


def _claim(campaign_id: int, condition, size: int, now: datetime) -> list[int]:
    claimable = (
        select(Delivery.id).where(Delivery.campaign_id == campaign_id, condition).limit(size)
    )
    if db.engine.dialect.name == "postgresql":
        # Two workers claiming at once each skip the rows the other has locked.
        claimable = claimable.with_for_update(skip_locked=True)
    return list(
        db.session.scalars(
            update(Delivery)
            .where(Delivery.id.in_(claimable.scalar_subquery()))
            .values(status=DeliveryStatus.SENDING, claimed_at=now, claimed_by=worker_name())
            .returning(Delivery.id)
        )
    )


def _held(claimed_at: datetime):
    """Deliveries still in this sender's claim made (or renewed) at ``claimed_at``."""
    return and_(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_at == claimed_at)


def release(delivery_ids: list[int], claimed_at: datetime) -> None:
    """Give unsent claims back (on pause), so another run picks them up at once."""
    if delivery_ids:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(delivery_ids), _held(claimed_at))
            .values(status=DeliveryStatus.QUEUED, claimed_at=None, claimed_by=None)
        )
        db.session.commit()


def _record(delivery_id: int, held_since: datetime, **values) -> None:
    db.session.execute(
        update(Delivery).where(Delivery.id == delivery_id, _held(held_since)).values(**values)
    )
    db.session.commit()


def _answer(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"[:300]


class SmtpFailure(Exception):
    """A refusal; ``bounce`` when it says the address itself is bad, which counts
    towards ``BOUNCE_LIMIT``."""

    def __init__(self, code: int, answer: str, temporary: bool, bounce: bool = False):
        super().__init__(answer)
        self.code, self.answer, self.temporary = code, answer, temporary
        self.bounce = bounce and not temporary


# RFC 3463 classes about the recipient's address or mailbox (5.1.x, 5.2.x). A refusal
# of the message itself (its content, size or form: 5.3, 5.5, 5.6, 5.7, or none) says
# nothing against the reader, and marking them bounced would drop good addresses.
_ABOUT_THE_MAILBOX = re.compile(r"^5\.[12]\.\d{1,3}\b")


def smtp_send(host: smtplib.SMTP, sender: str, recipient: str, data: bytes) -> str:
    """One message over an open connection; returns the server's final answer.

    The dialogue of ``smtplib.SMTP.sendmail`` for one recipient, with two costs taken
    out (see ``smtp_path`` and ``dot_stuffed``), and a refusal after DATA reported
    as a failure, not as sent.
    """
    if not emails.mailable(recipient):
        answer = _answer(emails.NOT_ASCII_CODE, emails.NOT_ASCII_ANSWER)
        raise SmtpFailure(emails.NOT_ASCII_CODE, answer, temporary=False, bounce=True)
    host.ehlo_or_helo_if_needed()
    options = " BODY=8BITMIME" if host.has_extn("8bitmime") else ""
    for command, argument, accepted in (
        ("mail", f"FROM:{smtp_path(sender)}{options}", (250,)),
        ("rcpt", f"TO:{smtp_path(recipient)}", (250, 251)),
        ("data", "", (354,)),
    ):
        host.putcmd(command, argument)
        code, message = host.getreply()
        if code not in accepted:
            host.rset()
            answer = _answer(code, message)
            raise SmtpFailure(code, answer, 400 <= code < 500, bounce=command == "rcpt")
    host.send(dot_stuffed(data) + b".\r\n")
    code, message = host.getreply()
    if code != 250:
        answer = _answer(code, message)
        bounce = _ABOUT_THE_MAILBOX.match(answer.partition(" ")[2]) is not None
        raise SmtpFailure(code, answer, 400 <= code < 500, bounce=bounce)
    return _answer(code, message)


_PLAIN_ADDRESS = re.compile(r"[^\s<>()\[\]\\,;:\"]+@[^\s<>()\[\]\\,;:\"@]+")


def smtp_path(address: str) -> str:
    """``<address>``, as smtplib's quoteaddr makes it, without parsing plain addresses.

    quoteaddr runs the full RFC 5322 parser of the email package on every address;
    addresses we hold passed validation, so a plain addr-spec needs only its brackets.
    """
    return f"<{address}>" if _PLAIN_ADDRESS.fullmatch(address) else smtplib.quoteaddr(address)


def dot_stuffed(data: bytes) -> bytes:
    """The message as DATA carries it: a dot starting a line doubled, CRLF at the end.

    What ``smtplib.SMTP.data`` does, without its multi-line regular expression, which
    alone cost more than filling in the message. Our messages end every line in
    CRLF, so a line's first character follows a "\\n".
    """
    if data.startswith(b"."):
        data = b"." + data
    if b"\n." in data:
        data = data.replace(b"\n.", b"\n..")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class Claim(NamedTuple):
    """A reader this sender holds, as its check just renewed it."""

    delivery_id: int
    renewed_at: datetime
    attempts: int
    subscriber_id: int | None


@dataclass
class SliceResult:
    more: bool  # claimable work remains
    retry_in: float | None  # seconds until the earliest retry is due, if any


class CampaignSender:
    """Sends one campaign's deliveries for a bounded slice of time."""

    def __init__(self, campaign: Campaign) -> None:
        self.campaign_id = campaign.id
        self.skeleton: Skeleton = build_skeleton(
            campaign.subject,
            Rendered(
                html=campaign.html_frozen or "",
                text=campaign.text_frozen or "",
                text_without_coupon=campaign.text_frozen_without_coupon,
                first_name_defaults=_defaults(campaign),
            ),
        )
        self.config = current_app.config
        self.message_ids = _message_id_prefix(campaign)
        self.connection = None
        self.ledger = Ledger()
        self.last_status_check = 0.0
        self.status = CampaignStatus.SENDING

    def _status(self) -> str:
        db.session.commit()
        return db.session.scalar(select(Campaign.status).filter_by(id=self.campaign_id))

    def still_sending(self, force: bool = False) -> bool:
        now = time.monotonic()
        if force or now - self.last_status_check >= 1.0:
            self.last_status_check = now
            self.status = self._status()
        return self.status == CampaignStatus.SENDING

    def run(self, seconds: float) -> SliceResult:
        deadline = time.monotonic() + seconds
        try:
            while time.monotonic() < deadline:
                if not self.still_sending(force=True):
                    return SliceResult(more=False, retry_in=None)
                claimed_at = utcnow()
                batch = claim_batch(self.campaign_id, self.config["SEND_BATCH_SIZE"], claimed_at)
                if not batch:
                    return self._idle()
                self.send_claimed(batch, claimed_at)
            return SliceResult(more=True, retry_in=0)
        finally:
            self.close()
            if self.status == CampaignStatus.CANCELLED:
                # What this sender gave back after the cancel ran is queued again.
                cancel_unsent(self.campaign_id)
                db.session.commit()

    def close(self) -> None:
        """Say goodbye to the mail server and commit the ledger's last marks."""
        self._disconnect()
        self.ledger.close()

    def _idle(self) -> SliceResult:
        """Nothing to claim now: finish the campaign, or come back for due retries."""
        pending = dict(
            db.session.execute(
                select(Delivery.status, func.min(Delivery.next_attempt_at))
                .where(
                    Delivery.campaign_id == self.campaign_id,
                    Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]),
                )
                .group_by(Delivery.status)
            ).all()
        )
        db.session.commit()
        if not pending:
            finish_campaign(self.campaign_id)
            return SliceResult(more=False, retry_in=None)
        if DeliveryStatus.QUEUED in pending and pending[DeliveryStatus.QUEUED]:
            wait = (pending[DeliveryStatus.QUEUED] - utcnow()).total_seconds()
            return SliceResult(more=True, retry_in=max(1.0, wait))
        # Only claims of other (live or dead) workers remain: look again after the lease.
        return SliceResult(more=True, retry_in=float(self.config["SEND_LEASE_SECONDS"]))

    def _connect(self) -> smtplib.SMTP | Exception:
        """The open connection, or why it could not be opened."""
        if self.connection is None:
            connection = emails.connect()
            try:
                connection.__enter__()
            except (smtplib.SMTPException, OSError) as exc:
                return exc
            self.connection = connection
        return self.connection.host

    def _disconnect(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.connection.__exit__(None, None, None)
            self.connection = None

    def _readers(self, delivery_ids: list[int]) -> dict[int, tuple]:
        """(attempts, subscriber id, email, first name) per delivery, as plain values."""
        rows = db.session.execute(
            select(
                Delivery.id,
                Delivery.attempts,
                Subscriber.id,
                Subscriber.email,
                Subscriber.first_name,
            )
            .join(Subscriber, Subscriber.id == Delivery.subscriber_id, isouter=True)
            .where(Delivery.id.in_(delivery_ids))
        ).all()
        return {row[0]: tuple(row[1:]) for row in rows}

    def send_claimed(self, batch: list[int], claimed_at: datetime) -> None:
        """Send the deliveries this sender claimed at ``claimed_at``, while it holds them."""
        readers = self._readers(batch)
        coupons = usable_coupons([row[1] for row in readers.values() if row[1] is not None])
        db.session.commit()
        try:
            self._send_readers(batch, claimed_at, readers, coupons)
        finally:
            # Marks written since the last commit are for messages already accepted.
            self.ledger.commit()

    def _send_readers(
        self, batch: list[int], claimed_at: datetime, readers: dict, coupons: dict
    ) -> None:
        for position, delivery_id in enumerate(batch):
            if not self.still_sending():
                self.ledger.commit()
                release(batch[position:], claimed_at)
                return
            attempts, subscriber_id, email, first_name = readers[delivery_id]
            # Every wait comes before the check: once it renews the claim, only the
            # SMTP dialogue stands between it and the mark. (A reader the check then
            # skips has cost a rate token: rare, and cheaper than a second check.)
            host = self._connect()
            throttle.acquire()
            renewed_at = utcnow()
            # Commits the previous reader's mark too.
            verdict = self.ledger.check(delivery_id, claimed_at, renewed_at)
            if verdict is Verdict.LOST:
                continue
            if verdict is Verdict.STOPPED:  # paused or cancelled since the last look
                self.still_sending(force=True)
                release([delivery_id], renewed_at)
                release(batch[position + 1 :], claimed_at)
                return
            if verdict is Verdict.SKIP:  # unsubscribed or erased since the claim
                self.ledger.mark_skipped(delivery_id)
                continue
            claim = Claim(delivery_id, renewed_at, attempts, subscriber_id)
            if isinstance(host, Exception):
                self._server_unreachable(claim, batch[position + 1 :], claimed_at, host)
                return
            try:
                data = self._message(delivery_id, subscriber_id, email, first_name, coupons)
            except Exception as exc:
                # A reader whose message cannot be built (a bug of ours, for a value we
                # did not foresee) fails alone: one bad row must not stall the send of
                # everyone, retried by every sender the dispatcher revives.
                logger.exception("delivery %s: the message could not be built", delivery_id)
                self._failed(claim, f"not sent: message not built ({type(exc).__name__})", False)
                continue
            self._deliver(host, claim, email, data)

    def _message(self, delivery_id, subscriber_id, email, first_name, coupons) -> bytes:
        code, url = coupons.get(subscriber_id, (None, None))
        reader = Reader(
            email=email,
            first_name=first_name,
            unsubscribe_token=unsubscribe_token(subscriber_id),
            coupon_code=code,
            coupon_url=url,
        )
        return personalize(self.skeleton, reader, f"{self.message_ids}.d{delivery_id}")

    def _deliver(self, host: smtplib.SMTP, claim: Claim, email: str, data: bytes) -> None:
        try:
            answer = smtp_send(host, self.skeleton.sender, email, data)
        except SmtpFailure as failure:
            self._failed(claim, failure.answer, failure.temporary, failure.bounce)
        except (smtplib.SMTPException, OSError) as exc:
            # A dropped connection or a refused DATA: retry on a fresh connection.
            self._disconnect()
            self._failed(claim, _exception_answer(exc), is_temporary(exc))
        else:
            # Marked the moment the server accepted it, before the next message goes.
            self.ledger.mark_sent(claim.delivery_id, claim.attempts + 1, answer, utcnow())

    def _server_unreachable(
        self, claim: Claim, rest: list[int], claimed_at: datetime, error: Exception
    ) -> None:
        """The mail server, not the readers, failed: this reader and the rest of the
        batch keep their attempts and wait for it, as a mail queue does, however long
        the outage. (Counting them, a quarter of an hour's outage failed a whole
        newsletter for good; trying each, an unreachable host cost a timeout apiece.)"""
        self.ledger.commit()  # before the session writes (SQLite has one writer)
        delay = self.config["SEND_RETRY_BASE_SECONDS"]
        waiting = {
            "status": DeliveryStatus.QUEUED,
            "smtp_response": _exception_answer(error),
            "next_attempt_at": utcnow() + timedelta(seconds=delay),
            "claimed_at": None,
            "claimed_by": None,
        }
        _record(claim.delivery_id, claim.renewed_at, **waiting)
        if rest:
            db.session.execute(
                update(Delivery).where(Delivery.id.in_(rest), _held(claimed_at)).values(**waiting)
            )
            db.session.commit()
        logger.warning(
            "%d deliveries wait %ss for the mail server: %s",
            1 + len(rest),
            delay,
            waiting["smtp_response"],
        )

    def _failed(self, claim: Claim, answer: str, temporary: bool, bounce: bool = False) -> None:
        self.ledger.commit()  # before the session writes (SQLite has one writer)
        delivery_id, attempts = claim.delivery_id, claim.attempts + 1
        if temporary and attempts < self.config["SEND_MAX_ATTEMPTS"]:
            delay = min(3600, self.config["SEND_RETRY_BASE_SECONDS"] * 2 ** (attempts - 1))
            _record(
                delivery_id,
                claim.renewed_at,
                status=DeliveryStatus.QUEUED,
                attempts=attempts,
                smtp_response=answer,
                next_attempt_at=utcnow() + timedelta(seconds=delay),
                claimed_at=None,
                claimed_by=None,
            )
            logger.info("delivery %s deferred %ss: %s", delivery_id, delay, answer)
            return
        _record(
            delivery_id,
            claim.renewed_at,
            status=DeliveryStatus.FAILED,
            attempts=attempts,
            smtp_response=answer,
        )
        logger.warning("delivery %s failed: %s", delivery_id, answer)
        if bounce:
            count_hard_bounce(claim.subscriber_id)


def _exception_answer(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _answer(exc.smtp_code, exc.smtp_error)
    return f"connection error: {type(exc).__name__}: {exc}"[:300]


def _message_id_prefix(campaign: Campaign) -> str:
    """``c<id>.<mark>``, unique to this campaign's send on this installation.

    Message-IDs must be unique worldwide (RFC 5322 3.6.4), and receivers drop a message
    whose id they have seen: campaign 7 of a reinstalled or second installation must
    not reuse the ids of an earlier campaign 7. The mark is the same for every slice
    of the send, so a message sent twice after a crash keeps its id.
    """
    key = current_app.config["SECRET_KEY"].encode()
    started = (campaign.started_at or campaign.created_at).isoformat()
    mark = hmac.new(key, f"message-id:{campaign.id}:{started}".encode(), "sha256")
    return f"c{campaign.id}.{mark.hexdigest()[:12]}"


def _defaults(campaign: Campaign) -> list[str]:
    return first_name_defaults(campaign.body_markdown)


def count_hard_bounce(subscriber_id: int) -> None:
    """A 5xx for this reader: count it, and stop mailing them past the limit."""
    limit = current_app.config["BOUNCE_LIMIT"]
    db.session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id)
        .values(bounce_count=Subscriber.bounce_count + 1)
    )
    db.session.execute(
        update(Subscriber)
        .where(
            Subscriber.id == subscriber_id,
            Subscriber.bounce_count >= limit,
            Subscriber.status == SubscriberStatus.CONFIRMED,
        )
        # The round ends, as an unsubscribe's does: an old confirmation link must not
        # bring the address back; a new signup confirmed from it does.
        .values(status=SubscriberStatus.BOUNCED, optin_round=None)
    )
    db.session.commit()


def finish_campaign(campaign_id: int) -> bool:
    """sending -> sent (or failed if nothing could be delivered), once."""
    counts = dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status)
        ).all()
    )
    final = (
        CampaignStatus.FAILED
        if counts.get(DeliveryStatus.FAILED) and not counts.get(DeliveryStatus.SENT)
        else CampaignStatus.SENT
    )
    done = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
        .values(status=final, finished_at=utcnow())
    ).rowcount
    db.session.commit()
    if done:
        logger.info("campaign %s finished: %s %s", campaign_id, final, counts)
    return bool(done)
