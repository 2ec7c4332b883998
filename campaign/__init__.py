"""The clinic newsletter and coupon service: the Flask application."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, Response

import config as config_module
from campaign import clinic, database, errors, logs, outbox, security
from campaign.api_util import JsonProvider, JsonRequest
from campaign.celery_app import celery_init_app
from campaign.extensions import cors, csrf, db, login_manager, mail, migrate, rate_limits


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides settings read from the environment."""
    app = Flask(__name__)
    app.request_class = JsonRequest
    env_name = (test_config or {}).get("ENV_NAME")
    app.config.from_object(config_module.config_for(env_name))
    if test_config:
        app.config.update(test_config)
    app.config.update(config_module.derived_settings(app.config))
    config_module.CONFIGS[app.config["ENV_NAME"]].validate(app.config)
    logs.install(app)

    database.prepare(app)
    db.init_app(app)
    with app.app_context():
        database.tune(db.engine)
    migrate.init_app(app, db, directory=str(config_module.ROOT / "migrations"))
    mail.init_app(app)
    # Registered before CSRFProtect's hook, which reads the form: the one route that
    # takes big uploads gets its larger limit before anything parses the body.
    app.before_request(_upload_limits)
    csrf.init_app(app)
    rate_limits.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "staff.login"
    cors.init_app(
        app,
        resources={r"/api/v1/subscribe": {"origins": app.config["CORS_ORIGINS"]}},
        methods=["POST", "OPTIONS"],
        allow_headers=["Content-Type"],
    )
    outbox.install()
    celery_init_app(app)

    app.json = JsonProvider(app)
    errors.register(app)
    security.install(app)
    clinic.install(app)
    _register_blueprints(app)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    _register_commands(app)
    return app


FAVICON = Path(__file__).parent / "static" / "favicon.svg"


def _favicon() -> Response:
    """Browsers ask for ``/favicon.ico`` wherever a page names no icon: the public
    newsletter pages and the JSON answers opened in a tab get the site's own. Sent
    from memory: a browser that hangs up mid-answer left a streamed file unclosed."""
    response = Response(FAVICON.read_bytes(), mimetype="image/svg+xml")
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    return response


# The routes that take files, and the setting that limits each one's body.
LARGE_UPLOAD_ENDPOINTS = {
    "subscriber_pages.import_upload": "IMPORT_MAX_BYTES",
    "images.index": "IMAGE_MAX_BYTES",
    "images_api.upload": "IMAGE_MAX_BYTES",
}


def _upload_limits() -> None:
    from flask import current_app, request

    if setting := LARGE_UPLOAD_ENDPOINTS.get(request.endpoint):
        # The file's limit plus room for the form's other fields and multipart framing.
        request.max_content_length = current_app.config[setting] + 64 * 1024


def _register_blueprints(app: Flask) -> None:
    import campaign.campaigns.receivers  # noqa: F401 - credits unsubscribes to newsletters
    import campaign.coupons.receivers  # noqa: F401 - connects the welcome coupon
    import campaign.staff.auth  # noqa: F401 - registers the login loaders
    from campaign.campaigns.api import bp as campaigns_api_bp
    from campaign.campaigns.views import bp as campaigns_bp
    from campaign.campaigns.web_views import bp as newsletter_web_bp
    from campaign.coupons.api import bp as coupons_api_bp
    from campaign.coupons.views import bp as coupons_bp
    from campaign.dashboard.views import bp as dashboard_bp
    from campaign.devmail.views import bp as devmail_bp
    from campaign.health import bp as health_bp
    from campaign.images.api import bp as images_api_bp
    from campaign.images.views import bp as images_bp
    from campaign.openapi import bp as openapi_bp
    from campaign.staff.clinic_views import bp as clinic_bp
    from campaign.staff.team_views import bp as team_bp
    from campaign.staff.views import bp as staff_bp
    from campaign.subscribers.admin_api import bp as subscribers_admin_api_bp
    from campaign.subscribers.api import bp as subscribers_api_bp
    from campaign.subscribers.staff_views import bp as subscriber_pages_bp
    from campaign.subscribers.views import bp as subscribers_bp

    app.register_blueprint(subscribers_bp)
    app.register_blueprint(newsletter_web_bp)
    app.register_blueprint(subscribers_api_bp)
    app.register_blueprint(subscribers_admin_api_bp)
    app.register_blueprint(subscriber_pages_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(openapi_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(team_bp)
    app.register_blueprint(clinic_bp)
    app.register_blueprint(coupons_bp)
    app.register_blueprint(coupons_api_bp)
    app.register_blueprint(campaigns_bp)
    app.register_blueprint(campaigns_api_bp)
    app.register_blueprint(dashboard_bp)
    app.register_blueprint(images_bp)
    app.register_blueprint(images_api_bp)
    if app.config["DEV_MAIL_VIEWER"]:
        app.register_blueprint(devmail_bp)


def _register_commands(app: Flask) -> None:
    from campaign.devmail.cli import dev_command, mailcatcher_command
    from campaign.doctor import doctor_command
    from campaign.staff.cli import staff_cli

    app.cli.add_command(staff_cli)
    app.cli.add_command(doctor_command)
    app.cli.add_command(dev_command)
    app.cli.add_command(mailcatcher_command)
