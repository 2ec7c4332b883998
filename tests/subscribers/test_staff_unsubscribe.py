"""A person who asks at the desk to stop: staff unsubscribe them, as their link would."""

import pytest
from sqlalchemy import select

from campaign.audit import AuditEvent
from campaign.extensions import db
from campaign.subscribers import services
from campaign.subscribers.models import SubscriberStatus
from tests.staff.helpers import csrf_from, log_in
from tests.subscribers.helpers import confirmed_subscriber, pending_subscriber


def staff_client(app, make_staff, role: str):
    client = app.test_client()
    staff_id, email, password = make_staff(role)
    log_in(client, email, password)
    return client, staff_id


@pytest.mark.parametrize("role", ["marketing", "admin"])
def test_staff_unsubscribe_a_person_as_their_own_link_does(app, ctx, make_staff, role):
    client, staff_id = staff_client(app, make_staff, role)
    subscriber = confirmed_subscriber("desk@example.com")
    page = client.get(f"/staff/subscribers/{subscriber.id}").get_data(as_text=True)
    action = f'action="/staff/subscribers/{subscriber.id}/unsubscribe"'
    assert action in page

    response = client.post(
        f"/staff/subscribers/{subscriber.id}/unsubscribe",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Unsubscribed: no more newsletters go to this person." in page
    assert "Unsubscribed by staff at the person&#39;s request" in page  # the audit trail
    assert action not in page  # nothing left to stop
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None
    assert subscriber.optin_round is None  # as services.unsubscribe leaves every row
    (event,) = db.session.scalars(select(AuditEvent).filter_by(action="subscriber.unsubscribed"))
    assert (event.staff_id, event.target) == (staff_id, f"subscriber:{subscriber.id}")
    # The person's own link agrees, and so does a second click: no second event.
    token = services.unsubscribe_token(subscriber.id)
    assert "already unsubscribed" in client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    again = client.post(
        f"/staff/subscribers/{subscriber.id}/unsubscribe",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    )
    assert "This person is already unsubscribed." in again.get_data(as_text=True)
    assert len(db.session.scalars(select(AuditEvent).filter_by(action=event.action)).all()) == 1


def test_a_pending_person_can_be_unsubscribed_at_the_desk_too(app, ctx, make_staff):
    client, _ = staff_client(app, make_staff, "marketing")
    subscriber = pending_subscriber("pending-desk@example.com")
    page = client.get(f"/staff/subscribers/{subscriber.id}").get_data(as_text=True)
    client.post(
        f"/staff/subscribers/{subscriber.id}/unsubscribe", data={"csrf_token": csrf_from(page)}
    )
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


def test_a_page_from_before_a_bounce_says_the_address_bounces(app, ctx, make_staff):
    client, _ = staff_client(app, make_staff, "marketing")
    subscriber = confirmed_subscriber("bounces@example.com")
    page = client.get(f"/staff/subscribers/{subscriber.id}").get_data(as_text=True)
    subscriber.status, subscriber.optin_round = SubscriberStatus.BOUNCED, None
    db.session.commit()
    answer = client.post(
        f"/staff/subscribers/{subscriber.id}/unsubscribe",
        data={"csrf_token": csrf_from(page)},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "This address bounces, so no mail goes to it already." in answer
    assert "already unsubscribed" not in answer
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.BOUNCED


def test_the_desk_cannot_unsubscribe_anyone(app, ctx, make_staff):
    # One logged-in client per test: the pushed app context keeps the login in ``g``.
    desk, _ = staff_client(app, make_staff, "receptionist")
    subscriber = confirmed_subscriber("guarded@example.com")
    token = csrf_from(desk.get("/staff/login").get_data(as_text=True))
    response = desk.post(
        f"/staff/subscribers/{subscriber.id}/unsubscribe", data={"csrf_token": token}
    )
    assert response.status_code == 403
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.CONFIRMED


def test_the_staff_unsubscribe_needs_a_csrf_token_and_a_person(app, ctx, make_staff):
    marketing, _ = staff_client(app, make_staff, "marketing")
    subscriber = confirmed_subscriber("guarded@example.com")
    assert marketing.post(f"/staff/subscribers/{subscriber.id}/unsubscribe").status_code == 400
    page = marketing.get(f"/staff/subscribers/{subscriber.id}").get_data(as_text=True)
    missing = marketing.post(
        "/staff/subscribers/999999/unsubscribe", data={"csrf_token": csrf_from(page)}
    )
    assert missing.status_code == 404
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.CONFIRMED
    # Erasure is still the admin's alone.
    assert 'class="confirm-erase"' not in page
