"""``GET /healthz``: is the database reachable, is the broker reachable."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from campaign.extensions import db

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:
        logger.warning("health: database unreachable", exc_info=True)
        db.session.rollback()
        return False


def broker_ok() -> bool:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        logger.warning("health: broker unreachable", exc_info=True)
        return False


@bp.get("/healthz")
def healthz():
    database = database_ok()
    broker = broker_ok()
    body = {
        "status": "ok" if database and broker else "error",
        "database": "ok" if database else "error",
        "broker": "ok" if broker else "error",
    }
    return jsonify(body), 200 if database and broker else 503
