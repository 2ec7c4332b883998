"""An import's invitations go at the mail server's rate. A module of its own: its
worker is the only one running (start_worker's processes last for their module)."""

import pytest

from tests.staff.helpers import csrf_from
from tests.subscribers.test_import import job_id_of, upload
from tests.subscribers.test_import_large import wait_for_job

pytestmark = pytest.mark.integration


def test_an_imports_invitations_go_at_the_send_rate(start_worker, marketing_client, ctx, smtp):
    """Everyone an import owes an invitation is mailed at SEND_RATE_PER_SECOND, as a
    newsletter is, however many worker processes take them (it was 85 a second at a
    rate of 20)."""
    start_worker(concurrency=4, SEND_RATE_PER_SECOND="1")
    count = 12
    rows = "".join(f"guest{n}@example.com,Guest\n" for n in range(count))
    job_id = job_id_of(upload(marketing_client, "email,first_name\n" + rows))
    wait_for_job(marketing_client, job_id, "analysed", timeout=60)
    page = marketing_client.get(f"/staff/subscribers/import/{job_id}").get_data(as_text=True)
    marketing_client.post(
        f"/staff/subscribers/import/{job_id}/start", data={"csrf_token": csrf_from(page)}
    )
    for n in range(count):
        smtp.wait_for(f"guest{n}@example.com", timeout=60)
    arrivals = sorted(message.at for message in smtp.messages)
    took = arrivals[-1] - arrivals[0]
    # The bucket holds one second's sending (1); the other 11 take 11 s at one a second.
    assert took >= 9, f"{count} invitations in {took:.2f} s at a rate of 1 a second"
