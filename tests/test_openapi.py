"""The OpenAPI document describes every /api/v1 route, and the live app keeps to it.

The fuzz test drives the app over real HTTP with requests that schemathesis generates
from the served document, as an anonymous caller and as an admin with a bearer token:
schema-valid requests and deliberately invalid ones, plus requests aimed at seeded
coupons, subscribers and campaigns. No answer may be a 5xx, and every answer must have
a documented status, content type, headers and body. A real worker sends the mail those
requests cause, and no message may carry a header built from the input.

``FUZZ_EXAMPLES`` (default 8: about 600 requests, 15 s) is the number of generated
requests per operation, mode and caller. A long run, about 11,000 requests in 10 minutes:
``FUZZ_EXAMPLES=150 pytest tests/test_openapi.py -k schemathesis -s --timeout=0``.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from campaign.coupons import services as coupon_services
from campaign.database import utcnow
from campaign.extensions import db
from campaign.openapi import document
from campaign.staff.models import Role, Staff
from campaign.subscribers.models import Subscriber

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
JSON = "application/json"
AUTOMATIC = {"HEAD", "OPTIONS"}
# Every header a message of ours may carry; an injected one would show up beyond these.
MAIL_HEADERS = {
    "auto-submitted",
    "content-transfer-encoding",
    "content-type",
    "date",
    "from",
    "list-id",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "message-id",
    "mime-version",
    "subject",
    "to",
}


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            yield rule


def openapi_path(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([a-z_]+)>", r"{\1}", rule)


def test_every_route_is_documented_and_nothing_else(app):
    served = {
        (openapi_path(rule.rule), method.lower())
        for rule in api_rules(app)
        for method in rule.methods - AUTOMATIC
    }
    documented = {
        (path, method)
        for path, operations in document()["paths"].items()
        for method in operations
        if method != "options"
    }
    assert documented == served
    # The only documented OPTIONS is the signup's CORS preflight, on a real route.
    preflights = {path for path, ops in document()["paths"].items() if "options" in ops}
    assert preflights == {"/api/v1/subscribe"}


def test_documented_roles_are_the_roles_the_handlers_check(app):
    operations = document()["paths"]
    for rule in api_rules(app):
        required = getattr(app.view_functions[rule.endpoint], "required_role", None)
        for method in rule.methods - AUTOMATIC:
            op = operations[openapi_path(rule.rule)][method.lower()]
            if required is None:
                assert op["security"] == [], rule.rule
                assert "x-required-role" not in op
            else:
                assert op["x-required-role"] == Role(required).label, rule.rule
                assert {"401", "403"} <= set(op["responses"]), rule.rule


def test_served_document_is_valid_openapi(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    body = response.get_json()
    validate(body)
    assert body == document()


# Inputs found by the fuzz run (the huge ids) and by reading the handlers: each one
# answered 500, or was accepted although the document rules it out.

DEEP_JSON = "[" * 100_000 + "]" * 100_000
TOO_BIG_ID = "99999999999999999999"
AFTER_9999 = {"send_at": "9999-12-31T23:59-01:00"}
BEFORE_1 = {"send_at": "0001-01-01T00:00+01:00"}
NEWLINE_SOURCE = {"email": "a@example.com", "consent": True, "source": "api\n"}


@pytest.fixture
def admin(api_token) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token('admin')}"}


@pytest.fixture
def campaign_id(client, admin) -> int:
    content = {"subject": "News", "body_markdown": "Hello"}
    return client.post("/api/v1/campaigns", json=content, headers=admin).get_json()["id"]


def bad(method: str, path: str, body: object, status: int, name: str):
    return pytest.param(method, path, body, status, id=name)


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        bad("GET", "/api/v1/subscribers?page=²", None, 400, "superscript-page"),
        bad("GET", "/api/v1/campaigns/{campaign}/deliveries?page=²", None, 400, "deliveries-page"),
        bad("POST", "/api/v1/campaigns/{campaign}/schedule", AFTER_9999, 400, "after-year-9999"),
        bad("POST", "/api/v1/campaigns/{campaign}/schedule", BEFORE_1, 400, "before-year-1"),
        bad("GET", f"/api/v1/subscribers/{TOO_BIG_ID}/export", None, 404, "huge-id-export"),
        bad("DELETE", f"/api/v1/subscribers/{TOO_BIG_ID}", None, 404, "huge-id-erase"),
        bad("GET", f"/api/v1/campaigns/{TOO_BIG_ID}", None, 404, "huge-id-campaign"),
        bad("POST", f"/api/v1/campaigns/{TOO_BIG_ID}/send", None, 404, "huge-id-send"),
        bad("POST", "/api/v1/subscribe", DEEP_JSON, 400, "deep-json-signup"),
        bad("POST", "/api/v1/campaigns", DEEP_JSON, 400, "deep-json-campaign"),
        bad("POST", "/api/v1/coupons/7KQ2-M9XD-4TPA-H3CE/undo", DEEP_JSON, 400, "deep-json-undo"),
        bad("POST", "/api/v1/subscribe", NEWLINE_SOURCE, 400, "newline-after-source"),
    ],
)
def test_hostile_inputs_get_a_clear_4xx(client, admin, campaign_id, method, path, body, status):
    sent = {"data": body} if isinstance(body, str) else {"json": body}
    url = path.format(campaign=campaign_id)
    response = client.open(url, method=method, headers=admin, content_type=JSON, **sent)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == JSON


def test_a_wrong_method_answers_405_naming_the_allowed_ones(client, admin):
    response = client.put("/api/v1/campaigns", headers=admin)
    assert response.status_code == 405
    assert {"GET", "POST"} <= set(response.headers.get("Allow", "").split(", "))


# The fuzz run.


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Seeds:
    """Rows that exist, so requests reach more than the 404 branch."""

    coupons: list[str]
    subscriber_ids: list[int]
    campaign_ids: list[int]
    staff_email: str
    signup_email: str


@dataclass
class Tally:
    requests: int = 0
    statuses: Counter = field(default_factory=Counter)
    server_errors: int = 0
    violations: int = 0
    # One sample per distinct problem, (operation, title) -> report, and how often it came.
    problems: dict[tuple[str, str], str] = field(default_factory=dict)
    problem_counts: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        counts = "".join(
            f"\n  {n} x {op}: {title}" for (op, title), n in self.problem_counts.items()
        )
        return (
            f"{self.requests} requests, {self.server_errors} 5xx, {self.violations} violations, "
            f"statuses {dict(sorted(self.statuses.items()))}{counts}"
        )


def seed(live_server: str, token: str, issue_coupon, app) -> Seeds:
    auth = {"Authorization": f"Bearer {token}"}

    def post(path: str, headers: dict | None = auth, **kwargs) -> requests.Response:
        return requests.post(live_server + path, headers=headers, timeout=30, **kwargs)

    coupons = [issue_coupon() for _ in range(5)]
    redeemed, voided, expired = coupons[1], coupons[2], coupons[3]
    assert post(f"/api/v1/coupons/{redeemed}/redeem").ok
    assert post(f"/api/v1/coupons/{voided}/void", json={"reason": "seed"}).ok
    campaign_ids = []
    for subject in ("Draft", "Scheduled", "Sent"):
        content = {"subject": subject, "body_markdown": "Hello {{ first_name }}"}
        made = post("/api/v1/campaigns", json=content)
        assert made.status_code == 201, made.text
        campaign_ids.append(made.json()["id"])
    later = (utcnow() + timedelta(days=30)).isoformat()
    assert post(f"/api/v1/campaigns/{campaign_ids[1]}/schedule", json={"send_at": later}).ok
    assert post(f"/api/v1/campaigns/{campaign_ids[2]}/send").status_code == 202
    signup_email = "fuzz-signup@example.com"
    signup = {"email": signup_email, "first_name": "Ann", "consent": True}
    assert post("/api/v1/subscribe", headers=None, json=signup).status_code == 202
    with app.app_context():
        coupon = coupon_services.lookup(expired).coupon
        coupon.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
        subscriber_ids = list(db.session.scalars(select(Subscriber.id)))
        staff_email = db.session.scalars(select(Staff.email)).first()
        db.session.remove()
    return Seeds(coupons, subscriber_ids, campaign_ids, staff_email, signup_email)


def seeded_strategies(operation, seeds: Seeds) -> list:
    """Positive cases aimed at rows that exist, with a valid body where one is easy."""
    path = operation.path
    if "{code}" in path:
        params = [{"code": code} for code in seeds.coupons]
    elif "{campaign_id}" in path:
        params = [{"campaign_id": cid} for cid in seeds.campaign_ids]
    elif "{subscriber_id}" in path:
        params = [{"subscriber_id": sid} for sid in seeds.subscriber_ids]
    else:
        params = []
    later = (utcnow() + timedelta(days=2)).isoformat()
    extras = {
        "POST /api/v1/campaigns/{campaign_id}/test": {"body": {"emails": [seeds.staff_email]}},
        "POST /api/v1/campaigns/{campaign_id}/schedule": {"body": {"send_at": later}},
        "POST /api/v1/coupons/{code}/void": {"body": {"reason": "fuzz"}},
        "GET /api/v1/subscribers": {"query": {"format": "csv"}},
        "GET /api/v1/campaigns/{campaign_id}/deliveries": {"query": {"format": "csv"}},
    }
    extra = extras.get(operation.label, {})
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE, path_parameters=p, **extra) for p in params
    ]
    if extra and not params:
        strategies.append(operation.as_strategy(GenerationMode.POSITIVE, **extra))
    return strategies


def short_traceback(record: logging.LogRecord) -> str:
    """The app's own frames and the exception: enough to find the line at fault."""
    lines = (record.exc_text or "").splitlines()
    ours = [
        f"{line.strip()} | {following.strip()}"
        for line, following in zip(lines, lines[1:], strict=False)
        if "/campaign/" in line and "site-packages" not in line
    ]
    return "\n".join([record.getMessage(), *ours, *lines[-1:]])


def fuzz_operation(operation, live_server, headers, mode, seeds, tally, caplog) -> None:
    strategies = [operation.as_strategy(mode)]
    if mode is GenerationMode.POSITIVE and headers:
        strategies += seeded_strategies(operation, seeds)
    checks = CHECKS + ([ignored_auth] if headers else [])

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=False,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=st.one_of(strategies))
    def run(case):
        caplog.clear()
        response = case.call(base_url=live_server, headers=headers)
        tally.requests += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 500:
            tally.server_errors += 1
        try:
            case.validate_response(
                response,
                checks=checks,
                headers=headers,
                transport_kwargs={"base_url": live_server, "headers": headers},
            )
        except FailureGroup as group:
            failures = [f for f in group.exceptions if not rejected_as_too_large(f, response)]
            if not failures:
                return
            tally.violations += 1
            curl = case.as_curl_command(headers=headers)
            logged = "\n".join(
                short_traceback(r) for r in caplog.records if r.levelno >= logging.ERROR
            )
            for failure in failures:
                key = (operation.label, failure.title)
                tally.problem_counts[key] += 1
                tally.problems.setdefault(
                    key,
                    f"{operation.label}: {failure.title}\n{failure.message}\n"
                    f"status {response.status_code} {response.text[:300]!r}\n{curl}\n{logged}",
                )

    run()


def rejected_as_too_large(failure, response) -> bool:
    """A 413 for an oversized invalid body is a rejection, though not one of the
    statuses schemathesis's negative-data check lists (it generated a 1.2 MB body)."""
    return response.status_code == 413 and failure.title == "Schema-violating request accepted"


def modes(operation) -> list[GenerationMode]:
    """Negative data needs something to break: a parameter or a body."""
    definition = operation.definition.raw
    if definition.get("parameters") or definition.get("requestBody"):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def mail_header_problems(message) -> list[str]:
    names = [name.lower() for name in message.message]
    problems = [f"unexpected header {name}" for name in sorted(set(names) - MAIL_HEADERS)]
    if names.count("to") != 1 or len(message.rcpt_tos) != 1:
        problems.append(f"recipients: {message.rcpt_tos}")
    return problems


def mail_settles(smtp, quiet: float = 3.0, limit: float = 45.0) -> None:
    """Wait until no new message has arrived for ``quiet`` seconds (or ``limit`` passes)."""
    deadline = time.monotonic() + limit
    seen, since = len(smtp.messages), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if len(smtp.messages) != seen:
            seen, since = len(smtp.messages), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return


@pytest.mark.integration
def test_schemathesis_finds_no_undocumented_answer(
    app, live_server, worker, smtp, api_token, issue_coupon, monkeypatch, caplog
):
    # Random codes would lock the admin after ten (423, documented) and hide the rest.
    monkeypatch.setitem(app.config, "INVALID_CODE_BURST", "1000000 per minute")
    token = api_token("admin")
    seeds = seed(live_server, token, issue_coupon, app)
    schema = schemathesis.openapi.from_url(f"{live_server}/api/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in document()["paths"].values())

    tally = Tally()
    started = time.monotonic()
    for headers in (None, {"Authorization": f"Bearer {token}"}):
        for operation in operations:
            for mode in modes(operation):
                fuzz_operation(operation, live_server, headers, mode, seeds, tally, caplog)
    elapsed = time.monotonic() - started
    print(f"\nfuzz: {tally.summary()} in {elapsed:.0f}s")

    smtp.wait_for(seeds.signup_email)
    mail_settles(smtp)
    unsafe_mail = {}
    for message in smtp.messages:
        if problems := mail_header_problems(message):
            unsafe_mail[message.to] = (problems, message.raw[:1000])
    print(f"mail: {len(smtp.messages)} messages, {len(unsafe_mail)} with unexpected headers")

    assert tally.requests >= len(operations) * FUZZ_EXAMPLES
    problems = "\n\n".join(tally.problems.values())
    assert not tally.problems, f"{tally.summary()}\n\n{problems}"
    assert tally.server_errors == 0
    assert not unsafe_mail, unsafe_mail
