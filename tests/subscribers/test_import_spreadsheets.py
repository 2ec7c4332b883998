"""Files as spreadsheets save them outside the English-speaking world, and how the dry
run tells what it read: semicolon and tab separators, empty rows, and notes kept apart
from the row errors."""

import io
import re
import zipfile
from datetime import datetime

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.subscribers import imports
from tests.subscribers.test_import import upload
from tests.subscribers.test_import_real_files import consented_on, dry_run, import_now, person

# Finding 1: Excel in much of Europe separates columns with semicolons.

EXCEL_EUROPE = (
    "Email Address;First Name;Last Name;Opt-in date;Phone\r\n"
    "chloe@example.com;Chloé;Martin;14/03/2025;06 12 34 56 78\r\n"
    "bob@example.com;Bob;Lee;;0123\r\n"
)


def test_a_semicolon_file_as_excel_saves_it_imports(marketing_client, ctx):
    """The audit's file, in Excel's Windows encoding: it failed with "0 rows read" and
    "The first line must name the columns", though that line names them."""
    job_id, report = dry_run(marketing_client, EXCEL_EUROPE.encode("cp1252"))
    assert report["status"] == "analysed", report
    assert report["errors"] == []
    counts = report["counts"]
    assert (counts["rows"], counts["confirmed"], counts["opt_in"]) == (2, 1, 1)
    assert "Columns not read: 'Last Name', 'Phone'." in counts["notes"][0]["note"]
    import_now(marketing_client, job_id)
    assert person("chloe@example.com").first_name == "Chloé"
    assert consented_on("chloe@example.com") == datetime(2025, 3, 14)
    assert person("bob@example.com").status == "pending"


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_every_separator_reads_the_same_rows(marketing_client, ctx, separator):
    """Quoted cells keep the other separators as text, whichever separates the columns."""
    header = separator.join(["email", "first_name", "consented_at", "source"])
    row = separator.join(['"ann@example.com"', '"Ann; Lee, Jr"', "2025-03-14", "shop"])
    job_id, report = dry_run(marketing_client, f"{header}\n{row}\n")
    assert report["status"] == "analysed", report
    assert (report["errors"], report["counts"]["confirmed"]) == ([], 1)
    import_now(marketing_client, job_id)
    ann = person("ann@example.com")
    assert (ann.first_name, ann.source) == ("Ann; Lee, Jr", "shop")


def test_separators_inside_a_quoted_column_name_do_not_count(marketing_client, ctx):
    content = 'email;"Notes, misc, more, stuff";first_name\nann@example.com;a, b, c;Ann\n'
    job_id, report = dry_run(marketing_client, content)
    assert report["status"] == "analysed", report
    assert "'Notes, misc, more, stuff'" in report["counts"]["notes"][0]["note"]
    import_now(marketing_client, job_id)
    assert person("ann@example.com").first_name == "Ann"


def test_a_comma_file_with_semicolons_in_its_cells_stays_a_comma_file(marketing_client, ctx):
    content = "email,first_name\nann@example.com,Ann;Bob\nbob@example.com,Bob;;\n"
    job_id, report = dry_run(marketing_client, content)
    assert (report["errors"], report["counts"]["opt_in"]) == ([], 2)
    import_now(marketing_client, job_id)
    assert person("ann@example.com").first_name == "Ann;Bob"


# Finding 2: an empty spreadsheet row is no one's, not a row error.


@pytest.mark.parametrize(
    ("separator", "empty_row"),
    [(",", ",,,"), (";", ";;;"), (",", " , ,\t, "), ("\t", "\t\t\t")],
)
def test_empty_rows_are_skipped_quietly(marketing_client, ctx, separator, empty_row):
    header = separator.join(["email", "first_name", "consented_at", "source"])
    content = (
        f"{header}\n{empty_row}\n"
        + separator.join(["ann@example.com", "Ann", "", ""])
        + f"\n{empty_row}\n{empty_row}\n"
        + separator.join(["bob@example.com", "Bob", "2999-01-01", ""])
        + f"\n{empty_row}\n"
    )
    _, report = dry_run(marketing_client, content)
    assert report["status"] == "analysed", report
    assert (report["counts"]["rows"], report["counts"]["invalid"]) == (2, 1)
    # Rows keep their numbers in the spreadsheet past the empty ones.
    assert [(e["row"], e["email"]) for e in report["errors"]] == [(6, "bob@example.com")]


def test_a_row_with_a_name_but_no_address_says_to_enter_one(marketing_client, ctx):
    _, report = dry_run(marketing_client, "email,first_name\n,Nobody\n")
    assert report["errors"] == [{"row": 2, "error": "email: Please enter your email address."}]
    assert report["counts"]["invalid"] == 1


# Finding 3: notes on how the file was read are not row errors.


def section(page: str, list_id: str) -> str:
    return re.search(rf'<ul id="{list_id}">(.*?)</ul>', page, re.S).group(1)


def test_notes_are_listed_apart_from_row_errors(marketing_client, ctx):
    content = (
        "email,Last Name,Phone,consented_at,source\n"
        "ann@example.com,Lee,0123,03/04/2025,paper form\n"
        "bob@example.com,Ray,0456,14/03/2025,shop\n"
        "not-an-email,Kim,0789,,shop\n"
    )
    job_id, report = dry_run(marketing_client, content)
    assert report["counts"]["invalid"] == 1
    assert [e["row"] for e in report["errors"]] == [4]
    assert sorted(n["row"] for n in report["counts"]["notes"]) == [1, 2, 3]
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    errors, notes = section(page, "import-errors"), section(page, "import-notes")
    assert errors.count("<li") == 1
    assert "Row 4 (not-an-email): email:" in errors
    assert notes.count("<li") == 3
    assert "Columns not read: &#39;Last Name&#39;, &#39;Phone&#39;" in notes
    assert "read day first" in notes
    assert "&#39;paper form&#39; is stored as &#39;paper_form&#39;" in notes
    assert page.index("<h2>Row errors</h2>") < page.index("<h2>Notes</h2>")

    # The import's own report keeps its notes, apart, too.
    report = import_now(marketing_client, job_id)
    assert report["status"] == "imported"
    assert [e["row"] for e in report["errors"]] == [4]
    assert len(report["counts"]["notes"]) == 3


def test_a_file_without_notes_says_none(marketing_client, ctx):
    job_id, report = dry_run(marketing_client, "email\nann@example.com\n")
    assert "notes" not in report["counts"]
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    assert section(page, "import-notes") == '<li class="fine">None.</li>'


def test_the_staff_pages_export_with_its_byte_order_mark_imports_back(marketing_client, ctx):
    from tests.subscribers.helpers import confirmed_subscriber

    confirmed_subscriber("chloe@example.com")
    exported = marketing_client.get("/api/v1/subscribers?format=csv&bom=1").get_data()
    assert exported.startswith(b"\xef\xbb\xbf")
    _, report = dry_run(marketing_client, exported)
    assert report["errors"] == []
    assert report["counts"]["existing"] == 1


# Found by an outside audit: one line in another encoding switched the whole file to
# Windows-1252, and every UTF-8 name came out garbled (ZoÃ«).


def test_a_list_pasted_together_from_two_encodings_keeps_every_name(marketing_client, ctx):
    content = (
        b"email,first_name\n"
        + "mix1@example.org,Zoë\n".encode()
        + "mix2@example.org,René\n".encode("cp1252")
        + "mix3@example.org,José\n".encode()
    )
    job_id, report = dry_run(marketing_client, content)
    assert report["status"] == "analysed", report
    (note,) = report["counts"]["notes"]
    assert note["row"] == 3
    assert "Lines 3 are not in UTF-8 like the rest of the file" in note["note"]
    import_now(marketing_client, job_id)
    names = [person(f"mix{n}@example.org").first_name for n in (1, 2, 3)]
    assert names == ["Zoë", "René", "José"]


def test_excels_unicode_text_imports(marketing_client, ctx):
    """Excel's "Unicode text": UTF-16 with a BOM, tab-separated."""
    content = "email\tfirst_name\r\nzoe@example.org\tZoë\r\n".encode("utf-16")
    job_id, report = dry_run(marketing_client, content)
    assert report["status"] == "analysed", report
    assert "notes" not in report["counts"]
    import_now(marketing_client, job_id)
    assert person("zoe@example.org").first_name == "Zoë"


def workbook(entries: dict[str, str]) -> bytes:
    """A ZIP archive as an Excel, Numbers or LibreOffice workbook is one."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in entries.items():
            archive.writestr(name, text)
    return buffer.getvalue()


XLSX = {
    "[Content_Types].xml": "<Types/>",
    "xl/workbook.xml": "<workbook/>",
    "xl/worksheets/sheet1.xml": "<c><is><t>email</t></is></c><c><is><t>ann@example.com</t></is></c>",
}
ODS = {"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"}
# An Excel 97-2003 .xls: an OLE2 compound file's signature, then its sectors.
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"email\x00ann@example.com" * 20


@pytest.mark.parametrize(
    ("content", "name"),
    [(workbook(XLSX), "list.xlsx"), (workbook(ODS), "list.ods"), (XLS, "list.xls")],
    ids=["xlsx", "ods", "xls"],
)
def test_a_workbook_is_refused_at_once_with_how_to_save_it_as_csv(
    marketing_client, ctx, content, name
):
    """Found by our own audit: an .xlsx went to the dry run, which failed saying "The
    first line must name the columns", about a file whose first row does."""
    response = upload(marketing_client, content, name=name)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "not a CSV file" in page
    assert "File &gt; Save As &gt; CSV UTF-8 (Comma delimited)" in page
    assert 'role="alert"' in page
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(imports.ImportJob)) == 0
    assert db.session.scalar(select(func.count()).select_from(imports.ImportChunk)) == 0
