"""Work for the worker is enqueued only after the database commit succeeds.

A view or task calls ``after_commit(task, *args)`` while it works. Nothing reaches the
broker until the surrounding transaction commits, so a worker never reads a row that
is not there yet, and a rolled-back signup sends no email.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_KEY = "campaign.after_commit"


def after_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Queue ``task.delay(*args, **kwargs)`` to run when the current session commits."""
    from campaign.extensions import db

    db.session().info.setdefault(_KEY, []).append((task, args, kwargs))


def _send_pending(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    for task, args, kwargs in pending:
        try:
            task.apply_async(args=args, kwargs=kwargs)
        except Exception:
            # The data is committed; a lost enqueue must not turn into a 500. The task
            # is idempotent by database state and periodic sweeps pick up the slack.
            logger.exception("could not enqueue %s%r", task.name, args)


def _drop_pending(session: Session, previous_transaction: Any) -> None:
    # Rolling back a savepoint (a lost insert race) keeps the outer transaction's work.
    if not previous_transaction.nested:
        session.info.pop(_KEY, None)


def install() -> None:
    """Hook the queue onto every SQLAlchemy session (idempotent)."""
    if not event.contains(Session, "after_commit", _send_pending):
        event.listen(Session, "after_commit", _send_pending)
        event.listen(Session, "after_soft_rollback", _drop_pending)
