"""Work for the worker is enqueued only after the database commit succeeds.

A view or task calls ``after_commit(task, *args)`` while it works. Nothing reaches the
broker until the surrounding transaction commits, so a worker never reads a row that
is not there yet, and a rolled-back signup sends no email.

Work recorded in the database itself (a row that says "owed") needs only a nudge:
``wake_after_commit(task)`` runs a task without arguments that finds that work. A
burst of signups then costs the broker one message a second per web process, not one
per signup: publishing was a third of a signup's time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

logger = logging.getLogger(__name__)

_KEY = "campaign.after_commit"
_WAKE_KEY = "campaign.wake_after_commit"
# How long a nudged task may wait for the next nudge to be folded into it.
WAKE_INTERVAL_SECONDS = 1.0


def after_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """Queue ``task.delay(*args, **kwargs)`` to run when the current session commits."""
    from campaign.extensions import db

    db.session().info.setdefault(_KEY, []).append((task, args, kwargs))


def wake_after_commit(task: Any) -> None:
    """Run ``task`` (it takes no arguments) soon after the current session commits.

    Nudges are coalesced per process: one run right away, then at most one more per
    ``WAKE_INTERVAL_SECONDS``, which starts after every commit that asked for it.
    """
    from campaign.extensions import db

    db.session().info.setdefault(_WAKE_KEY, set()).add(task)


def wake(task: Any) -> None:
    """Run ``task`` soon, for work already committed; coalesced as ``wake_after_commit``."""
    _enqueue(task.name, (), _wakeup(task).ring)


class Wakeup:
    """Nudges of one task in this process: immediately, or folded into a delayed run."""

    def __init__(self, task: Any, interval: float = WAKE_INTERVAL_SECONDS) -> None:
        self.task = task
        self.interval = interval
        self._lock = threading.Lock()
        self._quiet_until = 0.0  # the last immediate run covers commits before this
        self._delayed = False  # a run at ``_quiet_until`` is already queued

    def ring(self) -> None:
        now = time.monotonic()
        with self._lock:
            if now >= self._quiet_until:
                countdown, self._quiet_until, self._delayed = 0.0, now + self.interval, False
            elif not self._delayed:
                countdown, self._delayed = self._quiet_until - now, True
            else:
                return  # the queued delayed run starts after this commit
        self.task.apply_async(countdown=countdown)


_wakeups: dict[str, Wakeup] = {}
_wakeups_lock = threading.Lock()


def _wakeup(task: Any) -> Wakeup:
    with _wakeups_lock:
        return _wakeups.setdefault(task.name, Wakeup(task))


def _send_pending(session: Session) -> None:
    pending = session.info.pop(_KEY, [])
    for task, args, kwargs in pending:
        _enqueue(task.name, args, partial(task.apply_async, args=args, kwargs=kwargs))
    for task in session.info.pop(_WAKE_KEY, ()):
        _enqueue(task.name, (), _wakeup(task).ring)


def _enqueue(name: str, args: tuple, publish) -> None:
    try:
        publish()
    except Exception:
        # The data is committed; a lost enqueue must not turn into a 500. The task
        # is idempotent by database state and periodic sweeps pick up the slack.
        logger.exception("could not enqueue %s%r", name, args)


def _drop_pending(session: Session, previous_transaction: Any) -> None:
    # Rolling back a savepoint (a lost insert race) keeps the outer transaction's work.
    if not previous_transaction.nested:
        session.info.pop(_KEY, None)
        session.info.pop(_WAKE_KEY, None)


def install() -> None:
    """Hook the queue onto every SQLAlchemy session (idempotent)."""
    if not event.contains(Session, "after_commit", _send_pending):
        event.listen(Session, "after_commit", _send_pending)
        event.listen(Session, "after_soft_rollback", _drop_pending)


def hand_over(taken: list[int], task: Any, owe_again: Callable[[list[int]], None]) -> bool:
    """Give each taken row id its own ``task`` (and so its own retries).

    For work owed in the database and taken off it (owed confirmations, welcomes): if
    the broker goes away mid-batch, what it did not take is owed again, committed, for
    the next wake-up or beat's sweep; the answer is then False.
    """
    from campaign.extensions import db

    for position, row_id in enumerate(taken):
        try:
            task.delay(row_id)
        except Exception:
            logger.exception("broker unreachable; %s left owed", task.name)
            owe_again(taken[position:])
            db.session.commit()
            return False
    return True
