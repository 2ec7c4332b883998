"""Links in the mail a reader or a staff member may follow: the test copy's
unsubscribe link, a link cut short, and the first-name fallback."""

import email
import email.policy

from campaign.campaigns.message import Reader, build_skeleton, personalize
from campaign.campaigns.models import Campaign
from campaign.campaigns.preview import test_copy as make_test_copy
from campaign.campaigns.rendering import render_campaign
from campaign.extensions import db
from campaign.subscribers.models import Subscriber


def test_a_test_copys_unsubscribe_link_explains_itself_and_changes_nothing(client, ctx):
    campaign = Campaign(subject="June news", body_markdown="Hello")
    db.session.add(campaign)
    db.session.flush()
    raw = make_test_copy(campaign, "olga@staff.example.com", "Olga")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    link = str(message["List-Unsubscribe"]).strip("<>")
    path = link.removeprefix("https://clinic.test")
    subscribers_before = db.session.query(Subscriber).count()

    page = client.get(path)
    assert page.status_code == 200
    assert "test copy" in page.get_data(as_text=True)
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    assert "Nothing was changed" in one_click.get_data(as_text=True)
    assert db.session.query(Subscriber).count() == subscribers_before


def test_a_broken_unsubscribe_link_gives_advice_that_works(client, make_app):
    page = client.get("/unsubscribe/cut-sho").get_data(as_text=True)
    assert "reply" not in page  # nothing reads replies
    assert "Unsubscribe button" in page
    assert "mailto:" not in page
    with_mailbox = make_app(UNSUBSCRIBE_MAILTO="leave@clinic.test").test_client()
    page = with_mailbox.get("/unsubscribe/cut-sho").get_data(as_text=True)
    assert 'href="mailto:leave@clinic.test?subject=unsubscribe"' in page


def test_an_empty_first_name_default_is_kept(ctx):
    body = "Thanks{{ first_name | default('') }}! Hi {{ first_name }}."
    skeleton = build_skeleton("News", render_campaign("News", "", body))
    raw = personalize(skeleton, Reader("ann@example.com", None, "tok"), "c1.d1")
    text = email.message_from_bytes(raw, policy=email.policy.default).get_body(("plain",))
    assert "Thanks! Hi there." in text.get_content()
