"""One error shape for the API, friendly pages for people.

Under ``/api`` every 4xx and 5xx answers ``{"error": {"code", "message", "field"}}``;
elsewhere a page says what happened in plain words. Neither ever shows a stack trace.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from werkzeug.exceptions import HTTPException

from campaign import logs

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """An error a handler raises to answer with the contract's JSON error body."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def json_error(status: int, code: str, message: str, field: str | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "field": field}}
    response = jsonify(body)
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
    status = exc.code or 500
    if _wants_json():
        code = _HTTP_CODES.get(status, "error")
        message = exc.description or exc.name
        if status == 413:
            limit = _upload_limit_words()
            message = (
                f"The file is larger than the {limit} allowed."
                if limit
                else "The request body is too large."
            )
        elif status == 429:
            message = "Too many requests; please slow down and try again shortly."
        response = json_error(status, code, message)
        response.headers.extend(_kept_headers(exc))
        return response
    message = None
    if status == 413 and (limit := _upload_limit_words()):
        message = f"The file is larger than the {limit} allowed. Nothing was saved."
    page = render_template(
        "error.html", status=status, title=exc.name, wait=_wait_words(exc), message=message
    )
    return page, status, _kept_headers(exc)


def _upload_limit_words() -> str | None:
    """The size a route that takes files refuses beyond ("50 MB"), for its 413 to say
    what to do; None on other routes."""
    from campaign import LARGE_UPLOAD_ENDPOINTS  # the app package imports this module

    setting = LARGE_UPLOAD_ENDPOINTS.get(request.endpoint or "")
    if setting is None:
        return None
    return readable_size(current_app.config[setting])


def readable_size(limit: int) -> str:
    """A size limit as people read it: "20 MB" (or "9 KB" for a small one)."""
    return f"{limit >> 20} MB" if limit >= 1 << 20 else f"{limit >> 10} KB"


def _wait_words(exc: HTTPException) -> str:
    """How long a 429's Retry-After is, as the page says it ("a minute" for 3 s read
    as a page that cannot count)."""
    seconds = getattr(exc, "retry_after", None)
    if not isinstance(seconds, int) or seconds <= 0:
        return "a minute"
    if seconds < 10:
        return "a few seconds"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = -(-seconds // 60)
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def _kept_headers(exc: HTTPException) -> list[tuple[str, str]]:
    """The headers an error carries that the client acts on: Allow, Retry-After."""
    headers = list(exc.get_headers())  # MethodNotAllowed's Allow is here
    if exc.response is not None:
        headers += list(exc.response.headers.items())
    return [(k, v) for k, v in headers if k.lower() in {"allow", "retry-after"}]


def _csrf_error(exc: CSRFError) -> Response | tuple[str, int]:
    # The page only says "expired"; the reason (behind a proxy most often "The referrer
    # does not match the host.") belongs in the log for whoever runs the service.
    logger.warning(
        "CSRF check failed on %s %s (host %s): %s",
        request.method,
        logs.printable(logs.masked(request.path)),
        logs.printable(request.host),
        exc.description,
    )
    if _wants_json():
        return json_error(400, "csrf_failed", exc.description)
    return render_template(
        "error.html",
        status=400,
        title="This form has expired",
        message="Please go back, reload the page and try again.",
    ), 400


def _api_error(exc: ApiError) -> Response:
    response = json_error(exc.status, exc.code, exc.message, exc.field)
    response.headers.update(exc.headers)
    if exc.status == 401:
        # RFC 9110: a 401 names the scheme that would do (RFC 6750's for a bad token).
        challenge = 'Bearer realm="api"'
        if exc.code == "invalid_token":
            challenge += ', error="invalid_token"'
        response.headers["WWW-Authenticate"] = challenge
    return response


def _unexpected(exc: Exception) -> Response | tuple[str, int]:
    logger.exception("unhandled error on %s %s", request.method, logs.masked(request.path))
    if _wants_json():
        return json_error(500, "internal_error", "Something went wrong on our side.")
    return render_template("error.html", status=500, title="Something went wrong"), 500


# How long a client waits before trying again when the database is away: a restart
# or a failover takes about this long.
DATABASE_RETRY_AFTER = "30"


def _database_unavailable(exc: Exception) -> Response | tuple[str, int, dict]:
    """The database cannot be reached (down, restarting, its pool exhausted): a 503
    the clinic's site and scripts retry on, not a 500 that reads as our bug."""
    from campaign.extensions import db

    lines = str(exc).strip().splitlines()
    logger.error(
        "database unavailable on %s %s: %s: %s",
        request.method,
        logs.masked(request.path),
        type(exc).__name__,
        lines[0] if lines else "",
    )
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the page still answers
        logger.debug("rollback after a lost database failed", exc_info=True)
    headers = {"Retry-After": DATABASE_RETRY_AFTER}
    if _wants_json():
        response = json_error(
            503, "unavailable", "The service is briefly unavailable: please try again shortly."
        )
        response.headers.update(headers)
        return response
    page = render_template(
        "error.html",
        status=503,
        title="Briefly unavailable",
        message="We could not reach our records just now. Please try again in a minute.",
    )
    return page, 503, headers


def register(app: Flask) -> None:
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(SQLAlchemyTimeoutError, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
