#!/usr/bin/env bash
# Start Redis and PostgreSQL on loopback and create the test role and database.
# Idempotent: safe to run when they are already up.
set -euo pipefail

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port 6379 --daemonize yes --save "" --appendonly no
fi

PG_VERSION="$(ls /etc/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | grep -q "^${PG_VERSION} main .* online"; then
    pg_ctlcluster "$PG_VERSION" main start
fi
for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -q && break
    sleep 1
done
su postgres -c "psql -qtAc \"SELECT 1 FROM pg_roles WHERE rolname='campaign'\"" | grep -q 1 \
    || su postgres -c "psql -qc \"CREATE ROLE campaign LOGIN SUPERUSER PASSWORD 'campaign'\""
for db in campaign_test campaign campaign_bench; do
    su postgres -c "psql -qtAc \"SELECT 1 FROM pg_database WHERE datname='$db'\"" | grep -q 1 \
        || su postgres -c "createdb -O campaign $db"
done
for _ in $(seq 1 30); do
    redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break
    sleep 1
done
echo "redis and postgresql are up"
