from pathlib import Path

import pytest

import config


def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_is_503_when_the_database_is_down(make_app, settings, tmp_path):
    broken = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"
    assert response.get_json()["broker"] == "ok"


def test_healthz_is_503_on_a_database_that_is_not_migrated(app, make_app, tmp_path):
    """Found by an outside audit: an empty database answered, so the check said
    "ok" while every page and every signup failed on the missing tables."""
    empty = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/empty.sqlite")
    response = empty.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "error"
    result = empty.test_cli_runner().invoke(args=["doctor"])
    assert "ok    the database answers" in result.output
    assert "FIX   the database schema is up to date" in result.output
    # The migrated test database, in the same process: healthy.
    assert app.test_client().get("/healthz").status_code == 200


def test_healthz_is_503_when_the_broker_is_down(make_app, settings, monkeypatch):
    # Celery lets CELERY_BROKER_URL in the environment win over any setting.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    broken = make_app(CELERY_BROKER_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/healthz")
    body = response.get_json()
    assert (response.status_code, body["status"], body["broker"]) == (503, "error", "error"), body


@pytest.mark.parametrize("secret", [config.DEFAULT_SECRET_KEY, "", "short"])
def test_production_refuses_a_default_or_weak_secret(make_app, settings, secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        make_app(ENV_NAME="production", SECRET_KEY=secret)


def test_production_refuses_debug(make_app, settings):
    with pytest.raises(RuntimeError, match="DEBUG"):
        make_app(ENV_NAME="production", SECRET_KEY="s" * 40, DEBUG=True)


@pytest.mark.parametrize("zone", ["Europe/Londn", "", "../../etc/passwd"])
def test_a_time_zone_that_does_not_exist_is_refused_at_start(make_app, settings, zone):
    with pytest.raises(RuntimeError, match="CLINIC_TIMEZONE"):
        make_app(CLINIC_TIMEZONE=zone)


def test_production_starts_with_a_real_secret_and_hides_the_mail_viewer(make_app, settings):
    app = make_app(ENV_NAME="production", SECRET_KEY="s" * 40)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.test_client().get("/dev/mail/").status_code == 404


def test_every_product_variable_is_read_from_the_environment():
    source = Path(config.__file__).read_text()
    for name in [
        "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "MAIL_SERVER", "MAIL_PORT",
        "MAIL_USE_TLS", "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_DEFAULT_SENDER", "BASE_URL",
        "CLINIC_NAME", "CLINIC_POSTAL_ADDRESS", "CLINIC_TIMEZONE", "SEND_RATE_PER_SECOND",
        "CORS_ORIGINS", "REDIS_URL",
    ]:  # fmt: skip
        assert f'"{name}"' in source, name


def test_unknown_pages_are_friendly_and_api_errors_are_json(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "<h1>" in page.get_data(as_text=True)
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404
    assert api.get_json()["error"]["code"] == "not_found"
    wrong_method = client.get("/api/v1/subscribe")
    assert wrong_method.status_code == 405
    assert wrong_method.get_json()["error"]["code"] == "method_not_allowed"


def test_browsers_asking_for_favicon_ico_get_the_sites_icon(client):
    # The public newsletter page names no icon, so browsers ask for this one.
    with client.get("/favicon.ico") as response:
        assert response.status_code == 200
        assert response.mimetype == "image/svg+xml"
        assert response.get_data().startswith(b"<svg")
        assert "max-age=86400" in response.headers["Cache-Control"]


def test_a_database_that_cannot_be_reached_is_a_503_to_retry(make_app, caplog):
    # The clinic's site retries a 503; a 500 reads as our bug, and is not retried.
    down = make_app(SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody@127.0.0.1:1/none")
    client = down.test_client()
    signup = client.post("/api/v1/subscribe", json={"email": "ann@example.com", "consent": True})
    assert signup.status_code == 503
    assert signup.get_json()["error"]["code"] == "unavailable"
    assert signup.headers["Retry-After"] == "30"
    page = client.get("/")
    assert page.status_code == 503
    assert "Please try again in a minute." in page.get_data(as_text=True)
    assert page.headers["Retry-After"] == "30"
    logged = [r.getMessage() for r in caplog.records if "database unavailable" in r.getMessage()]
    assert logged
    assert all("\n" not in line for line in logged)  # one line each, no traceback
