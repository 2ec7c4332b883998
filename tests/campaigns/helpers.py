import time
import uuid

from sqlalchemy import insert, select

from campaign.campaigns.models import Campaign, CampaignStatus, Delivery
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus

BODY = """Hello {{ first_name | default("friend") }},

Spring is here: book a hot-stone massage this month.

Your free oil is waiting: show **{{ coupon_code }}** at the desk ({{ coupon_url }}).

See you soon!"""


def add_confirmed(count: int, first_name: str | None = "Reader") -> list[str]:
    """Insert ``count`` confirmed subscribers at once; returns their addresses."""
    tag = uuid.uuid4().hex[:6]
    now = utcnow()
    rows = [
        {
            "email": f"r{i}-{tag}@example.com",
            "email_canonical": f"r{i}-{tag}@example.com",
            "first_name": f"{first_name}{i}" if first_name else None,
            "status": SubscriberStatus.CONFIRMED.value,
            "source": "test",
            "created_at": now,
            "confirmed_at": now,
            "bounce_count": 0,
        }
        for i in range(count)
    ]
    db.session.execute(insert(Subscriber), rows)
    db.session.commit()
    return [row["email"] for row in rows]


def create_campaign(client, headers, body: str = BODY, subject: str = "Spring news") -> int:
    response = client.post(
        "/api/v1/campaigns", headers=headers, json={"subject": subject, "body_markdown": body}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def wait_for_status(client, headers, campaign_id: int, statuses: set[str], timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/api/v1/campaigns/{campaign_id}", headers=headers).get_json()
        if body["status"] in statuses:
            return body
        time.sleep(0.3)
    raise AssertionError(f"campaign {campaign_id} still {body['status']}: {body['counts']}")


def wait_until(predicate, timeout: float = 60, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def deliveries(campaign_id: int) -> list[Delivery]:
    db.session.expire_all()
    return db.session.scalars(select(Delivery).filter_by(campaign_id=campaign_id)).all()


def campaign_status(campaign_id: int) -> CampaignStatus:
    db.session.expire_all()
    return db.session.scalar(select(Campaign.status).filter_by(id=campaign_id))
