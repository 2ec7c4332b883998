"""CSV import: a dry run first, then the import; idempotent; erased addresses stay out."""

import io
import re
from datetime import datetime

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
        "not_subscribed": 0,
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
    assert ann.source == "shop"  # the row's own source
    assert ann.confirmed_at.date().isoformat() == "2025-03-14"
    consent = db.session.scalar(select(ConsentRecord).filter_by(subscriber_id=ann.id))
    assert consent.created_at.date().isoformat() == "2025-03-14"
    assert consent.source == "shop"
    assert consent.wording_version == "import"  # the consent was given elsewhere
    bob = db.session.scalar(select(Subscriber).filter_by(email_canonical="bob@example.com"))
    assert bob.status == "pending"
    assert bob.optin_round is not None
    assert count(Subscriber) == 3
    dan = db.session.scalar(select(Subscriber).filter_by(email_canonical="dan@example.com"))
    assert dan.source == "import"  # no source in the row

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
    [
        ("name,phone\nx,y\n", "email"),
        ("", "empty"),
        ('email,first_name\nann@example.com,"Ann\nbob@example.com,Bob\n', "quote"),
        ("email,first_name\nann@example.com," + "x" * 200_000 + "\n", "near line 2"),
        ('email,first_name\nann@example.com,"Ann" Lee\n', "near line 2"),
    ],
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


def test_line_endings_blank_lines_and_odd_rows_of_real_spreadsheets(marketing_client, ctx):
    content = (
        "\r\n\r\n"  # blank lines above the header
        "email,first_name,consented_at\r"  # CR alone ends lines (old Mac exports)
        "ann@example.com,Ann,2025-03-14\r"
        "bob@example.com,Bob\x1b[31m,2025-03-14\r"  # no control characters in a name
        "cat@example.com,Cat,0001-01-01T00:00:00+01:00\r"  # before year 1 in UTC
        "dan@example.com,Dan,9999-12-31T23:59:59-01:00\r"  # after 9999 in UTC
        'eve@example.com,"Eve ""Evie"" Lee",2025-03-14\r'  # quotes inside quotes
        '"fay@example.com\rfay2@example.com",Fay,\r'  # a line break inside quotes is text
    )
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["status"] == "analysed"
    assert report["counts"]["rows"] == 6
    assert report["counts"]["confirmed"] == 2
    errors = {error["row"]: error["error"] for error in report["errors"]}
    assert set(errors) == {5, 6, 7, 9}  # numbered as the spreadsheet shows them
    assert errors[5].startswith("first_name:")
    assert errors[6].startswith("consented_at:")
    assert errors[7].startswith("consented_at:")
    assert errors[9].startswith("email:")

    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    names = dict(db.session.execute(select(Subscriber.email, Subscriber.first_name)).all())
    assert names == {"ann@example.com": "Ann", "eve@example.com": 'Eve "Evie" Lee'}


def test_a_row_with_more_cells_than_columns_is_refused_not_cut(marketing_client, ctx):
    # "Smith, John" unquoted is two cells: keeping "Smith" would lose " John" unsaid.
    content = (
        "email,first_name\n"
        "x1@example.com,Smith, John\n"
        "x2@example.com,Ann,extra,more\n"
        "x3@example.com,Cat,,\n"  # empty cells past the header: how spreadsheets save
        'x4@example.com,"Lee, Dan"\n'
    )
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    errors = {error["row"]: error["error"] for error in report["errors"]}
    assert set(errors) == {2, 3}
    assert errors[2].startswith("the row has 1 more cell than the header has columns")
    assert errors[3].startswith("the row has 2 more cells than the header has columns")
    assert report["counts"]["invalid"] == 2
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    names = dict(db.session.execute(select(Subscriber.email, Subscriber.first_name)).all())
    assert names == {"x3@example.com": "Cat", "x4@example.com": "Lee, Dan"}


def test_an_import_that_breaks_unexpectedly_says_so(marketing_client, ctx, monkeypatch):
    job_id = job_id_of(upload(marketing_client, CSV))

    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(imports, "canonical_address", broken)
    with pytest.raises(RuntimeError):
        analyse_import.apply(args=[job_id], throw=True)
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["status"] == "failed"
    assert "unexpected error" in report["errors"][0]["error"]


def test_a_windows_spreadsheet_export_keeps_its_accents(marketing_client, ctx):
    content = "email,first_name\r\njerome@example.com,Jérôme\r\nzoe@example.com,Zoë\r\n"
    job_id = job_id_of(upload(marketing_client, content.encode("cp1252")))
    analyse_import.apply(args=[job_id])
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    names = set(db.session.scalars(select(Subscriber.first_name)))
    assert names == {"Jérôme", "Zoë"}


def test_the_uploaded_file_is_deleted_once_imported_and_when_anyone_is_erased(
    marketing_client, ctx, admin_headers
):
    imported = job_id_of(upload(marketing_client, CSV))
    analyse_import.apply(args=[imported])
    imports.claim(imported, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[imported])
    assert count(imports.ImportChunk) == 0
    db.session.expire_all()
    assert db.session.get(imports.ImportJob, imported).counts["rows"] == 6  # the report stays

    # A file analysed and waiting to be imported holds Eve: erasing anyone drops it.
    waiting = job_id_of(upload(marketing_client, "email,first_name\neve@example.com,Eve\n"))
    analyse_import.apply(args=[waiting])
    assert count(imports.ImportChunk) == 1
    ann = db.session.scalar(select(Subscriber.id).filter_by(email_canonical="ann@example.com"))
    erased = marketing_client.delete(f"/api/v1/subscribers/{ann}", headers=admin_headers)
    assert erased.status_code == 204
    assert count(imports.ImportChunk) == 0
    db.session.expire_all()
    job = db.session.get(imports.ImportJob, waiting)
    assert job.status == "failed"
    assert "upload the file again" in job.errors[0]["error"]


def test_row_errors_say_what_to_write(marketing_client, ctx):
    content = (
        "email,consented_at,source\na@example.com,03/04/2025,shop\nb@example.com,,old list!\n"
        "c@example.com,March 2025,shop\n"
    )
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["errors"] == [
        {
            "row": 2,
            "error": "consented_at: '03/04/2025' could be 3 April or 4 March: write it as "
            "2025-04-03 or 2025-03-04",
            "email": "a@example.com",
        },
        {
            "row": 4,
            "error": "consented_at: 'March 2025' is not a date: write it as 2025-03-14",
            "email": "c@example.com",
        },
    ]
    # The source was cleaned, not the row refused: a note, not an error.
    assert report["counts"]["notes"] == [
        {"row": 3, "note": "source: 'old list!' is stored as 'old_list'"}
    ]
    assert report["counts"]["invalid"] == 2


def test_a_consent_date_is_the_clinics_day(marketing_client, ctx, monkeypatch):
    """2025-06-01 from a clinic in Los Angeles is that day from its midnight there
    (07:00 UTC), and the pages show 1 June; a time with an offset is taken as written."""
    monkeypatch.setitem(
        marketing_client.application.config, "CLINIC_TIMEZONE", "America/Los_Angeles"
    )
    content = (
        "email,consented_at\nlee@example.com,2025-06-01\nkim@example.com,2025-06-01T23:30:00Z\n"
    )
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    db.session.expire_all()
    lee = db.session.scalar(select(Subscriber).filter_by(email_canonical="lee@example.com"))
    kim = db.session.scalar(select(Subscriber).filter_by(email_canonical="kim@example.com"))
    assert lee.confirmed_at == datetime(2025, 6, 1, 7, 0)
    assert kim.confirmed_at == datetime(2025, 6, 1, 23, 30)
    page = marketing_client.get(f"/staff/subscribers/{lee.id}").get_data(as_text=True)
    assert "2025-06-01 00:00 (consent given elsewhere, imported)" in page


def test_an_address_that_arrives_during_the_import_counts_as_existing(
    marketing_client, ctx, monkeypatch
):
    """A signup, or the same file imported twice at once, between the batch's look-up
    and its insert: the row is skipped and counted, not a failed import."""
    from tests.subscribers.helpers import pending_subscriber

    content = "email,consented_at\nfirst@example.com,2025-03-14\nracer@example.com,\n"
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    real_insert = imports._insert

    def insert_after_a_signup(rows):
        pending_subscriber("racer@example.com")  # commits, as another request would
        return real_insert(rows)

    monkeypatch.setattr(imports, "_insert", insert_after_a_signup)
    run_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["status"] == "imported", report
    assert (report["counts"]["confirmed"], report["counts"]["opt_in"]) == (1, 0)
    assert report["counts"]["existing"] == 1
    assert count(Subscriber) == 2
    assert count(ConsentRecord) == 2  # the signup's own and the imported one


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("email,first_name,email", "'email' is named twice"),
        ("Email,EMAIL ,first_name", "'email' is named twice"),
        # Read as no consent at all, it would mail everyone who consented.
        ("email,first_name,gdpr_consent", "name the consent date column 'consented_at'"),
        ("E-Mail,Vorname,Einwilligung erteilt", "name the consent date column"),
        ("Correo,Nombre,Consenso RGPD", "name the consent date column"),
        ("Courriel,Prénom,Courriel", "'courriel' is named twice"),
        ("E-Mail,Vorname,Email", "'E-Mail' and 'Email' are both read as email"),
        # Other spellings of one field are one field.
        ("Email,First Name,E-mail", "'Email' and 'E-mail' are both read as email"),
        ("email,Firstname,first_name", "'Firstname' and 'first_name' are both read as first"),
        ("email,Consent date,Opt-in date", "are both read as consented_at"),
    ],
)
def test_a_header_that_would_be_misread_is_refused(marketing_client, ctx, header, words):
    job_id = job_id_of(upload(marketing_client, f"{header}\nann@example.com,Ann,2025-03-14\n"))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["status"] == "failed"
    assert words in report["errors"][0]["error"]
    assert count(Subscriber) == 0


def test_columns_not_read_are_named_in_the_dry_run(marketing_client, ctx):
    content = "email,phone,first_name,notes\nann@example.com,0123,Ann,regular\n"
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["status"] == "analysed"
    assert report["counts"]["invalid"] == 0
    assert report["errors"] == []
    assert report["counts"]["notes"] == [
        {
            "row": 1,
            "note": "Columns not read: 'phone', 'notes'. Only email, first_name, "
            "consented_at and source are read (and our own export's status and "
            "confirmed_at).",
        }
    ]
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    assert "Columns not read: &#39;phone&#39;" in page


def test_our_own_export_imports_back_as_it_was(marketing_client, ctx):
    """The export puts a ' before a leading - or + (spreadsheets run those as
    formulas); an import of that file reads the addresses as they were."""
    from tests.subscribers.helpers import confirmed_subscriber

    for address in ("-ann@example.com", "+bob@example.com"):
        confirmed_subscriber(address)
    exported = marketing_client.get("/api/v1/subscribers?format=csv").get_data(as_text=True)
    assert "'-ann@example.com" in exported
    job_id = job_id_of(upload(marketing_client, exported))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["counts"]["existing"] == 2, report
    assert report["counts"]["confirmed"] + report["counts"]["opt_in"] == 0


def test_an_erasure_during_the_dry_run_ends_it_and_drops_the_file(
    marketing_client, ctx, admin_headers, monkeypatch
):
    from tests.subscribers.helpers import confirmed_subscriber

    gone = confirmed_subscriber("gone@example.com")
    content = "email\n" + "".join(f"p{n}@example.com\n" for n in range(5))
    job_id = job_id_of(upload(marketing_client, content))
    monkeypatch.setattr(imports, "ROWS_PER_BATCH", 2)
    real_batches = imports._batches

    def erase_after_the_first_batch(rows):
        for number, batch in enumerate(real_batches(rows)):
            yield batch
            if number == 0:  # an admin erases someone while the analysis runs
                erased = marketing_client.application.test_client().delete(
                    f"/api/v1/subscribers/{gone.id}", headers=admin_headers
                )
                assert erased.status_code == 204

    monkeypatch.setattr(imports, "_batches", erase_after_the_first_batch)
    analyse_import.apply(args=[job_id])
    db.session.expire_all()
    job = db.session.get(imports.ImportJob, job_id)
    assert job.status == "failed"
    assert "upload the file again" in job.errors[0]["error"]
    assert count(imports.ImportChunk) == 0


def test_our_export_moved_to_a_new_installation_arrives_as_it_left(marketing_client, ctx, smtp):
    """Confirmed people stay confirmed with their date (no opt-in email), the one who
    unsubscribed is left out (nothing is mailed to her), the pending one is asked again."""
    from sqlalchemy import delete

    from campaign.subscribers import services
    from tests.subscribers.helpers import confirmed_subscriber, pending_subscriber

    kept = confirmed_subscriber("kept@example.com")
    confirmed_on = kept.confirmed_at
    left = confirmed_subscriber("left@example.com")
    services.unsubscribe(left.id)
    pending_subscriber("waiting@example.com")
    db.session.commit()
    exported = marketing_client.get("/api/v1/subscribers?format=csv").get_data(as_text=True)
    # A new installation: the same file, an empty list.
    db.session.execute(delete(ConsentRecord))
    db.session.execute(delete(Subscriber))
    db.session.commit()

    job_id = job_id_of(upload(marketing_client, exported))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["errors"] == []  # every column of our own export is read or known
    counts = report["counts"]
    assert (counts["confirmed"], counts["opt_in"], counts["not_subscribed"]) == (1, 1, 1)
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses == {"kept@example.com": "confirmed", "waiting@example.com": "pending"}
    kept_again = db.session.scalar(select(Subscriber).filter_by(email="kept@example.com"))
    assert kept_again.confirmed_at == confirmed_on.replace(microsecond=0)
    assert smtp.to("left@example.com") == []
    assert smtp.to("kept@example.com") == []


def test_an_address_no_header_may_hold_is_a_row_error_not_a_subscriber(marketing_client, ctx):
    """ "=?" is legal before the @, but it would reach no one: every newsletter failed
    to build for it ("message not built")."""
    content = "email,first_name,consented_at\nb=?utf-8?q?y?=@example.com,Imp,2026-01-05\n"
    job_id = job_id_of(upload(marketing_client, content))
    analyse_import.apply(args=[job_id])
    report = marketing_client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
    assert report["counts"]["invalid"] == 1
    (error,) = report["errors"]
    assert error["row"] == 2
    assert '"=?"' in error["error"]


def test_a_file_over_the_limit_gets_a_page_that_says_the_limit(make_app, make_staff, ctx):
    from tests.staff.helpers import log_in

    app = make_app(IMPORT_MAX_BYTES=100 * 1024)
    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    big = "email,first_name\n" + "ann@example.com,Ann\n" * 20_000  # 400 KB
    response = upload(client, big)
    assert response.status_code == 413
    assert "The file is larger than the 100 KB allowed. Nothing was saved." in response.get_data(
        as_text=True
    )
    assert count(Subscriber) == 0
