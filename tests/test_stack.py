"""The production topology without Docker: gunicorn, a worker and beat as separate
processes, on the configured database and broker (PostgreSQL and Redis in CI's second
run), driven over HTTP and read back from a real SMTP server."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import timedelta

import pytest

from campaign.database import utcnow
from tests.campaigns.helpers import add_confirmed
from tests.conftest import ROOT
from tests.smtp_sink import free_port

pytestmark = pytest.mark.integration


class Http:
    def __init__(self, base: str) -> None:
        self.base = base
        self.token: str | None = None

    def request(self, method: str, path: str, body=None, form: str | None = None):
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if form is not None:
            data = form.encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def json(self, method: str, path: str, body=None):
        status, text = self.request(method, path, body)
        return status, json.loads(text) if text else None


@pytest.fixture
def stack(settings, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        **settings,
        "APP_ENV": "production",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "WEB_THREADS": "4",
        "DISPATCH_INTERVAL_SECONDS": "2",
        "SEND_RATE_PER_SECOND": "500",
    }
    commands = {
        "web": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        "worker": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "worker",
            "--concurrency",
            "2",
            "--loglevel",
            "INFO",
        ],
        "beat": [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker",
            "beat",
            "-s",
            str(tmp_path / "beat-schedule"),
            "--loglevel",
            "INFO",
        ],
    }
    processes = {}
    for name, command in commands.items():
        with (tmp_path / f"{name}.log").open("wb") as log:
            processes[name] = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
    http = Http(f"http://127.0.0.1:{port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if http.request("GET", "/healthz")[0] == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes.values()):
            logs = {n: (tmp_path / f"{n}.log").read_text()[-2000:] for n in commands}
            raise RuntimeError(f"stack did not start: {logs}")
        time.sleep(0.3)
    yield http, env
    for process in processes.values():
        process.terminate()
    for process in processes.values():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def link(text: str, path: str) -> str:
    return re.search(rf"https://clinic\.test(/{path}/[A-Za-z0-9_.\-]+)", text).group(1)


def test_the_whole_service_as_separate_processes(stack, app, ctx, smtp, email_address):
    http, env = stack
    # A visitor signs up and confirms.
    assert (
        http.json(
            "POST",
            "/api/v1/subscribe",
            {"email": email_address, "first_name": "Ann", "consent": True},
        )[0]
        == 202
    )
    (confirmation,) = smtp.wait_for(email_address)
    assert http.request("POST", link(confirmation.text, "confirm"))[0] == 200
    _, welcome = smtp.wait_for(email_address, count=2)
    code = re.search(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}", welcome.text).group(0)

    # Staff accounts come from the CLI, as an operator would make them.
    cli = [sys.executable, "-m", "flask", "--app", "campaign", "staff"]
    subprocess.run(
        [*cli, "create", "desk@staff.example.com", "--role", "admin", "--password-stdin"],
        input=b"a long enough password\n",
        env=env,
        cwd=ROOT,
        check=True,
    )
    token = (
        subprocess.run(
            [*cli, "token", "desk@staff.example.com"],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .strip()
    )
    http.token = token

    # The front desk redeems the welcome coupon, once.
    status, body = http.json("POST", f"/api/v1/coupons/{code}/redeem")
    assert status == 200
    assert body["status"] == "redeemed"
    assert http.json("POST", f"/api/v1/coupons/{code}/redeem")[0] == 409

    # A 200-recipient newsletter, started by beat at its scheduled time.
    readers = add_confirmed(199)
    status, campaign = http.json(
        "POST",
        "/api/v1/campaigns",
        {"subject": "Monthly news", "body_markdown": "Hello {{ first_name }}!"},
    )
    assert status == 201
    send_at = (utcnow() + timedelta(seconds=2)).isoformat() + "Z"
    assert (
        http.json("POST", f"/api/v1/campaigns/{campaign['id']}/schedule", {"send_at": send_at})[0]
        == 200
    )
    deadline = time.monotonic() + 120
    while True:
        status, body = http.json("GET", f"/api/v1/campaigns/{campaign['id']}")
        if body["status"] == "sent" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert body["status"] == "sent"
    assert body["counts"]["sent"] == 200

    newsletter = [m for m in smtp.messages if m.subject == "Monthly news"]
    assert Counter(m.to for m in newsletter) == Counter(
        a.lower() for a in [*readers, email_address]
    )
    for message in newsletter:
        assert message.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert "1 Harbour Street" in message.text
    ann = next(m for m in newsletter if m.to == email_address.lower())
    assert "Hello Ann!" in ann.text

    # One click from the mail client unsubscribes her.
    url = re.match(r"<https://clinic\.test([^>]+)>", ann.message["List-Unsubscribe"]).group(1)
    assert http.request("POST", url, form="List-Unsubscribe=One-Click")[0] == 200
    status, listing = http.json("GET", f"/api/v1/subscribers?q={email_address}")
    assert listing["items"][0]["status"] == "unsubscribed"
