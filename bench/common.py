"""What the benchmarks share: the SMTP sink, databases, processes and figures.

Every load stays on loopback and is bounded in count and time. Services the benches
need (Postfix's ``smtp-sink``, ``wrk``, PostgreSQL, Redis) must already be installed;
nothing here installs anything.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SMTP_SINK = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"

# PostgreSQL and Redis of the machine, in bench-only databases (tests use others).
POSTGRES_URL = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://campaign:campaign@127.0.0.1:5432/campaign_bench"
)
REDIS_BROKER_URL = os.environ.get("BENCH_REDIS_BROKER_URL", "redis://127.0.0.1:6379/9")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/10")

SECRET_KEY = "bench-" + secrets.token_urlsafe(40)
SENDER = "Harbour Massage Clinic <news@clinic.example>"


def median(values: list[float]) -> float:
    return statistics.median(values)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@contextlib.contextmanager
def smtp_sink() -> Iterator[int]:
    """Postfix's smtp-sink on loopback: accepts and discards every message."""
    if not Path(SMTP_SINK).exists():
        raise SystemExit("smtp-sink not found: apt-get install postfix (it need not run)")
    port = free_port()
    command = [SMTP_SINK]
    if os.geteuid() == 0:
        command += ["-u", "nobody"]  # smtp-sink refuses to run as root
    command += [f"127.0.0.1:{port}", "1000"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield port
    finally:
        stop(process)


def children(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            stat = (entry / "stat").read_text()
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_available(url: str = POSTGRES_URL) -> bool:
    """True when PostgreSQL answers; creates the bench database if it is missing."""
    import psycopg

    plain = url.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(plain, connect_timeout=3).close()
        return True
    except psycopg.OperationalError as exc:
        if "does not exist" not in str(exc):
            return False
    base, _, name = plain.rpartition("/")
    try:
        with psycopg.connect(base + "/postgres", connect_timeout=3, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return True
    except psycopg.Error:
        return False


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def settings(var_dir: Path, database: str, **extra: str) -> dict[str, str]:
    """Environment for the app's processes (production settings, bench services).

    ``database`` is ``sqlite`` (the embedded default: SQLite database and broker) or
    ``postgresql`` (PostgreSQL, with Redis as broker and rate-limit store).
    """
    env = {
        "APP_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "VAR_DIR": str(var_dir),
        "BASE_URL": "https://clinic.example",
        "MAIL_DEFAULT_SENDER": SENDER,
        "LOG_JSON": "false",
    }
    if database == "postgresql":
        env.update(DATABASE_URL=POSTGRES_URL, CELERY_BROKER_URL=REDIS_BROKER_URL)
        env.update(REDIS_URL=REDIS_URL)
    else:
        env.update(
            DATABASE_URL=f"sqlite:///{var_dir}/campaign.sqlite",
            CELERY_BROKER_URL=f"sqla+sqlite:///{var_dir}/broker.sqlite",
            REDIS_URL="",
        )
    env.update(extra)
    return env


def make_app(env: dict[str, str]):
    """The Flask app in this process, configured like the processes started with ``env``."""
    from campaign import create_app

    extra = {}
    if "MAIL_PORT" in env:
        extra.update(MAIL_SERVER=env["MAIL_SERVER"], MAIL_PORT=int(env["MAIL_PORT"]))
    if "SEND_RATE_PER_SECOND" in env:
        extra["SEND_RATE_PER_SECOND"] = float(env["SEND_RATE_PER_SECOND"])
    return create_app(
        {
            **extra,
            "ENV_NAME": "production",
            "SECRET_KEY": env["SECRET_KEY"],
            "BASE_URL": env["BASE_URL"],
            "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
            "CELERY_BROKER_URL": env["CELERY_BROKER_URL"],
            "REDIS_URL": env["REDIS_URL"] or None,
            "MAIL_DEFAULT_SENDER": env["MAIL_DEFAULT_SENDER"],
            "CAMPAIGN_PARALLEL": int(env.get("CAMPAIGN_PARALLEL", 2)),
            "SIGNUP_RATE_LIMIT": env.get("SIGNUP_RATE_LIMIT", "20 per minute"),
            "DESK_RATE_LIMIT": env.get("DESK_RATE_LIMIT", "120 per minute"),
        }
    )


def reset_database(app) -> None:
    """An empty schema built by the migrations, as production has."""
    from flask_migrate import upgrade
    from sqlalchemy import text

    from campaign.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()
        db.session.remove()
        db.engine.dispose()


def flush_redis() -> None:
    import redis

    for url in (REDIS_BROKER_URL, REDIS_URL):
        redis.Redis.from_url(url).flushdb()


def machine() -> str:
    """One line describing this machine, for RESULTS.md."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GB RAM, Python "
        f"{sys.version.split()[0]}, {os.uname().sysname} {os.uname().release}"
    )
