"""A 100k-row import through the upload page and a real worker, with its peak memory."""

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.staff.helpers import csrf_from, log_in
from tests.subscribers.test_import import job_id_of, upload

pytestmark = pytest.mark.integration

ROWS = 100_000


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def wait_for_job(client, job_id: int, status: str, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        report = client.get(f"/staff/subscribers/import/{job_id}.json").get_json()
        if report["status"] in {status, "failed"}:
            return report
        time.sleep(0.5)
    raise AssertionError(f"import {job_id} did not reach {status}")


def test_a_100k_row_import_streams_in_bounded_memory(start_worker, app, ctx, make_staff, capsys):
    worker = start_worker(concurrency=1)
    baseline = peak_rss_mb(worker.process.pid)
    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    lines = ["email,first_name,consented_at,source"]
    lines += [f"person{i}@example.com,P{i},2025-02-01,shop" for i in range(ROWS)]
    data = ("\n".join(lines) + "\n").encode()

    response = upload(client, data, "big.csv")
    job_id = job_id_of(response)
    started = time.monotonic()
    report = wait_for_job(client, job_id, "analysed")
    analysed_in = time.monotonic() - started
    assert report["counts"]["confirmed"] == ROWS

    page = client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    client.post(f"/staff/subscribers/import/{job_id}/start", data={"csrf_token": csrf_from(page)})
    started = time.monotonic()
    report = wait_for_job(client, job_id, "imported")
    imported_in = time.monotonic() - started
    assert report["status"] == "imported"
    assert db.session.scalar(select(func.count()).select_from(Subscriber)) == ROWS

    peak = peak_rss_mb(worker.process.pid)
    with capsys.disabled():
        print(
            f"\n[import] {ROWS} rows ({len(data) / 1e6:.1f} MB): dry run {analysed_in:.1f}s, "
            f"import {imported_in:.1f}s; worker peak RSS {peak:.0f} MB (at start {baseline:.0f} MB)"
        )
    assert peak - baseline < 60
