"""A coupon is good all of the day its email states, in the clinic's time zone."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from campaign import clinic
from campaign.coupons import models, services
from campaign.coupons.mail import coupon_context, welcome_email
from campaign.coupons.models import Coupon, CouponStatus
from campaign.extensions import db
from campaign.staff.models import Staff
from campaign.subscribers import privacy

LONDON = ZoneInfo("Europe/London")
MIGRATION = "db6120c1110b"


@pytest.fixture(autouse=True)
def _london(app, monkeypatch):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Europe/London")


@pytest.fixture
def desk(api_token):
    return {"Authorization": f"Bearer {api_token('receptionist')}"}


def clock_at(monkeypatch, moment: datetime) -> None:
    """Stop the coupons' clock (issuing, redeeming, status) at ``moment``, naive UTC."""
    monkeypatch.setattr(services, "utcnow", lambda: moment)
    monkeypatch.setattr(models, "utcnow", lambda: moment)


def in_london(year, month, day, hour=0, minute=0, second=0, micro=0) -> datetime:
    """A London wall-clock time as the naive UTC time the database stores."""
    local = datetime(year, month, day, hour, minute, second, micro, tzinfo=LONDON)
    return local.astimezone(UTC).replace(tzinfo=None)


def test_every_place_names_one_day_and_the_coupon_is_good_all_of_it(
    client, desk, issue_coupon, ctx, monkeypatch
):
    # The audit's case: issued at 16:50, 90 days before 1 March 2027 (winter: UTC).
    clock_at(monkeypatch, datetime(2026, 12, 1, 16, 50))
    code = issue_coupon()
    coupon = db.session.scalar(select(Coupon))

    message = welcome_email(coupon.subscriber, coupon).build()
    assert "Valid until 1 March 2027." in message.get_body(("plain",)).get_content()
    assert "Valid until 1 March 2027." in message.get_body(("html",)).get_content()
    page = client.get(f"/coupon/{services.coupon_page_token(coupon)}").get_data(as_text=True)
    assert "Valid until 1 March 2027." in page

    # The desk writes the API's time in the clinic's zone: the same day, its end.
    shown = client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()["expires_at"]
    at_desk = datetime.fromisoformat(shown).astimezone(LONDON)
    assert (at_desk.date(), at_desk.hour, at_desk.minute) == (date(2027, 3, 1), 23, 59)
    assert privacy.export(coupon.subscriber)["coupons"][0]["expires_at"] == shown

    # The guest arriving at 17:00 on the day is served, not refused.
    clock_at(monkeypatch, in_london(2027, 3, 1, 17, 0))
    assert client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()["status"] == "issued"
    assert client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200


@pytest.mark.parametrize(
    ("issued_at", "days", "stated"),
    [
        # Issued in winter, the stated day in summer time (BST, UTC+1).
        (datetime(2027, 1, 15, 12, 0), 90, date(2027, 4, 15)),
        # 23:30 UTC is 00:30 on 2 July in London: the clinic's day counts, not UTC's.
        (datetime(2026, 7, 1, 23, 30), 30, date(2026, 8, 1)),
        # The stated day is the one the clocks go forward (23 hours) or back (25 hours).
        (datetime(2027, 2, 26, 10, 0), 30, date(2027, 3, 28)),
        (datetime(2027, 10, 1, 10, 0), 30, date(2027, 10, 31)),
    ],
)
def test_a_coupon_is_good_until_the_clinics_midnight_after_its_stated_day(
    issue_coupon, make_staff, ctx, monkeypatch, issued_at, days, stated
):
    services.welcome_offer().validity_days = days
    db.session.commit()
    clock_at(monkeypatch, issued_at)
    code = issue_coupon()
    coupon = db.session.scalar(select(Coupon))

    assert clinic.local_time(coupon.expires_at).date() == stated
    assert coupon_context(coupon)["coupon_expires"] == f"{stated:%-d %B %Y}"
    last_second = in_london(stated.year, stated.month, stated.day, 23, 59, 59)
    next_day = stated + timedelta(days=1)
    midnight = in_london(next_day.year, next_day.month, next_day.day)
    assert coupon.effective_status(last_second) == CouponStatus.ISSUED
    assert coupon.effective_status(midnight) == CouponStatus.EXPIRED

    staff = db.session.get(Staff, make_staff()[0])
    clock_at(monkeypatch, midnight)
    assert services.redeem(code, staff).outcome == services.Outcome.EXPIRED
    clock_at(monkeypatch, last_second)
    assert services.redeem(code, staff).outcome == services.Outcome.REDEEMED


@pytest.mark.parametrize(
    ("zone", "day", "last_moment_utc"),
    [
        ("Europe/London", date(2027, 3, 28), datetime(2027, 3, 28, 22, 59, 59, 999999)),
        ("Europe/London", date(2027, 10, 31), datetime(2027, 10, 31, 23, 59, 59, 999999)),
        # Chile's clocks skip midnight (00:00 -> 01:00 on 6 September 2026).
        ("America/Santiago", date(2026, 9, 5), datetime(2026, 9, 6, 3, 59, 59, 999999)),
    ],
)
def test_the_clinics_day_ends_one_microsecond_before_the_next_one_starts(
    app, ctx, monkeypatch, zone, day, last_moment_utc
):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", zone)
    assert clinic.end_of_day(day) == last_moment_utc
    assert clinic.local_time(last_moment_utc).date() == day
    assert clinic.local_time(last_moment_utc + timedelta(microseconds=1)).date() > day


def test_the_migration_extends_issued_coupons_to_the_end_of_their_stated_day(make_app, tmp_path):
    from alembic.script import ScriptDirectory
    from flask_migrate import upgrade

    offer = sa.table(
        "offer",
        *(sa.column(name) for name in ("id", "kind", "title", "terms", "validity_days")),
        sa.column("active", sa.Boolean),
        sa.column("created_at", sa.DateTime),
        sa.column("updated_at", sa.DateTime),
    )
    coupon = sa.table(
        "coupon",
        *(sa.column(name) for name in ("id", "offer_id", "owner_key", "nonce", "code_digest")),
        sa.column("status"),
        sa.column("issued_at", sa.DateTime),
        sa.column("expires_at", sa.DateTime),
    )
    before = {
        # The audit's coupon, the one past 23:00 UTC (the next day in BST), one that was
        # already due to end at the day's last moment, and one long expired.
        1: datetime(2027, 3, 1, 16, 50),
        2: datetime(2026, 8, 1, 23, 30),
        3: datetime(2026, 8, 1, 22, 59, 59, 999999),
        4: datetime(2026, 2, 1, 9, 0),
    }
    after = {
        1: datetime(2027, 3, 1, 23, 59, 59, 999999),
        2: datetime(2026, 8, 2, 22, 59, 59, 999999),
        3: datetime(2026, 8, 1, 22, 59, 59, 999999),
        4: datetime(2026, 2, 1, 23, 59, 59, 999999),
    }
    fresh = make_app(
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/m.db", CLINIC_TIMEZONE="Europe/London"
    )
    with fresh.app_context():
        config = fresh.extensions["migrate"].migrate.get_config()
        upgrade(revision=ScriptDirectory.from_config(config).get_revision(MIGRATION).down_revision)
        now = datetime(2026, 1, 1)
        with db.engine.begin() as connection:
            connection.execute(
                offer.insert().values(
                    id=1, kind="welcome", title="Oil", terms="", validity_days=90, active=True,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
            connection.execute(
                coupon.insert(),
                [
                    {
                        "id": key, "offer_id": 1, "owner_key": f"o{key}", "nonce": f"n{key}",
                        "code_digest": f"d{key}", "status": "issued", "issued_at": now,
                        "expires_at": expires_at,
                    }
                    for key, expires_at in before.items()
                ],
            )  # fmt: skip
        upgrade(revision=MIGRATION)
        with db.engine.connect() as connection:
            rows = connection.execute(sa.select(coupon.c.id, coupon.c.expires_at)).all()
        db.engine.dispose()
    assert dict(rows) == after
