"""The welcome coupon: issued by a real worker on confirmation and mailed with its QR."""

import re

import pytest
from sqlalchemy import func, select

from campaign.coupons import codes
from campaign.coupons.models import Coupon
from campaign.extensions import db
from tests.campaigns.helpers import wait_until
from tests.test_integration import link


def sign_up_and_confirm(client, smtp, address: str, count_before: int = 0):
    client.post("/api/v1/subscribe", json={"email": address, "first_name": "Ann", "consent": True})
    messages = smtp.wait_for(address, count=count_before + 1)
    return client.post(link(messages[-1].text, "confirm"))


@pytest.mark.integration
def test_welcome_mail_carries_code_qr_expiry_terms_and_a_coupon_page(
    worker, app, client, ctx, smtp, email_address
):
    assert sign_up_and_confirm(client, smtp, email_address).status_code == 200
    _, welcome = smtp.wait_for(email_address, count=2)

    code = re.search(r"\b([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})\b", welcome.text).group(
        1
    )
    assert codes.parse(app.config["SECRET_KEY"], code).display == code
    assert code in welcome.html
    assert welcome.subject == "Welcome! Your coupon: Free massage oil"
    assert "Welcome to the Harbour Massage Clinic newsletter!" in " ".join(welcome.text.split())
    assert "Free massage oil" in welcome.text
    assert "Valid until" in welcome.text
    assert "Not exchangeable for cash" in welcome.text
    assert welcome.message["List-Unsubscribe"]

    # The QR is an inline image (cid) with alt text, and decodes to the bare code.
    image = next(part for part in welcome.message.walk() if part.get_content_type() == "image/png")
    cid = image["Content-ID"].strip("<>")
    assert re.search(
        rf'<img src="cid:{cid}"[^>]*alt="QR code of your coupon code {code}"', welcome.html
    )
    assert image.get_content()[:8] == b"\x89PNG\r\n\x1a\n"

    def mailed() -> bool:
        db.session.expire_all()
        return db.session.scalar(select(Coupon.emailed_at)) is not None

    # The worker records the send just after the server accepted it.
    wait_until(mailed, timeout=10)
    coupon = db.session.scalar(select(Coupon))
    assert coupon.code_digest != code
    assert code.replace("-", "") not in coupon.code_digest

    page = client.get(link(welcome.text, "coupon"))
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert code in html
    assert "<svg" in html
    assert f"QR code of coupon {code}" in html


@pytest.mark.integration
def test_no_second_coupon_for_a_second_confirmation_a_resubscription_or_an_address_variant(
    worker, client, ctx, smtp
):
    address = "ann.lee@gmail.com"
    sign_up_and_confirm(client, smtp, address)
    _, welcome = smtp.wait_for(address, count=2)
    code = re.search(r"[0-9A-Z]{4}(?:-[0-9A-Z]{4}){3}", welcome.text).group(0)
    confirm_path = link(smtp.to(address)[0].text, "confirm")
    client.post(confirm_path)  # a second confirmation of the same link

    # Unsubscribe, then come back through double opt-in with a variant of the address.
    client.post(link(welcome.text, "unsubscribe"))
    variant = "Ann.Lee+spa@googlemail.com"
    client.post("/api/v1/subscribe", json={"email": variant, "consent": True})
    again = smtp.wait_for(variant)[-1]
    client.post(link(again.text, "confirm"))
    welcome_back = smtp.wait_for(variant, count=2)[-1]

    assert db.session.scalar(select(func.count()).select_from(Coupon)) == 1
    # The returning subscriber is greeted as one, and shown the coupon they already
    # hold, not a new one.
    assert welcome_back.subject == "Welcome back! Your coupon: Free massage oil"
    assert "Welcome back to the Harbour Massage Clinic newsletter!" in " ".join(
        welcome_back.text.split()
    )
    assert "Welcome back to" in welcome_back.html
    assert code in welcome_back.text
    assert len(smtp.to(address)) == 2


def test_coupon_page_refuses_forged_tokens(client):
    assert client.get("/coupon/forged-token").status_code == 400
    assert client.get("/coupon/" + "x" * 600).status_code == 400


def test_a_welcome_the_server_refuses_leaves_the_coupon_unmailed(ctx, smtp, email_address):
    from campaign.coupons.tasks import welcome_subscriber
    from tests.subscribers.helpers import confirmed_subscriber

    # Refused from the start: confirming also queues a welcome, which a worker left
    # running by this module's other tests may send before the one run here.
    smtp.answers[email_address] = ["550 5.1.1 No such user"] * 10
    subscriber = confirmed_subscriber(email_address)
    assert welcome_subscriber.apply(args=[subscriber.id]).successful()  # given up
    db.session.expire_all()
    coupon = db.session.scalar(select(Coupon).filter_by(subscriber_id=subscriber.id))
    assert coupon is not None  # the coupon is theirs; only the email did not go
    assert coupon.emailed_at is None


def test_a_welcome_owed_while_the_broker_is_down_is_sent_by_the_sweep(
    app, client, ctx, monkeypatch, email_address
):
    """The welcome is owed in the confirmation's own transaction: a broker away at the
    commit loses no coupon (beat's sweep hands it to a worker)."""
    from campaign import outbox
    from campaign.coupons.models import OwedWelcome
    from campaign.coupons.tasks import send_owed_welcomes, welcome_subscriber
    from campaign.subscribers import services
    from tests.conftest import beat_schedule
    from tests.subscribers.helpers import pending_subscriber

    def broker_down(**_):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(outbox, "_wakeups", {})
    monkeypatch.setattr(send_owed_welcomes, "apply_async", broker_down)
    subscriber = pending_subscriber(email_address)
    token = services.confirm_token(subscriber)
    assert client.post(f"/confirm/{token}").status_code == 200  # no 500, confirmed
    db.session.expire_all()
    assert db.session.scalars(select(OwedWelcome.subscriber_id)).all() == [subscriber.id]

    sweep = beat_schedule(app.config)["send-owed-welcomes"]
    assert sweep["task"] == send_owed_welcomes.name
    handed = []
    monkeypatch.setattr(welcome_subscriber, "delay", handed.append)
    send_owed_welcomes.run()  # what beat runs each minute (the body, not an eager run)
    assert handed == [subscriber.id]
    assert db.session.scalar(select(func.count()).select_from(OwedWelcome)) == 0

    # A broker that fails mid-batch leaves the rest owed, not lost.
    from campaign.coupons.services import owe_welcome

    owe_welcome(subscriber.id)
    db.session.commit()
    monkeypatch.setattr(welcome_subscriber, "delay", broker_down)
    send_owed_welcomes.run()
    assert db.session.scalars(select(OwedWelcome.subscriber_id)).all() == [subscriber.id]


def test_the_promise_follows_the_offer_and_is_not_made_twice(client, ctx, smtp):
    """The signup page, the confirmation email and the confirmed page promise the
    offer as it is now, and promise nothing to someone whose one coupon is used."""
    from campaign.coupons import services
    from campaign.coupons.models import CouponStatus
    from campaign.subscribers import services as subscriber_services
    from campaign.subscribers.tasks import send_confirmation_email
    from tests.subscribers.helpers import pending_subscriber

    offer = services.welcome_offer()
    offer.title = "10% off your next treatment."
    db.session.commit()
    signup_page = client.get("/").get_data(as_text=True)
    assert "get a welcome coupon: 10% off your next treatment.</strong>" in signup_page
    assert "massage oil" not in signup_page

    subscriber = pending_subscriber("rosa@example.com")
    send_confirmation_email.apply(args=[subscriber.id])
    (first,) = smtp.wait_for("rosa@example.com")
    assert "your welcome coupon: 10% off your next treatment." in " ".join(first.text.split())
    confirmed = client.post(link(first.text, "confirm")).get_data(as_text=True)
    assert "with your coupon (10% off your next treatment) is on its way" in confirmed

    # Her coupon is used at the desk; she leaves, and comes back.
    coupon = services.issue_welcome_coupon(subscriber.id)
    coupon.status = CouponStatus.REDEEMED
    subscriber_services.unsubscribe(subscriber.id)
    db.session.commit()
    subscriber_services.resubscribe(subscriber.id, ip="127.0.0.1", user_agent="test")
    db.session.commit()
    send_confirmation_email.apply(args=[subscriber.id])
    again = smtp.wait_for("rosa@example.com", count=2)[-1]
    assert "coupon" not in again.text
    back = client.post(link(again.text, "confirm")).get_data(as_text=True)
    assert "Your welcome email is on its way" in back
    assert "coupon" not in back

    # An offer switched off is promised nowhere.
    offer.active = False
    db.session.commit()
    assert "welcome coupon" not in client.get("/").get_data(as_text=True)
