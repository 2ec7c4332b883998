"""The production path: compose file, hardening, doctor, logs."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from tests.staff.helpers import log_in

ROOT = Path(__file__).resolve().parent.parent


def config_variables() -> set[str]:
    source = (ROOT / "config.py").read_text()
    return set(re.findall(r'(?:_env(?:_int|_bool|_float)?\(|environ\.get\()"([A-Z_]+)"', source))


def test_env_example_lists_every_variable_the_config_reads():
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert config_variables() - listed == set()


def test_compose_services_name_modules_files_and_variables_that_exist():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"web", "worker", "beat", "redis", "postgres", "mailpit", "migrate"} <= set(services)
    for name in ("web", "worker", "beat", "redis", "postgres", "mailpit"):
        assert "healthcheck" in services[name], name
    known = config_variables() | {"POSTGRES_PASSWORD", "WORKER_CONCURRENCY", "APP_ENV"}
    listed = set(re.findall(r"^([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.M))
    text = (ROOT / "docker-compose.yml").read_text()
    for variable in re.findall(r"\$\{([A-Z_]+)", text):
        assert variable in listed, variable
    for name in ("migrate", "web", "worker", "beat"):
        service = services[name]
        for variable in service.get("environment", {}):
            assert variable in known, (name, variable)
        command = service["command"]
        if command[0] == "gunicorn":
            conf = ROOT / command[command.index("-c") + 1]
            assert conf.exists()
            namespace: dict = {}
            exec(compile(conf.read_text(), str(conf), "exec"), namespace)  # noqa: S102 - our file
            module, _, factory = namespace["wsgi_app"].partition(":")
            assert factory == "create_app()"
            assert hasattr(__import__(module), "create_app")
        elif command[0] == "celery":
            assert command[1:3] == ["-A", "worker"]
            assert (ROOT / "worker" / "__init__.py").exists()
            assert command[3] in {"worker", "beat"}
        elif command[0] == "flask":
            assert command[1:3] == ["--app", "campaign"]
            assert command[3:] == ["db", "upgrade"]
        else:
            pytest.fail(f"unexpected command for {name}: {command}")
    dockerfile = (ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path


def test_dependencies_are_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert "==" in requirement, requirement


@pytest.mark.parametrize(
    "path", ["/", "/staff/login", "/api/v1/coupons/x", "/no-such-page", "/healthz"]
)
def test_security_headers_on_every_response(client, path):
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_hsts_and_secure_cookies_over_https_in_production(make_app, make_staff):
    app = make_app(ENV_NAME="production", SECRET_KEY="p" * 48, TRUSTED_PROXIES=1)
    client = app.test_client()
    _, email, password = make_staff("admin")
    response = client.get("/", headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    page = client.get("/staff/login", base_url="https://localhost")
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.get_data(as_text=True)).group(
        1
    )
    response = client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": token},
        base_url="https://localhost",
        # Over https Flask-WTF also checks the Referer, as a browser sends it.
        headers={"Referer": "https://localhost/staff/login"},
    )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_inline_scripts_are_absent_from_every_page(client, make_staff):
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    for path in [
        "/",
        "/staff/",
        "/desk",
        "/staff/campaigns/",
        "/staff/campaigns/new",
        "/staff/offer",
        "/staff/tokens",
    ]:
        page = client.get(path).get_data(as_text=True)
        assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == [], path
        assert " on" + "click=" not in page


def test_a_forced_error_shows_no_stack_trace(make_app, monkeypatch):
    from campaign.subscribers import services

    def broken_signup(*args, **kwargs):
        raise RuntimeError("a bug of ours")

    # A database that is away is a 503 (test_health_and_config); this is a bug.
    monkeypatch.setattr(services, "subscribe", broken_signup)
    monkeypatch.setattr(services, "subscribe_now", broken_signup)
    broken = make_app(ENV_NAME="production", SECRET_KEY="p" * 48)
    client = broken.test_client()
    page = client.post("/subscribe", data={"email": "a@example.com", "consent": "yes"})
    assert page.status_code == 500
    assert "Traceback" not in page.get_data(as_text=True)
    assert "Something went wrong" in page.get_data(as_text=True)
    api = client.post("/api/v1/subscribe", json={"email": "a@example.com", "consent": True})
    assert api.status_code == 500
    assert api.get_json() == {
        "error": {
            "code": "internal_error",
            "message": "Something went wrong on our side.",
            "field": None,
        }
    }


def test_request_ids_are_returned_and_logged(client, caplog):
    caplog.set_level("INFO", logger="campaign.requests")
    response = client.get("/", headers={"X-Request-ID": "abc12345-req"})
    assert response.headers["X-Request-ID"] == "abc12345-req"
    assert any(
        "GET / 200" in r.getMessage() and r.request_id == "abc12345-req" for r in caplog.records
    )
    generated = client.get("/", headers={"X-Request-ID": "bad id!"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)


def test_a_line_break_in_the_path_cannot_forge_a_log_line(client, caplog):
    caplog.set_level("INFO", logger="campaign.requests")
    # (Not a coupon path: its code is cut short in the log, line break and all.)
    client.get("/api/v1/campaigns/X%0D%0AFAKE-LINE%20INFO%20forged%E2%80%A8x")
    (line,) = [r.getMessage() for r in caplog.records if "FAKE-LINE" in r.getMessage()]
    assert "\r" not in line
    assert "\n" not in line
    assert "\u2028" not in line
    assert "X\\u000d\\u000aFAKE-LINE INFO forged\\u2028x 404" in line


def test_doctor_passes_on_a_ready_install_and_names_each_fix(app, make_app):
    # ``app`` migrates the shared test database: run alone, this test found it empty.
    ready = make_app(SECRET_KEY="d" * 48)
    result = ready.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "All good." in result.output
    not_ready = make_app(SECRET_KEY="dev-only-secret-change-me", MAIL_PORT=1, ENV_NAME="testing")
    result = not_ready.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code != 0
    assert "FIX   SECRET_KEY" in result.output
    assert "FIX   the mail server" in result.output
    assert "ok    MAIL_DEFAULT_SENDER is one address" in result.output
    unquoted = make_app(MAIL_DEFAULT_SENDER="Sol Spa, Barcelona <news@clinic.test>")
    result = unquoted.test_cli_runner().invoke(args=["doctor"])
    assert "FIX   MAIL_DEFAULT_SENDER is one address" in result.output
    # An accented domain is made ASCII; an accented local part SMTP cannot carry.
    accented = make_app(MAIL_DEFAULT_SENDER="Zoë <news@bücher.de>", BASE_URL="https://müller.de")
    result = accented.test_cli_runner().invoke(args=["doctor"])
    assert "ok    MAIL_DEFAULT_SENDER is one address" in result.output
    assert "ok    BASE_URL (https://xn--mller-kva.de)" in result.output
    local = make_app(MAIL_DEFAULT_SENDER="Zoë <zoë@clinic.test>")
    result = local.test_cli_runner().invoke(args=["doctor"])
    assert "FIX   MAIL_DEFAULT_SENDER is one address" in result.output


def test_gunicorn_workers_freeze_the_loaded_app_out_of_the_collector():
    """A full collection walked every object of the loaded app (90 ms, all requests
    of the process waiting); each worker freezes them once loaded."""
    import gc

    conf = ROOT / "gunicorn.conf.py"
    namespace: dict = {}
    exec(compile(conf.read_text(), str(conf), "exec"), namespace)  # noqa: S102 - our file
    try:
        namespace["post_worker_init"](None)
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()
