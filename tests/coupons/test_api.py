"""The coupon routes of the contract: lookup, redeem, undo, void."""

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from campaign.audit import AuditEvent
from campaign.coupons.models import Coupon, CouponStatus, Redemption
from campaign.database import utcnow
from campaign.extensions import db


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def desk(api_token):
    return bearer(api_token("receptionist", name="Maria"))


def test_lookup_shows_the_coupon_without_redeeming(client, desk, issue_coupon, ctx):
    code = issue_coupon("ann.lee@example.com", first_name="Ann")
    response = client.get(f"/api/v1/coupons/{code}", headers=desk)
    assert response.status_code == 200
    body = response.get_json()
    assert body["code"] == code
    assert body["status"] == "issued"
    assert body["offer"] == "Free massage oil"
    assert body["expires_at"].endswith("Z")
    assert body["redeemed_at"] is None
    assert body["redeemed_by"] is None
    assert body["subscriber"] == "A***, a***@e***.com"
    assert db.session.scalar(select(Coupon.status)) == CouponStatus.ISSUED


def test_codes_are_read_in_any_case_spacing_and_with_crockford_lookalikes(
    client, desk, issue_coupon
):
    code = issue_coupon()
    plain = code.replace("-", "")
    variants = [code.lower(), plain, " ".join(plain[i : i + 4] for i in range(0, 16, 4))]
    variants.append(plain.replace("0", "o").replace("1", "l"))
    for variant in variants:
        assert client.get(f"/api/v1/coupons/{variant}", headers=desk).status_code == 200, variant


def test_redeem_once_then_409_with_when_and_by_whom(client, desk, issue_coupon, ctx):
    code = issue_coupon()
    first = client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    assert first.status_code == 200
    assert first.get_json()["status"] == "redeemed"
    assert first.get_json()["redeemed_by"] == "Maria"
    second = client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert error["code"] == "already_redeemed"
    assert "by Maria" in error["message"]
    assert second.get_json()["coupon"]["redeemed_at"] is not None
    assert len(db.session.scalars(select(Redemption)).all()) == 1
    assert db.session.scalar(select(AuditEvent.action).filter_by(action="coupon.redeemed"))


def test_a_redemption_is_recorded_audited_and_answered_whole(client, desk, issue_coupon, ctx):
    code = issue_coupon("bo.kim@example.com", first_name="Bo Kim")
    response = client.post(
        f"/api/v1/coupons/{code}/redeem", headers=desk, environ_base={"REMOTE_ADDR": "10.1.2.3"}
    )
    assert response.status_code == 200
    coupon = db.session.scalar(select(Coupon))
    redemption = db.session.scalar(select(Redemption))
    assert (coupon.status, coupon.redeemed_by_id) == (CouponStatus.REDEEMED, redemption.staff_id)
    assert (redemption.coupon_id, redemption.ip) == (coupon.id, "10.1.2.3")
    event = db.session.scalar(select(AuditEvent).filter_by(action="coupon.redeemed"))
    assert (event.staff_id, event.target, event.ip) == (
        redemption.staff_id,
        f"coupon:{coupon.id}",
        "10.1.2.3",
    )
    assert response.get_json() == {
        "code": code,
        "status": "redeemed",
        "offer": "Free massage oil",
        "terms": coupon.offer.terms,
        "expires_at": coupon.expires_at.isoformat(timespec="seconds") + "Z",
        "redeemed_at": coupon.redeemed_at.isoformat(timespec="seconds") + "Z",
        "redeemed_by": "Maria",
        "subscriber": "B*** K***, b***@e***.com",
        "redemption_id": redemption.id,
        "undone_at": None,
    }


def test_a_coupon_whose_owner_was_erased_still_redeems(client, desk, issue_coupon, ctx):
    code = issue_coupon()
    db.session.execute(update(Coupon).values(subscriber_id=None))
    db.session.commit()
    response = client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    assert response.status_code == 200
    assert response.get_json()["subscriber"] is None


def test_invalid_and_unknown_codes(client, desk, app):
    from campaign.coupons import codes

    assert (
        client.post("/api/v1/coupons/AAAA-BBBB-CCCC-DDDD/redeem", headers=desk).status_code == 400
    )
    response = client.get("/api/v1/coupons/not-a-code", headers=desk)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_code"
    # A scanned link is text with slashes: still "not a valid code", not a routing 404.
    for scanned in ("https%3A%2F%2Fexample.com%2Fx", "a/b/c", "AAAA-BBBB/CCCC-DDDD"):
        response = client.get(f"/api/v1/coupons/{scanned}", headers=desk, follow_redirects=True)
        assert response.status_code == 400, scanned
        assert response.get_json()["error"]["code"] == "invalid_code"
    # Correctly signed but never issued: "no such coupon" differs from "not a valid code".
    genuine = codes.code_for(app.config["SECRET_KEY"], codes.new_nonce()).display
    response = client.post(f"/api/v1/coupons/{genuine}/redeem", headers=desk)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_expired_and_void_coupons_are_410(client, desk, api_token, issue_coupon, ctx):
    expired = issue_coupon()
    db.session.execute(update(Coupon).values(expires_at=utcnow() - timedelta(days=1)))
    db.session.commit()
    response = client.post(f"/api/v1/coupons/{expired}/redeem", headers=desk)
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "expired"
    assert client.get(f"/api/v1/coupons/{expired}", headers=desk).get_json()["status"] == "expired"

    voided = issue_coupon()
    admin = bearer(api_token("admin"))
    assert client.post(f"/api/v1/coupons/{voided}/void", headers=admin, json={}).status_code == 400
    response = client.post(f"/api/v1/coupons/{voided}/void", headers=admin, json={"reason": "lost"})
    assert response.status_code == 200
    assert response.get_json()["status"] == "void"
    response = client.post(f"/api/v1/coupons/{voided}/redeem", headers=desk)
    assert response.status_code == 410
    assert response.get_json()["error"]["code"] == "void"
    assert (
        client.post(
            f"/api/v1/coupons/{voided}/void", headers=desk, json={"reason": "x"}
        ).status_code
        == 403
    )
    again = client.post(f"/api/v1/coupons/{voided}/void", headers=admin, json={"reason": "lost"})
    assert again.status_code == 200  # void already: the same end, as a repeated DELETE
    assert again.get_json()["status"] == "void"


def test_a_void_coupon_says_why_it_was_voided(client, desk, api_token, issue_coupon, ctx):
    code = issue_coupon()
    assert "void_reason" not in client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()
    admin = bearer(api_token("admin"))
    voided = client.post(
        f"/api/v1/coupons/{code}/void", headers=admin, json={"reason": "Issued twice by mistake"}
    )
    assert voided.get_json()["void_reason"] == "Issued twice by mistake"

    looked_up = client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()
    assert (looked_up["status"], looked_up["void_reason"]) == ("void", "Issued twice by mistake")
    refused = client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    assert refused.status_code == 410
    assert refused.get_json()["coupon"]["void_reason"] == "Issued twice by mistake"


def test_voiding_a_used_coupon_leaves_it_used_and_says_so(
    client, desk, api_token, issue_coupon, ctx
):
    code = issue_coupon()
    client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    admin = bearer(api_token("admin"))
    response = client.post(f"/api/v1/coupons/{code}/void", headers=admin, json={"reason": "lost"})
    assert response.status_code == 409  # nothing changed: said, not a 200 to read closely
    error = response.get_json()["error"]
    assert error["code"] == "already_redeemed"
    assert error["message"].startswith("Already used on ")
    assert response.get_json()["coupon"]["status"] == "redeemed"
    assert client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()["status"] == "redeemed"


def test_reasons_are_one_line_of_text(client, desk, api_token, issue_coupon, ctx):
    code = issue_coupon()
    admin = bearer(api_token("admin"))

    def void(reason):
        return client.post(f"/api/v1/coupons/{code}/void", headers=admin, json={"reason": reason})

    for blank in ("", "   ", "\n\t"):
        refused = void(blank)
        assert refused.status_code == 400, repr(blank)
        assert refused.get_json()["error"]["code"] == "reason_required"
    for bad, said in (
        ("pressed by\u0007mistake", "no control characters"),
        ("lost \u202eevil", "no control characters"),
        ("x" * 201, "at most 200 characters"),
        (7, "must be text"),
    ):
        refused = void(bad)
        assert refused.status_code == 400, repr(bad)
        assert refused.get_json()["error"]["code"] == "invalid_reason"
        assert said in refused.get_json()["error"]["message"]
    assert client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()["status"] == "issued"
    # Line breaks and runs of spaces are kept as one line, as the log shows it.
    voided = void("  lost\r\nat   the desk ")
    assert voided.status_code == 200
    assert voided.get_json()["void_reason"] == "lost at the desk"

    # Undo takes the same reasons: an admin's is required, and checked.
    other = issue_coupon()
    assert client.post(f"/api/v1/coupons/{other}/redeem", headers=desk).status_code == 200
    undo = f"/api/v1/coupons/{other}/undo"
    assert (
        client.post(undo, headers=admin, json={"reason": "   "}).get_json()["error"]["code"]
        == "reason_required"
    )
    refused = client.post(undo, headers=admin, json={"reason": "by\u0007mistake"})
    assert refused.get_json()["error"]["code"] == "invalid_reason"
    done = client.post(undo, headers=admin, json={"reason": "pressed\nby mistake"})
    assert done.status_code == 200
    redemption = db.session.scalar(select(Redemption).order_by(Redemption.id.desc()))
    db.session.refresh(redemption)
    assert redemption.undo_reason == "pressed by mistake"


def test_receptionist_undoes_own_redemption_within_15_minutes(
    client, desk, api_token, issue_coupon, ctx
):
    code = issue_coupon()
    client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    other_desk = bearer(api_token("receptionist"))
    response = client.post(f"/api/v1/coupons/{code}/undo", headers=other_desk)
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "undo_not_allowed"

    response = client.post(f"/api/v1/coupons/{code}/undo", headers=desk)
    assert response.status_code == 200
    assert response.get_json()["status"] == "issued"
    redemption = db.session.scalar(select(Redemption))
    assert redemption.undone_at is not None
    # It can be redeemed again, and the log keeps both redemptions.
    assert client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200
    assert len(db.session.scalars(select(Redemption)).all()) == 2
    assert client.post(f"/api/v1/coupons/{code}/undo", headers=desk).status_code == 200
    assert (
        client.post(f"/api/v1/coupons/{code}/undo", headers=desk).get_json()["error"]["code"]
        == "not_redeemed"
    )


def test_after_15_minutes_only_an_admin_undoes_and_gives_a_reason(
    client, desk, api_token, issue_coupon, ctx
):
    code = issue_coupon()
    client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    db.session.execute(update(Redemption).values(redeemed_at=utcnow() - timedelta(minutes=16)))
    db.session.commit()
    assert client.post(f"/api/v1/coupons/{code}/undo", headers=desk).status_code == 403

    admin = bearer(api_token("admin"))
    response = client.post(f"/api/v1/coupons/{code}/undo", headers=admin, json={})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "reason_required"
    assert response.get_json()["error"]["field"] == "reason"
    response = client.post(
        f"/api/v1/coupons/{code}/undo", headers=admin, json={"reason": "guest changed mind"}
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert db.session.scalar(select(Redemption.undo_reason)) == "guest changed mind"
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"coupon.redeemed", "coupon.redemption_undone"} <= actions


def test_a_burst_of_invalid_codes_locks_the_account(
    make_app, api_token, issue_coupon, make_staff, caplog
):
    app = make_app(INVALID_CODE_BURST="3 per minute")
    client = app.test_client()
    headers = bearer(api_token("receptionist"))
    good = issue_coupon()
    statuses = [
        client.get(f"/api/v1/coupons/ZZZZ-ZZZZ-ZZZZ-ZZZ{i}", headers=headers).status_code
        for i in range(4)
    ]
    assert statuses == [400, 400, 400, 400]
    response = client.get(f"/api/v1/coupons/{good}", headers=headers)
    assert response.status_code == 423
    assert response.get_json()["error"]["code"] == "account_locked"
    assert "locked" in caplog.text
    # When it ends: said for the desk in the clinic's time, and as Retry-After.
    from campaign import clinic
    from campaign.staff.models import Staff

    with app.app_context():
        staff = db.session.scalar(select(Staff).where(Staff.locked_until.is_not(None)))
        until = clinic.local_time(staff.locked_until).strftime("%H:%M")
        staff_id = staff.id
    assert f"paused until {until}" in response.get_json()["error"]["message"]
    assert 0 < int(response.headers["Retry-After"]) <= 5 * 60

    # An admin lifts the pause from the Staff page: the desk checks codes at once, and
    # with a fresh count (one more invalid code does not pause it again).
    from tests.staff.helpers import csrf_from, log_in

    admin_client = app.test_client()
    _, email, password = make_staff("admin")
    log_in(admin_client, email, password)
    team = admin_client.get("/staff/team/").get_data(as_text=True)
    assert f"paused until {until}" in team
    lifted = admin_client.post(
        f"/staff/team/{staff_id}/unlock", data={"csrf_token": csrf_from(team)}
    )
    assert lifted.status_code == 303
    assert "can check coupon codes again" in admin_client.get("/staff/team/").get_data(as_text=True)
    assert client.get(f"/api/v1/coupons/{good}", headers=headers).status_code == 200
    assert client.get("/api/v1/coupons/ZZZZ-ZZZZ-ZZZZ-ZZZZ", headers=headers).status_code == 400
    assert client.get(f"/api/v1/coupons/{good}", headers=headers).status_code == 200
    with app.app_context():
        from campaign.audit import AuditEvent

        assert db.session.scalar(select(AuditEvent.target).filter_by(action="staff.unlocked")) == (
            f"staff:{staff_id}"
        )


def test_codes_of_the_wrong_length_do_not_pause_the_desk(make_app, api_token, issue_coupon):
    # A scan cut short or a code pasted twice is no guess: it cannot be a valid code.
    app = make_app(INVALID_CODE_BURST="3 per minute")
    client = app.test_client()
    headers = bearer(api_token("receptionist"))
    good = issue_coupon()
    for text in ("ZZZZ-ZZZZ", "ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ", good[:-1], good + good) * 2:
        refused = client.get(f"/api/v1/coupons/{text}", headers=headers)
        assert refused.status_code == 400, text
        assert "Coupon codes have" in refused.get_json()["error"]["message"]
    assert client.get(f"/api/v1/coupons/{good}", headers=headers).status_code == 200


def test_text_that_is_no_code_does_not_pause_the_desk(make_app, api_token, issue_coupon):
    # The camera reading a poster's QR (a web address), dots for dashes, a lone dash:
    # none can be a guess at a code, and each used to count toward the pause.
    app = make_app(INVALID_CODE_BURST="3 per minute")
    client = app.test_client()
    headers = bearer(api_token("receptionist"))
    good = issue_coupon()
    texts = (
        "https:%2F%2Fexample.com%2Fmenu",
        "N0C0.01HH.N58F.C10H",
        "-",
        "A$B",
        "ZZZZ-ZZZZ-ZZZZ-ZZZU",
    )
    for text in texts * 2:
        refused = client.get(f"/api/v1/coupons/{text}", headers=headers)
        assert refused.status_code == 400, text
        assert refused.get_json()["error"]["code"] == "invalid_code"
    assert client.get(f"/api/v1/coupons/{good}", headers=headers).status_code == 200


def test_desk_lists_todays_redemptions(client, desk, issue_coupon):
    codes = [issue_coupon() for _ in range(2)]
    for code in codes:
        client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    items = client.get("/api/v1/desk/redemptions", headers=desk).get_json()["items"]
    assert [item["code"] for item in items] == list(reversed(codes))


def test_session_callers_need_the_csrf_token_for_changes_and_lookups(app, make_staff, issue_coupon):
    code = issue_coupon()
    _, email, password = make_staff("receptionist")
    client = app.test_client()
    login_page = client.get("/staff/login").get_data(as_text=True)
    csrf = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/staff/login", data={"email": email, "password": password, "csrf_token": csrf})
    # A look-up counts invalid codes toward the lockout: it needs the token too.
    response = client.get(f"/api/v1/coupons/{code}")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    assert client.get(f"/api/v1/coupons/{code}", headers={"X-CSRFToken": csrf}).status_code == 200
    response = client.post(f"/api/v1/coupons/{code}/redeem")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"
    response = client.post(f"/api/v1/coupons/{code}/redeem", headers={"X-CSRFToken": csrf})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        b"[1]",
        b"{bad",
        b'{"reason": 5}',
        b'{"reason": "x", "extra": 1}',
        b'{"reason": "' + b"r" * 300 + b'"}',
    ],
)
def test_bad_undo_bodies_get_a_clear_400(client, desk, issue_coupon, body):
    code = issue_coupon()
    client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    response = client.post(
        f"/api/v1/coupons/{code}/undo", headers=desk, data=body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in {
        "invalid_json",
        "unknown_field",
        "invalid_reason",
    }


@pytest.mark.parametrize("form_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_a_form_body_on_redeem_or_undo_is_a_400_not_ignored(client, desk, issue_coupon, form_type):
    """The request guards read a form before the view, so these calls found no body and
    went ahead: ``redeemed_by=Someone`` redeemed as the token's owner, an undo's
    ``reason`` was dropped."""
    code = issue_coupon()
    redeem = client.post(
        f"/api/v1/coupons/{code}/redeem",
        headers=desk,
        data={"redeemed_by": "Someone Else"},
        content_type=form_type,
    )
    assert redeem.status_code == 400
    assert redeem.get_json()["error"]["code"] == "invalid_json"
    assert client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()["status"] == "issued"

    assert client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200
    undo = client.post(
        f"/api/v1/coupons/{code}/undo",
        headers=desk,
        data={"reason": "wrong guest"},
        content_type=form_type,
    )
    assert undo.status_code == 400
    assert undo.get_json()["error"]["code"] == "invalid_json"
    # An empty form is no body at all: the call goes ahead.
    empty = client.post(f"/api/v1/coupons/{code}/undo", headers=desk, content_type=form_type)
    assert empty.status_code == 200


def test_a_coupon_keeps_what_it_promised_when_the_offer_changes(
    client, desk, issue_coupon, ctx, make_staff
):
    """An admin rewords the offer: coupons already sent still give what they said, at
    the desk (look-up and redemption), on their page and in the export."""
    from campaign.coupons import services
    from campaign.staff.models import Staff

    sent_before = issue_coupon("early@example.com")
    admin_id, _, _ = make_staff("admin")
    services.update_welcome_offer(
        db.session.get(Staff, admin_id),
        title="10% off your next treatment",
        terms="Once.",
        validity_days=30,
    )
    db.session.commit()
    sent_after = issue_coupon("late@example.com")

    early = db.session.scalar(select(Coupon).order_by(Coupon.id).limit(1))
    early_page = f"/coupon/{services.coupon_page_token(early)}"
    page = client.get(early_page).get_data(as_text=True)
    assert "<h1>Free massage oil</h1>" in page
    assert "Not exchangeable for cash" in page
    looked_up = client.get(f"/api/v1/coupons/{sent_before}", headers=desk).get_json()
    assert looked_up["offer"] == "Free massage oil"
    redeemed = client.post(f"/api/v1/coupons/{sent_before}/redeem", headers=desk).get_json()
    assert redeemed["offer"] == "Free massage oil"
    assert client.get(f"/api/v1/coupons/{sent_after}", headers=desk).get_json()["offer"] == (
        "10% off your next treatment"
    )
    # Used: its page says so, with no QR to scan and no "valid until" left.
    page = client.get(early_page).get_data(as_text=True)
    assert "<h1>Free massage oil</h1>" in page
    assert "Used on " in page
    assert "<svg" not in page
    assert "Valid until" not in page
    assert f"Coupon code {sent_before}, no longer good." in page


def test_already_used_says_when_in_the_clinics_time(
    app, client, desk, issue_coupon, ctx, monkeypatch
):
    """The message is read out at the desk: the clinic's time, not UTC's (the JSON
    keeps the UTC time for scripts)."""
    from zoneinfo import ZoneInfo

    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Pacific/Auckland")
    code = issue_coupon()
    client.post(f"/api/v1/coupons/{code}/redeem", headers=desk)
    again = client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).get_json()
    redeemed_at = db.session.scalar(select(Coupon.redeemed_at))
    there = redeemed_at.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("Pacific/Auckland"))
    assert again["error"]["message"].startswith(
        f"Already used on {there:%-d %B %Y at %H:%M} by "
    ), again
    assert again["coupon"]["redeemed_at"] == redeemed_at.isoformat(timespec="seconds") + "Z"


def test_a_get_of_a_post_route_is_405_and_counts_no_invalid_code(client, desk, issue_coupon, ctx):
    code = issue_coupon()
    for _ in range(12):  # more than the invalid codes that lock an account
        for move in ("redeem", "undo", "void"):
            response = client.get(f"/api/v1/coupons/{code}/{move}", headers=desk)
            assert response.status_code == 405, move
            assert response.headers["Allow"] == "POST"
            assert response.get_json()["error"]["code"] == "method_not_allowed"
    # Not locked: the code still looks up, and redeems.
    assert client.get(f"/api/v1/coupons/{code}", headers=desk).get_json()["status"] == "issued"
    assert client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200
