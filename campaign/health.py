"""``GET /healthz``: is the database reachable and migrated, is the broker reachable."""

from __future__ import annotations

import logging

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
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


def database_answers() -> bool:
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        logger.warning("health: database unreachable: %s", _reason(exc))
        db.session.rollback()
        return False


def schema_heads() -> frozenset[str]:
    """The revisions the code expects the database at, read from the migrations once."""
    heads = current_app.extensions.get("schema_heads")
    if heads is None:
        config = current_app.extensions["migrate"].migrate.get_config()
        heads = frozenset(ScriptDirectory.from_config(config).get_heads())
        current_app.extensions["schema_heads"] = heads
    return heads


def schema_current() -> bool:
    """The database answers and is at the code's revision, in one query. (An
    answering but empty database failed every page and lost every signup while this
    check said "ok".)"""
    try:
        current = MigrationContext.configure(db.session.connection()).get_current_heads()
    except Exception as exc:
        logger.warning("health: database unreachable: %s", _reason(exc))
        db.session.rollback()
        return False
    if set(current) != schema_heads():
        logger.warning("health: the database schema is not up to date: run flask db upgrade")
        return False
    return True


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
    database = schema_current()
    broker = broker_ok()
    body = {
        "status": "ok" if database and broker else "error",
        "database": "ok" if database else "error",
        "broker": "ok" if broker else "error",
    }
    return jsonify(body), 200 if database and broker else 503
