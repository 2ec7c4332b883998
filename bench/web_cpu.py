"""Where a web request's CPU goes: the profile behind bench/web.py's ratios.

    python -m bench.web_cpu --db postgresql            # CPU per request, one run each
    python -m bench.web_cpu --db postgresql --profile /tmp/prof   # plus py-spy samples

For the bare route, the app's floor (an empty JSON route of the real app,
``bench/floor_app.py``), signup (32 connections) and redeem (8), under wrk as in
``bench.web``: requests/s against the bare route's, and CPU seconds per request of the
gunicorn workers (user and system) and of PostgreSQL and Redis together.
``--profile`` records the workers with py-spy (samples taken while a thread holds the
GIL) and prints the frames that hold most of them, inclusive.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from bench import common, web
from bench.floor_app import FLOOR_PATH

CLOCK = os.sysconf("SC_CLK_TCK")


def _times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) / CLOCK, int(fields[12]) / CLOCK


def _server_pids() -> list[int]:
    found = subprocess.run(
        ["pgrep", "-f", "postgres|redis-server"], capture_output=True, text=True, check=False
    )
    return [int(pid) for pid in found.stdout.split()]


def _total(pids: list[int]) -> tuple[float, float]:
    user = system = 0.0
    for pid in pids:
        try:
            u, s = _times(pid)
        except OSError:
            continue  # a backend that ended meanwhile
        user, system = user + u, system + s
    return user, system


# The worker threads' own frames, under every request: they say nothing.
THREAD_FRAMES = {
    "Thread._bootstrap",
    "Thread._bootstrap_inner",
    "Thread.run",
    "_worker",
    "_WorkItem.run",
}


def _top_frames(samples: list[Path], count: int = 30) -> list[tuple[float, str]]:
    """Frames by share of samples (inclusive), from py-spy's raw output."""
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for path in samples:
        for line in path.read_text().splitlines():
            stack, _, weight = line.rpartition(" ")
            total += int(weight)
            for frame in {f.split(" (")[0] for f in stack.split(";")} - THREAD_FRAMES:
                inclusive[frame] += int(weight)
    return [(n / total, frame) for frame, n in inclusive.most_common(count)]


def measure(database: str, seconds: float, profile: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-web-cpu-") as tmp:
        var = Path(tmp)
        env = web.settings(var, database)
        enough = int(seconds * 1000) + 1000  # more codes than redeem can use
        token, codes = web.prepare(env, enough, var)
        apps = {
            "product": ("campaign:create_app()", "/healthz"),
            "floor": ("bench.floor_app:create_app()", "/healthz"),
            "bare": ("bench.bare_app:create_app()", "/bare"),
        }
        ports = {name: common.free_port() for name in apps}
        servers = {
            name: web.gunicorn(env, app, ports[name], var / f"{name}.log", ready)
            for name, (app, ready) in apps.items()
        }
        routes = {
            "bare@32": ("bare", "bare.lua", web.SIGNUP_CONNECTIONS, ()),
            "floor@32": ("floor", "bare.lua", web.SIGNUP_CONNECTIONS, (FLOOR_PATH,)),
            "signup@32": ("product", "signup.lua", web.SIGNUP_CONNECTIONS, (uuid.uuid4().hex,)),
            "redeem@8": (
                "product",
                "redeem.lua",
                web.REDEEM_CONNECTIONS,
                (str(codes), token, f"1:{enough}"),
            ),
        }
        try:
            web.wrk(ports["product"], "signup.lua", 8, 2, "warm")
            web.wrk(ports["bare"], "bare.lua", 8, 2)
            web.wrk(ports["floor"], "bare.lua", 8, 2, FLOOR_PATH)
            bare_rps = None
            print(f"web CPU per request [{database}], {seconds:.0f} s per route")
            for name, (server, script, connections, args) in routes.items():
                workers = common.children(servers[server].pid)
                spies = _spies(workers, profile, name, seconds) if profile else []
                before, db_before = _total(workers), _total(_server_pids())
                result = web.wrk(ports[server], script, connections, seconds, *args)
                after, db_after = _total(workers), _total(_server_pids())
                for spy in spies:
                    spy.wait()
                if result["errors"]:
                    raise SystemExit(f"{name}: {result['errors']} requests failed")
                n = result["requests"]
                user, system = ((a - b) / n * 1000 for a, b in zip(after, before, strict=True))
                servers_cpu = sum(db_after) - sum(db_before)
                bare_rps = bare_rps or result["rps"]  # the first route is the bare one
                print(
                    f"  {name:10s} {result['rps']:6.0f}/s {result['rps'] / bare_rps:5.2f}x"
                    f"  p99 {result['p99_us'] / 1000:6.1f} ms"
                    f"  gunicorn {user + system:5.2f} ms/request (system {system:4.2f})"
                    f"  PostgreSQL+Redis {servers_cpu / n * 1000:4.2f} ms/request",
                    flush=True,
                )
                if profile:
                    for share, frame in _top_frames(list(profile.glob(f"{name}-*.txt"))):
                        print(f"      {share * 100:5.1f}%  {frame}")
        finally:
            for process in servers.values():
                common.stop(process)


def _spies(workers: list[int], profile: Path, name: str, seconds: float) -> list:
    profile.mkdir(parents=True, exist_ok=True)
    spy = shutil.which("py-spy", path=str(Path(common.PYTHON).parent)) or "py-spy"
    command = [spy, "record", "--gil", "--nonblocking", "--rate", "200"]
    return [
        subprocess.Popen(
            [*command, "-d", str(round(seconds)), "-f", "raw", "-p", str(pid)]
            + ["-o", str(profile / f"{name}-{pid}.txt")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in workers
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--profile", type=Path, help="write py-spy samples here and summarise")
    args = parser.parse_args(argv)
    measure(args.db, args.seconds, args.profile)


if __name__ == "__main__":
    main()
