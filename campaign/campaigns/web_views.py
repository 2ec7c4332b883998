"""The public page of a sent newsletter: each reader's copy, from the email's footer."""

from __future__ import annotations

from flask import Blueprint, make_response, render_template

from campaign.campaigns.web_version import NotSentToThem, reader_copy
from campaign.security import shows_newsletter_images
from campaign.subscribers.services import SAMPLE_UNSUBSCRIBE_TOKEN, read_unsubscribe_token
from campaign.tokens import TokenError

bp = Blueprint("newsletter_web", __name__, template_folder="templates")


@bp.get("/newsletters/<int:campaign_id>/<token>")
@shows_newsletter_images
def web_version(campaign_id: int, token: str):
    if token == SAMPLE_UNSUBSCRIBE_TOKEN:  # the link in a test copy or the preview
        return render_template("campaigns/web_version_sample.html")
    try:
        html = reader_copy(campaign_id, read_unsubscribe_token(token), token)
    except TokenError:
        return render_template("subscribers/invalid_link.html", kind="newsletter"), 400
    except NotSentToThem:
        return render_template("campaigns/web_version_unavailable.html"), 404
    response = make_response(html)
    # One reader's copy, with their coupon code: kept by no cache (a shared computer at
    # home or at the clinic), and in no index.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
