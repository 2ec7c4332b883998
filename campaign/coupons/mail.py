"""The coupon emails: the welcome (with the coupon when there is one), the reminder."""

from __future__ import annotations

import secrets

from campaign import clinic
from campaign.coupons import services
from campaign.coupons.models import Coupon
from campaign.coupons.qr import EMAIL_QR_SIZE, qr_png
from campaign.emails import Email, InlineImage, mail_domain, public_url
from campaign.subscribers import mail as subscriber_mail
from campaign.subscribers.models import Subscriber


def coupon_context(coupon: Coupon) -> dict:
    code = services.code_of(coupon)
    return {
        "coupon_code": code.display,
        "coupon_offer": coupon.offer_title,
        "coupon_terms": coupon.offer_terms,
        "coupon_expires": clinic.local_time(coupon.expires_at).strftime("%-d %B %Y"),
        "coupon_url": public_url(f"/coupon/{services.coupon_page_token(coupon)}"),
    }


def _with_coupon(email: Email, coupon: Coupon) -> Email:
    """The coupon's code, QR (an inline image), expiry and page, in ``email``."""
    # A Content-ID is an address-like id (RFC 2392): a name at our mail domain.
    # Unique to the message (RFC 2045 7): a mail app that keeps images by Content-ID
    # would show one welcome's QR in the next.
    cid = f"coupon-qr.{secrets.token_hex(8)}@{mail_domain()}"
    email.context.update(coupon_context(coupon), qr_cid=cid, qr_size=EMAIL_QR_SIZE)
    email.images.append(
        InlineImage(cid=cid, data=qr_png(services.code_of(coupon).value), subtype="png")
    )
    return email


def welcome_email(subscriber: Subscriber, coupon: Coupon | None) -> Email:
    email = subscriber_mail.welcome_email(subscriber)
    if coupon is not None:
        _with_coupon(email, coupon)
        welcome = "Welcome back!" if email.context["returning"] else "Welcome!"
        email.subject = f"{welcome} Your coupon: {coupon.offer_title}"
    return email


def reminder_email(subscriber: Subscriber, coupon: Coupon) -> Email:
    url, token = subscriber_mail.unsubscribe_link(subscriber.id)
    expires = clinic.local_time(coupon.expires_at).strftime("%-d %B %Y")
    email = Email(
        to=subscriber.email,
        subject=f"{coupon.offer_title}: your coupon is good until {expires}",
        template="coupon_reminder",
        context={"first_name": subscriber.first_name},
        unsubscribe_url=url,
        unsubscribe_token=token,
    )
    return _with_coupon(email, coupon)
