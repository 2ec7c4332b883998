"""A person from the clinic's own list never signed up: their invitation says where the
address came from, where a website signup's says "if you did not sign up, ignore this"."""

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers.mail import confirmation_email
from campaign.subscribers.models import Subscriber
from tests.staff.helpers import csrf_from
from tests.subscribers.helpers import pending_subscriber
from tests.subscribers.test_import import job_id_of, upload
from tests.subscribers.test_import_large import wait_for_job

pytestmark = pytest.mark.integration


def test_an_imported_person_is_told_the_address_is_on_the_clinics_list(
    start_worker, marketing_client, ctx, smtp
):
    start_worker(concurrency=1)
    job_id = job_id_of(upload(marketing_client, "email,first_name\nbob@example.com,Bob\n"))
    wait_for_job(marketing_client, job_id, "analysed", timeout=60)
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    marketing_client.post(
        f"/staff/subscribers/import/{job_id}/start", data={"csrf_token": csrf_from(page)}
    )
    assert wait_for_job(marketing_client, job_id, "imported", timeout=60)["status"] == "imported"

    [invitation] = smtp.wait_for("bob@example.com")
    for part in (invitation.text, invitation.html):
        assert "We send our clients a monthly newsletter" in part
        assert "has this address on its list of clients" in part
        assert "did not sign up" not in part
        assert "entered this address on our website" not in part


def test_a_website_signup_keeps_the_did_not_sign_up_wording(ctx):
    pending_subscriber("web@example.com")
    subscriber = db.session.scalar(select(Subscriber).filter_by(email="web@example.com"))
    message = confirmation_email(subscriber).build()
    text = message.get_body(("plain",)).get_content()
    assert "If you did not sign up, ignore this email" in text
    assert "entered this address on our website" in text
    assert "list of clients" not in text
