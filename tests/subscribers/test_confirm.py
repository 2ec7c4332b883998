"""Confirming an address: a page with one button, a POST that needs no cookie."""

from sqlalchemy import select

from campaign.extensions import db
from campaign.subscribers import services
from campaign.subscribers.models import ConsentRecord, SubscriberStatus
from campaign.tokens import Purpose, make_token
from tests.subscribers.helpers import minted_in_the_past, pending_subscriber


def test_get_shows_a_button_and_changes_nothing(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    token = services.confirm_token(subscriber)
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 200
    assert f'action="/confirm/{token}"' in page.get_data(as_text=True)
    assert 'method="post"' in page.get_data(as_text=True)
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.PENDING


def test_post_confirms_without_a_cookie_and_records_when_and_where(app, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    token = services.confirm_token(subscriber)
    fresh_client = app.test_client(use_cookies=False)
    response = fresh_client.post(f"/confirm/{token}", environ_base={"REMOTE_ADDR": "203.0.113.7"})
    assert response.status_code == 200
    assert "You are subscribed" in response.get_data(as_text=True)
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.CONFIRMED
    assert subscriber.confirmed_at is not None
    consent = db.session.scalar(select(ConsentRecord))
    assert consent.confirmed_ip == "203.0.113.7"
    assert consent.confirmed_at == subscriber.confirmed_at


def test_confirming_twice_is_idempotent(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    token = services.confirm_token(subscriber)
    assert client.post(f"/confirm/{token}").status_code == 200
    db.session.refresh(subscriber)
    confirmed_at = subscriber.confirmed_at
    again = client.post(f"/confirm/{token}")
    assert again.status_code == 200
    assert "already subscribed" in again.get_data(as_text=True)
    db.session.refresh(subscriber)
    assert subscriber.confirmed_at == confirmed_at


def test_confirming_emits_the_domain_event_once(client, ctx, email_address):
    from campaign.subscribers.signals import subscriber_confirmed

    seen = []

    def receiver(subscriber_id, **_):
        seen.append(subscriber_id)

    subscriber_confirmed.connect(receiver)
    try:
        subscriber = pending_subscriber(email_address)
        token = services.confirm_token(subscriber)
        client.post(f"/confirm/{token}")
        client.post(f"/confirm/{token}")
    finally:
        subscriber_confirmed.disconnect(receiver)
    assert seen == [subscriber.id]


def test_expired_link_offers_a_resend(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    with minted_in_the_past(8 * 24 * 3600):
        token = services.confirm_token(subscriber)
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 410
    assert f'action="/confirm/{token}/resend"' in page.get_data(as_text=True)
    assert client.post(f"/confirm/{token}").status_code == 410
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.PENDING

    # The resend is itself limited: the first confirmation went out moments ago.
    sent_at = subscriber.confirmation_sent_at
    assert client.post(f"/confirm/{token}/resend").status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.confirmation_sent_at == sent_at
    subscriber.confirmation_sent_at = sent_at.replace(year=sent_at.year - 1)
    db.session.commit()
    assert client.post(f"/confirm/{token}/resend").status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.confirmation_sent_at.year == sent_at.year


def test_an_expired_link_already_used_says_so_and_offers_no_new_one(client, ctx, email_address):
    """It offered "Send me a new link", which then sent nothing: the person is in."""
    subscriber = pending_subscriber(email_address)
    with minted_in_the_past(8 * 24 * 3600):
        token = services.confirm_token(subscriber)
    services.confirm(subscriber.id, subscriber.optin_round, ip=None)
    db.session.commit()
    for method in ("GET", "POST"):
        page = client.open(f"/confirm/{token}", method=method)
        assert page.status_code == 200, method
        text = page.get_data(as_text=True)
        assert "already subscribed" in text
        assert "/resend" not in text


def test_an_expired_link_of_an_earlier_signup_says_it_is_no_longer_valid(
    client, ctx, email_address
):
    subscriber = pending_subscriber(email_address)
    with minted_in_the_past(8 * 24 * 3600):
        token = services.confirm_token(subscriber)
    services.confirm(subscriber.id, subscriber.optin_round, ip=None)
    services.unsubscribe(subscriber.id)
    db.session.commit()
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 409
    assert "no longer valid" in page.get_data(as_text=True)


def test_tampered_forged_and_foreign_tokens_get_a_400_page(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    token = services.confirm_token(subscriber)
    bad_tokens = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),
        token[:10],
        "garbage",
        "x" * 2000,
        make_token(Purpose.UNSUBSCRIBE, subscriber.id),  # right key, wrong purpose
        make_token(Purpose.CONFIRM, {"s": 1}),  # right purpose, unexpected payload
    ]
    for bad in bad_tokens:
        for method in (client.get, client.post):
            response = method(f"/confirm/{bad}")
            assert response.status_code == 400, bad
            assert "does not work" in response.get_data(as_text=True)
        assert client.post(f"/confirm/{bad}/resend").status_code == 400
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.PENDING


def test_token_signed_with_another_key_is_rejected(app, client, ctx, email_address):
    from itsdangerous import URLSafeTimedSerializer

    subscriber = pending_subscriber(email_address)
    forged = URLSafeTimedSerializer("not-our-key", salt=str(Purpose.CONFIRM)).dumps(
        [subscriber.id, subscriber.optin_round]
    )
    assert client.post(f"/confirm/{forged}").status_code == 400


def test_link_from_before_an_unsubscribe_cannot_resubscribe(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    old_token = services.confirm_token(subscriber)
    client.post(f"/confirm/{old_token}")
    services.unsubscribe(subscriber.id)
    db.session.commit()
    response = client.post(f"/confirm/{old_token}")
    assert response.status_code == 409
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED


def test_resubscribing_goes_through_double_opt_in_again(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    client.post(f"/confirm/{services.confirm_token(subscriber)}")
    services.unsubscribe(subscriber.id)
    db.session.commit()
    response = client.post("/api/v1/subscribe", json={"email": email_address, "consent": True})
    assert response.status_code == 202
    db.session.refresh(subscriber)
    # Anyone can type the address: the row stays unsubscribed until the new round is
    # confirmed (see test_signup_again.py).
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    new_token = services.confirm_token(subscriber)
    assert client.post(f"/confirm/{new_token}").status_code == 200
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.CONFIRMED


def test_signed_links_carrying_what_we_never_mint_get_a_400_page(client, ctx, email_address):
    # Only a holder of SECRET_KEY can sign these; they still must not reach the database
    # as ids past its integers (a 500) or as True (which Python calls 1).
    subscriber = pending_subscriber(email_address)
    with minted_in_the_past(-(2**62)):  # a timestamp no clock can hold
        far_future = services.confirm_token(subscriber)
    links = [
        *(f"/confirm/{make_token(Purpose.CONFIRM, p)}" for p in ([2**70, 2**70], [True, 1])),
        f"/confirm/{far_future}",
        *(f"/unsubscribe/{make_token(Purpose.UNSUBSCRIBE, p)}" for p in (2**70, True, -1)),
        *(f"/coupon/{make_token(Purpose.COUPON, p)}" for p in (2**63, True)),
    ]
    for link in links:
        assert client.get(link).status_code == 400, link
        if not link.startswith("/coupon/"):
            assert client.post(link).status_code == 400, link
    for payload in ([2**70, 1], [2**70, 2**70]):
        with minted_in_the_past(10**7):  # expired: the resend reads the payload anyway
            expired = make_token(Purpose.CONFIRM, payload)
        assert client.post(f"/confirm/{expired}/resend").status_code == 400
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.PENDING


def test_reopening_the_link_after_confirming_says_already_subscribed(client, ctx, email_address):
    subscriber = pending_subscriber(email_address)
    token = services.confirm_token(subscriber)
    assert client.post(f"/confirm/{token}").status_code == 200
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "You are already subscribed" in text
    assert "One last step" not in text
    assert "<form" not in text
    # After an unsubscribe the person is no longer subscribed: the link is the old one.
    services.unsubscribe(subscriber.id)
    db.session.commit()
    assert "already subscribed" not in client.get(f"/confirm/{token}").get_data(as_text=True)
    assert client.post(f"/confirm/{token}").status_code == 409
