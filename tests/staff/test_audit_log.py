"""The audit log page: filters by action, person and clinic day; pages by id; CSV."""

import csv
import io
import re
from datetime import datetime

from campaign.audit import AuditEvent
from campaign.extensions import db
from campaign.staff.models import Staff
from tests.staff.helpers import log_in


def _admin(app, make_staff):
    client = app.test_client()
    staff_id, email, password = make_staff("admin")
    log_in(client, email, password)
    return client, staff_id


def _rows(page: str) -> list[str]:
    return re.findall(r'<td title="([a-z_.]+)">', page)


def test_the_log_goes_back_page_by_page_to_the_first_event(app, ctx, make_staff):
    client, _ = _admin(app, make_staff)
    for number in range(230):
        db.session.add(
            AuditEvent(at=datetime(2026, 3, 1, 12, 0), action="test.old", target=f"n:{number}")
        )
    db.session.commit()
    seen: list[str] = []
    page = client.get("/staff/audit").get_data(as_text=True)
    pages = 1
    while True:
        seen += re.findall(r"<td>n:(\d+)</td>", page)
        older = re.search(r'href="(/staff/audit\?before=\d+)">Older events', page)
        if not older:
            break
        # Events that come while the admin reads do not shift the older pages.
        db.session.add(AuditEvent(at=datetime(2026, 12, 1), action="test.new"))
        db.session.commit()
        page = client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True)
        assert "Newest</a>" in page
        pages += 1
    assert pages == 3
    assert sorted(map(int, seen)) == list(range(230))  # each once, none skipped


def test_filters_by_action_person_and_clinic_days(app, ctx, make_staff, monkeypatch):
    monkeypatch.setitem(app.config, "CLINIC_TIMEZONE", "Asia/Tokyo")  # UTC+9, no summer
    client, admin_id = _admin(app, make_staff)
    other_id, _, _ = make_staff("receptionist")
    events = [
        # 2026-05-31 23:30 UTC is already 1 June in Tokyo.
        (datetime(2026, 5, 31, 23, 30), "coupon.redeemed", other_id, "in:june-1"),
        (datetime(2026, 5, 31, 14, 30), "coupon.redeemed", other_id, "out:may-31"),
        (datetime(2026, 6, 2, 14, 59), "coupon.redeemed", other_id, "in:june-2-late"),
        (datetime(2026, 6, 2, 15, 0), "coupon.redeemed", other_id, "out:june-3"),
        (datetime(2026, 6, 1, 12, 0), "coupon.redeemed", admin_id, "out:admin"),
        (datetime(2026, 6, 1, 12, 0), "coupon.voided", other_id, "out:voided"),
    ]
    for at, action, staff_id, target in events:
        db.session.add(AuditEvent(at=at, action=action, staff_id=staff_id, target=target))
    db.session.commit()
    query = f"action=coupon.redeemed&who={other_id}&from=2026-06-01&to=2026-06-02"
    page = client.get(f"/staff/audit?{query}").get_data(as_text=True)
    shown = re.findall(r"<td>((?:in|out):[a-z0-9-]+)</td>", page)
    assert sorted(shown) == ["in:june-1", "in:june-2-late"]
    assert 'value="2026-06-01"' in page
    # The wrong way round reads as meant; unreadable filters are left out, not a 500.
    flipped = client.get(
        f"/staff/audit?action=coupon.redeemed&who={other_id}&from=2026-06-02&to=2026-06-01"
    ).get_data(as_text=True)
    assert sorted(re.findall(r"<td>(in:[a-z0-9-]+)</td>", flipped)) == sorted(shown)
    assert shown
    junk_filters = (
        "from=31/12/2026",
        "who=%EF%BC%91",
        "before=x",
        "who=99999999999999999999",
        "from=0001-01-01",  # in Tokyo, before the calendar's first day in UTC
        "to=9999-12-31",
    )
    for junk in junk_filters:
        assert client.get(f"/staff/audit?{junk}").status_code == 200, junk
    nothing = client.get("/staff/audit?action=nothing.such").get_data(as_text=True)
    assert "No events match." in nothing

    # The CSV holds what the filters keep, with the clinic's time and UTC's.
    export = client.get(f"/staff/audit?format=csv&{query}")
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert [row["target"] for row in rows] == ["in:june-2-late", "in:june-1"]
    assert rows[1]["at"] == "2026-06-01 08:30:00"
    assert rows[1]["at_utc"] == "2026-05-31T23:30:00Z"
    assert rows[1]["who"] == db.session.get(Staff, other_id).email
    assert rows[1]["what"]  # the page's name for the action
    assert 'href="/staff/audit?format=csv&amp;' in page


def test_the_csv_defuses_formulas_in_what_was_recorded(app, ctx, make_staff):
    client, _ = _admin(app, make_staff)
    db.session.add(AuditEvent(action="test.formula", target="=HYPERLINK(1)", details={"a": 1}))
    db.session.commit()
    rows = list(
        csv.DictReader(io.StringIO(client.get("/staff/audit?format=csv").get_data(as_text=True)))
    )
    formula = next(row for row in rows if row["action"] == "test.formula")
    assert formula["target"] == "'=HYPERLINK(1)"
    assert formula["details"] == '{"a": 1}'
