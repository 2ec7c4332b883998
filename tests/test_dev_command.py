"""`make run`'s command, `flask dev`, as the README's visitor walkthrough uses it: four
real processes on the embedded default (SQLite, SQLite broker, the mail catcher)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.integration
def test_flask_dev_on_another_port_mails_links_to_that_port(tmp_path):
    web_port, mail_port = free_port(), free_port()
    # The embedded default whatever the suite runs on: no server, files under tmp_path.
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "BASE_URL", "APP_ENV"}
    }
    # FLASK_SKIP_DOTENV as the Makefile sets it: a Compose .env in the checkout stays out.
    environment.update(VAR_DIR=str(tmp_path), MAIL_PORT=str(mail_port), FLASK_SKIP_DOTENV="1")
    run = {"cwd": ROOT, "env": environment}
    subprocess.run([FLASK, "--app", "campaign", "db", "upgrade"], check=True, **run)
    dev = subprocess.Popen(  # noqa: S603
        [FLASK, "--app", "campaign", "dev", "--port", str(web_port)],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **run,
    )
    site = f"http://localhost:{web_port}"
    try:
        _wait_until(lambda: urllib.request.urlopen(f"{site}/healthz", timeout=2).status == 200)
        signup = urllib.request.Request(
            f"{site}/api/v1/subscribe",
            data=json.dumps({"email": "ann@example.com", "consent": True}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert urllib.request.urlopen(signup, timeout=10).status == 202

        mailbox = tmp_path / "mail"
        _wait_until(lambda: any(mailbox.glob("*.eml")), timeout=90)
        (message,) = mailbox.glob("*.eml")
        raw = message.read_bytes().decode("ascii")
        assert f"{site}/confirm/" in raw.replace("=\r\n", "")
        link = raw.replace("=\r\n", "").split(f"{site}/confirm/")[1].split('"')[0].split()[0]
        page = urllib.request.urlopen(f"{site}/confirm/{link}", timeout=10)
        assert page.status == 200
        assert "Confirm" in page.read().decode()
    finally:
        dev.send_signal(signal.SIGTERM)
        try:
            dev.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(dev.pid, signal.SIGKILL)
            dev.wait()
        else:
            # Whatever a child left behind goes with its process group.
            with_leftovers = subprocess.run(["pgrep", "-g", str(dev.pid)], capture_output=True)
            if with_leftovers.stdout:
                os.killpg(dev.pid, signal.SIGKILL)


def _wait_until(predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.3)
