"""The whole lifecycle through a real Celery worker process and a real SMTP server."""

import re

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus

pytestmark = pytest.mark.integration


def link(text: str, path: str) -> str:
    match = re.search(rf"https://clinic\.test(/{path}/[A-Za-z0-9_.\-]+)", text)
    assert match, f"no /{path}/ link in:\n{text}"
    return match.group(1)


def test_signup_confirm_welcome_unsubscribe(worker, client, ctx, smtp, email_address):
    response = client.post(
        "/api/v1/subscribe", json={"email": email_address, "first_name": "Ann", "consent": True}
    )
    assert response.status_code == 202

    (confirmation,) = smtp.wait_for(email_address)
    confirm_path = link(confirmation.text, "confirm")
    assert confirm_path == link(confirmation.html, "confirm")

    page = client.get(confirm_path)
    assert "Confirm my subscription" in page.get_data(as_text=True)
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.PENDING

    assert client.post(confirm_path).status_code == 200
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.CONFIRMED

    _, welcome = smtp.wait_for(email_address, count=2)
    assert "Welcome" in welcome.subject
    assert "Hello Ann" in welcome.text
    header_url = re.match(r"<https://clinic\.test([^>]+)>", welcome.message["List-Unsubscribe"])

    # A mail client's RFC 8058 one-click POST: no cookie, just the body.
    response = client.post(
        header_url.group(1),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.UNSUBSCRIBED

    # Replaying the confirmation link does not bring the address back.
    assert client.post(confirm_path).status_code == 409
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.UNSUBSCRIBED


def test_footer_link_page_unsubscribes_and_resubscribe_needs_a_new_confirmation(
    worker, client, ctx, smtp, email_address
):
    client.post("/subscribe", data={"email": email_address, "consent": "yes"})
    (confirmation,) = smtp.wait_for(email_address)
    client.post(link(confirmation.text, "confirm"))
    _, welcome = smtp.wait_for(email_address, count=2)

    unsubscribe_path = link(welcome.text, "unsubscribe")
    assert "Unsubscribe me" in client.get(unsubscribe_path).get_data(as_text=True)
    page = client.post(unsubscribe_path).get_data(as_text=True)
    assert "You are unsubscribed" in page

    resubscribe_path = re.search(r'action="(/resubscribe/[^"]+)"', page).group(1)
    client.post(resubscribe_path)
    *_, second_confirmation = smtp.wait_for(email_address, count=3)
    assert "confirm" in second_confirmation.subject.lower()
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.PENDING
    client.post(link(second_confirmation.text, "confirm"))
    db.session.expire_all()
    assert db.session.scalar(select(Subscriber.status)) == SubscriberStatus.CONFIRMED


def test_nothing_is_mailed_to_an_address_that_is_already_confirmed(
    worker, client, ctx, smtp, email_address
):
    client.post("/api/v1/subscribe", json={"email": email_address, "consent": True})
    (confirmation,) = smtp.wait_for(email_address)
    client.post(link(confirmation.text, "confirm"))
    smtp.wait_for(email_address, count=2)
    client.post("/api/v1/subscribe", json={"email": email_address, "consent": True})
    # Give the worker time to (wrongly) send; then check it did not.
    other = "witness-" + email_address
    client.post("/api/v1/subscribe", json={"email": other, "consent": True})
    smtp.wait_for(other)
    assert len(smtp.to(email_address)) == 2
