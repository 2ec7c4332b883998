"""Staff routes over subscribers: list, search, CSV, GDPR export and erase."""

import re

import pytest
from sqlalchemy import String, Text, inspect, select, text

from campaign.extensions import db
from campaign.subscribers.models import Subscriber
from tests.subscribers.helpers import confirmed_subscriber, pending_subscriber


@pytest.fixture
def marketing(api_token):
    return {"Authorization": f"Bearer {api_token('marketing')}"}


@pytest.fixture
def admin(api_token):
    return {"Authorization": f"Bearer {api_token('admin')}"}


def test_list_search_filter_and_page(client, ctx, marketing):
    confirmed_subscriber("ann.lee@example.com")
    pending_subscriber("bob@example.com", first_name="Bobby")
    body = client.get("/api/v1/subscribers", headers=marketing).get_json()
    assert body["total"] == 2
    assert body["page"] == 1
    assert set(body["items"][0]) == {
        "id",
        "email",
        "first_name",
        "status",
        "source",
        "created_at",
        "confirmed_at",
    }
    assert [
        i["email"]
        for i in client.get("/api/v1/subscribers?q=BOBBY", headers=marketing).get_json()["items"]
    ] == ["bob@example.com"]
    assert [
        i["email"]
        for i in client.get("/api/v1/subscribers?status=confirmed", headers=marketing).get_json()[
            "items"
        ]
    ] == ["ann.lee@example.com"]
    assert client.get("/api/v1/subscribers?q=%25", headers=marketing).get_json()["total"] == 0
    upper = client.get("/api/v1/subscribers?status=CONFIRMED", headers=marketing).get_json()
    assert [i["email"] for i in upper["items"]] == ["ann.lee@example.com"]  # as ?format=CSV
    refused = client.get("/api/v1/subscribers?status=nope", headers=marketing)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["message"] == (
        "Unknown status: use one of pending, confirmed, unsubscribed, bounced."
    )
    assert client.get("/api/v1/subscribers?page=0", headers=marketing).status_code == 400
    assert client.get("/api/v1/subscribers?page=x", headers=marketing).status_code == 400
    # q's 254 characters count as sent (the OpenAPI document's maxLength), spaces too.
    too_long = "%09" + "a" * 254
    assert client.get(f"/api/v1/subscribers?q={too_long}", headers=marketing).status_code == 400
    # The query as PRODUCT.md writes it, every parameter empty: the first page of everyone.
    everyone = client.get("/api/v1/subscribers?q=&status=&page=", headers=marketing)
    assert (everyone.status_code, everyone.get_json()["total"]) == (200, 2)
    listed = client.get("/api/v1/subscribers?format=CSV", headers=marketing)
    assert listed.mimetype == "text/csv"


@pytest.mark.parametrize("page", ["%0D", "%20", "%201", "1%20", "0", "x"])
def test_a_page_that_is_no_whole_number_is_a_clear_400(client, ctx, marketing, page):
    """Found by the OpenAPI fuzz: ``page=%0D`` was read as the first page, though the
    document says a page is a number or empty."""
    response = client.get(f"/api/v1/subscribers?page={page}", headers=marketing)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_page"


@pytest.mark.parametrize(
    "query", ["source=p%00", "q=a%00b", "format=csv&status=pending&source=p%00&q=NUL", "x%00=1"]
)
def test_nul_in_a_query_is_a_clear_400_on_every_database(client, ctx, marketing, query):
    # PostgreSQL refuses NUL in text; without the guard this was a 500 there.
    confirmed_subscriber("ann@example.com")
    response = client.get(f"/api/v1/subscribers?{query}", headers=marketing)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"
    page = client.get(f"/staff/subscribers/?{query}")
    assert page.status_code == 400
    assert "<html" in page.get_data(as_text=True).lower()


def test_csv_streams_the_list_and_defuses_formulas(client, ctx, marketing):
    subscriber = confirmed_subscriber("formula@example.com")
    subscriber.first_name = "=HYPERLINK(1)"
    db.session.commit()
    response = client.get("/api/v1/subscribers?format=csv", headers=marketing)
    assert response.mimetype == "text/csv"
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0] == "id,email,first_name,status,source,created_at,confirmed_at"
    assert "'=HYPERLINK(1)" in lines[1]


def test_csv_starts_with_a_byte_order_mark_only_when_asked(client, ctx, marketing):
    """Excel on Windows needs the BOM to read UTF-8 (Chloé, not ChloÃ©); scripts parse
    the default answer, whose bytes stay as they were."""
    confirmed_subscriber("chloe@example.com").first_name = "Chloé"
    db.session.commit()
    plain = client.get("/api/v1/subscribers?format=csv", headers=marketing).get_data()
    assert plain.startswith(b"id,email,first_name,")
    assert "Chloé".encode() in plain
    for value in ("0", "yes", ""):  # only 1 asks for it
        other = client.get(f"/api/v1/subscribers?format=csv&bom={value}", headers=marketing)
        assert other.get_data() == plain
    for_excel = client.get("/api/v1/subscribers?format=csv&bom=1", headers=marketing)
    assert for_excel.mimetype == "text/csv"
    assert for_excel.get_data() == b"\xef\xbb\xbf" + plain


def test_the_staff_pages_export_link_asks_for_the_byte_order_mark(marketing_client, ctx):
    confirmed_subscriber("chloe@example.com").first_name = "Chloé"
    db.session.commit()
    page = marketing_client.get("/staff/subscribers/?q=chlo").get_data(as_text=True)
    link = re.search(r'href="([^"]+)">Export CSV<', page).group(1).replace("&amp;", "&")
    assert "bom=1" in link
    exported = marketing_client.get(link).get_data()
    assert exported.startswith(b"\xef\xbb\xbfid,email,")
    assert exported.decode("utf-8-sig").count("\n") == 2  # the header and Chloé: the search kept


def test_the_openapi_document_names_the_bom_parameter():
    from campaign.openapi import document

    for path in ("/api/v1/subscribers", "/api/v1/campaigns/{campaign_id}/deliveries"):
        parameters = document()["paths"][path]["get"]["parameters"]
        assert "bom" in {parameter["name"] for parameter in parameters}, path


def test_the_ledger_and_audit_log_links_ask_for_the_byte_order_mark(app, ctx, make_staff):
    # Kä in a ledger opened in Excel on Windows read KÃ¤ without one.
    from campaign.campaigns.models import Campaign, Delivery
    from tests.staff.helpers import log_in

    subscriber = confirmed_subscriber("kae@example.com")
    subscriber.first_name = "Kä"
    campaign = Campaign(subject="Sent", body_markdown="x", status="sent")
    db.session.add(campaign)
    db.session.flush()
    db.session.add(Delivery(campaign_id=campaign.id, subscriber_id=subscriber.id, status="sent"))
    db.session.commit()
    client = app.test_client()
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    for page, label in (
        (f"/staff/campaigns/{campaign.id}", "Ledger (CSV)"),
        ("/staff/audit", "Download CSV"),
    ):
        html = client.get(page).get_data(as_text=True)
        link = re.search(rf'href="([^"]+)"[^>]*>{re.escape(label)}<', html).group(1)
        link = link.replace("&amp;", "&")
        assert "bom=1" in link, page
        exported = client.get(link).get_data()
        assert exported.startswith(b"\xef\xbb\xbf"), page
        if label == "Ledger (CSV)":
            assert "Kä" in exported.decode("utf-8-sig")
    plain = client.get(f"/api/v1/campaigns/{campaign.id}/deliveries?format=csv").get_data()
    assert plain.startswith(b"email,")  # scripts' answer: as it was


def test_export_holds_everything_including_the_consent_record(client, ctx, admin, marketing):
    subscriber = confirmed_subscriber("export@example.com")
    assert (
        client.get(f"/api/v1/subscribers/{subscriber.id}/export", headers=marketing).status_code
        == 403
    )
    data = client.get(f"/api/v1/subscribers/{subscriber.id}/export", headers=admin).get_json()
    assert data["subscriber"]["email"] == "export@example.com"
    (consent,) = data["consents"]
    assert consent["wording_version"]
    assert consent["confirmed_at"]
    assert data["coupons"] == []
    assert data["deliveries"] == []


def test_erase_leaves_no_trace_of_the_address(client, ctx, admin, issue_coupon):
    code = issue_coupon("erase.me@example.com", first_name="Erin")
    subscriber_id = db.session.scalar(select(Subscriber.id))
    assert client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=admin).status_code == 204
    assert client.delete(f"/api/v1/subscribers/{subscriber_id}", headers=admin).status_code == 404

    # Search every text column of every table for the address and the name.
    inspector = inspect(db.engine)
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String | Text):
                for needle in ("erase.me", "Erin"):
                    hits = db.session.execute(
                        select(table.c[column.name]).where(table.c[column.name].contains(needle))
                    ).all()
                    assert hits == [], (table.name, column.name, needle)
    assert inspector.get_table_names()
    # The coupon survives anonymously for the charts, and one welcome coupon per person holds.
    assert (
        db.session.execute(text("SELECT count(*) FROM coupon WHERE subscriber_id IS NULL")).scalar()
        == 1
    )
    from campaign.subscribers.privacy import is_suppressed

    assert is_suppressed("erase.me@example.com")
    assert code


def test_a_person_who_comes_back_after_erasure_gets_their_coupon_back(
    client, ctx, admin, issue_coupon
):
    from campaign.coupons import services as coupon_services
    from campaign.coupons.models import Coupon
    from campaign.subscribers import services
    from campaign.subscribers.services import Signup

    code = issue_coupon("back.again@example.com", first_name="Bea")
    erased_id = db.session.scalar(select(Subscriber.id))
    assert client.delete(f"/api/v1/subscribers/{erased_id}", headers=admin).status_code == 204

    services.subscribe(Signup.parse(email="Back.Again+spa@example.com", consent=True))
    db.session.flush()
    returning = db.session.scalar(select(Subscriber))
    services.confirm(returning.id, returning.optin_round, ip=None)
    db.session.info.clear()  # the welcome task is run here, not by a worker
    coupon = coupon_services.issue_welcome_coupon(returning.id)
    db.session.commit()
    assert coupon_services.code_of(coupon).display == code  # still one per person
    assert db.session.scalar(select(Coupon.subscriber_id)) == returning.id
    export = client.get(f"/api/v1/subscribers/{returning.id}/export", headers=admin).get_json()
    assert [c["code"] for c in export["coupons"]] == [code]


def test_the_export_tells_a_redemption_that_was_undone(client, ctx, admin, api_token, issue_coupon):
    code = issue_coupon("undo.me@example.com")
    desk = {"Authorization": f"Bearer {api_token('receptionist')}"}
    assert client.post(f"/api/v1/coupons/{code}/redeem", headers=desk).status_code == 200
    assert client.post(f"/api/v1/coupons/{code}/undo", headers=desk, json={}).status_code == 200
    subscriber_id = db.session.scalar(select(Subscriber.id))
    export = client.get(f"/api/v1/subscribers/{subscriber_id}/export", headers=admin).get_json()
    (coupon,) = export["coupons"]
    assert (coupon["status"], coupon["redeemed_at"]) == ("issued", None)
    (redemption,) = coupon["redemptions"]
    assert redemption["redeemed_at"]
    assert redemption["undone_at"]


def test_ten_erasures_of_one_person_at_once_are_one(app, live_server, api_token, issue_coupon):
    """A double click, or two admins at once: one 204, the others 404, never a 500."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    from campaign.audit import AuditEvent

    issue_coupon("twice@example.com", first_name="Tess")
    with app.app_context():
        subscriber_id = db.session.scalar(select(Subscriber.id))
        db.session.remove()
    headers = {"Authorization": f"Bearer {api_token('admin')}"}
    parts = urlsplit(live_server)
    barrier = threading.Barrier(10, timeout=60)
    statuses: list[int | str] = []

    def erase() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        try:
            barrier.wait()
            connection.request("DELETE", f"/api/v1/subscribers/{subscriber_id}", headers=headers)
            statuses.append(connection.getresponse().status)
        except Exception as error:  # reported below, with the statuses
            statuses.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=erase) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(statuses, key=str) == [204] + [404] * 9, statuses
    with app.app_context():
        erased = db.session.scalars(
            select(AuditEvent.target).filter_by(action="subscriber.erased")
        ).all()
        db.session.remove()
    assert erased == [f"subscriber:{subscriber_id}"]
