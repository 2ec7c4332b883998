"""Security headers on every response, trusting the reverse proxy's headers, and
refusing text no page or API can take, in a body or in a path."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Request, Response, abort, current_app, make_response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

# No inline or third-party scripts anywhere. Inline styles stay allowed: emails
# (shown in the live preview) are styled inline by necessity.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "media-src 'self' blob:",
        "frame-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Confirm, unsubscribe and coupon links carry their token in the path; never
    # hand those to another site in a Referer header.
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"
FORM_MIMETYPES = {"application/x-www-form-urlencoded", "multipart/form-data"}


def _headers(response):
    """Add each security header a view has not set itself (one pass over the headers:
    seven ``setdefault`` calls each scanned them all, on every response)."""
    wanted = dict(SECURITY_HEADERS)
    if request.is_secure:
        wanted["Strict-Transport-Security"] = HSTS
    if request.path.startswith(("/staff", "/desk", "/api/")):
        wanted["Cache-Control"] = "no-store"
    present = {name.lower() for name, _ in response.headers}
    response.headers.extend(
        (name, value) for name, value in wanted.items() if name.lower() not in present
    )
    return response


def _refuse_nul_characters() -> None:
    """A NUL in a query or form value is never typed by a person, and PostgreSQL
    cannot store or even compare it (the driver raises): answer 400 up front rather
    than let a search or a filter fail deep inside."""
    # Only a form body has form values: reading ``request.form`` of a JSON body would
    # still run the form parser's machinery for nothing.
    sources = [request.args]
    if request.mimetype in FORM_MIMETYPES:
        sources.append(request.form)
    for values in sources:
        # A multipart part's name that is not UTF-8 reads as None: nothing to look in.
        pairs = values.items(multi=True)
        if any("\x00" in (key or "") or "\x00" in value for key, value in pairs):
            abort(400, description="The request contains a NUL character.")


def shows_newsletter_images(view: Callable) -> Callable:
    """For the editor, whose live preview shows the newsletter's pictures: those come
    from our own public address (``BASE_URL``, which need not be the address staff
    use) and from other sites, so the page may load images over https too. Images
    run no script; every other rule stays."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        response = make_response(view(*args, **kwargs))
        public = urlsplit(current_app.config["BASE_URL"])
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY.replace(
            "img-src 'self' data:", f"img-src 'self' data: https: {public.scheme}://{public.netloc}"
        )
        return response

    return wrapper


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, minus building the signer for requests that
    carry no session cookie: every API call and every first visit."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)

    def save_session(self, app: Flask, session, response: Response) -> None:
        # A public answer (an image) is the same for everyone: it neither sets a
        # session cookie nor says ``Vary: Cookie``, which would keep caches from it.
        if response.cache_control.public:
            return
        super().save_session(app, session, response)


class AsciiIntegerConverter(IntegerConverter):
    """``<int:...>`` of ASCII digits only. Werkzeug's ``\\d+`` also matches "１" or "٢",
    which ``int()`` reads as 1 or 2: a rule at a proxy or in a log search written for
    ``/api/v1/subscribers/1`` would miss a request that erases subscriber 1."""

    regex = r"[0-9]+"


def install(app: Flask) -> None:
    # Before any blueprint registers a rule: each rule takes its converter when added.
    app.url_map.converters["int"] = AsciiIntegerConverter
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_prefix=proxies
        )
    app.session_interface = CookieSessions()
    app.before_request(_refuse_nul_characters)
    app.after_request(_headers)
