"""The campaign as a reader would see it: live preview and test copies."""

from __future__ import annotations

import email
import email.policy
import secrets

from campaign.campaigns.message import Reader, build_skeleton, personalize
from campaign.campaigns.models import Campaign
from campaign.campaigns.rendering import check_campaign, render_campaign
from campaign.emails import public_url
from campaign.subscribers.services import SAMPLE_UNSUBSCRIBE_TOKEN

SAMPLE_CODE = "SAMP-LE00-C0DE-0000"


def sample_reader(address: str, first_name: str | None = "Ann", with_coupon: bool = True) -> Reader:
    return Reader(
        email=address,
        first_name=first_name,
        unsubscribe_token=SAMPLE_UNSUBSCRIBE_TOKEN,
        coupon_code=SAMPLE_CODE if with_coupon else None,
        coupon_url=public_url("/coupon/sample") if with_coupon else None,
    )


# The readers the editor previews as: a newsletter reads differently to someone who
# gave no first name, or whose coupon is used (its parts disappear).
PREVIEW_READERS = {
    "ann": ("Ann, who holds a coupon", {"first_name": "Ann"}),
    "no_name": ("A reader who gave no first name", {"first_name": None}),
    "no_coupon": ("Ann, whose coupon is used", {"first_name": "Ann", "with_coupon": False}),
}


def preview_html(subject: str, preheader: str, body: str, reader: str = "ann") -> str:
    """The laid-out HTML with sample values, filled exactly as the sending engine does."""
    check_campaign(subject, preheader, body)
    skeleton = build_skeleton(subject, render_campaign(subject, preheader, body))
    _, values = PREVIEW_READERS.get(reader, PREVIEW_READERS["ann"])
    raw = personalize(skeleton, sample_reader("reader@example.com", **values), "preview")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    return parsed.get_body(("html",)).get_content()


def test_copy(campaign: Campaign, address: str, first_name: str | None) -> bytes:
    """A test copy for a staff address: the real message with sample reader values,
    the staff member's own first name among them (None shows the fallback)."""
    rendered = render_campaign(
        campaign.subject, campaign.preheader, campaign.body_markdown, campaign.id
    )
    skeleton = build_skeleton("[Test] " + campaign.subject, rendered)
    reader = sample_reader(address, first_name=first_name)
    return personalize(skeleton, reader, secrets.token_hex(12))
