"""Sending campaigns through a real worker process into a real SMTP server."""

import re
import uuid
from collections import Counter

import pytest
from sqlalchemy import func, select

from campaign.campaigns.models import Delivery, DeliveryStatus
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus
from tests.campaigns.helpers import (
    add_confirmed,
    create_campaign,
    deliveries,
    wait_for_status,
    wait_until,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


def test_two_thousand_readers_each_get_exactly_one_personalised_copy(
    worker, client, ctx, smtp, marketing, issue_coupon
):
    addresses = add_confirmed(2000)
    holder = "holder-" + addresses[0]
    code = issue_coupon(holder, first_name="Hana")
    campaign_id = create_campaign(client, marketing)
    response = client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    assert response.status_code == 202
    assert response.get_json()["status"] == "sending"

    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"}, timeout=240)
    assert final["status"] == "sent"
    assert final["counts"] == {
        "total": 2001, "queued": 0, "sent": 2001, "failed": 0, "skipped": 0, "cancelled": 0,
    }  # fmt: skip
    per_recipient = Counter(m.to for m in smtp.messages)
    assert all(per_recipient[a.lower()] == 1 for a in addresses + [holder])
    assert sum(per_recipient.values()) == 2001

    sample = smtp.to(addresses[7])[0]
    assert "Hello Reader7," in sample.text
    assert "Hello Reader7," in sample.html
    # No coupon for this reader: the coupon paragraph is gone, not left half-empty.
    assert "free oil" not in sample.text
    # No placeholder left unfilled (a random token may hold the letters "XQ" by chance).
    assert not re.search(r"XQ[A-Z0-9]+QX", sample.text + sample.html)
    unsubscribe = sample.message["List-Unsubscribe"]
    assert re.fullmatch(r"<https://clinic\.test/unsubscribe/[^>]+>", unsubscribe)
    assert sample.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert sample.message["List-Id"]
    assert sample.message["Message-ID"].endswith("@clinic.test>")
    assert "1 Harbour Street" in sample.text

    with_coupon = smtp.to(holder)[0]
    assert "Hello Hana," in with_coupon.text
    assert code in with_coupon.text
    assert code in with_coupon.html
    assert "https://clinic.test/coupon/" in with_coupon.text

    # The ledger answers "who got what", in JSON and CSV.
    ledger = client.get(f"/api/v1/campaigns/{campaign_id}/deliveries", headers=marketing).get_json()
    assert ledger["total"] == 2001
    assert ledger["items"][0]["status"] == "sent"
    assert ledger["items"][0]["smtp_response"].startswith("250 ")
    csv = client.get(f"/api/v1/campaigns/{campaign_id}/deliveries?format=csv", headers=marketing)
    lines = csv.get_data(as_text=True).strip().splitlines()
    assert lines[0] == "email,first_name,status,attempts,sent_at,smtp_response"
    assert len(lines) == 2002


def test_the_ledger_csv_keeps_formulas_as_text(worker, client, ctx, smtp, marketing):
    (address,) = add_confirmed(1, first_name='=HYPERLINK("http://evil.example","x")')
    campaign_id = create_campaign(client, marketing, body="Hi")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    wait_for_status(client, marketing, campaign_id, {"sent"})
    csv = client.get(f"/api/v1/campaigns/{campaign_id}/deliveries?format=csv", headers=marketing)
    (row,) = csv.get_data(as_text=True).strip().splitlines()[1:]
    assert row.startswith(f"{address},\"'=HYPERLINK(")


def test_faults_are_retried_failed_and_counted_and_nothing_retries_forever(
    worker, client, ctx, smtp, marketing
):
    addresses = add_confirmed(60)
    temporary = addresses[5:10]
    permanent = addresses[20:23]
    dropped = addresses[40]
    for address in temporary:
        smtp.answers[address] = ["451 4.7.1 Greylisted, try again later"]
    for address in permanent:
        smtp.answers[address] = ["550 5.1.1 No such user"] * 10
    smtp.drop_once.add(dropped)

    campaign_id = create_campaign(client, marketing, body="Hello {{ first_name }}")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"}, timeout=120)

    assert final["counts"]["sent"] == 57
    assert final["counts"]["failed"] == 3
    per_recipient = Counter(m.to for m in smtp.messages)
    for address in [*temporary, dropped]:
        assert per_recipient[address.lower()] == 1, address
    for address in permanent:
        assert per_recipient[address.lower()] == 0
        assert smtp.rcpt_attempts[address.lower()] == 1  # a 5xx is never retried
    assert all(per_recipient[a.lower()] == 1 for a in addresses if a not in permanent)

    rows = {d.subscriber.email: d for d in deliveries(campaign_id)}
    assert rows[temporary[0]].attempts == 2
    assert rows[temporary[0]].smtp_response.startswith("250")
    assert rows[permanent[0]].status == "failed"
    assert rows[permanent[0]].smtp_response.startswith("550 5.1.1")
    bounces = db.session.scalars(
        select(Subscriber.bounce_count).where(Subscriber.email.in_(permanent))
    ).all()
    assert bounces == [1, 1, 1]


def test_a_stored_address_smtp_cannot_carry_fails_alone_and_the_send_goes_on(
    worker, client, ctx, smtp, marketing
):
    addresses = add_confirmed(5)
    # Kept before signup and import refused such addresses (SMTPUTF8 is not used).
    legacy = f"ünï-{uuid.uuid4().hex[:6]}@example.com"
    db.session.add(
        Subscriber(email=legacy, email_canonical=legacy, status=SubscriberStatus.CONFIRMED)
    )
    db.session.commit()
    campaign_id = create_campaign(client, marketing, body="Hi")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"}, timeout=120)

    assert final["counts"]["sent"] == 5
    assert final["counts"]["failed"] == 1
    assert all(len(smtp.to(address)) == 1 for address in addresses)
    (row,) = [d for d in deliveries(campaign_id) if d.subscriber.email == legacy]
    assert row.status == "failed"
    assert row.attempts == 1
    assert row.smtp_response.startswith("553 5.6.7")


def test_a_temporary_failure_that_never_clears_ends_as_failed(worker, client, ctx, smtp, marketing):
    (stubborn,) = add_confirmed(1)
    smtp.answers[stubborn] = ["451 4.3.0 Still busy"] * 50
    campaign_id = create_campaign(client, marketing, body="Hi")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"}, timeout=120)
    assert final["status"] == "failed"
    (row,) = deliveries(campaign_id)
    assert row.status == "failed"
    assert row.attempts == 5
    assert smtp.rcpt_attempts[stubborn.lower()] == 5


def test_a_refusal_of_the_message_is_no_bounce_of_the_reader(worker, client, ctx, smtp, marketing):
    spam, gone = add_confirmed(2)
    smtp.data_answers[spam] = ["554 5.7.1 Message rejected as spam"]
    smtp.data_answers[gone] = ["550 5.1.1 Mailbox does not exist"]
    campaign_id = create_campaign(client, marketing, body="Hi")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"})
    assert final["counts"]["failed"] == 2
    db.session.expire_all()
    bounces = dict(
        db.session.execute(
            select(Subscriber.email, Subscriber.bounce_count).where(
                Subscriber.email.in_([spam, gone])
            )
        ).all()
    )
    assert bounces == {spam: 0, gone: 1}  # only a refusal of the mailbox counts


def test_any_paragraph_and_any_name_fit_smtps_lines(worker, client, ctx, smtp, marketing):
    """aiosmtpd, like most servers, refuses a line over 998 octets (RFC 5321 4.5.3.1.6)."""
    (address,) = add_confirmed(1, first_name='"' * 99)
    paragraph = " ".join(["Relax {{ first_name }}"] * 150)  # 3,000 characters, one line
    word = "x" * 1500
    subject = "Spring news 🌸 für Sie"
    body = f"{paragraph}\n\n{word}\n\n    {'code ' * 300}"
    campaign_id = create_campaign(client, marketing, body=body, subject=subject)
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent", "failed"})
    assert final["counts"]["sent"] == 1, deliveries(campaign_id)[0].smtp_response

    (received,) = smtp.to(address)
    assert max(len(line) for line in received.raw.split(b"\r\n")) <= 998
    body = received.raw.partition(b"\r\n\r\n")[2]
    assert max(len(line) for line in body.split(b"\r\n")) <= 76  # RFC 2045 6.7
    assert received.raw.isascii()  # 7-bit: no server needs 8BITMIME for it
    assert received.message["Subject"] == subject
    assert b"=?utf-8?" in received.raw.partition(b"\r\n\r\n")[0]
    quotes = "&quot;" * 99
    assert received.html.count(f"Relax {quotes}") == 150
    assert received.text.count("Relax " + '"' * 99) == 150
    assert word in received.html
    assert word in received.text
    message_id = received.message["Message-ID"]
    assert re.fullmatch(rf"<c{campaign_id}\.[0-9a-f]{{12}}\.d\d+@clinic\.test>", message_id)


def test_repeated_hard_bounces_mark_the_subscriber_bounced(worker, client, ctx, smtp, marketing):
    (address,) = add_confirmed(1)
    smtp.answers[address] = ["550 5.1.1 No such user"] * 10
    for _ in range(2):
        campaign_id = create_campaign(client, marketing, body="Hi")
        client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
        wait_for_status(client, marketing, campaign_id, {"sent", "failed"})
    db.session.expire_all()
    subscriber = db.session.scalar(select(Subscriber).filter_by(email=address))
    assert subscriber.bounce_count == 2
    assert subscriber.status == SubscriberStatus.BOUNCED


def test_pause_then_resume_sends_everyone_once(worker, client, ctx, smtp, marketing):
    addresses = add_confirmed(150)
    smtp.delay = 0.02
    campaign_id = create_campaign(client, marketing, body="Hi {{ first_name }}")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    wait_until(lambda: len(smtp.messages) >= 20)
    response = client.post(f"/api/v1/campaigns/{campaign_id}/pause", headers=marketing)
    assert response.status_code == 200
    assert response.get_json()["status"] == "paused"

    # Within seconds no new claims are made and the count stands still.
    wait_until(lambda: not any(d.status == "sending" for d in deliveries(campaign_id)), timeout=10)
    settled = len(smtp.messages)
    wait_until(lambda: True)
    import time

    time.sleep(2)
    assert len(smtp.messages) == settled
    assert settled < 150
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/pause", headers=marketing).status_code == 409
    )

    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=marketing).status_code == 200
    )
    final = wait_for_status(client, marketing, campaign_id, {"sent"})
    assert final["counts"]["sent"] == 150
    per_recipient = Counter(m.to for m in smtp.messages)
    assert all(per_recipient[a.lower()] == 1 for a in addresses)


def test_cancel_stops_the_send(worker, client, ctx, smtp, marketing):
    add_confirmed(150)
    smtp.delay = 0.1  # slow enough that the cancel lands in the middle of claimed batches
    campaign_id = create_campaign(client, marketing, body="Hi")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    wait_until(lambda: len(smtp.messages) >= 10)
    response = client.post(f"/api/v1/campaigns/{campaign_id}/cancel", headers=marketing)
    at_cancel = len(smtp.messages)
    assert response.get_json()["status"] == "cancelled"
    # The senders give back what they had claimed, and that is cancelled too.
    unsent = {"sending", "queued"}
    wait_until(lambda: not any(d.status in unsent for d in deliveries(campaign_id)), timeout=10)
    settled = len(smtp.messages)
    import time

    time.sleep(2)
    assert len(smtp.messages) == settled
    # Each sender checks the campaign with every reader: after the cancel, only what
    # was already in the SMTP dialogue (one message a sender) still goes.
    assert settled <= at_cancel + 2
    statuses = Counter(d.status for d in deliveries(campaign_id))
    assert statuses["sent"] == settled
    assert statuses["cancelled"] == 150 - settled - statuses["skipped"]
    counts = client.get(f"/api/v1/campaigns/{campaign_id}", headers=marketing).get_json()["counts"]
    assert counts["queued"] == 0
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=marketing).status_code == 409
    )


def test_a_reader_who_unsubscribes_during_the_send_gets_nothing_after(
    worker, client, ctx, smtp, marketing
):
    from campaign.subscribers import services

    add_confirmed(300)  # some 3 s of sending: the pause comes well before the end
    smtp.delay = 0.02
    campaign_id = create_campaign(client, marketing, body="Hi")
    client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing)
    wait_until(lambda: len(smtp.messages) >= 5)
    # Paused, with every claim given back, no reader's check can have passed unseen:
    # any reader not mailed yet is one whose message has not started. (Picking "the
    # last reader added" raced: claims follow no order, and a loaded machine may have
    # mailed most of the list before the test looked.)
    client.post(f"/api/v1/campaigns/{campaign_id}/pause", headers=marketing)

    def unclaimed() -> bool:
        db.session.expire_all()
        return not db.session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.SENDING)
        )

    wait_until(unclaimed)
    subscriber_id, leaver = db.session.execute(
        select(Subscriber.id, Subscriber.email)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.campaign_id == campaign_id, Delivery.status == DeliveryStatus.QUEUED)
        .limit(1)
    ).one()
    token = services.unsubscribe_token(subscriber_id)
    client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    client.post(f"/api/v1/campaigns/{campaign_id}/resume", headers=marketing)
    final = wait_for_status(client, marketing, campaign_id, {"sent"})
    assert smtp.to(leaver) == []
    assert final["counts"]["skipped"] == 1
    assert final["counts"]["sent"] == 299
