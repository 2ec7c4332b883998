"""Files as clinics really have them: free-text sources, other tools' column names,
day-first dates, and row errors that say whose row it is."""

from datetime import datetime

import pytest
from sqlalchemy import select

from campaign import clinic
from campaign.extensions import db
from campaign.subscribers import import_cells, imports
from campaign.subscribers.models import ConsentRecord, Subscriber
from campaign.subscribers.services import SOURCE_PATTERN
from campaign.subscribers.tasks import analyse_import, run_import
from tests.subscribers.test_import import job_id_of, upload


def dry_run(client, content: str | bytes) -> tuple[int, dict]:
    job_id = job_id_of(upload(client, content))
    analyse_import.apply(args=[job_id])
    return job_id, client.get(f"/staff/subscribers/import/{job_id}.json").get_json()


def import_now(client, job_id: int) -> dict:
    imports.claim(job_id, "analysed", "queued")
    db.session.commit()
    run_import.apply(args=[job_id])
    db.session.expire_all()
    return client.get(f"/staff/subscribers/import/{job_id}.json").get_json()


def person(email: str) -> Subscriber:
    return db.session.scalar(select(Subscriber).filter_by(email=email))


def consented_on(email: str) -> datetime:
    """The consent date as the clinic's pages show it."""
    return clinic.local_time(person(email).confirmed_at)


# Finding 1: a source label is cleaned, the person is imported.


@pytest.mark.parametrize(
    ("label", "stored"),
    [
        ("paper form", "paper_form"),
        ("  old list! ", "old_list"),
        ("Réception – desk", "Reception_desk"),
        ("Straße", "Stra_e"),
        ("Ｆｒｏｎｔ desk", "Front_desk"),  # full-width letters, as some keyboards type
        ("front-desk:2024.v1_b", "front-desk:2024.v1_b"),  # already a source: unchanged
        ("x" * 100, "x" * 64),
        ("診療所", ""),  # nothing left: the import's own source applies
        ("!!!", ""),
    ],
)
def test_a_source_label_is_cleaned_to_what_a_source_may_be(label, stored):
    assert import_cells.clean_source(label) == stored
    assert stored == "" or SOURCE_PATTERN.fullmatch(stored)


def test_a_source_label_does_not_cost_the_row(marketing_client, ctx):
    """The audit's file: four rows of five failed over "paper form", so the duplicate
    and the person already on the list were not even counted."""
    from tests.subscribers.helpers import confirmed_subscriber

    confirmed_subscriber("kim@example.com")
    content = (
        "email,first_name,consented_at,source\n"
        "ann@example.com,Ann,2025-03-14,paper form\n"
        "bob@example.com,Bob,2025-03-14,Réception – desk\n"
        "ANN@example.com,Ann,2025-03-14,paper form\n"
        "kim@example.com,Kim,2025-03-14,paper form\n"
        "dan@example.com,Dan,,診療所\n"
    )
    job_id, report = dry_run(marketing_client, content)
    # Each label cleaned is said once, with the row it is first seen in.
    assert report["counts"] == {
        "rows": 5, "invalid": 0, "confirmed": 2, "opt_in": 1, "existing": 1, "suppressed": 0,
        "duplicate": 1, "not_subscribed": 0,
        "notes": [
            {"row": 2, "note": "source: 'paper form' is stored as 'paper_form'"},
            {"row": 3, "note": "source: 'Réception – desk' is stored as 'Reception_desk'"},
            {"row": 6, "note": "source: '診療所' is stored as 'import'"},
        ],
    }  # fmt: skip
    assert report["errors"] == []
    import_now(marketing_client, job_id)
    ann = person("ann@example.com")
    assert ann.source == "paper_form"
    consent = db.session.scalar(select(ConsentRecord).filter_by(subscriber_id=ann.id))
    assert consent.source == "paper_form"
    assert person("bob@example.com").source == "Reception_desk"
    assert person("dan@example.com").source == "import"


# Finding 2: the column names other tools and spreadsheets write.


@pytest.mark.parametrize(
    "header",
    [
        "Email Address,First Name,Consent date,Source",  # Mailchimp's, a spreadsheet's
        "E-mail,Firstname,Opt-in date,source",
        "EMAIL_ADDRESS,Given name,consented at,SOURCE",
        "email,first-name,Date of consent,Source",
        " Email ,Forename,Confirmed at,Source ",  # our export's confirmed_at, spelt out
        # As clinics in Germany, France, Spain, Italy and the Netherlands name them.
        "E-Mail-Adresse,Vorname,Einwilligungsdatum,Quelle",
        "Courriel,Prénom,Date de consentement,Source",
        "Adresse e-mail,PRENOM,Date du consentement,source",
        "Correo electrónico,Nombre,Fecha de consentimiento,Origen",
        "Indirizzo email,Nome,Data del consenso,Fonte",
        "E-mailadres,Voornaam,Datum toestemming,Bron",
    ],
)
def test_column_names_as_other_tools_write_them(marketing_client, ctx, header):
    job_id, report = dry_run(marketing_client, f"{header}\nann@example.com,Ann,2025-03-14,shop\n")
    assert report["status"] == "analysed"
    assert report["errors"] == []
    assert report["counts"]["confirmed"] == 1
    import_now(marketing_client, job_id)
    ann = person("ann@example.com")
    assert (ann.first_name, ann.source, ann.status) == ("Ann", "shop", "confirmed")
    assert consented_on("ann@example.com") == datetime(2025, 3, 14)


def test_a_signup_date_is_not_taken_for_consent(marketing_client, ctx):
    """Another tool's signup date is not a consent (people who never confirmed a
    double opt-in have one too): the column is named as unread, with how to make it
    one, and its people are asked to confirm."""
    content = "Email,Subscribed at,Phone\nann@example.com,2025-03-14,0123\n"
    _, report = dry_run(marketing_client, content)
    assert (report["counts"]["confirmed"], report["counts"]["opt_in"]) == (0, 1)
    assert report["counts"]["notes"] == [
        {
            "row": 1,
            "note": "Columns not read: 'Subscribed at', 'Phone'. Only email, first_name, "
            "consented_at and source are read (and our own export's status and "
            "confirmed_at). 'Subscribed at' is not read as a consent date: if it is when "
            "each person consented, name it 'consented_at'.",
        }
    ]
    assert report["errors"] == []


def test_a_mailchimp_export_keeps_who_confirmed_its_double_opt_in(marketing_client, ctx):
    """Mailchimp's audience export: CONFIRM_TIME is when each person confirmed. Unread,
    every contact of a clinic moving over was to be asked to confirm again."""
    content = (
        '"Email Address","First Name","Last Name",MEMBER_RATING,OPTIN_TIME,OPTIN_IP,'
        "CONFIRM_TIME,CONFIRM_IP,LATITUDE,LONGITUDE,GMTOFF,DSTOFF,TIMEZONE,CC,REGION,"
        "LAST_CHANGED,LEID,EUID,NOTES,TAGS\n"
        'ann@example.com,Ann,Lee,2,"2025-03-14 09:58:01",203.0.113.9,'
        '"2025-03-14 10:02:44",203.0.113.9,,,,,,,,"2025-03-14 10:02:44",1,ab12,,\n'
        'bob@example.com,Bob,,2,"2025-04-01 08:00:00",,,,,,,,,,,"2025-04-01 08:00:00",2,cd34,,\n'
    )
    job_id, report = dry_run(marketing_client, content)
    assert report["status"] == "analysed", report
    assert report["errors"] == []
    # Bob never confirmed (a single opt-in, or a signup date only): asked to, as before.
    assert (report["counts"]["confirmed"], report["counts"]["opt_in"]) == (1, 1)
    import_now(marketing_client, job_id)
    assert person("ann@example.com").status == "confirmed"
    assert consented_on("ann@example.com").date().isoformat() == "2025-03-14"
    assert person("bob@example.com").status == "pending"


# Finding 3: 14/03/2025 can only be 14 March.


def test_day_first_dates_are_read_when_the_column_shows_it(marketing_client, ctx):
    content = (
        "email,consented_at\n"
        "ann@example.com,03/04/2025\n"  # read day first: the column shows it below
        "bob@example.com,14/03/2025\n"  # can only be 14 March
        "cat@example.com,05/05/2025 09:30\n"
        "dan@example.com,31/02/2025\n"
        "eve@example.com,14.03.2025\n"
    )
    job_id, report = dry_run(marketing_client, content)
    assert report["counts"]["confirmed"] == 4
    assert report["counts"]["notes"] == [
        {
            "row": 3,
            "note": "consented_at: dates such as 03/04/2025 are read day first, as "
            "'14/03/2025' in this row can only be.",
        }
    ]
    assert report["errors"] == [
        {
            "row": 5,
            "error": "consented_at: '31/02/2025' is not a date: write it as 2025-03-14",
            "email": "dan@example.com",
        },
    ]
    import_now(marketing_client, job_id)
    assert consented_on("ann@example.com") == datetime(2025, 4, 3)
    assert consented_on("bob@example.com") == datetime(2025, 3, 14)
    assert consented_on("cat@example.com") == datetime(2025, 5, 5, 9, 30)
    assert consented_on("eve@example.com") == datetime(2025, 3, 14)


def test_month_first_dates_are_read_when_the_column_shows_it(marketing_client, ctx):
    content = "email,consented_at\nann@example.com,04/03/2025\nbob@example.com,03/14/2025\n"
    job_id, report = dry_run(marketing_client, content)
    assert report["counts"]["confirmed"] == 2
    assert "read month first" in report["counts"]["notes"][0]["note"]
    import_now(marketing_client, job_id)
    assert consented_on("ann@example.com") == datetime(2025, 4, 3)
    assert consented_on("bob@example.com") == datetime(2025, 3, 14)


def test_a_column_with_both_orders_reads_only_what_can_be_one(marketing_client, ctx):
    content = (
        "email,consented_at\n"
        "ann@example.com,14/03/2025\n"
        "bob@example.com,03/15/2025\n"
        "cat@example.com,03/04/2025\n"
    )
    _, report = dry_run(marketing_client, content)
    assert report["counts"]["confirmed"] == 2
    assert report["errors"] == [
        {
            "row": 4,
            "error": "consented_at: '03/04/2025' could be 3 April or 4 March (its column "
            "has dates of both orders): write it as 2025-04-03 or 2025-03-04",
            "email": "cat@example.com",
        }
    ]


# Finding 4: each row error shows the row's address, as typed.


def test_row_errors_show_the_address_as_typed(marketing_client, ctx):
    content = (
        "email,first_name,consented_at\n"
        "not-an-email,X,2025-01-01\n"
        " <b>cat</b>@example.com ,Cat,2999-01-01\n"
        ",Nobody,\n"
    )
    job_id, report = dry_run(marketing_client, content)
    assert [(e["row"], e.get("email")) for e in report["errors"]] == [
        (2, "not-an-email"),
        (3, "<b>cat</b>@example.com"),
        (4, None),  # no address in the row: nothing to show
    ]
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    assert "Row 2 (not-an-email): email:" in page
    assert "Row 3 (&lt;b&gt;cat&lt;/b&gt;@example.com): email:" in page
    assert "<b>cat" not in page
    assert "Row 4: email:" in page


def test_the_addresses_go_with_the_file_once_imported(marketing_client, ctx):
    """The file is deleted once imported; the addresses its errors showed go too, or an
    erasure would leave them in old reports."""
    job_id, report = dry_run(marketing_client, "email,consented_at\nann@example.com,2999-01-01\n")
    assert report["errors"][0]["email"] == "ann@example.com"
    report = import_now(marketing_client, job_id)
    assert report["status"] == "imported"
    assert report["errors"] == [{"row": 2, "error": "consented_at: consent date is in the future"}]
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    assert "ann@example.com" not in page


def test_rows_keep_their_spreadsheet_numbers_past_a_blank_line(marketing_client, ctx):
    content = "email,consented_at\nann@example.com,2025-01-01\n\nbob@example.com,2999-01-01\n"
    _, report = dry_run(marketing_client, content)
    assert report["counts"]["rows"] == 2
    assert [(e["row"], e["email"]) for e in report["errors"]] == [(4, "bob@example.com")]
