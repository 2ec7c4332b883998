"""gunicorn settings for production (`gunicorn -c gunicorn.conf.py "campaign:create_app()"`).

Threads suit this app: requests mostly wait on the database and SMTP-free I/O, and
threads share one connection pool per process. Workers default to the CPU count (one
on the embedded SQLite default), threads to 4; WEB_CONCURRENCY and WEB_THREADS
override them.

Why one process on SQLite: SQLite has one writer. Threads of one process queue for it
on a lock that wakes the next writer at once (``campaign.database``); writers of two
processes meet in SQLite's busy handler, which sleeps in growing steps. Measured with
``bench/web.py``: two processes answered a third more signups a second, but their p99
was 0.7 to 1.5 s against 0.2 s for one.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")  # noqa: S104 - inside a container, behind a proxy
_on_sqlite = os.environ.get("DATABASE_URL", "sqlite:").startswith("sqlite:")
workers = int(os.environ.get("WEB_CONCURRENCY", 1 if _on_sqlite else multiprocessing.cpu_count()))
threads = int(os.environ.get("WEB_THREADS", 4))
worker_class = "gthread"
# Each worker listens on a socket of its own (SO_REUSEPORT) and the kernel spreads new
# connections across them. On one shared socket, the worker that woke first took a
# whole burst of connections and kept them (keep-alive): with 8 clients and 2
# workers, all 8 landed on one worker in 2 runs of 5, which then served them on one
# core at a third of the rate (bench/bare_app.py under wrk: 1,100/s, 3,300/s if even).
# The cost: a second gunicorn of the same user on the same port would share it instead
# of failing to start, old and new code answering by turns; ``on_starting`` refuses.
reuse_port = True
timeout = 30
graceful_timeout = 20
keepalive = 5
# Each worker answers for itself; the app logs one line per request with its id.
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "campaign:create_app()"


def on_starting(server) -> None:
    """Refuse to start with a setting that cannot work, or on a port in use."""
    import config

    try:
        config.check_settings()
    except config.ConfigError as exc:
        # gunicorn prints a RuntimeError as "Error: ..." and exits with 1. Raised in a
        # worker instead, it exits that worker alone, and the master respawned workers
        # without end, each printing the same line.
        raise RuntimeError(exc.code) from None
    _refuse_a_port_in_use(server)


def _refuse_a_port_in_use(server) -> None:
    """Refuse to start on a port something already listens on.

    With ``reuse_port`` the master binds nothing and each worker binds a socket of its
    own, which the kernel lets a forgotten gunicorn of the same user share: both would
    answer, by turns, and a port held by another program made the workers fail and
    respawn without end. A probe bound without SO_REUSEPORT fails on any listener.
    A re-executed master (USR2, an upgrade in place) shares the port by design.
    """
    import errno
    import socket

    if "GUNICORN_PID" in os.environ:
        return
    for address in server.cfg.address:
        if not isinstance(address, tuple):
            continue  # a Unix socket: gunicorn refuses one in use itself
        host, port = address[:2]
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            # Not held up by the last run's connections still closing (TIME_WAIT).
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise
                # gunicorn prints a RuntimeError as "Error: ..." and exits with 1.
                raise RuntimeError(
                    f"{host}:{port} is already in use: another gunicorn of this service "
                    "(stop it first) or another program. Set BIND to another address."
                ) from None


def post_worker_init(worker) -> None:
    """Put the loaded app out of the garbage collector's reach.

    The app, its libraries and SQLAlchemy's mappers are some 150,000 objects that live
    as long as the worker. Each full collection walked them all: 90 ms during which
    every request of the process waited, the desk's slowest answers under load.
    Frozen, a full collection walks only what requests made since.
    """
    import gc

    gc.collect()
    gc.freeze()
