"""Fixtures: the app on a real database, a real SMTP sink, a real Celery worker.

By default everything is embedded (SQLite files, kombu's SQLAlchemy transport on
SQLite). With ``DATABASE_URL``, ``CELERY_BROKER_URL`` and ``REDIS_URL`` set (as
``.ci/run`` does for its second run) the same tests run on PostgreSQL and Redis.
Nothing here skips: a service that is configured but down fails the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, make_url, select, text

from campaign import create_app
from campaign.coupons.models import OwedWelcome
from campaign.extensions import db, rate_limits
from campaign.subscribers.models import Subscriber
from tests.smtp_sink import SmtpSink

ROOT = Path(__file__).resolve().parent.parent


def beat_schedule(config) -> dict:
    """``worker.schedule.beat_schedule``, read without importing the ``worker`` package:
    its ``__init__`` builds an app of its own from the environment, which becomes
    Celery's current app, and every task published afterwards in this process went to
    that app's broker, not the tests' (so no worker saw it)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("beat_schedule", ROOT / "worker" / "schedule.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.beat_schedule(config)


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def settings(tmp_path_factory, smtp) -> dict[str, str]:
    """The test configuration, as the environment variables a process would read."""
    var = tmp_path_factory.mktemp("var")
    return {
        "APP_ENV": "testing",
        "VAR_DIR": str(var),
        "SECRET_KEY": "test-secret-" + "x" * 32,
        "BASE_URL": "https://clinic.test",
        "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{var}/campaign.sqlite",
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL")
        or f"sqla+sqlite:///{var}/broker.sqlite",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "MAIL_DEFAULT_SENDER": "Harbour Massage Clinic <news@clinic.test>",
        "CLINIC_NAME": "Harbour Massage Clinic",
        "CLINIC_POSTAL_ADDRESS": "1 Harbour Street, Portsmouth PO1 1AA",
        "CLINIC_TIMEZONE": "Europe/London",
        # Fast enough for thousands of messages in a test, still throttled.
        "SEND_RATE_PER_SECOND": "2000",
        "SEND_BATCH_SIZE": "20",
        "SEND_RETRY_BASE_SECONDS": "1",
        "SEND_LEASE_SECONDS": "5",
        "CAMPAIGN_SLICE_SECONDS": "5",
    }


def app_overrides(settings: dict[str, str], **extra) -> dict:
    overrides = {
        "ENV_NAME": "testing",
        "SECRET_KEY": settings["SECRET_KEY"],
        "BASE_URL": settings["BASE_URL"],
        "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"],
        "CELERY_BROKER_URL": settings["CELERY_BROKER_URL"],
        "REDIS_URL": settings["REDIS_URL"] or None,
        "MAIL_SERVER": settings["MAIL_SERVER"],
        "MAIL_PORT": int(settings["MAIL_PORT"]),
        "MAIL_DEFAULT_SENDER": settings["MAIL_DEFAULT_SENDER"],
        "CLINIC_NAME": settings["CLINIC_NAME"],
        "CLINIC_POSTAL_ADDRESS": settings["CLINIC_POSTAL_ADDRESS"],
        "DEV_MAIL_DIR": str(Path(settings["VAR_DIR"]) / "mail"),
        "SEND_RATE_PER_SECOND": float(settings["SEND_RATE_PER_SECOND"]),
        "SEND_BATCH_SIZE": int(settings["SEND_BATCH_SIZE"]),
        "SEND_RETRY_BASE_SECONDS": int(settings["SEND_RETRY_BASE_SECONDS"]),
        "SEND_LEASE_SECONDS": int(settings["SEND_LEASE_SECONDS"]),
        "CAMPAIGN_SLICE_SECONDS": int(settings["CAMPAIGN_SLICE_SECONDS"]),
    }
    overrides.update(extra)
    return overrides


def reset_database(app) -> None:
    """Give the session an empty schema built by the migrations, as production has."""
    from flask_migrate import upgrade

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        upgrade()


@pytest.fixture(scope="session")
def app(settings):
    app = create_app(app_overrides(settings))
    reset_database(app)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_state(request, smtp) -> Iterator[None]:
    """Each test starts with empty tables, no caught mail and fresh rate limits."""
    yield
    smtp.clear()
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(table.delete())
        rate_limits.reset()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def email_address() -> str:
    """A unique address per test, so mail from another test can never be mistaken."""
    return f"guest-{uuid.uuid4().hex[:10]}@example.com"


class WorkerProcess:
    """A real ``celery -A worker worker`` process on the test broker, database and SMTP."""

    def __init__(
        self, settings: dict[str, str], log_path: Path, concurrency: int = 4, **env: str
    ) -> None:
        self.log_path = log_path
        command = [
            sys.executable, "-m", "celery", "-A", "worker", "worker",
            "--pool", "threads", "--concurrency", str(concurrency), "--loglevel", "INFO",
            "--hostname", f"test-{uuid.uuid4().hex[:6]}@%h",
        ]  # fmt: skip
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env={**os.environ, **settings, **env}, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while b" ready." not in log_path.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                raise RuntimeError("worker did not start:\n" + log_path.read_text()[-4000:])
            time.sleep(0.2)

    def kill(self) -> None:
        """kill -9: the worker gets no chance to finish or acknowledge anything."""
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)


@pytest.fixture(scope="module")
def start_worker(app, settings, tmp_path_factory):
    """Start worker processes for one test module; all are stopped at its end."""
    app.extensions["celery"].control.purge()
    started: list[WorkerProcess] = []

    def start(concurrency: int = 4, **env: str) -> WorkerProcess:
        log_path = tmp_path_factory.mktemp("worker") / "worker.log"
        started.append(WorkerProcess(settings, log_path, concurrency, **env))
        return started[-1]

    yield start
    for process in started:
        process.stop()


@pytest.fixture(scope="module")
def worker(start_worker) -> WorkerProcess:
    """One real worker for the tests of a module."""
    return start_worker()


@pytest.fixture
def make_app(settings):
    """Build an extra app with some settings changed; its connections close afterwards."""
    made = []

    def make(**overrides):
        extra = create_app(app_overrides(settings, **overrides))
        made.append(extra)
        return extra

    yield make
    for extra in made:
        with extra.app_context():
            db.session.remove()
            for engine in db.engines.values():
                engine.dispose()


@pytest.fixture
def scratch_database_url(settings, tmp_path) -> Iterator[str]:
    """An empty database of the configured kind, for a migration to run on from the
    start: a SQLite file, or on PostgreSQL a schema of its own, dropped afterwards."""
    configured = make_url(settings["DATABASE_URL"])
    if configured.get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path}/scratch.db"
        return
    schema = f"scratch_{uuid.uuid4().hex[:12]}"
    engine = create_engine(configured)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        url = configured.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    """The test app served over real HTTP on loopback, by a threaded WSGI server."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def make_staff(app):
    """Create a staff account (committed) and return (staff id, email, password)."""
    from campaign.staff import services as staff_services
    from campaign.staff.models import Role

    def make(role: str = "receptionist", name: str | None = None) -> tuple[int, str, str]:
        email = f"{role}-{uuid.uuid4().hex[:8]}@staff.example.com"
        password = "correct horse battery"
        with app.app_context():
            staff = staff_services.create_staff(email, Role.named(role), password, name=name)
            db.session.commit()
            staff_id = staff.id
            db.session.remove()
        return staff_id, email, password

    return make


@pytest.fixture
def api_token(app, make_staff):
    """A bearer token for a new account of the given role."""
    from campaign.staff import services as staff_services
    from campaign.staff.models import Staff

    def make(role: str = "receptionist", name: str | None = None) -> str:
        staff_id, _, _ = make_staff(role, name)
        with app.app_context():
            token = staff_services.create_api_token(db.session.get(Staff, staff_id))
            db.session.commit()
            db.session.remove()
        return token

    return make


@pytest.fixture
def issue_coupon(app):
    """Issue a welcome coupon to a new confirmed subscriber; return its display code."""
    from campaign.coupons import services as coupon_services
    from campaign.subscribers import services as subscriber_services
    from campaign.subscribers.services import Signup

    def issue(email: str | None = None, first_name: str | None = "Ann") -> str:
        email = email or f"guest-{uuid.uuid4().hex[:10]}@example.com"
        with app.app_context():
            subscriber_services.subscribe(
                Signup.parse(email=email, first_name=first_name, consent=True)
            )
            db.session.flush()
            subscriber = db.session.scalar(select(Subscriber).filter_by(email=email))
            subscriber_services.confirm(subscriber.id, subscriber.optin_round, ip=None)
            # Confirming owes the welcome and wakes its drain after commit; drop both
            # (and the confirmation wake-up), we issue here.
            db.session.info.pop("campaign.after_commit", None)
            db.session.info.pop("campaign.wake_after_commit", None)
            db.session.execute(delete(OwedWelcome).filter_by(subscriber_id=subscriber.id))
            coupon = coupon_services.issue_welcome_coupon(subscriber.id)
            code = coupon_services.code_of(coupon).display
            db.session.commit()
            db.session.remove()
        return code

    return issue


@pytest.fixture
def marketing_client(app, make_staff):
    """A test client logged in as marketing staff (the staff pages)."""
    from tests.staff.helpers import log_in

    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    return client
