"""Imported people without consent are invited by the worker, through the owed column."""

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
    start_worker, marketing_client, ctx, smtp
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
