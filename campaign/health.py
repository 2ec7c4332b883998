"""``GET /healthz``: is the database reachable, is the broker reachable."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from campaign.extensions import db

logger = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


def _reason(exc: Exception) -> str:
    """One line for an outage: probes come every few seconds, and a traceback each
    time buried everything else in the log."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def database_ok() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        logger.warning("health: database unreachable: %s", _reason(exc))
        db.session.rollback()
        return False


def broker_ok() -> bool:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception as exc:
        logger.warning("health: broker unreachable: %s", _reason(exc))
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
