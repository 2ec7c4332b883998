"""A reader's web version of the newsletter, opened on a phone: styled, whole, no errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from campaign.campaigns.models import Campaign, CampaignStatus, Delivery, DeliveryStatus
from campaign.campaigns.rendering import render_campaign
from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from campaign.subscribers.services import unsubscribe_token
from tests.campaigns.helpers import add_confirmed

pytestmark = pytest.mark.browser

BODY = "Hello {{ first_name }},\n\n## Summer hours\n\nWe open at **8:00** from June."


def _sent_to_one_reader() -> str:
    """A newsletter marked sent to one reader; the path of their web version."""
    (address,) = add_confirmed(1, first_name="Ines")
    campaign = Campaign(subject="June news", body_markdown=BODY, status=CampaignStatus.SENT)
    db.session.add(campaign)
    db.session.flush()
    campaign.html_frozen = render_campaign(campaign.subject, "", BODY, campaign.id).html
    subscriber_id = db.session.scalar(select(Subscriber.id).filter_by(email=address))
    db.session.add(
        Delivery(
            campaign_id=campaign.id,
            subscriber_id=subscriber_id,
            status=DeliveryStatus.SENT,
            sent_at=utcnow(),
        )
    )
    db.session.commit()
    return f"/newsletters/{campaign.id}/{unsubscribe_token(subscriber_id)}"


def test_the_web_version_is_laid_out_as_the_email_on_a_phone(ctx, live_server, phone: Page):
    phone.goto(live_server + _sent_to_one_reader())
    expect(phone).to_have_title("June news")
    expect(phone.get_by_role("heading", name="Summer hours")).to_be_visible()
    expect(phone.get_by_text("Hello Ines0,")).to_be_visible()  # add_confirmed numbers names
    # The layout's own styles applied (the page's policy lets them), the phone's
    # narrower padding included; the open_page fixture fails on any refused style.
    content = phone.locator(".content")
    assert content.evaluate("e => getComputedStyle(e).paddingLeft") == "16px"
    container = phone.locator(".container")
    assert container.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 255, 255)"
    overflow = phone.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    expect(phone.get_by_role("link", name="Unsubscribe")).to_be_visible()
    expect(phone.get_by_role("link", name="View this email in your browser")).to_have_count(0)
