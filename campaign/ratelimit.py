"""Rate limits on the routes that cost something: signup (a confirmation email), staff
login (password guessing) and the desk (code guessing).

Built on ``limits``, the library under Flask-Limiter, called directly. Flask-Limiter
resolves the app's limits around every request, limited or not; on the bench machine
that bookkeeping cost 1.3 ms of CPU per limited request, six times the counter's own
round trip to Redis. Here a limited route costs that round trip and other routes
nothing.

Counters live in ``RATELIMIT_STORAGE_URI``: Redis in production, shared by every web
process; memory on the embedded default. On Redis, every window of a budget ("20 per
minute;200 per hour") is counted in one round trip: ``limits`` takes one a window, and
under load each round trip costs a web thread more CPU than the counting.

When the storage cannot be reached, requests go through and a warning is logged: a
signup form that fails while Redis restarts loses the clinic more than the limit protects.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Collection
from functools import lru_cache, wraps

from flask import Flask, current_app, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import RedisStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from redis import RedisError
from werkzeug.exceptions import TooManyRequests

logger = logging.getLogger(__name__)

EXTENSION = "rate_limits"


def remote_address() -> str:
    return request.remote_addr or "-"


# Each window's counter as ``limits`` keeps it (so its window stats read the same
# keys), incremented in one script: KEYS are the counters, ARGV their expiries.
INCREMENT_WINDOWS = """
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call("incrby", key, 1)
    if count == 1 then
        redis.call("expire", key, ARGV[i])
    end
    counts[i] = count
end
return counts
"""


@lru_cache(maxsize=64)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    """The windows of a limit such as "20 per minute;200 per hour"."""
    return tuple(parse_many(limit))


class RateLimits:
    """Fixed-window counters: a budget per scope and key, such as "20 per minute" per IP."""

    def init_app(self, app: Flask) -> None:
        storage = storage_from_string(app.config["RATELIMIT_STORAGE_URI"], wrap_exceptions=True)
        app.extensions[EXTENSION] = FixedWindowRateLimiter(storage)
        if isinstance(storage, RedisStorage):
            script = storage.get_connection().register_script(INCREMENT_WINDOWS)
            app.extensions[EXTENSION + ".windows"] = script

    @staticmethod
    def _counters() -> FixedWindowRateLimiter:
        return current_app.extensions[EXTENSION]

    def hit(self, limit: str, scope: str, key: str) -> bool:
        """Count one event in each window of ``limit``; False once one is spent."""
        counters, items = self._counters(), _parsed(limit)
        script = current_app.extensions.get(EXTENSION + ".windows")
        try:
            if script is not None and len(items) > 1:
                storage = counters.storage
                keys = [storage.prefixed_key(item.key_for(scope, key)) for item in items]
                counts = script(keys=keys, args=[item.get_expiry() for item in items])
                return all(n <= item.amount for n, item in zip(counts, items, strict=True))
            # Every window counts the event, as when each is checked on its own.
            return all([counters.hit(item, scope, key) for item in items])
        except (StorageError, RedisError):
            logger.warning("rate-limit storage unreachable; %s not limited", scope, exc_info=True)
            return True

    def has_room(self, limit: str, scope: str, key: str) -> bool:
        """Whether one more event fits every window of ``limit``, counting nothing."""
        try:
            return all(self._counters().test(item, scope, key) for item in _parsed(limit))
        except (StorageError, RedisError):
            logger.warning("rate-limit storage unreachable; %s not limited", scope, exc_info=True)
            return True

    def clear(self, limit: str, scope: str, key: str) -> None:
        """Give a key its whole budget back (a login that succeeded clears its failures)."""
        try:
            for item in _parsed(limit):
                self._counters().clear(item, scope, key)
        except (StorageError, RedisError):
            logger.warning("rate-limit storage unreachable; %s kept", scope, exc_info=True)

    def check(self, limit: str, scope: str, key: str) -> None:
        """Count one request; a 429 with ``Retry-After`` once the budget is spent."""
        if not self.hit(limit, scope, key):
            raise TooManyRequests(retry_after=self.seconds_to_reset(limit, scope, key))

    def seconds_to_reset(self, limit: str, scope: str, key: str) -> int:
        """Until the spent window with the latest reset frees a request."""
        items = _parsed(limit)
        try:
            spent = [self._counters().get_window_stats(i, scope, key) for i in items]
        except StorageError:
            return max(item.get_expiry() for item in items)
        reset_at = max((stats.reset_time for stats in spent if stats.remaining == 0), default=0)
        return max(1, math.ceil(reset_at - time.time()))

    def limit(
        self,
        setting: str,
        scope: str,
        key: Callable[[], str] = remote_address,
        methods: Collection[str] | None = None,
    ) -> Callable:
        """Decorate a view: the budget is the config value ``setting``, shared by every
        view decorated with the same ``scope``, counted per ``key()``."""

        def decorator(view: Callable) -> Callable:
            @wraps(view)
            def limited(*args, **kwargs):
                if methods is None or request.method in methods:
                    self.check(current_app.config[setting], scope, key())
                return view(*args, **kwargs)

            return limited

        return decorator

    def reset(self) -> None:
        """Forget every counter (tests, and ``flask`` shell after a false alarm)."""
        self._counters().storage.reset()
