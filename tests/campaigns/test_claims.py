"""Claims are leases: a sender that stalls past its lease sends nothing it lost."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from campaign.campaigns import services
from campaign.campaigns.ledger import Ledger, Verdict
from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.campaigns.sending import CampaignSender, claim_batch
from campaign.database import utcnow
from campaign.extensions import db
from tests.campaigns.helpers import add_confirmed, create_campaign, deliveries


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


def started_campaign(client, marketing, readers: int) -> Campaign:
    add_confirmed(readers)
    campaign_id = create_campaign(client, marketing, body="Hi {{ first_name }}")
    assert services.start(campaign_id, {CampaignStatus.DRAFT})
    # No worker runs in this module to take the queued sender tasks: the test plays
    # both senders itself.
    db.session.commit()
    return db.session.get(Campaign, campaign_id)


def send(campaign: Campaign, batch: list[int], claimed_at) -> None:
    sender = CampaignSender(campaign)
    try:
        sender.send_claimed(batch, claimed_at)
    finally:
        sender.close()


def test_a_sender_whose_lease_lapsed_leaves_the_readers_to_the_new_owner(
    app, client, ctx, smtp, marketing
):
    campaign = started_campaign(client, marketing, readers=3)
    lease = timedelta(seconds=app.config["SEND_LEASE_SECONDS"])

    # Sender A claimed the readers a lease ago and then stalled (a frozen process).
    stalled_at = utcnow() - lease - timedelta(seconds=1)
    stalled_batch = claim_batch(campaign.id, 10, stalled_at)
    # Sender B finds the lapsed claims and takes them over.
    taken_at = utcnow()
    taken_batch = claim_batch(campaign.id, 10, taken_at)
    assert len(taken_batch) == 3
    assert stalled_batch == taken_batch

    send(campaign, stalled_batch, stalled_at)
    assert smtp.messages == []  # A wakes up, sees every claim lost, sends nothing

    send(campaign, taken_batch, taken_at)
    assert len(smtp.messages) == 3
    assert len({m.to for m in smtp.messages}) == 3
    db.session.expire_all()
    statuses = db.session.scalars(select(Delivery.status).filter_by(campaign_id=campaign.id))
    assert set(statuses) == {DeliveryStatus.SENT}

    # And the other way round: once B's marks are in, A's stale batch finds them sent.
    send(campaign, stalled_batch, stalled_at)
    assert len(smtp.messages) == 3


def test_a_check_renews_the_claim_for_a_whole_lease(app, client, ctx, marketing):
    campaign = started_campaign(client, marketing, readers=1)
    lease = timedelta(seconds=app.config["SEND_LEASE_SECONDS"])
    claimed_at = utcnow() - lease * 0.9
    [delivery_id] = claim_batch(campaign.id, 10, claimed_at)

    ledger = Ledger()
    try:
        assert ledger.check(delivery_id, claimed_at - lease, utcnow()) is Verdict.LOST
        checked_at = utcnow()
        assert ledger.check(delivery_id, claimed_at, checked_at) is Verdict.SEND
    finally:
        ledger.close()

    # A lease after the claim, but not after the check: nobody may take the reader.
    assert claim_batch(campaign.id, 10, claimed_at + lease * 1.1) == []
    assert claim_batch(campaign.id, 10, checked_at + lease * 1.1) == [delivery_id]


def test_a_sender_stuck_connecting_past_its_lease_sends_nothing_it_lost(
    app, client, ctx, smtp, marketing, monkeypatch
):
    """The claim is checked after the connection is open, not before.

    Sender A claims a reader, then waits for a mail server slow to greet it, longer
    than the lease; sender B takes the reader over and mails them. Had A checked its
    claim before connecting, it would mail the reader a second time once connected.
    """
    monkeypatch.setitem(app.config, "SEND_LEASE_SECONDS", 1)
    campaign = started_campaign(client, marketing, readers=1)
    claimed_at = utcnow()
    batch = claim_batch(campaign.id, 10, claimed_at)

    smtp.greeting_delays.append(2.0)  # A's connection; B's is answered at once

    def sender_a() -> None:
        with app.app_context():
            send(db.session.get(Campaign, campaign.id), batch, claimed_at)

    a = threading.Thread(target=sender_a)
    a.start()
    time.sleep(1.2)  # A's lease has lapsed; A is still waiting for the greeting
    taken_at = utcnow()
    assert claim_batch(campaign.id, 10, taken_at) == batch
    send(campaign, batch, taken_at)
    assert len(smtp.messages) == 1
    a.join(timeout=10)

    assert not a.is_alive()
    assert len(smtp.messages) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Delivery.status).filter_by(id=batch[0])) == (
        DeliveryStatus.SENT
    )


def test_a_mail_server_that_never_answers_costs_a_sender_mail_timeout(
    app, client, ctx, smtp, marketing, monkeypatch
):
    """Without a timeout a silent server would hold the sender, and its claims, forever."""
    monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 0.5)
    campaign = started_campaign(client, marketing, readers=1)
    claimed_at = utcnow()
    batch = claim_batch(campaign.id, 10, claimed_at)
    smtp.greeting_delays.append(5.0)

    started = time.monotonic()
    send(campaign, batch, claimed_at)
    assert time.monotonic() - started < 3

    db.session.expire_all()
    delivery = db.session.get(Delivery, batch[0])
    assert delivery.status == DeliveryStatus.QUEUED  # deferred, to be retried
    assert delivery.attempts == 0  # the server's failure, not the reader's
    assert "timed out" in delivery.smtp_response
    assert smtp.messages == []


def test_a_reader_whose_message_cannot_be_built_fails_alone(
    client, ctx, smtp, marketing, monkeypatch
):
    from campaign.campaigns import sending

    campaign = started_campaign(client, marketing, readers=3)
    built = sending.personalize
    doomed = db.session.scalar(select(Delivery.id).filter_by(campaign_id=campaign.id).limit(1))

    def personalize(skeleton, reader, message_id):
        if message_id.endswith(f".d{doomed}"):
            raise KeyError("a value we did not foresee")
        return built(skeleton, reader, message_id)

    monkeypatch.setattr(sending, "personalize", personalize)
    claimed_at = utcnow()
    send(campaign, claim_batch(campaign.id, 10, claimed_at), claimed_at)
    assert len(smtp.messages) == 2  # the others went out
    db.session.expire_all()
    failed = db.session.get(Delivery, doomed)
    assert failed.status == DeliveryStatus.FAILED
    assert failed.smtp_response == "not sent: message not built (KeyError)"


def test_an_unreachable_mail_server_spends_none_of_the_readers_attempts(
    app, client, ctx, smtp, marketing, monkeypatch
):
    """Found by an outside audit: each reader counted the server's outage as one of
    their attempts, so a quarter of an hour without it failed the newsletter for good."""
    from tests.smtp_sink import free_port

    campaign = started_campaign(client, marketing, readers=3)
    monkeypatch.setattr(app.extensions["mail"], "port", free_port())  # nothing listens
    claimed_at = utcnow()
    send(campaign, claim_batch(campaign.id, 10, claimed_at), claimed_at)
    rows = deliveries(campaign.id)
    assert {row.status for row in rows} == {DeliveryStatus.QUEUED}
    assert {row.attempts for row in rows} == {0}
    assert all(row.smtp_response.startswith("connection error") for row in rows)
    assert all(row.next_attempt_at > claimed_at for row in rows)
    assert smtp.messages == []

    # The server is back and the wait is over: everyone is sent, on a first attempt.
    monkeypatch.setattr(app.extensions["mail"], "port", smtp.port)
    for row in rows:
        row.next_attempt_at = utcnow()
    db.session.commit()
    claimed_at = utcnow()
    send(campaign, claim_batch(campaign.id, 10, claimed_at), claimed_at)
    rows = deliveries(campaign.id)
    assert {row.status for row in rows} == {DeliveryStatus.SENT}
    assert {row.attempts for row in rows} == {1}
    assert len(smtp.messages) == 3
