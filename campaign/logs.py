"""Structured logs: one line per request (with its request id) and per task (task id)."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request

logger = logging.getLogger("campaign.requests")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# A path is the caller's text: a line break in it would start a forged log line.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# Paths whose next segment is a bearer token (whoever holds the link can confirm,
# unsubscribe, see the coupon or a reader's newsletter, or set the password) or a
# coupon code (the desk's lookups and redemptions: a code is worth an oil): a log
# line keeps its first characters, enough to tell two requests apart, not to replay one.
_TOKEN_PATH = re.compile(
    r"^(/(?:confirm|unsubscribe|resubscribe|coupon|staff/password|newsletters/[^/]*"
    r"|api/v1/coupons)/)([^/]+)"
)


def masked(path: str) -> str:
    """``path`` with the token of a link from an email cut short."""
    return _TOKEN_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)[:6]}\u2026", path, count=1)


def printable(text: str) -> str:
    """``text`` with control characters and line separators escaped, for a log line."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


class ContextFilter(logging.Filter):
    """Add ``request_id`` (web) or ``task_id`` (worker) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.task_id = "-"
        if has_request_context():  # a web request is never inside a task
            record.request_id = g.get("request_id", "-")
            return True
        record.request_id = "-"
        try:
            from celery import current_task

            if current_task and current_task.request.id:
                record.task_id = current_task.request.id
        except Exception:  # noqa: S110 - logging must never fail
            pass
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "task_id": getattr(record, "task_id", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [req=%(request_id)s task=%(task_id)s] %(message)s"


class MaskedRequestLine(logging.Filter):
    """The development server's own access line (Werkzeug's ``"GET /path HTTP/1.1"``)
    with link tokens cut short, as ours are: ``flask dev`` prints both."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and args and isinstance(args[0], str):
            parts = args[0].split(" ")
            if len(parts) == 3:
                parts[1] = masked(parts[1])
                record.args = (" ".join(parts), *args[1:])
        return True


def configure(json_format: bool) -> None:
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, MaskedRequestLine) for f in werkzeug.filters):
        werkzeug.addFilter(MaskedRequestLine())
    root = logging.getLogger()
    if not any(getattr(h, "_campaign", False) for h in root.handlers):
        handler = logging.StreamHandler()
        handler._campaign = True  # type: ignore[attr-defined]
        handler.addFilter(ContextFilter())
        root.addHandler(handler)
        if root.level == logging.WARNING:
            root.setLevel(logging.INFO)
    for handler in root.handlers:
        if getattr(handler, "_campaign", False):
            handler.setFormatter(JsonFormatter() if json_format else logging.Formatter(TEXT_FORMAT))


def install(app: Flask) -> None:
    configure(app.config["LOG_JSON"])

    @app.before_request
    def _start():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response):
        elapsed = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        response.headers["X-Request-ID"] = g.get("request_id", "-")
        if request.path != "/healthz" and not request.path.startswith("/static/"):
            path = masked(request.path)
            if not path.isprintable():
                path = printable(path)
            logger.info("%s %s %s %.1fms", request.method, path, response.status_code, elapsed)
        return response
