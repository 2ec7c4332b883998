"""The reminder of a coupon about to expire: once, in daytime, only while it is good."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from campaign.coupons import reminders
from campaign.coupons.models import Coupon, CouponStatus
from campaign.coupons.services import welcome_offer
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers import services as subscriber_services
from campaign.subscribers.models import Subscriber
from tests.campaigns.helpers import wait_until
from tests.staff.helpers import csrf_from, log_in


def _coupon_of(email: str) -> Coupon:
    db.session.expire_all()
    return db.session.scalar(select(Coupon).join(Subscriber).where(Subscriber.email == email))


def due_coupon(issue_coupon, email: str, days_left: float = 3, age_days: float = 60) -> Coupon:
    """A mailed coupon issued ``age_days`` ago that ends in ``days_left`` days."""
    code = issue_coupon(email)
    coupon = _coupon_of(email)
    now = utcnow()
    coupon.issued_at = now - timedelta(days=age_days)
    coupon.expires_at = now + timedelta(days=days_left)
    coupon.emailed_at = coupon.issued_at
    db.session.commit()
    coupon.display = code
    return coupon


def test_a_due_coupon_is_taken_once_and_others_never(ctx, issue_coupon):
    due = due_coupon(issue_coupon, "due@example.com")
    due_coupon(issue_coupon, "later@example.com", days_left=20)  # not in the window yet
    due_coupon(issue_coupon, "young@example.com", days_left=3, age_days=4)  # its first days
    # (Each change committed at once: the next coupon is issued by another session.)
    unmailed = due_coupon(issue_coupon, "unmailed@example.com")
    unmailed.emailed_at = None
    db.session.commit()
    used = due_coupon(issue_coupon, "used@example.com")
    used.status = CouponStatus.REDEEMED
    db.session.commit()
    left = due_coupon(issue_coupon, "left@example.com")
    subscriber_services.unsubscribe(left.subscriber_id)
    db.session.commit()

    assert reminders.take_due(limit=10) == [due.id]
    db.session.commit()
    assert _coupon_of("due@example.com").reminder_taken_at is not None
    assert reminders.take_due(limit=10) == []  # once
    # Given back when the broker did not take it, it is due again.
    reminders.not_taken([due.id])
    db.session.commit()
    assert reminders.take_due(limit=10) == [due.id]


def test_the_offer_sets_the_window_and_zero_sends_none(ctx, issue_coupon):
    due = due_coupon(issue_coupon, "window@example.com", days_left=12)
    offer = welcome_offer()
    assert reminders.take_due(limit=10) == []  # 7 days by default
    offer.reminder_days = 14
    db.session.commit()
    assert reminders.take_due(limit=10) == [due.id]
    reminders.not_taken([due.id])
    offer.reminder_days = 0
    db.session.commit()
    assert reminders.take_due(limit=10) == []


def test_reminders_go_in_the_clinics_daytime(ctx):
    # The tests' clinic is in Europe/London: UTC in winter, UTC+1 in summer.
    assert not reminders.sending_hours(datetime(2027, 1, 12, 0, 30))
    assert not reminders.sending_hours(datetime(2027, 1, 12, 8, 59))
    assert reminders.sending_hours(datetime(2027, 1, 12, 9, 0))
    assert reminders.sending_hours(datetime(2027, 7, 12, 18, 30))  # 19:30 in London
    assert not reminders.sending_hours(datetime(2027, 7, 12, 19, 0))  # 20:00


@pytest.mark.integration
def test_the_holder_gets_one_reminder_with_the_code_and_the_way_out(
    worker, app, ctx, smtp, monkeypatch, issue_coupon
):
    from campaign.coupons.tasks import remind_of_coupon, send_coupon_reminders
    from tests.conftest import beat_schedule

    sweep = beat_schedule(app.config)["send-coupon-reminders"]
    assert sweep["task"] == send_coupon_reminders.name
    assert sweep["schedule"].minute == {5}  # at :05 each hour, whenever beat started
    coupon = due_coupon(issue_coupon, "reminded@example.com", days_left=2)
    monkeypatch.setattr(reminders, "sending_hours", lambda now=None: True)
    send_coupon_reminders.run()  # what beat runs each hour; the worker sends

    (reminder,) = smtp.wait_for("reminded@example.com")
    expires = _coupon_of("reminded@example.com").expires_at
    day = f"{expires.day} {expires:%B %Y}"
    assert reminder.subject == f"Free massage oil: your coupon is good until {day}"
    text = " ".join(reminder.text.split())
    assert "Hello Ann," in text
    assert "Your coupon is still waiting for you" in text
    assert coupon.display in reminder.text
    assert coupon.display in reminder.html
    assert "https://clinic.test/coupon/" in reminder.text
    qr = [p for p in reminder.message.walk() if p.get_content_type() == "image/png"]
    assert len(qr) == 1
    assert reminder.message["List-Unsubscribe"]
    assert "Unsubscribe with one click" in reminder.text

    # Once: a second sweep takes nothing, and the staff page says when it went.
    send_coupon_reminders.run()
    assert reminders.take_due(limit=10) == []
    db.session.commit()
    # Outside the clinic's daytime the sweep does nothing at all.
    other = due_coupon(issue_coupon, "night@example.com")
    monkeypatch.setattr(reminders, "sending_hours", lambda now=None: False)
    send_coupon_reminders.run()
    assert _coupon_of("night@example.com").reminder_taken_at is None
    # The worker stamps the send just after the server accepted it.
    wait_until(lambda: _coupon_of("reminded@example.com").reminder_sent_at is not None)

    # Taken, then redeemed before the send: nothing goes, and it is given back, so a
    # redemption undone later makes it due again.
    monkeypatch.setattr(reminders, "sending_hours", lambda now=None: True)
    assert reminders.take_due(limit=10) == [other.id]
    db.session.commit()
    other_coupon = _coupon_of("night@example.com")
    other_coupon.status = CouponStatus.REDEEMED
    db.session.commit()
    assert remind_of_coupon.apply(args=[other.id]).successful()
    assert smtp.to("night@example.com") == []
    night = _coupon_of("night@example.com")
    assert (night.reminder_taken_at, night.reminder_sent_at) == (None, None)

    # Taken by a sweep an hour ago and left waiting (a worker down all evening): it is
    # given back for the next daytime sweep rather than mailed at night.
    other_coupon = _coupon_of("night@example.com")
    other_coupon.status = CouponStatus.ISSUED
    db.session.commit()
    assert reminders.take_due(limit=10) == [other.id]
    db.session.commit()
    late = _coupon_of("night@example.com")
    late.reminder_taken_at = utcnow() - timedelta(minutes=56)
    db.session.commit()
    assert remind_of_coupon.apply(args=[other.id]).successful()
    assert smtp.to("night@example.com") == []
    assert _coupon_of("night@example.com").reminder_taken_at is None
    # Taken within the hour, it goes.
    assert reminders.take_due(limit=10) == [other.id]
    db.session.commit()
    assert remind_of_coupon.apply(args=[other.id]).successful()
    (went,) = smtp.wait_for("night@example.com")
    assert "Your coupon is still waiting for you" in " ".join(went.text.split())
    assert _coupon_of("night@example.com").reminder_sent_at is not None


def test_the_admin_sets_the_reminder_on_the_offer_page(client, ctx, make_staff, issue_coupon):
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    page = client.get("/staff/offer").get_data(as_text=True)
    assert 'name="reminder_days"' in page
    assert 'value="7"' in page
    form = {"title": "Free massage oil", "terms": "", "validity_days": "90", "active": "y"}
    for bad in ("-1", "", "46"):  # 46: more than half of the 90 days it is valid
        refused = client.post(
            "/staff/offer", data={**form, "reminder_days": bad, "csrf_token": csrf_from(page)}
        )
        assert refused.status_code == 400, bad
    assert "at most 45 days before it ends" in refused.get_data(as_text=True)
    # Not a whole number: one message that says so, not the range checks' as well.
    for field in ("reminder_days", "validity_days"):
        for bad in ("abc", "2.5"):
            data = {**form, "reminder_days": "7", field: bad, "csrf_token": csrf_from(page)}
            refused = client.post("/staff/offer", data=data)
            assert refused.status_code == 400, (field, bad)
            html = refused.get_data(as_text=True)
            assert html.count("Enter a whole number of days.") == 1, (field, bad)
            assert "1 to 3650 days" not in html
            assert "0 to 365 days" not in html
            assert "This field is required" not in html
            assert f'value="{bad}"' in html  # what they typed, to correct
    spaces = client.post(
        "/staff/offer",
        data={**form, "validity_days": "  ", "reminder_days": "7", "csrf_token": csrf_from(page)},
    ).get_data(as_text=True)
    assert "Enter a number of days." in spaces
    assert "1 to 3650 days" not in spaces
    saved = client.post(
        "/staff/offer", data={**form, "reminder_days": "0", "csrf_token": csrf_from(page)}
    )
    assert saved.status_code == 302
    db.session.expire_all()
    assert welcome_offer().reminder_days == 0

    # The person's page and their export say when a reminder went.
    coupon = due_coupon(issue_coupon, "shown@example.com")
    coupon.reminder_sent_at = utcnow()
    db.session.commit()
    detail = client.get(f"/staff/subscribers/{coupon.subscriber_id}").get_data(as_text=True)
    assert "reminded " in detail
    export = client.get(f"/api/v1/subscribers/{coupon.subscriber_id}/export").get_json()
    assert export["coupons"][0]["reminder_sent_at"] is not None
