"""The live preview as each kind of reader sees the newsletter."""

import pytest

from tests.staff.helpers import csrf_from

BODY = """Hello {{ first_name }},

Our spring menu is out.

Your free oil: show {{ coupon_code }} at the desk."""


@pytest.mark.parametrize(
    ("reader", "greeting", "has_coupon"),
    [
        ("ann", "Hello Ann,", True),
        ("no_name", "Hello there,", True),
        ("no_coupon", "Hello Ann,", False),
        ("someone-else", "Hello Ann,", True),  # unknown: the usual sample reader
    ],
)
def test_the_preview_shows_the_reader_asked_for(marketing_client, reader, greeting, has_coupon):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    answer = marketing_client.post(
        "/staff/campaigns/preview",
        data={
            "subject": "Spring",
            "body_markdown": BODY,
            "csrf_token": token,
            "preview_as": reader,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    html = answer.get_json()["html"]
    assert greeting in html
    assert "Our spring menu is out." in html
    assert ("SAMP-LE00-C0DE-0000" in html) is has_coupon
    assert ("Your free oil" in html) is has_coupon


def test_the_editor_offers_each_reader(marketing_client):
    page = marketing_client.get("/staff/campaigns/new").get_data(as_text=True)
    for label in (
        "Ann, who holds a coupon",
        "A reader who gave no first name",
        "Ann, whose coupon is used",
    ):
        assert label in page


@pytest.mark.parametrize(
    ("body", "note"),
    [
        ("Dear {{ first_name }},\n\nOur menu.", "reads \u201cDear there,\u201d"),
        ("{{ first_name }}, your oil is waiting.", "reads \u201cthere, your\u201d"),
        ("Thanks, **{{ first_name }}**!", "reads \u201cThanks, there!\u201d"),
        ("Hi {{ first_name }}!\n\nDear {{ first_name }}:", "reads \u201cDear there:\u201d"),
        ("Hello {{ first_name }},", None),
        ("Good morning {{ first_name }},", None),
        ("Hello again {{first_name}}", None),
        ('Dear {{ first_name | default("friend") }},', None),
        ("Dear {{ first_name | default('') }},", None),  # nothing there, as the writer asked
        ("Your oil: {{ coupon_code }}.", None),
    ],
)
def test_the_preview_notes_where_the_fallback_name_reads_oddly(marketing_client, body, note):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    answer = marketing_client.post(
        "/staff/campaigns/preview",
        data={"subject": "Spring", "body_markdown": body, "csrf_token": token},
    )
    assert answer.status_code == 200, answer.get_json()
    given = answer.get_json()["note"]
    if note is None:
        assert given is None
    else:
        assert note in given
        assert 'default("friend")' in given
