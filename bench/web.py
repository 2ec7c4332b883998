"""Signup and redemption under load, against a bare Flask route on the same server.

    python -m bench.web                      # SQLite and PostgreSQL, 3 runs of 10 s each
    python -m bench.web --db sqlite --seconds 3

gunicorn runs as in production (``gunicorn -c gunicorn.conf.py``: one worker per CPU,
4 threads each, APP_ENV=production) on loopback; ``wrk`` loads it:

- ``POST /api/v1/subscribe``, a new address per request, 32 connections;
- ``POST /api/v1/coupons/<code>/redeem`` with a receptionist's API token, a fresh
  pre-issued code per request, 8 connections;
- ``POST /bare`` of ``bench/bare_app.py`` (one JSON route, same gunicorn settings) at
  32 and at 8 connections: the ceiling each is compared with.

Rate limits stay on (their storage is part of the cost) with ceilings no load reaches.
Each figure is the median of the runs; ratios are of medians.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from bench import common, send

LUA = Path(__file__).parent / "wrk"
SIGNUP_CONNECTIONS = 32
REDEEM_CONNECTIONS = 8


def gunicorn(
    env: dict[str, str], app: str, port: int, log: Path, ready_path: str
) -> subprocess.Popen:
    """The production gunicorn command, on loopback."""
    command = [common.PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", app]
    environment = {**os.environ, **env, "BIND": f"127.0.0.1:{port}"}
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=common.ROOT, env=environment, stdout=out, stderr=out
        )
    # The port opens before the workers have loaded the app: wait for an answer.
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=5).close()
            return process
        except urllib.error.HTTPError:
            return process  # the app answered
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                common.stop(process)
                raise RuntimeError("gunicorn did not start:\n" + log.read_text()[-3000:]) from None
            time.sleep(0.2)


def wrk(port: int, script: str, connections: int, seconds: float, *args: str) -> dict:
    """One wrk run; the Lua script's ``done`` prints the figures as JSON."""
    command = [
        "wrk", "-t", "2", "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
        "--timeout", "10s", "-s", str(LUA / script), f"http://127.0.0.1:{port}", "--", *args,
    ]  # fmt: skip
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60, check=True)
    line = next(li for li in out.stdout.splitlines() if li.startswith("{"))
    figures = json.loads(line)
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in figures if k.startswith("errors_"))
    return figures


def prepare(env: dict[str, str], coupons: int, var: Path) -> tuple[str, Path]:
    """Fresh schema, ``coupons`` readers holding one each, a receptionist's API token."""
    from campaign.extensions import db
    from campaign.staff import services as staff_services
    from campaign.staff.models import Role

    app = common.make_app(env)
    common.reset_database(app)
    readers, _ = send.seed(app, coupons, coupon_share=1.0)
    codes = var / "codes.txt"
    codes.write_text("".join(f"{r.coupon_code}\n" for r in readers))
    with app.app_context():
        staff = staff_services.create_staff(
            "desk@clinic.example", Role.named("receptionist"), "bench password 2", name="Desk"
        )
        token = staff_services.create_api_token(staff)
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return token, codes


def settings(var: Path, database: str) -> dict[str, str]:
    """Production settings, rate limits no load reaches, fresh Redis counters.

    The limits have the production defaults' shape (signup two windows, the desk
    one), so each request counts in as many windows as it would in production.
    """
    if database == "postgresql":
        common.flush_redis()
    return common.settings(
        var,
        database,
        SIGNUP_RATE_LIMIT="100000000 per minute;1000000000 per hour",
        DESK_RATE_LIMIT="100000000 per minute",
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT="9",  # nothing is mailed during the bench: no worker runs
    )


def bench_database(database: str, runs: int, seconds: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        var = Path(tmp)
        env = settings(var, database)
        # Fresh codes for every run: more than the fastest redeem rate could use.
        per_run = int(seconds * 1000) + 1000
        token, codes = prepare(env, runs * per_run, var)
        product_port, bare_port = common.free_port(), common.free_port()
        product = gunicorn(env, "campaign:create_app()", product_port, var / "web.log", "/healthz")
        bare = gunicorn(env, "bench.bare_app:create_app()", bare_port, var / "bare.log", "/bare")
        figures: dict[str, list[dict]] = {}
        try:
            # Warm both (every worker loaded, pools, first connections) before measuring.
            wrk(bare_port, "bare.lua", 8, 3)
            wrk(product_port, "signup.lua", 8, 3, uuid.uuid4().hex[:8])
            for run in range(runs):
                codes_of_run = f"{run * per_run + 1}:{(run + 1) * per_run}"
                measures = {
                    "bare@32": (bare_port, "bare.lua", SIGNUP_CONNECTIONS, ()),
                    "signup@32": (
                        product_port, "signup.lua", SIGNUP_CONNECTIONS, (uuid.uuid4().hex[:8],)
                    ),
                    "bare@8": (bare_port, "bare.lua", REDEEM_CONNECTIONS, ()),
                    "redeem@8": (
                        product_port, "redeem.lua", REDEEM_CONNECTIONS,
                        (str(codes), token, codes_of_run),
                    ),
                }  # fmt: skip
                for name, (port, script, connections, args) in measures.items():
                    result = wrk(port, script, connections, seconds, *args)
                    figures.setdefault(name, []).append(result)
                print(
                    f"  run {run + 1}: "
                    + "  ".join(
                        f"{name} {values[-1]['rps']:.0f}/s p99 {values[-1]['p99_us'] / 1000:.1f}ms"
                        for name, values in figures.items()
                    ),
                    flush=True,
                )
        finally:
            common.stop(product)
            common.stop(bare)
        return {
            name: {
                key: common.median([r[key] for r in results])
                for key in ("rps", "p50_us", "p99_us", "errors")
            }
            for name, results in figures.items()
        }


def report(database: str, result: dict) -> None:
    print(f"web [{database}] (medians)")
    print(
        f"  {'route':12s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s} {'errors':>7s} {'ratio':>7s}"
    )
    for name in ("bare@32", "signup@32", "bare@8", "redeem@8"):
        row = result[name]
        bare = result["bare@" + name.split("@")[1]]
        ratio = row["rps"] / bare["rps"]
        print(
            f"  {name:12s} {row['rps']:8.0f} {row['p50_us'] / 1000:8.1f} "
            f"{row['p99_us'] / 1000:8.1f} {row['errors']:7.0f} {ratio:6.2f}x"
        )
    print(
        "  targets: signup >= 0.3x bare and p99 < 50 ms at 32 connections; "
        "redeem >= 0.3x bare and p99 < 50 ms at 8",
        flush=True,
    )


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgresql", "both", "auto"],
        default="auto",
        help="auto: both when PostgreSQL and Redis answer, else SQLite",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    servers_up = common.postgres_available() and common.redis_available()
    databases = ["sqlite", "postgresql"] if args.db in {"both", "auto"} else [args.db]
    if "postgresql" in databases and not servers_up:
        if args.db != "auto":
            raise SystemExit(f"PostgreSQL ({common.POSTGRES_URL}) or Redis is not reachable")
        print("PostgreSQL or Redis not reachable: SQLite only (make services starts them)")
        databases = ["sqlite"]
    print(f"machine: {common.machine()}", flush=True)
    results = {}
    for database in databases:
        print(f"web [{database}]: {args.runs} runs of {args.seconds:g} s per route", flush=True)
        started = time.monotonic()
        results[database] = bench_database(database, args.runs, args.seconds)
        report(database, results[database])
        print(f"  ({time.monotonic() - started:.0f} s)", flush=True)
    failed = [
        (db, name) for db, rows in results.items() for name, row in rows.items() if row["errors"]
    ]
    if failed:
        raise SystemExit(f"requests failed (non-2xx, timeouts or socket errors) in {failed}")
    return results


if __name__ == "__main__":
    main()
