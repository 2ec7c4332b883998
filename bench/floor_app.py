"""The app's floor: the product app with one more JSON route that does nothing.

``gunicorn -c gunicorn.conf.py "bench.floor_app:create_app()"`` serves the real app,
every hook included (request id and log line, security headers, CSRF, CORS, the
session, the SQLAlchemy teardown), plus ``POST /api/v1/bench-floor``, which answers as
``bench/bare_app.py`` does. The bare route against this one is what the app's request
machinery costs; this one against signup or redeem is what their own work costs.
"""

from flask import Flask, jsonify, request

import campaign
from campaign.extensions import csrf

FLOOR_PATH = "/api/v1/bench-floor"


def create_app() -> Flask:
    app = campaign.create_app()

    @csrf.exempt
    def floor():
        payload = request.get_json(silent=True)
        return jsonify(status="ok", fields=len(payload or {})), 202

    app.add_url_rule(FLOOR_PATH, "bench_floor", floor, methods=["POST"])
    return app
