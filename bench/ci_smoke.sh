#!/usr/bin/env bash
# CI smoke test of the benchmarks: every bench once, at minimal sizes. It checks that they
# run end to end (every message sent, every request answered 2xx); the figures are
# printed, not asserted, since CI machines are shared. Installs nothing: it needs
# smtp-sink (Debian postfix, not started), wrk, PostgreSQL and Redis on loopback, and
# the project's .venv (make test creates it).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"

"$PY" -m bench.send --n 300 --runs 1 --ceiling-n 300
"$PY" -m bench.send --n 300 --runs 1 --ceiling-n 300 --db postgresql
"$PY" -m bench.web --db both --runs 1 --seconds 1
"$PY" -m bench.web_cpu --db postgresql --seconds 1
