"""CSV import of an existing list: dry run first, then the import, both in the worker.

The upload is streamed into the database in chunks (``ImportChunk``), so any worker on
any host can read it and memory stays bounded whatever the file's size. Rows with a
consent date come in as confirmed (that date recorded, with the row's source, or
``import``); rows without
one get a double opt-in email. Addresses already on the list are left alone, so
importing the same file twice changes nothing, and erased addresses (the suppression
list) are never imported.

Files are read as other tools write them: columns separated by commas, semicolons or
tabs, column names in their usual spellings ("Email Address", "First Name", "Consent
date"), a source label cleaned to what a source may be ("paper form" is
``paper_form``), and 14/03/2025 read as it can only be.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, AnyStr

from flask import current_app
from sqlalchemy import JSON, ForeignKey, LargeBinary, String, delete, insert, select, update
from sqlalchemy.orm import Mapped, mapped_column

from campaign import audit
from campaign.database import insert_unless_exists, utcnow
from campaign.extensions import db
from campaign.subscribers import import_cells
from campaign.subscribers.addresses import InvalidAddress, canonical_address, normalize_address
from campaign.subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from campaign.subscribers.privacy import Suppression
from campaign.subscribers.services import IMPORT_WORDING, SignupInvalid, clean_first_name

logger = logging.getLogger(__name__)

CHUNK_BYTES = 256 * 1024
ROWS_PER_BATCH = 1000
MAX_ERRORS_KEPT = 200
MAX_EMAIL_SHOWN = 254
# What spreadsheets put between columns: a comma, a semicolon (Excel's "CSV" where the
# decimal mark is a comma, as in much of Europe), or a tab ("Unicode text"). The comma
# first: it wins a tie, so a file of one column reads as it always has.
SEPARATORS = (",", ";", "\t")
LEFT_OUT_STATUSES = {"unsubscribed", "bounced"}
DATE_COLUMNS = ("consented_at", "confirmed_at")


class ImportJob(db.Model):
    __tablename__ = "import_job"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="SET NULL"))
    # uploaded -> analysing -> analysed -> importing -> imported (or failed)
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    size_bytes: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    # The tally's counts, plus "notes" (how the file was read) when there are any.
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    errors: Mapped[list] = mapped_column(JSON, default=list)


class ImportChunk(db.Model):
    __tablename__ = "import_chunk"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("import_job.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ImportInvalid(ValueError):
    """The upload cannot be imported at all (not a CSV, no email column, too big)."""


def store_upload(stream: IO[bytes], filename: str, staff_id: int, max_bytes: int) -> ImportJob:
    """Stream an upload into chunks without holding it in memory."""
    job = ImportJob(filename=(filename or "upload.csv")[:200], created_by_id=staff_id)
    db.session.add(job)
    db.session.flush()
    size = 0
    seq = 0
    while block := stream.read(CHUNK_BYTES):
        if seq == 0:
            _refuse_workbooks(block)
        size += len(block)
        if size > max_bytes:
            raise ImportInvalid(f"The file is larger than {max_bytes // (1024 * 1024)} MB.")
        db.session.execute(insert(ImportChunk).values(job_id=job.id, seq=seq, data=block))
        seq += 1
    if size == 0:
        raise ImportInvalid("The file is empty.")
    job.size_bytes = size
    audit.record("subscribers.import_uploaded", staff_id=staff_id, target=f"import:{job.id}")
    return job


# How workbook files begin: an Excel .xlsx, a LibreOffice .ods and a Numbers file are
# ZIP archives; an Excel .xls before 2007 is an OLE2 compound file.
WORKBOOK_SIGNATURES = (b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
SAVE_AS_CSV = (
    "This is a spreadsheet workbook (such as Excel's .xlsx), not a CSV file. Save it as "
    "CSV first, then upload that file: in Excel, File > Save As > CSV UTF-8 (Comma "
    "delimited); in Google Sheets, File > Download > Comma-separated values; in Numbers, "
    "File > Export To > CSV; in LibreOffice, File > Save As > Text CSV."
)


def _refuse_workbooks(first_block: bytes) -> None:
    """A workbook read as text is noise whose first line names no columns: say what
    the file is and how to make the CSV, before anything is stored."""
    if first_block.startswith(WORKBOOK_SIGNATURES):
        raise ImportInvalid(SAVE_AS_CSV)


def _bytes(job_id: int) -> Iterator[bytes]:
    seq = 0
    while True:
        data = db.session.scalar(select(ImportChunk.data).filter_by(job_id=job_id, seq=seq))
        if data is None:
            return
        yield data
        seq += 1


_LINE_END = re.compile(r"\r\n|\r|\n")
_RAW_LINE_END = re.compile(rb"\r\n|\r|\n")
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class _Lines:
    """The upload's lines, each with its ending: CRLF, LF, or CR alone (old Mac
    spreadsheets), which the csv module reads only as the end of a line it is given.

    Each line is read as UTF-8 (a BOM or not) when it is UTF-8, else as Windows-1252,
    which Excel on Windows saves "CSV" in: a list pasted together from both keeps every
    name right, where reading the whole file one way garbled the other's accents
    (Zoë as ZoÃ«). ``windows_lines`` numbers the lines read the second way. A file
    with a UTF-16 BOM (Excel's "Unicode text") is read as UTF-16 throughout.
    """

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.windows_lines: list[int] = []
        self.utf8_accents = False  # a line of UTF-8 that is not plain ASCII

    def __iter__(self) -> Iterator[str]:
        first = next(_bytes(self.job_id), b"")
        if first.startswith(_UTF16_BOMS):
            yield from _decoded_lines(_bytes(self.job_id), "utf-16")
            return
        for number, raw in enumerate(_raw_lines(_bytes(self.job_id)), start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                self.windows_lines.append(number)
                line = raw.decode("cp1252", errors="replace")
            else:
                self.utf8_accents = self.utf8_accents or not line.isascii()
            yield line

    def mixed_note(self) -> str | None:
        """What to tell when some lines were UTF-8 with accents and others were not."""
        if not (self.windows_lines and self.utf8_accents):
            return None
        shown = ", ".join(str(n) for n in self.windows_lines[:10])
        more = " and more" if len(self.windows_lines) > 10 else ""
        return (
            f"Lines {shown}{more} are not in UTF-8 like the rest of the file and were read "
            "as Windows-1252: check the names on them."
        )


def _lines(chunks: Iterator[AnyStr], line_end: re.Pattern[AnyStr]) -> Iterator[AnyStr]:
    """The lines of a text cut into chunks anywhere, each with its own line end."""
    pending = None  # of the chunks' own type (bytes or str) once one has come
    for chunk in chunks:
        pending = chunk if pending is None else pending + chunk
        start = 0
        for end in line_end.finditer(pending):
            if end.end() == len(pending) and end.group() in ("\r", b"\r"):
                break  # its LF may open the next chunk
            yield pending[start : end.end()]
            start = end.end()
        pending = pending[start:]
    if pending:
        yield pending


def _raw_lines(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """Lines of bytes: CR and LF are the same byte in UTF-8 and Windows-1252."""
    return _lines(blocks, _RAW_LINE_END)


def _decoded_lines(blocks: Iterator[bytes], encoding: str) -> Iterator[str]:
    return _lines(_decoded(blocks, encoding), _LINE_END)


def _decoded(blocks: Iterator[bytes], encoding: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    for block in blocks:
        yield decoder.decode(block)
    yield decoder.decode(b"", final=True)


@dataclass
class Row:
    number: int
    email: str
    canonical: str
    first_name: str | None
    consented_at: datetime | None
    source: str


@dataclass
class Tally:
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(
            [
                "rows",
                "invalid",
                "confirmed",
                "opt_in",
                "existing",
                "suppressed",
                "duplicate",
                "not_subscribed",
            ],
            0,
        )
    )
    errors: list[dict] = field(default_factory=list)
    # Few by construction (the header's, one per date column, ten cleaned sources), so
    # not capped like the errors.
    notes: list[dict] = field(default_factory=list)

    def error(self, number: int, message: str, email: str = "") -> None:
        """A row left out; ``email`` is its address as typed, so the row can be found."""
        self.counts["invalid"] += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            entry = {"row": number, "error": message}
            if email:
                entry["email"] = email[:MAX_EMAIL_SHOWN]
            self.errors.append(entry)

    def note(self, number: int, message: str) -> None:
        """How the file was read (a column not read, the order of its dates, a source
        cleaned): shown apart from the row errors, since no row is left out for it."""
        self.notes.append({"row": number, "note": message})

    def report(self) -> dict:
        """The job's ``counts``, with the notes under ``notes`` when there are any: kept
        there rather than among the errors, which the import page lists as rows left
        out, and rather than in a column of their own, which would need a migration."""
        return {**self.counts, "notes": list(self.notes)} if self.notes else dict(self.counts)


def _without_addresses(errors: list[dict]) -> list[dict]:
    """Row errors as an import leaves them: the addresses they showed came from the
    file, and go with it (an erasure could not find them in old reports)."""
    return [{key: value for key, value in e.items() if key != "email"} for e in errors]


class _DateOrders:
    """How each date column's 03/04/2025 is read: day first when a date in that column
    can only be day first (14/03/2025) and none can only be month first (03/14/2025),
    month first the other way round, else not at all (refused: nothing says which).

    Found by reading the file once more, only when such a date turns up, so the dry
    run and the import read every date alike; the dry run says which order it took."""

    def __init__(self, job_id: int, tally: Tally) -> None:
        self.job_id = job_id
        self.tally = tally
        self.found: dict[str, dict[str, tuple[int, str]]] | None = None
        self.told: set[str] = set()

    def of(self, column: str) -> str | None:
        if self.found is None:
            self.found = {name: {} for name in DATE_COLUMNS}
            for number, record in _read(self.job_id, None):
                for name, shown in self.found.items():
                    value = record.get(name, "").strip()
                    match = import_cells.DAY_MONTH_DATE.fullmatch(value)
                    order = import_cells.order_shown(match) if match else None
                    if order:
                        shown.setdefault(order, (number, value))
        shown = self.found[column]
        if len(shown) != 1:
            return "mixed" if shown else None
        ((order, (number, value)),) = shown.items()
        if column not in self.told:
            self.told.add(column)
            self.tally.note(
                number,
                f"{column}: dates such as 03/04/2025 are read "
                f"{'day' if order == 'dmy' else 'month'} first, as {value[:40]!r} in this "
                "row can only be.",
            )
        return order


class _Counted:
    """Lines handed out, counted: the csv module's own count is off by one on some of
    its errors, and errors must name the line to fix."""

    def __init__(self, lines: Iterator[str]) -> None:
        self.lines = lines
        self.count = 0

    def __iter__(self) -> _Counted:
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.count += 1
        return line


# In a row's cells: how many it has past the header's columns, not empty. Not a name
# a header can give a column (``_fields`` reads names, this has a NUL).
EXTRA_CELLS = "\x00extra"


def _read(job_id: int, tally: Tally | None) -> Iterator[tuple[int, dict[str, str]]]:
    """The upload's rows, each with its number as a spreadsheet shows it and its cells
    by field; the header's notes go to ``tally`` when one is given."""
    decoded = _Lines(job_id)
    lines = _Counted(iter(decoded))
    # Blank lines above the header, which spreadsheets sometimes leave, are skipped.
    header = next((line for line in lines if line.strip()), "")
    blank = max(lines.count - 1, 0)
    # Strict: a quote never closed would swallow the rest of the file into one field,
    # and "Ann" Lee (a quoted field with text after it) is ambiguous. Quotes inside an
    # unquoted field (Ann "Annie" Lee) are still plain text.
    reader = csv.reader(itertools.chain([header], lines), delimiter=_separator(header), strict=True)
    try:
        fields = _fields(next(reader, []), blank + 1, tally)
        for number, cells in enumerate(reader, start=blank + 2):
            # A blank line, or a row of empty cells (",,,," is how a spreadsheet saves
            # an empty row), is a row of the spreadsheet but no one's: not an error.
            if any(cell.strip() for cell in cells):
                record = {
                    name: _cell(cell) for name, cell in zip(fields, cells, strict=False) if name
                }
                if extra := sum(1 for cell in cells[len(fields) :] if cell.strip()):
                    record[EXTRA_CELLS] = str(extra)
                yield number, record
        if tally is not None and (mixed := decoded.mixed_note()):
            tally.note(decoded.windows_lines[0], mixed)
    except csv.Error as exc:
        raise ImportInvalid(
            f"The file is not valid CSV near line {lines.count} ({exc}): check that "
            "every quote is closed and no field is longer than 128 KB."
        ) from None


def _separator(header: str) -> str:
    """The separator the header line has most of outside quotes ("Email; work" is one
    name): the column names show which one the file uses. A comma on a tie."""
    found = dict.fromkeys(SEPARATORS, 0)
    quoted = False
    for character in header:
        if character == '"':
            quoted = not quoted  # an escaped "" inside quotes flips twice
        elif not quoted and character in found:
            found[character] += 1
    return max(SEPARATORS, key=found.__getitem__)


def _fields(names: list[str], line: int, tally: Tally | None) -> list[str | None]:
    """The field each column is read as (None: not read). Refuses a header that would
    be misread: no email column, two columns for one field, an unread consent column."""
    fields: list[str | None] = []
    written: dict[str, str] = {}
    unread: list[str] = []
    for name in (name.strip() for name in names):
        key = import_cells.header_key(name)
        read_as = import_cells.HEADER_NAMES.get(key)
        fields.append(read_as)
        if read_as is None:
            if name and name not in unread:
                unread.append(name)
            if any(word in key for word in import_cells.CONSENT_WORDS):
                # Read as no consent at all, it would mail everyone a confirmation request.
                raise ImportInvalid(
                    f"The column '{name[:40]}' is not read: name the consent date column "
                    "'consented_at', or people who consented would be asked again."
                )
        elif read_as in written:
            first = written[read_as]
            if first.casefold() == name.casefold():
                raise ImportInvalid(
                    f"The column '{name.lower()[:40]}' is named twice: keep one of them."
                )
            raise ImportInvalid(
                f"The columns '{first[:40]}' and '{name[:40]}' are both read as "
                f"{read_as}: keep one of them."
            )
        else:
            written[read_as] = name
    if "email" not in written:
        raise ImportInvalid(
            "The first line must name the columns, including 'email' (or 'Email Address')."
        )
    if unread and tally is not None:
        listed = ", ".join(f"'{name[:40]}'" for name in unread[:10])
        message = (
            f"Columns not read: {listed}. Only email, first_name, consented_at and "
            "source are read (and our own export's status and confirmed_at)."
        )
        dated = [
            name
            for name in unread
            if any(w in import_cells.header_key(name) for w in import_cells.SIGNUP_WORDS)
        ]
        if dated:
            # A signup date is not always a consent (a double opt-in never confirmed).
            message += (
                f" '{dated[0][:40]}' is not read as a consent date: if it is when each "
                "person consented, name it 'consented_at'."
            )
        tally.note(line, message)
    return fields


def _cell(value: str) -> str:
    """A cell as the person wrote it: our own exports put a ' before a leading = + - @
    (so spreadsheets do not run it as a formula); read back, it goes again."""
    if value[:1] == "'" and value[1:2] in ("=", "+", "-", "@", "\t", "\r"):
        return value[1:]
    return value


def _rows(job_id: int, tally: Tally) -> Iterator[Row]:
    orders = _DateOrders(job_id, tally)
    cleaned: set[str] = set()
    for number, record in _read(job_id, tally):
        tally.counts["rows"] += 1
        typed = record.get("email", "").strip()
        if extra := record.get(EXTRA_CELLS):
            # Kept, they would be lost without a word: "Smith, John" unquoted is two.
            tally.error(
                number,
                f"the row has {extra} more {'cell' if extra == '1' else 'cells'} than the "
                "header has columns (a comma in a name splits it unless the cell is in "
                "quotes): fix the row, or leave the extra cells empty.",
                typed,
            )
            continue
        # A consent date, else our export's confirmation date.
        column = "consented_at" if record.get("consented_at", "").strip() else "confirmed_at"
        try:
            email = normalize_address(record.get("email", ""))
            # The same rule as a signup's: no control characters, at most 100.
            name = clean_first_name(record.get("first_name", ""))
            consented_at = import_cells.parse_date(record.get(column, ""), orders, column)
        except InvalidAddress as exc:
            tally.error(number, f"email: {exc}", typed)
            continue
        except SignupInvalid as exc:
            tally.error(number, f"first_name: {exc.message}", typed)
            continue
        except ValueError as exc:
            tally.error(number, f"{column}: {exc}", typed)
            continue
        if record.get("status", "").strip().lower() in LEFT_OUT_STATUSES:
            # They left that list (or their mailbox did): nothing is mailed to them.
            tally.counts["not_subscribed"] += 1
            continue
        # Where the list came from ("old-list", "front-desk"), as a signup's source. A
        # label that does not fit one ("paper form") is cleaned, not the row refused.
        label = record.get("source", "").strip()
        source = import_cells.clean_source(label) or "import"
        if label and source != label and label not in cleaned and len(cleaned) < 10:
            cleaned.add(label)
            tally.note(number, f"source: {label[:64]!r} is stored as {source!r}")
        yield Row(number, email, canonical_address(email), name, consented_at, source)


def _batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    batch: list[Row] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= ROWS_PER_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run(job_id: int, apply: bool) -> None:
    """Analyse (``apply=False``) or import a stored upload, committing per batch."""
    from campaign.coupons.services import owner_key

    job = db.session.get(ImportJob, job_id)
    tally = Tally()
    seen: set[str] = set()
    try:
        for batch in _batches(_rows(job_id, tally)):
            canonicals = [row.canonical for row in batch]
            existing = set(
                db.session.scalars(
                    select(Subscriber.email_canonical).where(
                        Subscriber.email_canonical.in_(canonicals)
                    )
                )
            )
            keys = {row.canonical: owner_key(row.canonical) for row in batch}
            suppressed = set(
                db.session.scalars(
                    select(Suppression.email_key).where(Suppression.email_key.in_(keys.values()))
                )
            )
            new_rows = []
            for row in batch:
                if row.canonical in seen:
                    tally.counts["duplicate"] += 1
                    continue
                seen.add(row.canonical)
                if keys[row.canonical] in suppressed:
                    tally.counts["suppressed"] += 1
                elif row.canonical in existing:
                    tally.counts["existing"] += 1
                else:
                    tally.counts["confirmed" if row.consented_at else "opt_in"] += 1
                    new_rows.append(row)
            if apply and new_rows:
                # Added meanwhile (a signup, another import of the same file running
                # at once): on the list already, so counted as existing.
                for row in _insert(new_rows):
                    tally.counts["confirmed" if row.consented_at else "opt_in"] -= 1
                    tally.counts["existing"] += 1
            job.rows_done = tally.counts["rows"]
            job.counts = tally.report()
            db.session.commit()
    except ImportInvalid as exc:
        _fail(job_id, str(exc))
        return
    except Exception:
        # Whatever went wrong, the job must not read "analysing" or "importing" for
        # ever: say it stopped, and how far it had got (batches before are committed).
        logger.exception("import %s stopped", job_id)
        _fail(job_id, f"The import stopped on an unexpected error near row {tally.counts['rows']}.")
        raise
    # Only from the state this run holds: an erasure meanwhile fails an analysis (and
    # drops its file), which must not come back as "analysed".
    finished = db.session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, ImportJob.status == ("importing" if apply else "analysing"))
        .values(
            counts=tally.report(),
            errors=_without_addresses(tally.errors) if apply else tally.errors,
            rows_done=tally.counts["rows"],
            status="imported" if apply else "analysed",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if not finished:
        db.session.rollback()
        return
    if apply:
        _discard_upload(job_id)
        audit.record(
            "subscribers.imported",
            staff_id=job.created_by_id,
            target=f"import:{job.id}",
            **tally.counts,
        )
    db.session.commit()


def _fail(job_id: int, message: str) -> None:
    db.session.rollback()
    job = db.session.get(ImportJob, job_id)
    job.status = "failed"
    job.errors = [{"row": 1, "error": message}]
    _discard_upload(job_id)
    db.session.commit()


def _discard_upload(job_id: int) -> None:
    """The uploaded file holds people's addresses and names: keep it no longer than the
    import needs it (the job keeps its counts and row errors)."""
    db.session.execute(delete(ImportChunk).where(ImportChunk.job_id == job_id))


def discard_waiting_uploads() -> None:
    """Drop uploads waiting or being analysed: an erasure must not leave the person in
    a file that waits to be imported. Their jobs fail, asking for the file again. (A
    file being imported is dropped when the import ends; the erased address, now
    suppressed, is skipped by its later batches.)"""
    # An analysis under way reads the file but writes nothing to the list: it ends too.
    states = ["uploaded", "analysing", "analysed", "queued"]
    waiting = select(ImportJob.id).where(ImportJob.status.in_(states))
    for job_id in db.session.scalars(waiting).all():
        _discard_upload(job_id)
    db.session.execute(
        update(ImportJob)
        .where(ImportJob.status.in_(states))
        .values(
            status="failed",
            errors=[
                {
                    "row": 1,
                    "error": "A subscriber's data was erased meanwhile, and "
                    "waiting uploads with it: upload the file again to import it.",
                }
            ],
        )
    )


def _insert(rows: list[Row]) -> list[Row]:
    """Add one batch of new people with bulk statements; invite the unconfirmed.
    Returns the rows left out because their address arrived since it was looked up.

    An invitation is owed in the person's row (``confirmation_queued_at``), as for a
    signup, and one wake-up per batch drains them: a broker that is away when the batch
    commits loses nothing (beat's sweep finds them), where a task per row was lost.
    """
    from campaign.outbox import wake_after_commit
    from campaign.subscribers.tasks import send_queued_confirmations

    now = utcnow()
    table = Subscriber.__table__
    ids = db.session.execute(
        insert_unless_exists(table).returning(table.c.id, table.c.email_canonical),
        [
            {
                "email": row.email,
                "email_canonical": row.canonical,
                "first_name": row.first_name,
                "status": (
                    SubscriberStatus.CONFIRMED if row.consented_at else SubscriberStatus.PENDING
                ).value,
                "source": row.source,
                "created_at": now,
                "confirmed_at": row.consented_at,
                "confirmation_sent_at": None if row.consented_at else now,
                "confirmation_queued_at": None if row.consented_at else now,
                "bounce_count": 0,
            }
            for row in rows
        ],
    ).all()
    subscriber_ids = {canonical: subscriber_id for subscriber_id, canonical in ids}
    skipped = [row for row in rows if row.canonical not in subscriber_ids]
    rows = [row for row in rows if row.canonical in subscriber_ids]
    if not rows:
        return skipped
    consents = db.session.execute(
        insert(ConsentRecord).returning(ConsentRecord.id, ConsentRecord.subscriber_id),
        [
            {
                "subscriber_id": subscriber_ids[row.canonical],
                "created_at": row.consented_at or now,
                "wording_version": IMPORT_WORDING,
                "source": row.source,
                "confirmed_at": row.consented_at,
            }
            for row in rows
        ],
    ).all()
    # The consent opens each person's opt-in round (see Subscriber.optin_round).
    db.session.execute(
        update(Subscriber),
        [
            {"id": subscriber_id, "optin_round": consent_id}
            for consent_id, subscriber_id in consents
        ],
    )
    if any(row.consented_at is None for row in rows):
        wake_after_commit(send_queued_confirmations)
    return skipped


def claim(job_id: int, from_status: str, to_status: str) -> bool:
    """Move a job between states once (a double click starts one import)."""
    return bool(
        db.session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status == from_status)
            .values(status=to_status)
        ).rowcount
    )


def max_upload_bytes() -> int:
    return current_app.config["IMPORT_MAX_BYTES"]
