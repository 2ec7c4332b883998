"""What an operator meets: placeholders, typos, the compose file, the proxy, the logs."""

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import config
from tests.smtp_sink import free_port
from tests.staff.helpers import csrf_from

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = re.search(r"^SECRET_KEY=(.+)$", (ROOT / ".env.example").read_text(), re.M).group(1)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def doctor(app) -> str:
    return app.test_cli_runner().invoke(args=["doctor"]).output


# 1. The placeholder secret


@pytest.mark.parametrize("secret", [PLACEHOLDER, "CHANGE-ME-" + "x" * 40, "x" * 30 + "change-me"])
def test_production_refuses_a_placeholder_secret(make_app, secret):
    assert len(secret) >= 32  # long enough: only the placeholder check can refuse it
    with pytest.raises(RuntimeError, match="SECRET_KEY is unset, a placeholder"):
        make_app(ENV_NAME="production", SECRET_KEY=secret)


def test_doctor_names_a_placeholder_secret(app, make_app):
    assert "FIX   SECRET_KEY" in doctor(make_app(SECRET_KEY=PLACEHOLDER))
    assert "ok    SECRET_KEY" in doctor(make_app(SECRET_KEY="k" * 48))


# 2. and 8. The compose file


def test_compose_publishes_ports_on_loopback_only_and_pins_mailpit():
    services = compose()["services"]
    published = [(n, p) for n, s in services.items() for p in s.get("ports", [])]
    assert {name for name, _ in published} >= {"web", "mailpit"}
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), (name, port)
    image = services["mailpit"]["image"]
    assert re.fullmatch(r"axllent/mailpit:v\d+\.\d+\.\d+", image), image


def test_the_worker_may_finish_a_send_slice_before_it_is_killed():
    grace = compose()["services"]["worker"]["stop_grace_period"]
    seconds = int(re.fullmatch(r"(\d+)s", grace).group(1))
    assert seconds >= config.Config.CAMPAIGN_SLICE_SECONDS + config.Config.MAIL_TIMEOUT


# 3. The postal address from the environment


def test_doctor_accepts_a_postal_address_set_in_the_environment(app, make_app, monkeypatch):
    own = "7 Quay Lane, Bristol BS1 4QA"
    # In a real process Config reads CLINIC_POSTAL_ADDRESS at import: it is this value.
    monkeypatch.setattr(config.Config, "CLINIC_POSTAL_ADDRESS", own)
    production = {"ENV_NAME": "production", "SECRET_KEY": "p" * 48}
    assert "ok    the postal address" in doctor(make_app(CLINIC_POSTAL_ADDRESS=own, **production))
    sample = make_app(CLINIC_POSTAL_ADDRESS=config.SAMPLE_POSTAL_ADDRESS, **production)
    assert "FIX   the postal address" in doctor(sample)


# 4. Tokens in request log lines


@pytest.mark.parametrize(
    "path",
    [
        "/confirm/{t}",
        "/confirm/{t}/resend",
        "/unsubscribe/{t}",
        "/resubscribe/{t}",
        "/coupon/{t}",
        "/staff/password/{t}",
        "/newsletters/12/{t}",
        "/api/v1/coupons/{t}",  # a coupon code the desk looks up: worth an oil
        "/api/v1/coupons/{t}/redeem",
    ],
)
def test_request_log_lines_keep_no_link_token(client, caplog, path):
    token = "InR5cGUiOiJjb25maXJtIiwiaWQiOjQyfQ.aBcDeF.secretsignature"
    caplog.set_level("INFO", logger="campaign.requests")
    client.get(path.format(t=token))  # a 405 of a POST-only route is logged the same
    (line,) = [r.getMessage() for r in caplog.records if r.name == "campaign.requests"]
    assert token[6:] not in line
    assert path.format(t="InR5cG\u2026") in line
    assert re.search(r" \d{3} [\d.]+ms$", line)


def test_the_development_servers_own_line_keeps_no_link_token(app, caplog):
    # ``flask dev`` runs Werkzeug's server, whose access line names the path too; it
    # logs '"%s" %s %s' with the request line first, as here.
    import logging

    token = "InR5cGUiOiJjb25maXJtIiwiaWQiOjQyfQ.aBcDeF.secretsignature"
    caplog.set_level("INFO", logger="werkzeug")
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.info('"%s" %s %s', f"POST /unsubscribe/{token} HTTP/1.1", "200", "-")
    werkzeug.info('"%s" %s %s', "GET /staff/ HTTP/1.1", "302", "-")
    werkzeug.info(" * Running on %s", "http://127.0.0.1:5000")
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert lines == [
        '"POST /unsubscribe/InR5cG\u2026 HTTP/1.1" 200 -',
        '"GET /staff/ HTTP/1.1" 302 -',
        " * Running on http://127.0.0.1:5000",
    ]


def test_other_paths_are_logged_as_they_are(client, caplog):
    caplog.set_level("INFO", logger="campaign.requests")
    client.get("/staff/confirm/abcdefghijkl")
    assert any("/staff/confirm/abcdefghijkl " in r.getMessage() for r in caplog.records)


# 5. .env files


def run_flask(cwd: Path, settings: dict, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "FLASK_SKIP_DOTENV"}
    return subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "campaign", "routes"],
        cwd=cwd,
        env={**environment, **settings, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_flask_command_that_read_a_dotenv_file_stops(settings, tmp_path):
    """celery and gunicorn never read .env: flask must not quietly use other settings."""
    (tmp_path / ".env").write_text("DATABASE_URL=sqlite:////nowhere/other.sqlite\n")
    refused = run_flask(tmp_path, settings)
    assert refused.returncode != 0
    assert f"the flask command read {tmp_path / '.env'}" in refused.stderr
    assert "FLASK_SKIP_DOTENV=1" in refused.stderr
    assert run_flask(tmp_path, settings, FLASK_SKIP_DOTENV="1").returncode == 0


def test_flask_skip_dotenv_inside_the_file_does_not_count(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("FLASK_SKIP_DOTENV=1\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setenv("FLASK_SKIP_DOTENV", "1")  # as flask leaves it, from the file
    with pytest.raises(RuntimeError, match="the flask command read"):
        config.refuse_a_dotenv_only_flask_reads()
    (tmp_path / ".env").unlink()
    config.refuse_a_dotenv_only_flask_reads()  # no file: nothing to refuse


# 6. CSRF failures behind a proxy


def test_a_csrf_failure_logs_its_reason_and_forwarded_host_fixes_it(make_app, make_staff, caplog):
    app = make_app(ENV_NAME="production", SECRET_KEY="p" * 48, TRUSTED_PROXIES=1)
    _, email, password = make_staff("admin")
    client = app.test_client()
    # As nginx's default sends it: Host is the upstream's address, not the public name.
    upstream = {"base_url": "https://127.0.0.1:8000"}
    public = "https://news.example-clinic.com"
    token = csrf_from(client.get("/staff/login", **upstream).get_data(as_text=True))
    form = {"email": email, "password": password, "csrf_token": token}
    caplog.set_level("WARNING", logger="campaign.errors")
    response = client.post(
        "/staff/login", data=form, headers={"Referer": f"{public}/staff/login"}, **upstream
    )
    assert response.status_code == 400
    (line,) = [r.getMessage() for r in caplog.records if r.name == "campaign.errors"]
    assert line == (
        "CSRF check failed on POST /staff/login (host 127.0.0.1:8000): "
        "The referrer does not match the host."
    )
    forwarded = client.post(
        "/staff/login",
        data=form,
        headers={"Referer": f"{public}/staff/login", "X-Forwarded-Host": public[8:]},
        **upstream,
    )
    assert forwarded.status_code == 302


def test_readme_documents_the_proxy_headers_and_trusted_proxies():
    readme = (ROOT / "README.md").read_text()
    for header in (
        "X-Forwarded-Host",
        "X-Forwarded-Proto",
        "X-Forwarded-For",
        "X-Forwarded-Prefix",
    ):
        assert f"proxy_set_header {header}" in readme or f"`{header}`" in readme, header
    assert "proxy_set_header Host $host;" in readme
    assert re.search(r"^\| `TRUSTED_PROXIES` \|", readme, re.M)
    assert "exec -T postgres pg_dump" in readme
    assert "exec -T postgres pg_restore -U campaign -d campaign" in readme
    assert "flask --app campaign db downgrade" in readme
    assert "docker compose exec web flask --app campaign staff create" in readme


# 9. Typos in the configuration


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MAIL_PORT", "smtp", "MAIL_PORT must be a whole number; got 'smtp'"),
        ("TRUSTED_PROXIES", "yes", "TRUSTED_PROXIES must be a whole number; got 'yes'"),
        ("SEND_RATE_PER_SECOND", "abc", "SEND_RATE_PER_SECOND must be a number; got 'abc'"),
        ("MAIL_USE_TLS", "ture", "MAIL_USE_TLS must be true or false; got 'ture'"),
        ("CORS_ORIGINS", "www.clinic.test", "CORS_ORIGINS must list origins"),
    ],
)
def test_a_typo_in_the_environment_stops_the_start_naming_the_variable(name, value, message):
    result = subprocess.run(
        [sys.executable, "-c", "import config"],
        cwd=ROOT,
        env={**os.environ, name: value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    # The one line an operator needs, with no traceback above it.
    assert result.stderr.strip().startswith(f"configuration error: {message}"), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("value", "meant"), [("TRUE", True), (" on ", True), ("0", False), ("no", False)]
)
def test_switches_take_the_usual_words(monkeypatch, value, meant):
    monkeypatch.setenv("MAIL_USE_TLS", value)
    assert config._env_bool("MAIL_USE_TLS", not meant) is meant


def test_a_negative_send_rate_is_refused_and_zero_means_no_limit(make_app):
    with pytest.raises(RuntimeError, match="SEND_RATE_PER_SECOND must be"):
        make_app(SEND_RATE_PER_SECOND=-5.0)
    assert make_app(SEND_RATE_PER_SECOND=0.0).config["SEND_RATE_PER_SECOND"] == 0.0


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("SIGNUP_RATE_LIMIT", "lots", 'SIGNUP_RATE_LIMIT must be limits such as "20 per minute'),
        ("DESK_RATE_LIMIT", "", "DESK_RATE_LIMIT must be limits"),
        ("DISPATCH_INTERVAL_SECONDS", -5.0, "DISPATCH_INTERVAL_SECONDS must be at least 1"),
        ("DISPATCH_INTERVAL_SECONDS", float("nan"), "DISPATCH_INTERVAL_SECONDS must be at least"),
        ("MAX_CONTENT_LENGTH", -1, "MAX_CONTENT_LENGTH must be at least 1024 (bytes)"),
        ("CAMPAIGN_PARALLEL", 0, "CAMPAIGN_PARALLEL must be at least 1"),
        ("UNSUBSCRIBE_MAX_AGE_SECONDS", 100, "at least 5184000 (seconds: 60 days)"),
        ("MAIL_PORT", 99999, "MAIL_PORT must be a port, 1 to 65535"),
        ("MAIL_TIMEOUT", 0.0, "MAIL_TIMEOUT must be at least 0.1"),
    ],
)
def test_a_setting_the_service_cannot_work_with_stops_the_start(make_app, setting, value, message):
    """Found by an outside audit: each was accepted, and then a signup answered 500,
    beat queued thousands of tasks a second, or every form was refused."""
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        make_app(**{setting: value})


def test_the_documented_rate_limit_forms_are_accepted(make_app):
    app = make_app(SIGNUP_RATE_LIMIT="5 per hour;2 per minute", DESK_RATE_LIMIT="10/minute")
    assert app.config["DESK_RATE_LIMIT"] == "10/minute"


def test_cors_origins_drop_a_trailing_slash_and_then_match(make_app):
    origins = config._cors_origins(" https://www.clinic.test/ ,http://localhost:8080")
    assert origins == ["https://www.clinic.test", "http://localhost:8080"]
    preflight = (
        make_app(CORS_ORIGINS=origins)
        .test_client()
        .options(
            "/api/v1/subscribe",
            headers={"Origin": "https://www.clinic.test", "Access-Control-Request-Method": "POST"},
        )
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://www.clinic.test"
    with pytest.raises(RuntimeError, match="got 'https://www.clinic.test/signup'"):
        config._cors_origins("https://www.clinic.test/signup")


# 10. The doctor opens the mail connection as sending does


class _Accept:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"


def _authenticator(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=auth_data.password == b"right password", handled=False)


@pytest.fixture
def auth_smtp():
    controller = Controller(
        _Accept(),
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=_authenticator,
        auth_require_tls=False,
    )
    controller.start()
    yield controller.port
    controller.stop()


def test_doctor_reports_a_server_without_starttls(app, make_app, smtp):
    output = doctor(make_app(MAIL_USE_TLS=True))
    assert "FIX   the mail server at 127.0.0.1:" in output
    assert "with STARTTLS" in output
    assert "STARTTLS extension not supported by server" in output


def test_doctor_reports_a_refused_login(app, make_app, auth_smtp):
    login = {"MAIL_PORT": auth_smtp, "MAIL_USERNAME": "clinic"}
    refused = doctor(make_app(MAIL_PASSWORD="wrong password", **login))
    assert "FIX   the mail server at 127.0.0.1:" in refused
    assert "accepts the login of clinic" in refused
    assert "535" in refused
    accepted = doctor(make_app(MAIL_PASSWORD="right password", **login))
    assert "ok    the mail server at 127.0.0.1:" in accepted


# 12. and 13. One line per failed probe; a clear word from the staff command


def test_a_failed_health_probe_logs_one_line(app, make_app, caplog):
    broken = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    caplog.set_level(logging.WARNING, logger="campaign.health")
    assert broken.test_client().get("/healthz").status_code == 503
    (record,) = [r for r in caplog.records if r.name == "campaign.health"]
    assert record.exc_info is None
    assert record.getMessage().startswith("health: database unreachable: OperationalError: ")
    assert "\n" not in record.getMessage()


def test_staff_create_on_an_unmigrated_database_says_to_upgrade(app, make_app, tmp_path):
    empty = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/empty.sqlite")
    args = ["staff", "create", "owner@clinic.test", "--role", "admin", "--password-stdin"]
    result = empty.test_cli_runner().invoke(args=args, input="a long enough password\n")
    assert result.exit_code == 1
    assert "run flask --app campaign db upgrade first" in result.output
    assert "Traceback" not in result.output
    down = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = down.test_cli_runner().invoke(args=["staff", "token", "owner@clinic.test"])
    assert result.exit_code == 1
    assert "cannot reach the database (check DATABASE_URL)" in result.output


def test_a_session_idle_limit_below_one_day_is_refused(make_app):
    with pytest.raises(RuntimeError, match="STAFF_SESSION_IDLE_DAYS must be at least 1"):
        make_app(STAFF_SESSION_IDLE_DAYS=0)


def test_a_database_url_that_cannot_be_read_is_said_in_one_line(settings, tmp_path):
    # Every process (web, worker, doctor) used to die in a SQLAlchemy traceback.
    secret = "postgres//campaign:s3cret@db/campaign"  # the colon after postgres left out
    refused = run_flask(tmp_path, {**settings, "DATABASE_URL": secret}, FLASK_SKIP_DOTENV="1")
    assert refused.returncode != 0
    assert "DATABASE_URL cannot be read as a database URL" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert "s3cret" not in refused.stderr + refused.stdout  # a mistyped URL keeps its password
