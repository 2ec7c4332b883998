"""Scheduling and the dispatcher: due campaigns start once, late ones say so."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from campaign.campaigns import services
from campaign.campaigns.models import Campaign, Delivery
from campaign.database import utcnow
from campaign.extensions import db
from tests.campaigns.helpers import add_confirmed, create_campaign


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


def test_two_dispatchers_racing_start_a_due_campaign_once(app, client, ctx, marketing):
    add_confirmed(50)
    campaign_id = create_campaign(client, marketing)
    future = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    assert (
        client.post(
            f"/api/v1/campaigns/{campaign_id}/schedule", headers=marketing, json={"send_at": future}
        ).status_code
        == 200
    )
    # The service was down at the scheduled time: it is now ten minutes overdue.
    db.session.execute(update(Campaign).values(send_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()

    barrier = threading.Barrier(2)
    results: list[list[int]] = []

    def dispatcher():
        with app.app_context():
            barrier.wait()
            results.append(services.start_due_campaigns())
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(len(r) for r in results) == [0, 1]
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == 50
    body = client.get(f"/api/v1/campaigns/{campaign_id}", headers=marketing).get_json()
    assert body["status"] == "sending"
    assert body["started_late_seconds"] >= 590


def test_schedule_reads_naive_times_in_the_clinic_time_zone(client, ctx, marketing):
    campaign_id = create_campaign(client, marketing)
    year = utcnow().year + 1
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/schedule",
        headers=marketing,
        json={"send_at": f"{year}-07-01T10:00"},
    )
    assert response.status_code == 200
    # London is on summer time (UTC+1) in July.
    assert response.get_json()["send_at"] == f"{year}-07-01T09:00:00Z"
    assert response.get_json()["status"] == "scheduled"


def test_clock_changes_a_skipped_hour_is_refused_and_a_doubled_one_is_the_first(
    client, ctx, marketing
):
    campaign_id = create_campaign(client, marketing)
    path = f"/api/v1/campaigns/{campaign_id}/schedule"
    # London's clocks go forward at 01:00 on 28 March 2027: 01:30 never happens.
    skipped = client.post(path, headers=marketing, json={"send_at": "2027-03-28T01:30"})
    assert skipped.status_code == 400
    assert "does not exist in Europe/London" in skipped.get_json()["error"]["message"]
    # They go back at 02:00 on 31 October 2027: 01:30 happens twice, first in summer time.
    doubled = client.post(path, headers=marketing, json={"send_at": "2027-10-31T01:30"})
    assert doubled.get_json()["send_at"] == "2027-10-31T00:30:00Z"


@pytest.mark.parametrize(
    ("send_at", "code"),
    [
        ("yesterday", "invalid_send_at"),
        ("2001-01-01T10:00:00Z", "send_at_in_past"),
        (12, "invalid_send_at"),
    ],
)
def test_bad_schedules_are_refused(client, ctx, marketing, send_at, code):
    campaign_id = create_campaign(client, marketing)
    response = client.post(
        f"/api/v1/campaigns/{campaign_id}/schedule", headers=marketing, json={"send_at": send_at}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_moves_that_are_not_allowed_are_409(client, ctx, marketing):
    campaign_id = create_campaign(client, marketing)
    said = {
        "pause": "Only a newsletter that is sending can be paused; this one is draft.",
        "resume": "Only a paused newsletter can be resumed; this one is draft.",
        # Cancelled, a draft could never be deleted: it stays in the list for good.
        "cancel": "A draft was never sent: delete it instead of cancelling it.",
    }
    for move, message in said.items():
        response = client.post(f"/api/v1/campaigns/{campaign_id}/{move}", headers=marketing)
        assert response.status_code == 409, move
        assert response.get_json()["error"] == {
            "code": "invalid_state",
            "message": message,
            "field": "status",
        }
    assert (
        client.get(f"/api/v1/campaigns/{campaign_id}", headers=marketing).get_json()["status"]
        == "draft"
    )
    schedule = {"send_at": (utcnow() + timedelta(days=1)).isoformat() + "Z"}
    assert (
        client.post(
            f"/api/v1/campaigns/{campaign_id}/schedule", headers=marketing, json=schedule
        ).status_code
        == 200
    )
    # "Not yet": back to a draft, nothing scheduled, and it can be scheduled again.
    back = client.post(f"/api/v1/campaigns/{campaign_id}/unschedule", headers=marketing)
    assert back.status_code == 200
    assert (back.get_json()["status"], back.get_json()["send_at"]) == ("draft", None)
    again = client.post(f"/api/v1/campaigns/{campaign_id}/unschedule", headers=marketing)
    assert again.status_code == 409
    assert again.get_json()["error"]["message"] == (
        "Only a scheduled newsletter can go back to being a draft; this one is draft."
    )
    assert (
        client.post(
            f"/api/v1/campaigns/{campaign_id}/schedule", headers=marketing, json=schedule
        ).status_code
        == 200
    )
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=marketing).status_code == 200
    )
    for move in ("send", "cancel", "resume"):
        assert (
            client.post(f"/api/v1/campaigns/{campaign_id}/{move}", headers=marketing).status_code
            == 409
        )
    response = client.patch(
        f"/api/v1/campaigns/{campaign_id}", headers=marketing, json={"subject": "x"}
    )
    assert response.status_code == 409


def test_next_monthly_slot_is_the_first_tuesday_at_ten(app, ctx):
    from datetime import datetime

    slot = services.monthly_slot_default()
    assert services.next_monthly_slot(datetime(2026, 11, 27, 12, 0), slot) == datetime(
        2026, 12, 1, 10, 0
    )
    assert services.next_monthly_slot(datetime(2026, 12, 1, 9, 0), slot) == datetime(
        2026, 12, 1, 10, 0
    )
    assert services.next_monthly_slot(datetime(2026, 12, 1, 10, 30), slot) == datetime(
        2027, 1, 5, 10, 0
    )


def test_a_cancelled_campaign_ends_with_nothing_left_queued_or_claimed(client, ctx, marketing):
    from campaign.campaigns.models import DeliveryStatus
    from campaign.campaigns.tasks import dispatch_campaigns

    add_confirmed(4)
    campaign_id = create_campaign(client, marketing)
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing).status_code == 202
    )
    ids = db.session.scalars(select(Delivery.id).order_by(Delivery.id)).all()
    # Two senders' claims: one whose sender died long ago, one at work right now.
    long_ago = utcnow() - timedelta(hours=1)
    db.session.execute(
        update(Delivery).where(Delivery.id == ids[0]).values(status="sending", claimed_at=long_ago)
    )
    db.session.execute(
        update(Delivery).where(Delivery.id == ids[1]).values(status="sending", claimed_at=utcnow())
    )
    db.session.commit()
    cancel = client.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=marketing)
    assert cancel.get_json()["status"] == "cancelled"

    # The live sender stops and gives its claim back, after the cancel ran.
    db.session.execute(
        update(Delivery).where(Delivery.id == ids[1]).values(status="queued", claimed_at=None)
    )
    db.session.commit()
    dispatch_campaigns.apply()
    db.session.expire_all()
    statuses = db.session.scalars(select(Delivery.status).order_by(Delivery.id)).all()
    assert statuses == [DeliveryStatus.CANCELLED] * 4
    counts = client.get(f"/api/v1/campaigns/{campaign_id}", headers=marketing).get_json()["counts"]
    assert (counts["queued"], counts["cancelled"]) == (0, 4)


def test_a_time_or_test_address_left_out_is_said_in_words(client, ctx, marketing):
    # The editor shows these messages as they come: no field names, no "ISO 8601" alone.
    campaign_id = create_campaign(client, marketing)
    said = {
        ("schedule", "send_at", ""): "Pick a date and time to send it.",
        ("schedule", "send_at", "next tuesday"): "Give a date and time to send it, e.g. "
        "2027-01-05T10:00 (ISO 8601).",
        ("test", "emails", ()): "Enter the staff address to send the test to.",
        ("test", "emails", ("a@x.test",) * 11): "Send a test to at most 10 staff addresses "
        "at once.",
    }
    for (move, field, value), message in said.items():
        body = {field: list(value) if isinstance(value, tuple) else value}
        response = client.post(
            f"/api/v1/campaigns/{campaign_id}/{move}", headers=marketing, json=body
        )
        assert response.status_code == 400, (move, value)
        assert response.get_json()["error"]["message"] == message
        assert response.get_json()["error"]["field"] == field
