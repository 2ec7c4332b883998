""" "Unsubscribes caused": each unsubscribe is credited, as it happens, to the newsletter
the reader got last within a week, and stays counted when they come back or are erased."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, inspect, select

from campaign.campaigns.models import Campaign, Delivery
from campaign.dashboard import services as dashboard
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers import services
from campaign.subscribers.models import Subscriber, SubscriberStatus
from tests.staff.helpers import csrf_from, log_in
from tests.subscribers.helpers import confirmed_subscriber
from tests.subscribers.test_unsubscribe import one_click


@pytest.fixture
def admin(api_token):
    return {"Authorization": f"Bearer {api_token('admin')}"}


def newsletter(subject: str, days_ago: float, *readers: Subscriber) -> int:
    """A sent campaign delivered to ``readers`` ``days_ago`` days ago (committed)."""
    sent_at = utcnow() - timedelta(days=days_ago)
    campaign_id = db.session.execute(
        insert(Campaign)
        .values(subject=subject, status="sent", started_at=sent_at)
        .returning(Campaign.id)
    ).scalar_one()
    for reader in readers:
        db.session.execute(
            insert(Delivery).values(
                campaign_id=campaign_id,
                subscriber_id=reader.id,
                status="sent",
                sent_at=sent_at,
                smtp_response="250 OK",
            )
        )
    db.session.commit()
    return campaign_id


def unsubscribes_caused() -> dict[str, int]:
    db.session.expire_all()
    return {row.subject: row.unsubscribes for row in dashboard.campaign_results()}


def test_the_unsubscribe_counts_against_the_last_newsletter_and_stays_after_a_comeback(
    app, client, ctx
):
    reader = confirmed_subscriber("ann@example.com")
    stays = confirmed_subscriber("bob@example.com")
    newsletter("March offers", 3, reader, stays)
    newsletter("Spring news", 1, reader, stays)
    token = services.unsubscribe_token(reader.id)

    assert one_click(app, token).status_code == 200
    assert unsubscribes_caused() == {"Spring news": 1, "March offers": 0}

    # Their way back: a new confirmation round. They left after "Spring news" all the same.
    assert client.post(f"/resubscribe/{token}").status_code == 200
    db.session.refresh(reader)
    assert reader.status == SubscriberStatus.PENDING
    assert unsubscribes_caused() == {"Spring news": 1, "March offers": 0}


def test_leaving_again_before_the_next_newsletter_is_not_counted_twice(app, ctx):
    reader = confirmed_subscriber("ann@example.com")
    newsletter("Spring news", 2, reader)
    token = services.unsubscribe_token(reader.id)
    assert one_click(app, token).status_code == 200

    # Back (confirmed again, as a confirmation link would), then gone again.
    db.session.refresh(reader)
    services.resubscribe(reader.id, ip="127.0.0.1", user_agent="test")
    db.session.commit()
    db.session.refresh(reader)
    services.confirm(reader.id, reader.optin_round, ip="127.0.0.1")
    db.session.commit()
    assert one_click(app, services.unsubscribe_token(reader.id)).status_code == 200

    db.session.refresh(reader)
    assert reader.status == SubscriberStatus.UNSUBSCRIBED
    assert unsubscribes_caused() == {"Spring news": 1}


def test_a_second_click_on_the_link_changes_nothing(app, ctx):
    reader = confirmed_subscriber("ann@example.com")
    newsletter("Spring news", 2, reader)
    token = services.unsubscribe_token(reader.id)
    assert one_click(app, token).status_code == 200
    first = db.session.scalar(select(Delivery.unsubscribed_at))
    assert one_click(app, token).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Delivery.unsubscribed_at)) == first
    assert unsubscribes_caused() == {"Spring news": 1}


def test_a_newsletter_older_than_a_week_is_not_blamed(app, ctx):
    reader = confirmed_subscriber("ann@example.com")
    newsletter("Winter news", 8, reader)
    assert one_click(app, services.unsubscribe_token(reader.id)).status_code == 200
    assert unsubscribes_caused() == {"Winter news": 0}


def test_an_erased_reader_still_counts(app, client, ctx, admin):
    reader = confirmed_subscriber("ann@example.com")
    newsletter("Spring news", 1, reader)
    assert one_click(app, services.unsubscribe_token(reader.id)).status_code == 200

    assert client.delete(f"/api/v1/subscribers/{reader.id}", headers=admin).status_code == 204
    db.session.expire_all()
    assert db.session.scalar(select(Delivery.subscriber_id)) is None
    assert unsubscribes_caused() == {"Spring news": 1}


def test_staff_unsubscribing_a_reader_at_their_request_counts_too(app, ctx, make_staff):
    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    reader = confirmed_subscriber("ann@example.com")
    newsletter("Spring news", 1, reader)
    page = client.get(f"/staff/subscribers/{reader.id}").get_data(as_text=True)
    response = client.post(
        f"/staff/subscribers/{reader.id}/unsubscribe", data={"csrf_token": csrf_from(page)}
    )
    assert response.status_code == 302
    assert unsubscribes_caused() == {"Spring news": 1}


def test_the_migration_credits_the_unsubscribes_of_before_by_the_old_rule(
    make_app, scratch_database_url
):
    """Readers who left before the upgrade keep counting against the newsletter they left
    after, within the week; the downgrade drops the column again. On the configured
    kind of database (PostgreSQL in CI's second run): the backfill's SQL is per dialect."""
    from alembic.script import ScriptDirectory
    from flask_migrate import downgrade, upgrade

    fresh = make_app(SQLALCHEMY_DATABASE_URI=scratch_database_url)
    with fresh.app_context():
        config = fresh.extensions["migrate"].migrate.get_config()
        before = ScriptDirectory.from_config(config).get_revision("d9f3a5b7c2e1").down_revision
        upgrade(revision=before)
        now = utcnow()
        day = timedelta(days=1)
        people = Subscriber.__table__
        rows = [
            # (email, status, unsubscribed_at)
            ("left@example.com", "unsubscribed", now),
            ("late@example.com", "unsubscribed", now),
            ("stays@example.com", "confirmed", None),
        ]
        with db.engine.begin() as connection:
            ids = {
                email: connection.execute(
                    people.insert()
                    .values(
                        email=email,
                        email_canonical=email,
                        status=status,
                        unsubscribed_at=left,
                        source="web",
                        created_at=now - 30 * day,
                        bounce_count=0,
                    )
                    .returning(people.c.id)
                ).scalar_one()
                for email, status, left in rows
            }
            campaigns = Campaign.__table__
            old, new = (
                connection.execute(
                    campaigns.insert()
                    .values(subject=subject, status="sent", started_at=now - days * day)
                    .returning(campaigns.c.id)
                ).scalar_one()
                for subject, days in (("Old", 10), ("New", 2))
            )
            deliveries = [
                (old, "left@example.com", 10),
                (new, "left@example.com", 2),
                (old, "late@example.com", 10),  # their last, but too long before
                (new, "stays@example.com", 2),
            ]
            for campaign_id, email, days in deliveries:
                connection.execute(
                    Delivery.__table__.insert(),
                    {
                        "campaign_id": campaign_id,
                        "subscriber_id": ids[email],
                        "status": "sent",
                        "sent_at": now - days * day,
                        "attempts": 1,
                    },
                )

        upgrade(revision="d9f3a5b7c2e1")
        credited = select(Delivery.campaign_id, Delivery.subscriber_id).where(
            Delivery.unsubscribed_at.is_not(None)
        )
        with db.engine.connect() as connection:
            assert connection.execute(credited).all() == [(new, ids["left@example.com"])]
        downgrade(revision=before)
        columns = {column["name"] for column in inspect(db.engine).get_columns("delivery")}
        assert "attempts" in columns
        assert "unsubscribed_at" not in columns
        db.session.remove()
        db.engine.dispose()
