"""CSV import: a dry run first, then the import; idempotent; erased addresses stay out."""

import io
import re

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from campaign.extensions import db
from campaign.subscribers import imports
from campaign.subscribers.models import ConsentRecord, Subscriber
from campaign.subscribers.tasks import analyse_import, run_import
from tests.staff.helpers import csrf_from

CSV = """email,first_name,consented_at,source
ann@example.com,Ann,2025-03-14,shop
bob@example.com,Bob,,shop
not-an-email,X,2025-01-01,shop
cat@example.com,Cat,2999-01-01,shop
ANN@example.com,Ann again,2025-03-14,shop
dan@example.com,,2024-12-31T10:00:00Z,
"""


def multipart(fields: dict) -> tuple[bytes, str]:
    """Encode a form in memory: the test client would spool a big body to a temporary
    file and never close it."""
    boundary, body = encode_multipart(fields)
    return body, f'multipart/form-data; boundary="{boundary}"'


def upload(client, content: str | bytes, name: str = "list.csv"):
    page = client.get("/staff/subscribers/import").get_data(as_text=True)
    data = content.encode() if isinstance(content, str) else content
    body, content_type = multipart(
        MultiDict({"csrf_token": csrf_from(page), "file": FileStorage(io.BytesIO(data), name)})
    )
    return client.post("/staff/subscribers/import", data=body, content_type=content_type)


def job_id_of(response) -> int:
    return int(
        re.search(r"/staff/subscribers/import/(\d+)$", response.headers["Location"]).group(1)
    )


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_dry_run_then_import(marketing_client, ctx, smtp):
    job_id = job_id_of(upload(marketing_client, CSV))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["status"] == "analysed"
    assert report["counts"] == {
        "rows": 6, "invalid": 2, "confirmed": 2, "opt_in": 1, "existing": 0, "suppressed": 0, "duplicate": 1,
    }  # fmt: skip
    assert [e["row"] for e in report["errors"]] == [4, 5]
    assert "future" in report["errors"][1]["error"]
    assert count(Subscriber) == 0  # a dry run writes nothing

    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    marketing_client.post(
        f"/staff/subscribers/import/{job_id}/start", data={"csrf_token": csrf_from(page)}
    )
    run_import.apply(args=[job_id])
    db.session.expire_all()
    ann = db.session.scalar(select(Subscriber).filter_by(email_canonical="ann@example.com"))
    assert ann.status == "confirmed"
    assert ann.source == "import"
    assert ann.confirmed_at.date().isoformat() == "2025-03-14"
    consent = db.session.scalar(select(ConsentRecord).filter_by(subscriber_id=ann.id))
    assert consent.created_at.date().isoformat() == "2025-03-14"
    assert consent.source == "import"
    bob = db.session.scalar(select(Subscriber).filter_by(email_canonical="bob@example.com"))
    assert bob.status == "pending"
    assert bob.optin_round is not None
    assert count(Subscriber) == 3

    # Bob is owed a double opt-in email; Ann and Dan are not.
    from campaign.subscribers.services import take_queued_confirmations
    from campaign.subscribers.tasks import send_confirmation_email

    assert take_queued_confirmations(limit=10) == [bob.id]
    send_confirmation_email.apply(args=[bob.id])
    assert "confirm" in smtp.wait_for("bob@example.com")[0].subject.lower()

    # The same file again changes nothing.
    again = job_id_of(upload(marketing_client, CSV))
    analyse_import.apply(args=[again])
    db.session.expire_all()
    assert db.session.get(imports.ImportJob, again).counts["existing"] == 3
    imports.claim(again, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[again])
    assert count(Subscriber) == 3
    assert count(ConsentRecord) == 3


def test_erased_addresses_are_never_reimported(marketing_client, ctx, admin_headers):
    job_id = job_id_of(
        upload(marketing_client, "email,consented_at\nerin@example.com,2025-01-01\n")
    )
    analyse_import.apply(args=[job_id])
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    erin = db.session.scalar(select(Subscriber))
    assert (
        marketing_client.application.test_client()
        .delete(f"/api/v1/subscribers/{erin.id}", headers=admin_headers)
        .status_code
        == 204
    )

    again = job_id_of(
        upload(marketing_client, "email,consented_at\nErin+news@example.com,2025-01-01\n")
    )
    analyse_import.apply(args=[again])
    imports.claim(again, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[again])
    db.session.expire_all()
    assert db.session.get(imports.ImportJob, again).counts["suppressed"] == 1
    assert count(Subscriber) == 0


@pytest.fixture
def admin_headers(api_token):
    return {"Authorization": f"Bearer {api_token('admin')}"}


@pytest.mark.parametrize(
    ("content", "message"),
    [("name,phone\nx,y\n", "email"), ("", "empty")],
)
def test_files_that_are_not_a_list_are_refused_clearly(marketing_client, ctx, content, message):
    response = upload(marketing_client, content)
    if response.status_code == 302:
        job_id = job_id_of(response)
        analyse_import.apply(args=[job_id])
        report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
        assert report["status"] == "failed"
        assert message in report["errors"][0]["error"]
    else:
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert count(Subscriber) == 0
