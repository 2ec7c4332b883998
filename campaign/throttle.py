"""The mail send rate (``SEND_RATE_PER_SECOND``), shared by every worker: a token
bucket taken from by everything that mails in bulk (newsletters, the confirmation
requests of an import), so the mail server's own limit is never passed.

With Redis configured the bucket lives there (one Lua script, atomic across hosts);
on the embedded default it is a row in the database, updated optimistically.
"""

from __future__ import annotations

import time
from functools import cache

from flask import current_app
from sqlalchemy import String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from campaign.extensions import db

# KEYS[1]: bucket; ARGV: rate per second, capacity, now (seconds, float), tokens wanted.
# Returns how long to wait (ms) before the tokens are available; 0 means taken now.
_LUA = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, want = tonumber(ARGV[3]), tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= want then
  tokens = tokens - want
else
  wait = math.ceil((want - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
"""


class RateBucket(db.Model):
    __tablename__ = "rate_bucket"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tokens: Mapped[float]
    at: Mapped[float]


@cache
def _redis_script(url: str):
    import redis

    return redis.Redis.from_url(url).register_script(_LUA)


def _capacity(rate: float) -> float:
    # One second's worth: smooth sending, no long bursts after a pause.
    return max(1.0, rate)


def _take_redis(url: str, rate: float, want: int) -> float:
    wait_ms = _redis_script(url)(
        keys=["campaign:send-rate"], args=[rate, _capacity(rate), time.time(), want]
    )
    return int(wait_ms) / 1000


def _take_database(rate: float, want: int) -> float:
    for _ in range(20):
        now = time.time()
        row = db.session.scalar(select(RateBucket).filter_by(name="send"))
        if row is None:
            db.session.add(RateBucket(name="send", tokens=_capacity(rate), at=now))
            try:
                db.session.commit()
            except Exception:
                db.session.rollback()
            continue
        tokens = min(_capacity(rate), row.tokens + max(0.0, now - row.at) * rate)
        wait = 0.0 if tokens >= want else (want - tokens) / rate
        new_tokens = tokens - want if wait == 0 else tokens
        changed = db.session.execute(
            update(RateBucket)
            .where(RateBucket.name == "send", RateBucket.at == row.at)
            .values(tokens=new_tokens, at=now)
        ).rowcount
        db.session.commit()
        db.session.expire(row)
        if changed:
            return wait
    return 0.05


def acquire(want: int = 1) -> None:
    """Block until ``want`` messages may be sent under SEND_RATE_PER_SECOND."""
    rate = float(current_app.config["SEND_RATE_PER_SECOND"])
    if rate <= 0:
        return
    redis_url = current_app.config.get("REDIS_URL")
    while True:
        wait = _take_redis(redis_url, rate, want) if redis_url else _take_database(rate, want)
        if wait <= 0:
            return
        time.sleep(min(wait, 1.0))
