"""Imported people without consent are invited by the worker, through the owed column."""

import re

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.staff.helpers import csrf_from
from tests.subscribers.test_import import job_id_of, upload
from tests.subscribers.test_import_large import wait_for_job

pytestmark = pytest.mark.integration

CSV = """email,first_name,consented_at
ann@example.com,Ann,2025-03-14
bob@example.com,Bob,
eve@example.com,Eve,
"""


def test_an_import_invites_each_person_without_consent_once(
    app, start_worker, marketing_client, ctx, smtp
):
    start_worker(concurrency=2)
    job_id = job_id_of(upload(marketing_client, CSV))
    wait_for_job(marketing_client, job_id, "analysed", timeout=60)
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    marketing_client.post(
        f"/staff/subscribers/import/{job_id}/start", data={"csrf_token": csrf_from(page)}
    )
    assert wait_for_job(marketing_client, job_id, "imported", timeout=60)["status"] == "imported"

    for address in ("bob@example.com", "eve@example.com"):
        [invitation] = smtp.wait_for(address)
        assert "confirm" in invitation.subject.lower()
    db.session.expire_all()
    owed = db.session.scalars(
        select(Subscriber.email).where(Subscriber.confirmation_queued_at.is_not(None))
    ).all()
    assert owed == []  # every invitation was taken by the worker
    assert smtp.to("ann@example.com") == []  # consented already: no invitation
    assert len(smtp.messages) == 2

    # Mail to people who did not ask: the one-click unsubscribe (RFC 8058) is on it, and
    # its POST with no cookie keeps the address out for good.
    [invitation] = smtp.to("bob@example.com")
    assert invitation.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.fullmatch(
        r"<(https://clinic\.test/unsubscribe/[^>]+)>", invitation.message["List-Unsubscribe"]
    )
    assert url.group(1) in invitation.text
    for part in (invitation.text, invitation.html):
        assert "has this address on its list of clients" in part
        assert "you subscribed" not in part  # they did not: the clinic has them on its list
    path = url.group(1).removeprefix("https://clinic.test")
    answer = app.test_client(use_cookies=False).post(
        path, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses["bob@example.com"] == "unsubscribed"
    assert statuses["eve@example.com"] == "pending"
