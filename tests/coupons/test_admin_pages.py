"""Admins void a coupon or undo a redemption from the subscriber's page, with a reason."""

from sqlalchemy import func, select

from campaign.audit import AuditEvent
from campaign.coupons.models import Coupon, CouponStatus
from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.staff.helpers import csrf_from, log_in


def logged_in(app, make_staff, role: str):
    client = app.test_client()
    _, email, password = make_staff(role)
    log_in(client, email, password)
    return client


def move(client, subscriber_id: int, coupon_id: int, action: str, reason: str):
    page = client.get(f"/staff/subscribers/{subscriber_id}")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        f"/staff/coupons/{coupon_id}/{action}", data={"csrf_token": token, "reason": reason}
    )


def test_an_admin_voids_an_unused_coupon_and_undoes_a_redemption(
    app, ctx, make_staff, api_token, issue_coupon
):
    code = issue_coupon("vera@example.com", first_name="Vera")
    subscriber_id = db.session.scalar(select(Subscriber.id))
    coupon_id = db.session.scalar(select(Coupon.id))
    admin = logged_in(app, make_staff, "admin")
    page = admin.get(f"/staff/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Void coupon" in page

    # Redeemed at the desk, then undone by the admin long after (a reason is required).
    desk = {"Authorization": f"Bearer {api_token('receptionist')}"}
    assert admin.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200
    assert "Undo redemption" in admin.get(f"/staff/subscribers/{subscriber_id}").get_data(
        as_text=True
    )
    refused = move(admin, subscriber_id, coupon_id, "undo", "   ")
    assert refused.status_code == 303
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).status == CouponStatus.REDEEMED

    undone = move(admin, subscriber_id, coupon_id, "undo", "pressed by mistake")
    assert undone.status_code == 303
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).status == CouponStatus.ISSUED
    after = admin.get(undone.headers["Location"]).get_data(as_text=True)
    assert "Redemption undone" in after

    move(admin, subscriber_id, coupon_id, "void", "issued twice by mistake")
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).status == CouponStatus.VOID
    reasons = db.session.scalars(
        select(AuditEvent.details)
        .where(AuditEvent.action.in_(["coupon.redemption_undone", "coupon.voided"]))
        .order_by(AuditEvent.id)
    ).all()
    assert [r["reason"] for r in reasons] == ["pressed by mistake", "issued twice by mistake"]
    # Voided: no more buttons, and a second void changes nothing.
    page = admin.get(f"/staff/subscribers/{subscriber_id}").get_data(as_text=True)
    assert "Void coupon" not in page
    assert "Undo redemption" not in page


def test_only_admins_void_or_undo_from_the_page(app, ctx, make_staff, issue_coupon):
    issue_coupon()
    coupon_id = db.session.scalar(select(Coupon.id))
    subscriber_id = db.session.scalar(select(Subscriber.id))
    marketing = logged_in(app, make_staff, "marketing")
    assert "Void coupon" not in marketing.get(f"/staff/subscribers/{subscriber_id}").get_data(
        as_text=True
    )
    response = move(marketing, subscriber_id, coupon_id, "void", "because")
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).status == CouponStatus.ISSUED


def test_a_second_void_says_nothing_changed(app, ctx, make_staff, issue_coupon):
    issue_coupon()
    coupon_id = db.session.scalar(select(Coupon.id))
    subscriber_id = db.session.scalar(select(Subscriber.id))
    admin = logged_in(app, make_staff, "admin")
    first = move(admin, subscriber_id, coupon_id, "void", "lost")
    assert "Coupon voided" in admin.get(first.headers["Location"]).get_data(as_text=True)
    second = move(admin, subscriber_id, coupon_id, "void", "lost again")
    page = admin.get(second.headers["Location"]).get_data(as_text=True)
    assert "Nothing changed: the coupon is void" in page
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEvent).filter_by(action="coupon.voided")
        )
        == 1
    )


def test_a_reason_the_log_cannot_keep_is_refused_with_what_to_fix(
    app, ctx, make_staff, issue_coupon
):
    issue_coupon()
    coupon_id = db.session.scalar(select(Coupon.id))
    subscriber_id = db.session.scalar(select(Subscriber.id))
    admin = logged_in(app, make_staff, "admin")
    for reason, said in (
        ("   ", "Give a reason: it goes into the audit log."),
        ("by\u0007mistake", "Use text only in the reason: no control characters."),
        ("lost \u202eevil", "Use text only in the reason: no control characters."),
        ("x" * 201, "Give a reason of at most 200 characters."),
    ):
        refused = move(admin, subscriber_id, coupon_id, "void", reason)
        assert said in admin.get(refused.headers["Location"]).get_data(as_text=True), reason
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).status == CouponStatus.ISSUED
    # A line break typed in the box is a space in the log.
    done = move(admin, subscriber_id, coupon_id, "void", "issued\r\ntwice")
    assert "Coupon voided" in admin.get(done.headers["Location"]).get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Coupon, coupon_id).void_reason == "issued twice"
