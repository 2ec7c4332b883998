"""gunicorn as documented for production refuses a port that is already taken.

Each worker binds its own socket (``reuse_port``), which a second gunicorn of the same
user could share: old and new code would answer by turns."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from tests.conftest import ROOT
from tests.smtp_sink import free_port

pytestmark = pytest.mark.integration


def gunicorn(settings: dict, port: int, **extra: str) -> subprocess.Popen:
    env = {
        **os.environ,
        **settings,
        "APP_ENV": "production",
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        **extra,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def refused(process: subprocess.Popen) -> str:
    """What a gunicorn that must not start printed, once it has stopped."""
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
        pytest.fail(f"gunicorn started on a taken port:\n{output[-2000:]}")
    assert process.returncode == 1, output[-2000:]
    return output


def wait_until_serving(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                return
        except urllib.error.HTTPError:
            return  # it answers: that is all this needs
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                output = process.communicate()[0] if process.poll() is not None else ""
                raise RuntimeError(f"gunicorn did not start: {output[-2000:]}") from None
            time.sleep(0.2)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def test_a_second_gunicorn_on_the_same_port_stops_saying_why(app, settings):
    port = free_port()
    first = gunicorn(settings, port)
    try:
        wait_until_serving(port, first)
        output = refused(gunicorn(settings, port))
        assert f"Error: 127.0.0.1:{port} is already in use" in output
        assert "Booting worker" not in output  # refused before any worker shared it
        wait_until_serving(port, first)  # the first one serves on, alone
    finally:
        stop(first)


def test_a_port_held_by_another_program_stops_gunicorn_instead_of_respawning(settings):
    port = free_port()
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen()
        output = refused(gunicorn(settings, port))
    assert f"Error: 127.0.0.1:{port} is already in use" in output


def test_the_port_of_a_gunicorn_just_stopped_is_free_at_once(app, settings):
    """Its closing connections (TIME_WAIT) do not count as a listener."""
    port = free_port()
    first = gunicorn(settings, port)
    wait_until_serving(port, first)
    stop(first)
    second = gunicorn(settings, port)
    try:
        wait_until_serving(port, second)
    finally:
        stop(second)


@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("SECRET_KEY", "change-me", "SECRET_KEY is unset"),
        ("SIGNUP_RATE_LIMIT", "lots", "SIGNUP_RATE_LIMIT must be limits"),
        ("SEND_BATCH_SIZE", "many", "SEND_BATCH_SIZE must be a whole number"),
    ],
)
def test_a_setting_that_cannot_work_stops_gunicorn_once(settings, setting, value, said):
    """Found by an outside audit: the workers failed on it one after another, and the
    master respawned them without end (22 in 15 s), looking "up" to its supervisor."""
    output = refused(gunicorn(settings, free_port(), **{setting: value}))
    assert said in output
    assert output.count(said) == 1, output[-2000:]
    assert "Booting worker" not in output
