"""Helpers shared by the APIs: body parsing, time formatting, CSV cells."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask import Request, Response, request, stream_with_context
from flask.json.provider import DefaultJSONProvider

from campaign.errors import ApiError
from campaign.security import FORM_MIMETYPES

UNSTORABLE_MESSAGE = (
    "The text holds a NUL character or an unpaired surrogate (\\ud800 to \\udfff), "
    "which cannot be stored."
)
# Only a \u escape puts either into a parsed string (a raw NUL is not valid JSON, a raw
# surrogate not valid UTF-8), so a body without one is not searched.
_ESCAPES = {
    str: re.compile(r"\\u(?:0000|[dD][89a-fA-F])"),
    bytes: re.compile(rb"\\u(?:0000|[dD][89a-fA-F])"),
}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class UnstorableText(ValueError):
    """JSON text holding a NUL or an unpaired surrogate: PostgreSQL cannot store a NUL,
    and no driver, Markdown renderer or SMTP library can encode a lone surrogate.
    ``field`` is the top-level field that holds it, when there is one."""

    def __init__(self, field: str | None) -> None:
        super().__init__(UNSTORABLE_MESSAGE)
        self.field = field


def _holds_unstorable(value: Any) -> bool:
    if isinstance(value, str):
        return _UNSTORABLE.search(value) is not None
    if isinstance(value, dict):
        return any(_holds_unstorable(k) or _holds_unstorable(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_unstorable(item) for item in value)
    return False


def _refuse_unstorable(data: Any) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if _holds_unstorable(value) and not _holds_unstorable(key):
                raise UnstorableText(key)
    if _holds_unstorable(data):
        raise UnstorableText(None)


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON, refusing text no field can take once, for every API."""

    def loads(self, s, **kwargs):
        try:
            data = super().loads(s, **kwargs)
            escapes = _ESCAPES.get(type(s))
            if escapes and escapes.search(s):
                _refuse_unstorable(data)
        except RecursionError:  # get_json turns only a ValueError into a 400
            raise ValueError("JSON nested too deeply") from None
        return data


class JsonRequest(Request):
    """Flask's request, whose unreadable JSON body is the API's 400 with the reason."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        limit = self.max_content_length
        if self.content_length is None and limit and len(self.get_data()) >= limit:
            # A chunked body has no length to refuse up front: Werkzeug stops reading
            # at the limit, and the cut-off JSON would read as malformed.
            raise ApiError(413, "payload_too_large", "The request body is too large.")
        if isinstance(e, UnstorableText):
            # As for any other bad value: "invalid_<field>", naming the field.
            named = e.field is not None and e.field.isidentifier()
            code = f"invalid_{e.field}" if named else "invalid_json"
            raise ApiError(400, code, str(e), e.field if named else None)
        if e is None:  # Flask read no JSON: the Content-Type says it is something else
            message = "Send the body as JSON, with Content-Type: application/json."
            raise ApiError(400, "invalid_json", message)
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")


def json_object() -> dict:
    """The request body as a JSON object, or a 400 that says what is wrong."""
    payload = request.get_json()
    if not isinstance(payload, dict):
        raise ApiError(400, "invalid_json", "The body must be a JSON object.")
    return payload


def json_body(allowed: set[str], required: set[str] = frozenset()) -> dict:
    """The request body as a JSON object with only ``allowed`` keys, or a clear 400."""
    payload = json_object()
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"Unknown field: {unknown[0]}.", unknown[0])
    missing = sorted(required - set(payload))
    if missing:
        raise ApiError(400, f"invalid_{missing[0]}", f"{missing[0]} is required.", missing[0])
    return payload


def has_body() -> bool:
    """Whether the request carries a body. A form's was read by the app's request
    guards before the view (so ``get_data`` finds the stream empty): it counts too."""
    if request.get_data(cache=True):
        return True
    return request.mimetype in FORM_MIMETYPES and bool(request.form or request.files)


def no_body() -> None:
    """For a call that takes nothing: no body, or an empty JSON object. Anything else
    (a field, text that is not JSON, a form) is a 400, as for the calls that take
    fields: a script sending ``{"subject": ...}`` to copy must not think it was read."""
    if has_body():
        json_body(set())


def iso(moment: datetime | None) -> str | None:
    """Naive UTC datetimes as ISO 8601 with a Z."""
    return moment.isoformat(timespec="seconds") + "Z" if moment else None


def page_number() -> int:
    # ``?page=`` (empty, as PRODUCT.md writes the query) is the first page; a blank
    # one (a stray CR, a space) is no number, as the OpenAPI document says.
    raw = request.args.get("page", "") or "1"
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 100_000:
        raise ApiError(400, "invalid_page", "page must be a positive whole number.", "page")
    return int(raw)


def wants_bom() -> bool:
    """``?bom=1``: start a CSV with a byte order mark (see ``streamed_csv``)."""
    return request.args.get("bom", "").strip() == "1"


def wants_csv() -> bool:
    """``?format=csv`` (any case): the answer as CSV instead of JSON."""
    return request.args.get("format", "").strip().lower() == "csv"


def csv_cell(value: object) -> str:
    """Neutralise spreadsheet formulas: a name like ``=HYPERLINK(...)`` stays text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def streamed_csv(
    header: list[str], rows: Iterable[Iterable[object]], filename: str, byte_order_mark=False
) -> Response:
    """``rows`` as a CSV download, sent in pieces of about 64 KB, every cell through
    ``csv_cell``. ``rows`` is a generator that runs its query itself, as the answer
    streams: a result opened in the view is ended by a hook's commit before the first
    row is read.

    ``byte_order_mark``: Excel on Windows reads a CSV without one in its own code page
    (Chloé as ChloÃ©). Only when asked (the staff page's link does): scripts parse these
    answers, and expect them to start with the header.
    """

    def generate():
        buffer = io.StringIO()
        if byte_order_mark:
            buffer.write("\ufeff")
        writer = csv.writer(buffer)
        writer.writerow(header)
        for row in rows:
            writer.writerow(csv_cell(value) for value in row)
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
