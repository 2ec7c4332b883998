"""Pause and resume pressed together: each answer says what its own move did."""

import http.client
import json
import threading
from urllib.parse import urlsplit

from tests.campaigns.helpers import add_confirmed, create_campaign


def post(base_url: str, path: str, token: str) -> tuple[int, dict]:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_pause_and_a_resume_sent_together_each_answer_their_own_status(
    live_server, client, ctx, api_token
):
    token = api_token("marketing")
    add_confirmed(3)
    campaign_id = create_campaign(client, {"Authorization": f"Bearer {token}"})
    assert post(live_server, f"/api/v1/campaigns/{campaign_id}/send", token)[0] == 202
    target = {"pause": "paused", "resume": "sending"}
    answers = []
    for _ in range(15):
        barrier = threading.Barrier(4, timeout=30)

        def press(move: str, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            answers.append(
                (move, *post(live_server, f"/api/v1/campaigns/{campaign_id}/{move}", token))
            )

        threads = [threading.Thread(target=press, args=(m,)) for m in ["pause", "resume"] * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert {status for _, status, _ in answers} <= {200, 409}
    wrong = [(move, body["status"]) for move, status, body in answers if status == 200
             and body["status"] != target[move]]  # fmt: skip
    assert not wrong, wrong
    assert any(status == 200 for _, status, _ in answers)
