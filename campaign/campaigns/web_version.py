"""A sent newsletter in the browser, for readers whose mail app shows it badly.

The footer's link carries the reader's unsubscribe token, the credential the message's
own Unsubscribe link holds: the page is that reader's copy, filled as their message
was, and sending signs nothing more per message. Only a reader the newsletter was sent
to can open it. The coupon part follows the coupon as it is now: once redeemed, gone.
"""

from __future__ import annotations

import re
from html import escape

from sqlalchemy import select

from campaign.campaigns.coupon_blocks import settle_coupon_parts
from campaign.campaigns.models import Campaign, Delivery, DeliveryStatus
from campaign.campaigns.rendering import (
    FOOTER_MARKERS,
    compile_template,
    fill,
    first_name_defaults,
)
from campaign.coupons.services import usable_coupons
from campaign.database import MAX_ID
from campaign.extensions import db
from campaign.subscribers.models import Subscriber, SubscriberStatus


def _footer_part(name: str) -> re.Pattern[str]:
    start, end = FOOTER_MARKERS[name]
    return re.compile(f"{start}(.*?){end}", re.DOTALL)


# The footer's link to this very page, and the note on why the reader receives it.
_WEB_LINK = _footer_part("web_link")
_NOTE = _footer_part("note")
# The note's own link, styled as sent: it opens the reader's Unsubscribe page, which
# offers one who has left the way back.
_NOTE_LINK = re.compile(r"<a [^>]*>")
_LEFT_NOTE = (
    "You have unsubscribed, so no more newsletters are sent to you. {link}Changed your mind?</a>"
)


class NotSentToThem(LookupError):
    """No copy of that newsletter went to that reader (or the reader was erased)."""


def reader_copy(campaign_id: int, subscriber_id: int, unsubscribe_token: str) -> str:
    """The newsletter's HTML as ``subscriber_id`` was sent it, with today's coupon."""
    if not 0 < campaign_id <= MAX_ID:  # a number the database cannot hold
        raise NotSentToThem
    row = db.session.execute(
        select(
            Campaign.html_frozen,
            Campaign.body_markdown,
            Subscriber.first_name,
            Subscriber.status,
        )
        .join(Delivery, Delivery.campaign_id == Campaign.id)
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Campaign.id == campaign_id,
            Delivery.subscriber_id == subscriber_id,
            Delivery.status == DeliveryStatus.SENT,
        )
    ).one_or_none()
    if row is None or not row.html_frozen:
        raise NotSentToThem
    code, url = usable_coupons([subscriber_id]).get(subscriber_id, (None, None))
    html = _footer_as_now(_WEB_LINK.sub("", row.html_frozen), row.status)
    html = settle_coupon_parts(html, code is not None)
    # The token, the code and the link hold nothing HTML escapes; names may.
    values = {
        "UNSUB": unsubscribe_token,
        "CCODE": code or "",
        "CURL": escape(url or ""),
    }
    for index, default in enumerate(first_name_defaults(row.body_markdown)):
        values[f"FNAMEH{index}"] = escape(row.first_name or default)
    encoded = {name.encode(): value.encode() for name, value in values.items()}
    return fill(compile_template(html.encode()), encoded).decode()


def _footer_as_now(html: str, status: SubscriberStatus) -> str:
    """The footer's note says why the reader receives the newsletter, as it did when
    it was sent; for a reader who has left since, that they no longer do."""

    def note(kept: re.Match[str]) -> str:
        link = _NOTE_LINK.search(kept.group(1))
        if status != SubscriberStatus.UNSUBSCRIBED or link is None:
            return kept.group(1)
        return _LEFT_NOTE.format(link=link.group(0))

    return _NOTE.sub(note, html)
