"""``/dev/mail``: read what the local mail catcher caught. Never on in production."""

from __future__ import annotations

import email
import email.policy
import re
from pathlib import Path

from flask import Blueprint, abort, current_app, render_template, url_for

bp = Blueprint("devmail", __name__, url_prefix="/dev/mail", template_folder="templates")

NAME_PATTERN = re.compile(r"^[0-9]+-[0-9a-f]{8}\.eml$")
CID_SOURCE = re.compile(r'src="cid:([^"]+)"')


def _folder() -> Path:
    return Path(current_app.config["DEV_MAIL_DIR"])


def _read(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


@bp.get("/")
def inbox():
    folder = _folder()
    files = sorted(folder.glob("*.eml"), reverse=True)[:200] if folder.exists() else []
    messages = [(path.name, _read(path)) for path in files]
    return render_template("devmail/inbox.html", messages=messages)


def _caught(name: str) -> email.message.EmailMessage:
    """The caught message called ``name``; 404 for anything else (no path tricks)."""
    path = _folder() / name
    if not NAME_PATTERN.match(name) or not path.exists():
        abort(404)
    return _read(path)


@bp.get("/<name>")
def message(name: str):
    parsed = _caught(name)
    text = parsed.get_body(("plain",))
    return render_template(
        "devmail/message.html",
        name=name,
        message=parsed,
        text=text.get_content() if text else "",
    )


@bp.get("/<name>/html")
def message_html(name: str):
    html = _caught(name).get_body(("html",))
    if html is None:
        abort(404)
    # Links open in the whole window, so a person can click through as from a mail client.
    body = html.get_content().replace("<head>", '<head><base target="_top">', 1)
    # Inline images (the coupon's QR) are parts of the message: served from it.
    body = CID_SOURCE.sub(
        lambda found: 'src="{}"'.format(
            url_for("devmail.inline_image", name=name, content_id=found.group(1))
        ),
        body,
    )
    response = current_app.response_class(body, mimetype="text/html")
    # The mail's HTML is shown as is, but may not run scripts or reach our cookies.
    response.headers["Content-Security-Policy"] = (
        "sandbox allow-popups allow-top-navigation-by-user-activation; script-src 'none'; "
        "frame-ancestors 'self'"
    )
    # Shown in the message page's frame: the site-wide DENY would leave it blank.
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response


@bp.get("/<name>/cid/<path:content_id>")
def inline_image(name: str, content_id: str):
    for part in _caught(name).walk():
        if part.get_content_maintype() == "image" and (
            str(part.get("Content-ID", "")).strip().strip("<>") == content_id
        ):
            return current_app.response_class(part.get_content(), mimetype=part.get_content_type())
    abort(404)
