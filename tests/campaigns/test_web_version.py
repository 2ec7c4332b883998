"""The newsletter's web version: each reader opens their own copy from the footer."""

import re

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.campaigns.helpers import add_confirmed, create_campaign, wait_for_status

pytestmark = pytest.mark.integration

WEB_LINK = re.compile(
    r'href="https://clinic\.test(/newsletters/\d+/[^"]+)"[^>]*>View this email in'
)


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


def _web_path(received) -> str:
    (path,) = WEB_LINK.findall(received.html)
    # The text part names the same page.
    assert f"View this email in your browser: https://clinic.test{path}" in received.text
    return path


def _subscriber_id(email: str) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Subscriber.id).filter_by(email=email))


def test_each_reader_opens_their_own_copy_and_the_coupon_follows_its_state(
    worker, client, ctx, smtp, marketing, issue_coupon, api_token
):
    (nameless,) = add_confirmed(1, first_name=None)
    holder = "holder-" + nameless
    code = issue_coupon(holder, first_name="Hana")
    campaign_id = create_campaign(client, marketing)
    assert (
        client.post(f"/api/v1/campaigns/{campaign_id}/send", headers=marketing).status_code == 202
    )
    assert wait_for_status(client, marketing, campaign_id, {"sent", "failed"})["status"] == "sent"

    path = _web_path(smtp.to(holder)[0])
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Hello Hana," in html
    assert code in html
    assert "https://clinic.test/coupon/" in html
    token = path.rsplit("/", 1)[1]
    assert f'href="https://clinic.test/unsubscribe/{token}"' in html  # their own link
    assert "View this email in your browser" not in html  # not a link to itself
    assert not re.search(r"XQ[A-Z0-9]+QX", html)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Robots-Tag"] == "noindex"
    assert "img-src 'self' data: https:" in page.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in page.headers

    # Redeemed at the desk since: the copy no longer offers the oil.
    desk = {"Authorization": f"Bearer {api_token('receptionist')}"}
    assert client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200
    html = client.get(path).get_data(as_text=True)
    assert "Hello Hana," in html
    assert code not in html
    assert "free oil" not in html

    # The reader who gave no name reads the fallback, as in their message.
    nameless_page = client.get(_web_path(smtp.to(nameless)[0]))
    assert "Hello friend," in nameless_page.get_data(as_text=True)

    # A newsletter not sent to them, a changed token, an id no database holds: refused.
    other = create_campaign(client, marketing, subject="Not sent yet")
    not_theirs = client.get(f"/newsletters/{other}/{token}")
    assert not_theirs.status_code == 404
    assert "This newsletter is not available here" in not_theirs.get_data(as_text=True)
    assert client.get(path + "x").status_code == 400
    assert client.get(f"/newsletters/{10**30}/{token}").status_code == 404

    # Unsubscribed since: the copy stays, and its footer no longer says they receive it.
    assert "You receive this because you subscribed" in html
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    html = client.get(path).get_data(as_text=True)
    assert "Hello Hana," in html
    assert "You receive this because" not in html
    assert "You have unsubscribed, so no more newsletters are sent to you." in html
    (back,) = re.findall(r'href="https://clinic\.test(/unsubscribe/[^"]+)"[^>]*>Changed', html)
    assert back == f"/unsubscribe/{token}"
    assert "Subscribe again" in client.get(back).get_data(as_text=True)
    assert not re.search(r"XQ[A-Z0-9]+QX", html)

    # Erased on request: the copy goes with the rest of their data.
    admin = {"Authorization": f"Bearer {api_token('admin')}"}
    holder_id = _subscriber_id(holder)
    assert client.delete(f"/api/v1/subscribers/{holder_id}", headers=admin).status_code == 204
    gone = client.get(path)
    assert gone.status_code == 404
    assert "erased from our list" in gone.get_data(as_text=True)


def test_a_test_copys_link_explains_itself(client, ctx, smtp, marketing, make_staff):
    from campaign.campaigns.tasks import send_test_copy

    _, staff_email, _ = make_staff("marketing")
    campaign_id = create_campaign(client, marketing, subject="Draft news")
    send_test_copy.apply(args=[campaign_id, staff_email])
    (copy,) = smtp.wait_for(staff_email)
    page = client.get(_web_path(copy))
    assert page.status_code == 200
    assert "test copy" in page.get_data(as_text=True)
    assert "Hello" not in page.get_data(as_text=True)  # the draft itself is not shown
