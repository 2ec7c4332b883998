"""Unsubscribing: RFC 8058 one-click POST, a page with one button, a way back."""

from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers import services
from campaign.subscribers.models import Subscriber, SubscriberStatus
from tests.subscribers.helpers import confirmed_subscriber, minted_in_the_past


def one_click(app, token: str):
    """The RFC 8058 POST a mail app's Unsubscribe button sends: no cookie, one field."""
    return app.test_client(use_cookies=False).post(
        f"/unsubscribe/{token}",
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )


def test_one_click_post_unsubscribes_without_a_cookie(app, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    response = one_click(app, token)
    assert response.status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None


def test_get_shows_one_button_and_changes_nothing(client, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    page = client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    assert page.count("<button") == 1
    assert f'action="/unsubscribe/{token}"' in page
    # Which address stops: someone with a home and a work address knows.
    assert f'<strong class="address">{email_address}</strong>' in page
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.CONFIRMED


def test_unsubscribing_twice_is_fine(client, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    db.session.refresh(subscriber)
    first = subscriber.unsubscribed_at
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.unsubscribed_at == first


def test_links_still_work_after_sixty_days(client, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    with minted_in_the_past(90 * 24 * 3600):
        token = services.unsubscribe_token(subscriber.id)
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


def test_a_link_past_its_age_still_stops_the_mail_but_brings_no_one_back(
    app, client, ctx, email_address
):
    subscriber = confirmed_subscriber(email_address)
    with minted_in_the_past(app.config["UNSUBSCRIBE_MAX_AGE_SECONDS"] + 86400):
        token = services.unsubscribe_token(subscriber.id)
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert page.get_data(as_text=True).count("<button") == 1
    # The mail app's own button posts the same old link, without a cookie.
    left = one_click(app, token)
    assert left.status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    html = left.get_data(as_text=True)
    assert "Subscribe again" not in html  # the way back takes a fresh link
    assert 'href="/">Sign up again</a>' in html
    assert "Sign up again" in client.get(f"/unsubscribe/{token}").get_data(as_text=True)
    assert client.post(f"/resubscribe/{token}").status_code == 400
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


def test_tampered_unsubscribe_token_gets_a_400_page(client, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    for bad in [token + "x", token[:-3], "nope", services.confirm_token(subscriber)]:
        assert client.get(f"/unsubscribe/{bad}").status_code == 400
        assert client.post(f"/unsubscribe/{bad}").status_code == 400
        assert client.post(f"/resubscribe/{bad}").status_code == 400
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.CONFIRMED


def test_unsubscribed_page_offers_a_way_back_through_double_opt_in(client, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    page = client.post(f"/unsubscribe/{token}").get_data(as_text=True)
    assert f'action="/resubscribe/{token}"' in page
    response = client.post(f"/resubscribe/{token}")
    assert "Check your inbox" in response.get_data(as_text=True)
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.PENDING
    assert subscriber.confirmation_sent_at is not None


def test_unsubscribe_of_an_erased_subscriber_answers_calmly(client, ctx, email_address):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    db.session.delete(subscriber)
    db.session.commit()
    assert client.post(f"/unsubscribe/{token}").status_code == 200
    assert db.session.scalar(select(Subscriber)) is None


def test_reopening_the_link_after_unsubscribing_says_already_unsubscribed(
    client, ctx, email_address
):
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    client.post(f"/unsubscribe/{token}")
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "You are already unsubscribed" in text
    assert "Unsubscribe me" not in text
    assert text.count("<button") == 1
    assert f'action="/resubscribe/{token}"' in text  # the way back
    # The POST answers as before.
    assert "You are unsubscribed" in client.post(f"/unsubscribe/{token}").get_data(as_text=True)


def test_the_unsubscribe_button_stays_while_a_signup_since_waits(client, ctx, email_address):
    """Someone signed the address up again: unsubscribing would still end that round."""
    subscriber = confirmed_subscriber(email_address)
    token = services.unsubscribe_token(subscriber.id)
    client.post(f"/unsubscribe/{token}")
    client.post("/api/v1/subscribe", json={"email": email_address, "consent": True})
    assert "Unsubscribe me" in client.get(f"/unsubscribe/{token}").get_data(as_text=True)
