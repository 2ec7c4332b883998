"""gunicorn settings for production (`gunicorn -c gunicorn.conf.py "campaign:create_app()"`).

Threads suit this app: requests mostly wait on the database and SMTP-free I/O, and
threads share one connection pool per process. Workers default to the CPU count,
threads to 4; WEB_CONCURRENCY and WEB_THREADS override them.
"""

import multiprocessing
import os

bind = os.environ.get("BIND", "0.0.0.0:8000")  # noqa: S104 - inside a container, behind a proxy
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
threads = int(os.environ.get("WEB_THREADS", 4))
worker_class = "gthread"
timeout = 30
graceful_timeout = 20
keepalive = 5
# Each worker answers for itself; the app logs one line per request with its id.
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "campaign:create_app()"
