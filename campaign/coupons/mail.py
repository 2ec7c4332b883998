"""The welcome email, carrying the welcome coupon when there is one."""

from __future__ import annotations

from campaign import clinic
from campaign.coupons import services
from campaign.coupons.models import Coupon
from campaign.coupons.qr import qr_png
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


def welcome_email(subscriber: Subscriber, coupon: Coupon | None) -> Email:
    email = subscriber_mail.welcome_email(subscriber)
    if coupon is not None:
        context = coupon_context(coupon)
        # A Content-ID is an address-like id (RFC 2392): a name at our mail domain.
        cid = f"coupon-qr@{mail_domain()}"
        email.context.update(context, qr_cid=cid)
        email.images.append(
            InlineImage(cid=cid, data=qr_png(services.code_of(coupon).value), subtype="png")
        )
        welcome = "Welcome back!" if email.context["returning"] else "Welcome!"
        email.subject = f"{welcome} Your coupon: {coupon.offer_title}"
    return email
