"""Staff pages for the list: browse and search, one person's record, import, audit."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select

from campaign import audit, clinic, database
from campaign.api_util import streamed_csv, wants_bom, wants_csv
from campaign.audit import AuditEvent
from campaign.campaigns.models import Campaign, Delivery
from campaign.coupons.models import Coupon, Redemption
from campaign.coupons.services import code_of
from campaign.extensions import db
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.models import Role, Staff
from campaign.subscribers import audit_log as audit_log_query
from campaign.subscribers import audit_targets, imports, privacy, queries, services
from campaign.subscribers.models import Subscriber, SubscriberStatus
from campaign.subscribers.tasks import analyse_import, run_import

bp = Blueprint("subscriber_pages", __name__, url_prefix="/staff", template_folder="templates")
PAGE_SIZE = 50


@bp.get("/subscribers/")
@page_role_required(Role.MARKETING)
def index():
    q = request.args.get("q", "").strip()[:254]
    status = request.args.get("status", "")
    source = request.args.get("source", "")[:64]
    page = request.args.get("page", "1")
    # isdigit() alone also takes "²", which int() refuses.
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 100_000 else 1
    if status not in {s.value for s in SubscriberStatus}:
        status = ""
    query = queries.search(q, status, source)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    # Past the end (an old bookmark, a list that shrank): the last page, not "page 99
    # of 9" over an empty table.
    page = min(page, pages)
    subscribers = db.session.scalars(
        query.order_by(Subscriber.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    sources = db.session.scalars(
        select(Subscriber.source).distinct().order_by(Subscriber.source)
    ).all()
    return render_template(
        "subscribers/staff/index.html",
        subscribers=subscribers,
        total=total,
        page=page,
        pages=pages,
        q=q,
        status=status,
        source=source,
        sources=sources,
        statuses=[s.value for s in SubscriberStatus],
    )


@bp.get("/subscribers/<int:subscriber_id>")
@page_role_required(Role.MARKETING)
def detail(subscriber_id: int):
    subscriber = database.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    deliveries = db.session.execute(
        select(Delivery, Campaign.subject)
        .join(Campaign, Campaign.id == Delivery.campaign_id)
        .where(Delivery.subscriber_id == subscriber_id)
        .order_by(Delivery.id.desc())
        .limit(100)
    ).all()
    coupons = db.session.scalars(select(Coupon).filter_by(subscriber_id=subscriber_id)).all()
    redemptions = db.session.scalars(
        select(Redemption)
        .where(Redemption.coupon_id.in_([c.id for c in coupons]))
        .order_by(Redemption.id)
    ).all()
    targets = [f"subscriber:{subscriber_id}"] + [f"coupon:{c.id}" for c in coupons]
    events = db.session.execute(
        select(AuditEvent, Staff.email)
        .join(Staff, Staff.id == AuditEvent.staff_id, isouter=True)
        .where(AuditEvent.target.in_(targets))
        .order_by(AuditEvent.id.desc())
        .limit(100)
    ).all()
    return render_template(
        "subscribers/staff/detail.html",
        subscriber=subscriber,
        deliveries=deliveries,
        coupons=[(c, code_of(c)) for c in coupons],
        redemptions=redemptions,
        events=events,
        labels=audit.ACTION_LABELS,
        can_unsubscribe=services.can_unsubscribe(subscriber),
    )


@bp.post("/subscribers/<int:subscriber_id>/unsubscribe")
@page_role_required(Role.MARKETING)
def unsubscribe(subscriber_id: int):
    """A person who asks at the desk to stop: the same unsubscribe as their own link."""
    subscriber = database.get_or_404(Subscriber, subscriber_id)
    if services.unsubscribe(subscriber_id, staff_id=current_staff().id):
        flash("Unsubscribed: no more newsletters go to this person.", "ok")
    elif subscriber.status == SubscriberStatus.BOUNCED:  # a page from before the bounce
        flash("This address bounces, so no mail goes to it already.", "ok")
    else:  # a second click, or their own link first
        flash("This person is already unsubscribed.", "ok")
    db.session.commit()
    return redirect(url_for("subscriber_pages.detail", subscriber_id=subscriber_id))


@bp.post("/subscribers/<int:subscriber_id>/erase")
@page_role_required(Role.ADMIN)
def erase(subscriber_id: int):
    # The box the browser requires is asked for here too: a form posted without it
    # (a script, a browser that skips the check) must not erase anyone.
    if request.form.get("sure") != "on":
        flash("Tick “I understand this cannot be undone” to erase the data.", "error")
        return redirect(url_for("subscriber_pages.detail", subscriber_id=subscriber_id), 303)
    if privacy.erase(subscriber_id, current_staff().id):
        db.session.commit()
        flash("The subscriber's personal data is erased.", "ok")
        return redirect(url_for("subscriber_pages.index"), 303)
    db.session.rollback()
    if not privacy.was_erased(subscriber_id):
        abort(404)
    # A second click, or another admin first: the data is gone all the same.
    flash("That subscriber is already erased.", "ok")
    return redirect(url_for("subscriber_pages.index"), 303)


@bp.route("/subscribers/import", methods=["GET", "POST"])
@page_role_required(Role.MARKETING)
def import_upload():
    error = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            error = "Choose a CSV file."
        else:
            try:
                job = imports.store_upload(
                    upload.stream, upload.filename, current_staff().id, imports.max_upload_bytes()
                )
            except imports.ImportInvalid as exc:
                db.session.rollback()
                error = str(exc)
            else:
                from campaign.outbox import after_commit

                after_commit(analyse_import, job.id)
                db.session.commit()
                return redirect(url_for("subscriber_pages.import_job", job_id=job.id))
            finally:
                upload.close()  # big uploads are spooled to a temporary file
    return render_template("subscribers/staff/import.html", error=error), 400 if error else 200


def _job(job_id: int) -> imports.ImportJob:
    job = database.get(imports.ImportJob, job_id)
    if job is None:
        abort(404)
    return job


@bp.get("/subscribers/import/<int:job_id>")
@page_role_required(Role.MARKETING)
def import_job(job_id: int):
    return render_template("subscribers/staff/import_job.html", job=_job(job_id))


@bp.get("/subscribers/import/<int:job_id>.json")
@page_role_required(Role.MARKETING)
def import_job_json(job_id: int):
    job = _job(job_id)
    return jsonify(
        id=job.id,
        status=job.status,
        rows_done=job.rows_done,
        counts=job.counts,
        errors=job.errors[:50],
    )


@bp.post("/subscribers/import/<int:job_id>/start")
@page_role_required(Role.MARKETING)
def import_start(job_id: int):
    from campaign.outbox import after_commit

    _job(job_id)
    if imports.claim(job_id, "analysed", "queued"):
        after_commit(run_import, job_id)
        db.session.commit()
    return redirect(url_for("subscriber_pages.import_job", job_id=job_id))


@bp.get("/audit")
@page_role_required(Role.ADMIN)
def audit_log():
    filters = audit_log_query.read_filters(request.args)
    if wants_csv():
        return _audit_csv(filters)
    before = audit_log_query.read_before(request.args)
    events, older = audit_log_query.page(filters, before)
    actions = db.session.scalars(
        select(AuditEvent.action).distinct().order_by(AuditEvent.action)
    ).all()
    return render_template(
        "subscribers/staff/audit.html",
        events=events,
        about=audit_targets.describe(event.target for event, _ in events),
        actions=actions,
        people=db.session.scalars(select(Staff).order_by(Staff.email)).all(),
        filters=filters,
        query=filters.as_query(),
        before=before,
        older=older,
        page_size=audit_log_query.PAGE_SIZE,
        clinic_timezone=clinic.zone().key,
        labels=audit.ACTION_LABELS,
    )


def _audit_csv(filters: audit_log_query.Filters) -> Response:
    def rows():
        result = db.session.execute(
            audit_log_query.events(filters).execution_options(yield_per=500)
        )
        for chunk in result.partitions():
            about = audit_targets.describe(event.target for event, _ in chunk)
            for event, who in chunk:
                yield audit_log_query.csv_row(event, who, audit.ACTION_LABELS, about)

    return streamed_csv(audit_log_query.CSV_COLUMNS, rows(), "audit-log.csv", wants_bom())
