"""The subscriber pages given input no person types: a clear answer, never a 500."""

import pytest


@pytest.mark.parametrize("page", ["%C2%B2", "%E2%91%A0", "0", "-1", "99999999999999999999"])
def test_the_subscriber_list_takes_any_page_number_text(marketing_client, page):
    response = marketing_client.get(f"/staff/subscribers/?page={page}")
    assert response.status_code == 200


def test_a_page_past_the_end_shows_the_last(marketing_client, ctx):
    from tests.campaigns.helpers import add_confirmed

    add_confirmed(51)  # two pages of 50
    page = marketing_client.get("/staff/subscribers/?page=99999").get_data(as_text=True)
    assert "Page 2 of 2" in page
    assert page.count("/staff/subscribers/") > 1  # the one row on it, and the nav
    assert "Previous" in page


def test_staff_pages_and_the_coupon_page_show_the_clinics_time(
    app, ctx, make_staff, issue_coupon, monkeypatch
):
    from datetime import datetime

    from sqlalchemy import select

    from campaign.audit import AuditEvent
    from campaign.coupons import services
    from campaign.coupons.models import Coupon
    from campaign.extensions import db
    from campaign.subscribers.models import Subscriber
    from tests.staff.helpers import log_in

    # Tokyo keeps no summer time: 20:30 UTC is 05:30 the next morning there.
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Asia/Tokyo")
    issue_coupon("kei@example.com", first_name="Kei")
    subscriber = db.session.scalar(select(Subscriber))
    coupon = db.session.scalar(select(Coupon))
    subscriber.created_at = datetime(2026, 6, 1, 20, 30)
    coupon.expires_at = datetime(2026, 6, 30, 20, 0)
    db.session.add(AuditEvent(at=datetime(2026, 6, 1, 23, 59, 58), action="test.moment"))
    db.session.commit()
    client = app.test_client()
    _, email, password = make_staff("admin")
    log_in(client, email, password)

    detail = client.get(f"/staff/subscribers/{subscriber.id}").get_data(as_text=True)
    assert "2026-06-02 05:30" in detail
    assert "expires 2026-07-01" in detail
    assert "UTC" not in detail
    audit = client.get("/staff/audit").get_data(as_text=True)
    assert "2026-06-02 08:59:58" in audit
    coupon_page = app.test_client().get(f"/coupon/{services.coupon_page_token(coupon)}")
    assert "This coupon expired on 1 July 2026." in coupon_page.get_data(as_text=True)


def test_every_action_the_code_records_has_a_name_on_the_audit_page():
    import re
    from pathlib import Path

    import campaign
    from campaign.audit import ACTION_LABELS

    package = Path(campaign.__file__).parent
    source = "\n".join(p.read_text() for p in package.rglob("*.py"))
    recorded = set(re.findall(r"record\(\s*\"([a-z_]+\.[a-z_]+)\"", source))
    recorded |= set(re.findall(r"\"(staff\.(?:de|re)activated)\"", source))
    assert len(recorded) > 25
    assert recorded - set(ACTION_LABELS) == set()


def test_the_audit_log_reads_as_sentences_not_codes(app, ctx, make_staff):
    from campaign import audit
    from campaign.extensions import db
    from tests.staff.helpers import log_in

    audit.record("coupon.voided", target="coupon:7", reason="issued twice", to=["a@x", "b@x"])
    db.session.commit()
    client = app.test_client()
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    page = client.get("/staff/audit").get_data(as_text=True)
    assert '<td title="coupon.voided">Coupon voided</td>' in page
    assert "reason: issued twice; to: a@x, b@x" in page
    assert '<option value="coupon.voided" >Coupon voided</option>' in page


def test_the_audit_log_names_what_each_event_was_about_and_links_it(
    app, ctx, make_staff, issue_coupon
):
    from sqlalchemy import select

    from campaign import audit
    from campaign.campaigns.models import Campaign
    from campaign.coupons.models import Coupon
    from campaign.extensions import db
    from campaign.subscribers.models import Subscriber
    from tests.staff.helpers import log_in

    admin_id, email, password = make_staff("admin")
    issue_coupon("ann@example.com")
    ann = db.session.scalar(select(Subscriber).filter_by(email="ann@example.com"))
    coupon = db.session.scalar(select(Coupon).filter_by(subscriber_id=ann.id))
    news = Campaign(subject="June <news>", body_markdown="Hi")
    db.session.add(news)
    db.session.flush()
    for target in (
        f"campaign:{news.id}",
        f"subscriber:{ann.id}",
        f"coupon:{coupon.id}",
        f"staff:{admin_id}",
        "subscriber:999999",
        "email:someone@example.com",
        "subscriber:99999999999999999999",
    ):
        audit.record("subscriber.exported", staff_id=admin_id, target=target)
    db.session.commit()
    client = app.test_client()
    log_in(client, email, password)
    page = client.get("/staff/audit").get_data(as_text=True)
    assert (
        f'<a href="/staff/campaigns/{news.id}" title="campaign:{news.id}">June &lt;news&gt;</a>'
        in page
    )
    assert (
        f'href="/staff/subscribers/{ann.id}" title="subscriber:{ann.id}">ann@example.com</a>'
        in page
    )
    assert f'title="coupon:{coupon.id}">Free massage oil of ann@example.com</a>' in page
    assert f'href="/staff/team/" title="staff:{admin_id}">{email}</a>' in page
    assert '<span title="subscriber:999999">an erased subscriber</span>' in page
    assert "<td>email:someone@example.com</td>" in page
    assert "<td>subscriber:99999999999999999999</td>" in page


def test_erasing_from_the_page_needs_the_box_ticked_and_an_id_that_was(
    app, ctx, make_staff, issue_coupon
):
    from sqlalchemy import select

    from campaign.extensions import db
    from campaign.subscribers.models import Subscriber
    from tests.staff.helpers import csrf_from, log_in

    issue_coupon("erase-me@example.com")
    subscriber_id = db.session.scalar(select(Subscriber.id))
    client = app.test_client()
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    page = f"/staff/subscribers/{subscriber_id}"
    token = csrf_from(client.get(page).get_data(as_text=True))
    erase = f"/staff/subscribers/{subscriber_id}/erase"

    # Posted without the box (the browser's own check skipped): nothing is erased.
    unticked = client.post(erase, data={"csrf_token": token})
    assert unticked.status_code == 303
    assert unticked.headers["Location"].endswith(page)
    assert "to erase the data" in client.get(page).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Subscriber, subscriber_id) is not None

    erased = client.post(erase, data={"csrf_token": token, "sure": "on"})
    assert erased.status_code == 303
    db.session.expire_all()
    assert db.session.get(Subscriber, subscriber_id) is None
    again = client.post(erase, data={"csrf_token": token, "sure": "on"})
    assert "already erased" in client.get(again.headers["Location"]).get_data(as_text=True)
    # An id no one ever had is not "already erased".
    never = client.post("/staff/subscribers/999999/erase", data={"csrf_token": token, "sure": "on"})
    assert never.status_code == 404
