"""Campaign rules: compose, schedule, start, pause, resume, cancel, progress.

Every move between states is one conditional UPDATE from the states that allow it,
so two clicks, two beats or two workers never make the same move twice. Functions
add and flush (or commit where they hand work to the sending engine); views, tasks
and the API call them and commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, insert, literal, select, update

from campaign import audit, clinic
from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.campaigns.rendering import (
    RenderError,
    check_campaign,
    check_image_descriptions,
    render_campaign,
)
from campaign.database import utcnow
from campaign.emails import header_safe
from campaign.extensions import db
from campaign.outbox import after_commit
from campaign.staff.models import Staff
from campaign.staff.services import find_staff
from campaign.subscribers.addresses import has_control_characters
from campaign.subscribers.models import Subscriber, SubscriberStatus

logger = logging.getLogger(__name__)

MAX_SUBJECT = 200
MAX_BODY = 100_000
EDITABLE = {CampaignStatus.DRAFT, CampaignStatus.SCHEDULED}


class CampaignInvalid(ValueError):
    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field, self.code, self.message = field, code, message


# What each move needs, said to the person who tried it.
_MOVE_NEEDS = {
    "edit": "Only a draft or a scheduled newsletter can be changed",
    "schedule": "Only a draft or a scheduled newsletter can be scheduled",
    "send": "Only a draft or a scheduled newsletter can be sent",
    "unschedule": "Only a scheduled newsletter can go back to being a draft",
    "pause": "Only a newsletter that is sending can be paused",
    "resume": "Only a paused newsletter can be resumed",
    "cancel": "Only a scheduled, sending or paused newsletter can be cancelled",
}


class MoveNotAllowed(Exception):
    """The campaign's state does not allow this move (answered with 409)."""

    def __init__(self, campaign: Campaign, move: str) -> None:
        self.status = campaign.status
        self.move = move
        if move == "cancel" and campaign.status == CampaignStatus.DRAFT:
            self.message = "A draft was never sent: delete it instead of cancelling it."
        else:
            self.message = f"{_MOVE_NEEDS[move]}; this one is {campaign.status}."
        super().__init__(self.message)


class NotADraft(Exception):
    """Only a draft can be deleted (answered with 409 ``not_a_draft``)."""

    def __init__(self, status: str) -> None:
        if status == CampaignStatus.SCHEDULED:
            message = "Only a draft can be deleted: cancel this scheduled newsletter instead."
        else:
            message = f"Only a draft can be deleted; this newsletter is {status}."
        super().__init__(message)
        self.status, self.message = status, message


# What the messages call each field: staff read them beside the form, scripts by ``field``.
FIELD_NAMES = {"subject": "The subject", "preheader": "The preheader", "body_markdown": "The body"}


def _text(value: object, field: str, limit: int, required: bool, single_line: bool) -> str:
    name = FIELD_NAMES[field]
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise CampaignInvalid(field, f"invalid_{field}", f"{name} must be text.")
    value = value.strip() if single_line else value.replace("\r\n", "\n")
    # A body of spaces and line breaks is as empty as none: it was sent, blank, to all.
    if required and not value.strip():
        raise CampaignInvalid(field, f"invalid_{field}", f"{name} is required.")
    if len(value) > limit:
        raise CampaignInvalid(
            field, f"invalid_{field}", f"{name} is limited to {limit} characters."
        )
    checked = value if single_line else value.replace("\n", "").replace("\t", "")
    if has_control_characters(checked):
        raise CampaignInvalid(field, f"invalid_{field}", f"{name} holds control characters.")
    if single_line and not header_safe(value):  # the subject is a header
        raise CampaignInvalid(
            field, f"invalid_{field}", f"{name} cannot hold '=?' (it reads as an encoded word)."
        )
    return value


def _content(subject: object, body_markdown: object, preheader: object) -> dict:
    content = {
        "subject": _text(subject, "subject", MAX_SUBJECT, required=True, single_line=True),
        "preheader": _text(preheader, "preheader", MAX_SUBJECT, required=False, single_line=True),
        "body_markdown": _text(
            body_markdown, "body_markdown", MAX_BODY, required=True, single_line=False
        ),
    }
    try:
        check_campaign(content["subject"], content["preheader"], content["body_markdown"])
        check_image_descriptions(content["body_markdown"])
        render_campaign(content["subject"], content["preheader"], content["body_markdown"])
    except RenderError as exc:
        raise CampaignInvalid(exc.field, f"invalid_{exc.field}", str(exc)) from None
    return content


def create_campaign(
    staff: Staff, subject: object, body_markdown: object, preheader: object = ""
) -> Campaign:
    campaign = Campaign(created_by_id=staff.id, **_content(subject, body_markdown, preheader))
    db.session.add(campaign)
    db.session.flush()
    audit.record("campaign.created", staff_id=staff.id, target=f"campaign:{campaign.id}")
    return campaign


def copy_campaign(source: Campaign, staff: Staff) -> Campaign:
    """A new draft holding a newsletter's subject, preview text and message.

    Last month's newsletter is where most months start. The content is copied as
    it was saved, whatever the source's status; the usual checks run when the
    copy is saved or sent, as for any draft.
    """
    campaign = Campaign(
        created_by_id=staff.id,
        subject=source.subject,
        preheader=source.preheader,
        body_markdown=source.body_markdown,
    )
    db.session.add(campaign)
    db.session.flush()
    audit.record(
        "campaign.copied",
        staff_id=staff.id,
        target=f"campaign:{campaign.id}",
        source=f"campaign:{source.id}",
    )
    return campaign


def update_campaign(
    campaign: Campaign, subject: object, body_markdown: object, preheader: object = ""
) -> None:
    """Change a draft's or a scheduled campaign's content.

    One conditional UPDATE: an edit that races the campaign's start either lands
    before it (and is what gets sent) or is refused; it never changes the row of a
    campaign already sending, whose readers get the content frozen at the start.
    """
    if campaign.status not in EDITABLE:
        raise MoveNotAllowed(campaign, "edit")
    content = _content(subject, body_markdown, preheader)
    changed = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_([s.value for s in EDITABLE]))
        .values(**content, updated_at=utcnow())
    ).rowcount
    db.session.refresh(campaign)
    if not changed:
        raise MoveNotAllowed(campaign, "edit")


def delete_draft(campaign: Campaign, staff: Staff) -> None:
    """Delete a draft for good (flushed; the caller commits), or raise ``NotADraft``.

    Only a draft, as in Mailchimp, where a scheduled campaign is paused back to a draft
    before it can be removed: a scheduled newsletter is a send staff have committed to,
    so it is cancelled (and stays listed as such) rather than vanishing minutes before
    the dispatcher starts it; one that has started has readers and a ledger to account
    for. A draft has no deliveries, and audit events name it by a string target, so
    nothing else points at the row; ids are never reused (AUTOINCREMENT, sequences),
    so those events never name a later newsletter.

    One conditional DELETE: a draft that another tab schedules or sends at the same
    moment is either deleted first (and that move finds nothing) or left alone.
    """
    campaign_id, subject = campaign.id, campaign.subject
    # "fetch": the session forgets the object only if the row really went (an in-memory
    # check would go by a status that may be stale).
    deleted = db.session.execute(
        delete(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.DRAFT)
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if not deleted:
        status = db.session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
        if status is None:
            return  # a double click: the first one deleted it (and audited it)
        raise NotADraft(status)
    audit.record(
        "campaign.deleted", staff_id=staff.id, target=f"campaign:{campaign_id}", subject=subject
    )


# Who a newsletter goes to when it starts.
AUDIENCE = Subscriber.status == SubscriberStatus.CONFIRMED


def audience_size() -> int:
    """How many a newsletter started now would go to (what "Send now" asks about)."""
    return db.session.scalar(select(func.count()).select_from(Subscriber).where(AUDIENCE))


# Said to the editor's user and to scripts alike: what to give, with an example.
_NOT_A_TIME = "Give a date and time to send it, e.g. 2027-01-05T10:00 (ISO 8601)."


def parse_send_at(value: object) -> datetime:
    """ISO 8601 to naive UTC; a time without offset is in the clinic's time zone."""
    if isinstance(value, str) and not value.strip():
        raise CampaignInvalid("send_at", "invalid_send_at", "Pick a date and time to send it.")
    if not isinstance(value, str) or len(value) > 40:
        raise CampaignInvalid("send_at", "invalid_send_at", _NOT_A_TIME)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise CampaignInvalid("send_at", "invalid_send_at", _NOT_A_TIME) from None
    try:
        if moment.tzinfo is None:
            return _clinic_time_to_utc(moment, value)
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # a year-1 or year-9999 time that leaves the calendar in UTC
        raise CampaignInvalid("send_at", "invalid_send_at", _NOT_A_TIME) from None


def _clinic_time_to_utc(local: datetime, typed: str) -> datetime:
    moment = clinic.utc_time(local)
    if clinic.local_time(moment) != local:  # a time the clocks skip
        raise CampaignInvalid(
            "send_at",
            "invalid_send_at",
            f"{typed} does not exist in {clinic.zone().key}: the clocks go forward then. "
            "Please pick another time.",
        )
    return moment


def _move(campaign: Campaign, allowed: set[CampaignStatus], move: str, **values) -> None:
    changed = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_([s.value for s in allowed]))
        .values(**values)
    ).rowcount
    db.session.refresh(campaign)
    if not changed:
        raise MoveNotAllowed(campaign, move)


def schedule(campaign: Campaign, send_at: datetime, staff: Staff) -> None:
    if send_at < utcnow() - timedelta(minutes=1):
        raise CampaignInvalid(
            "send_at", "send_at_in_past", "That time has passed: please pick a later one."
        )
    _move(campaign, EDITABLE, "schedule", status=CampaignStatus.SCHEDULED, send_at=send_at)
    audit.record(
        "campaign.scheduled",
        staff_id=staff.id,
        target=f"campaign:{campaign.id}",
        send_at=send_at.isoformat() + "Z",  # stored times are UTC: say so
    )


def unschedule(campaign: Campaign, staff: Staff) -> None:
    """Back to a draft: "not yet", where cancelling would end it for good."""
    _move(
        campaign,
        {CampaignStatus.SCHEDULED},
        "unschedule",
        status=CampaignStatus.DRAFT,
        send_at=None,
    )
    audit.record("campaign.unscheduled", staff_id=staff.id, target=f"campaign:{campaign.id}")


def start(campaign_id: int, allowed: set[CampaignStatus]) -> bool:
    """Start sending: one winner freezes the content and snapshots the audience.

    The move to ``sending`` is one conditional UPDATE, so two dispatchers (or a
    dispatcher and a "send now" click) start a campaign once. The audience is
    every confirmed subscriber at this moment, copied into the ledger with one
    ``INSERT ... SELECT``; later unsubscribes are skipped at send time.
    """
    now = utcnow()
    won = db.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_([s.value for s in allowed]))
        .values(status=CampaignStatus.SENDING, started_at=now)
    ).rowcount
    if not won:
        return False
    campaign = db.session.get(Campaign, campaign_id)
    db.session.refresh(campaign)
    rendered = render_campaign(
        campaign.subject, campaign.preheader, campaign.body_markdown, campaign_id
    )
    campaign.html_frozen, campaign.text_frozen = rendered.html, rendered.text
    campaign.text_frozen_without_coupon = rendered.text_without_coupon
    audience = select(
        literal(campaign_id), Subscriber.id, literal(DeliveryStatus.QUEUED.value), literal(0)
    ).where(AUDIENCE)
    db.session.execute(
        insert(Delivery).from_select(
            ["campaign_id", "subscriber_id", "status", "attempts"], audience
        )
    )
    campaign.audience_size = db.session.scalar(
        select(func.count()).select_from(Delivery).filter_by(campaign_id=campaign_id)
    )
    db.session.flush()
    logger.info("campaign %s started for %s readers", campaign_id, campaign.audience_size)
    queue_senders(campaign_id)
    return True


def queue_senders(campaign_id: int) -> None:
    from campaign.campaigns.tasks import send_campaign

    for _ in range(current_app.config["CAMPAIGN_PARALLEL"]):
        after_commit(send_campaign, campaign_id)


def send_now(campaign: Campaign, staff: Staff) -> None:
    if not start(campaign.id, EDITABLE):
        db.session.refresh(campaign)
        raise MoveNotAllowed(campaign, "send")
    db.session.refresh(campaign)
    audit.record("campaign.sent", staff_id=staff.id, target=f"campaign:{campaign.id}")


def pause(campaign: Campaign, staff: Staff) -> None:
    _move(campaign, {CampaignStatus.SENDING}, "pause", status=CampaignStatus.PAUSED)
    audit.record("campaign.paused", staff_id=staff.id, target=f"campaign:{campaign.id}")


def resume(campaign: Campaign, staff: Staff) -> None:
    _move(campaign, {CampaignStatus.PAUSED}, "resume", status=CampaignStatus.SENDING)
    queue_senders(campaign.id)
    audit.record("campaign.resumed", staff_id=staff.id, target=f"campaign:{campaign.id}")


def cancel(campaign: Campaign, staff: Staff) -> None:
    # A draft is deleted instead: cancelled, it could never be deleted, and would stay
    # in the list as if it had been promised to readers.
    allowed = {CampaignStatus.SCHEDULED, CampaignStatus.SENDING, CampaignStatus.PAUSED}
    _move(campaign, allowed, "cancel", status=CampaignStatus.CANCELLED, finished_at=utcnow())
    cancel_unsent(campaign.id)
    audit.record("campaign.cancelled", staff_id=staff.id, target=f"campaign:{campaign.id}")


def cancel_unsent(campaign_id: int | None = None) -> None:
    """Mark cancelled what a cancelled campaign (``campaign_id``, or every one) will
    never send: deliveries queued, and claims of senders that died (lapsed leases).

    Run by the cancel itself, by each sender that stops on finding its campaign
    cancelled (what it had claimed goes back to "queued" after the cancel ran), and
    by the dispatcher each minute for senders that never came back.
    """
    lapsed = utcnow() - timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    cancelled = select(Campaign.id).where(Campaign.status == CampaignStatus.CANCELLED)
    if campaign_id is not None:
        cancelled = cancelled.where(Campaign.id == campaign_id)
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id.in_(cancelled.scalar_subquery()),
            # The IN keeps to the (campaign, status) index; the OR only filters.
            Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.SENDING]),
            (Delivery.status == DeliveryStatus.QUEUED) | (Delivery.claimed_at < lapsed),
        )
        .values(status=DeliveryStatus.CANCELLED, claimed_at=None, claimed_by=None)
    )


def start_due_campaigns() -> list[int]:
    """The dispatcher: start every scheduled campaign whose time has come.

    A campaign that fell due while the service was down starts now; its page then
    says by how much it started late.
    """
    due = db.session.scalars(
        select(Campaign.id).where(
            Campaign.status == CampaignStatus.SCHEDULED, Campaign.send_at <= utcnow()
        )
    ).all()
    started = []
    for campaign_id in due:
        if start(campaign_id, {CampaignStatus.SCHEDULED}):
            db.session.commit()
            started.append(campaign_id)
    return started


def revive_stalled_campaigns(quiet_only: bool = True) -> list[int]:
    """Queue senders for campaigns that are sending but that no worker is working on.

    After a crash or a restart no task may be left for a campaign; its ledger still
    says what is left, so new senders resume exactly there. ``quiet_only`` limits
    this to campaigns with no claim for a whole lease; extra senders are harmless
    (claims are atomic) but pointless while one is at work.
    """
    quiet_since = utcnow() - timedelta(seconds=current_app.config["SEND_LEASE_SECONDS"])
    revived = []
    for campaign_id in db.session.scalars(
        select(Campaign.id).where(Campaign.status == CampaignStatus.SENDING)
    ).all():
        last_claim = db.session.scalar(
            select(func.max(Delivery.claimed_at)).where(Delivery.campaign_id == campaign_id)
        )
        if not quiet_only or last_claim is None or last_claim < quiet_since:
            queue_senders(campaign_id)
            revived.append(campaign_id)
    return revived


@dataclass
class Progress:
    total: int
    queued: int
    sending: int
    sent: int
    failed: int
    skipped: int
    cancelled: int
    rate_per_minute: float | None
    eta_seconds: float | None


def sent_counts(campaign_ids: list[int]) -> dict[int, int]:
    """How many readers each campaign has reached so far (one query for a list)."""
    if not campaign_ids:
        return {}
    return dict(
        db.session.execute(
            select(Delivery.campaign_id, func.count())
            .where(Delivery.campaign_id.in_(campaign_ids), Delivery.status == DeliveryStatus.SENT)
            .group_by(Delivery.campaign_id)
        ).all()
    )


@dataclass(frozen=True)
class Undelivered:
    email: str | None  # None once the reader was erased
    smtp_response: str | None
    attempts: int


def undelivered(campaign_id: int, limit: int = 50) -> list[Undelivered]:
    """The readers a campaign failed to reach, with the mail server's answer, oldest
    first: what the campaign page lists (the whole ledger is the CSV)."""
    rows = db.session.execute(
        select(Subscriber.email, Delivery.smtp_response, Delivery.attempts)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id, isouter=True)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.FAILED)
        .order_by(Delivery.id)
        .limit(limit)
    ).all()
    return [Undelivered(*row) for row in rows]


def progress(campaign: Campaign) -> Progress:
    counts = dict(
        db.session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign.id)
            .group_by(Delivery.status)
        ).all()
    )
    recent_since = utcnow() - timedelta(seconds=60)
    recent = db.session.scalar(
        select(func.count()).where(
            Delivery.campaign_id == campaign.id, Delivery.sent_at >= recent_since
        )
    )
    remaining = counts.get("queued", 0) + counts.get("sending", 0)
    rate = None
    if campaign.status == CampaignStatus.SENDING:
        # Over the last minute, or over the time since the start or the last resume when
        # that is shorter: 20 sent in the first second is 1,200 a minute, not 20, and a
        # pause is no time spent sending. While it sends, nothing but a move (start,
        # pause, resume) writes the campaign's row, so its updated_at is the last one.
        since = max(campaign.started_at or recent_since, campaign.updated_at or recent_since)
        running = (utcnow() - since).total_seconds()
        rate = recent * 60 / min(60.0, max(5.0, running))
    eta = remaining / (rate / 60) if rate else None
    return Progress(
        total=sum(counts.values()),
        queued=counts.get("queued", 0),
        sending=counts.get("sending", 0),
        sent=counts.get("sent", 0),
        failed=counts.get("failed", 0),
        skipped=counts.get("skipped", 0),
        cancelled=counts.get("cancelled", 0),
        rate_per_minute=rate,
        eta_seconds=eta,
    )


def test_recipients(emails: object) -> list[str]:
    """Test copies go to staff accounts only, so the button cannot mail strangers."""
    if not isinstance(emails, list):
        raise CampaignInvalid("emails", "invalid_emails", "emails must be a list of addresses.")
    if not emails:
        raise CampaignInvalid(
            "emails", "invalid_emails", "Enter the staff address to send the test to."
        )
    if len(emails) > 10:
        raise CampaignInvalid(
            "emails", "invalid_emails", "Send a test to at most 10 staff addresses at once."
        )
    recipients = []
    for email in emails:
        if not isinstance(email, str) or len(email) > 254:
            raise CampaignInvalid(
                "emails", "invalid_emails", "Each test address must be a staff address."
            )
        # As the login finds it: desk@bücher.de is stored as desk@xn--bcher-kva.de.
        staff = find_staff(email)
        if staff is None or not staff.active:
            raise CampaignInvalid("emails", "not_staff", f"{email} is not a staff account.")
        if staff.email not in recipients:  # one copy each, however the address was typed
            recipients.append(staff.email)
    return recipients


def send_test(campaign: Campaign, emails: object, staff: Staff) -> list[str]:
    from campaign.campaigns.tasks import send_test_copy

    recipients = test_recipients(emails)
    for address in recipients:
        after_commit(send_test_copy, campaign.id, address)
    audit.record(
        "campaign.test_sent", staff_id=staff.id, target=f"campaign:{campaign.id}", to=recipients
    )
    return recipients


def monthly_slot_default() -> dict:
    return {"week": 1, "weekday": 1, "time": "10:00"}  # the first Tuesday at 10:00


def next_monthly_slot(after: datetime, slot: dict) -> datetime:
    """The next clinic-local datetime matching the slot (week n of the month, weekday, time)."""
    zone = clinic.zone()
    local = after.replace(tzinfo=UTC).astimezone(zone)
    hour, minute = (int(part) for part in slot["time"].split(":"))
    year, month = local.year, local.month
    for _ in range(14):
        first = datetime(year, month, 1, hour, minute, tzinfo=zone)
        offset = (slot["weekday"] - first.weekday()) % 7
        day = 1 + offset + 7 * (slot["week"] - 1)
        try:
            candidate = first.replace(day=day)
        except ValueError:
            candidate = None
        if candidate and candidate > local:
            return candidate.replace(tzinfo=None)
        month += 1
        if month == 13:
            year, month = year + 1, 1
    raise ValueError("no slot found")
