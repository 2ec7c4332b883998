"""What a reader without a coupon sees: only the part around a coupon variable goes,
in both parts of the message, as the editor's hint says."""

import email
import email.policy
import re

import pytest

from campaign.campaigns.message import Reader, build_skeleton, personalize
from campaign.campaigns.rendering import RenderError, check_links, render_campaign

NEWS = """Hello {{ first_name }}!

This month at the clinic:
- New opening hours
- Hot stones are back
- Your free oil code: {{ coupon_code }}
- Parking behind the building

| Day | Hours |
|---|---|
| Monday | 9-5 |
| Code | {{ coupon_code }} |

> Show [your coupon]({{ coupon_url }}) at the desk.
>
> It is free.

Bye for now."""


def parts_for(body: str, coupon_code: str | None) -> tuple[str, str]:
    skeleton = build_skeleton("News", render_campaign("News", "", body))
    reader = Reader(
        email="ann@example.com",
        first_name="Ann",
        unsubscribe_token="tok",
        coupon_code=coupon_code,
        coupon_url="https://clinic.test/coupon/t" if coupon_code else None,
    )
    message = email.message_from_bytes(
        personalize(skeleton, reader, "c1.d1"), policy=email.policy.default
    )
    return tuple(
        message.get_body((kind,)).get_content().replace("\r\n", "\n") for kind in ("plain", "html")
    )


def test_a_reader_without_a_coupon_loses_only_the_list_item_table_and_quote(ctx):
    text, html = parts_for(NEWS, coupon_code=None)
    for part in (text, html):
        assert "This month at the clinic:" in part
        assert "New opening hours" in part
        assert "Hot stones are back" in part
        assert "Parking behind the building" in part
        assert "Bye for now." in part
        assert "free oil code" not in part
        assert "Monday" not in part  # a table would be left with a hole: all of it goes
        assert "It is free." not in part  # and so does a quote
    assert "- Hot stones are back\n- Parking behind the building" in text
    assert "<li>Hot stones are back</li>\n<li>Parking behind the building</li>" in html
    assert "This month at the clinic:\n\n- New opening hours" in text
    assert "\n\n\n" not in text


def test_a_coupon_holder_reads_everything(ctx):
    text, html = parts_for(NEWS, coupon_code="AAAA-BBBB-CCCC")
    for part in (text, html):
        assert "Your free oil code: AAAA-BBBB-CCCC" in part
        assert "Monday" in part
        assert "It is free." in part
        assert "XQ" not in part
    assert "- Hot stones are back\n- Your free oil code: AAAA-BBBB-CCCC\n- Parking" in text


def test_a_paragraph_with_a_coupon_goes_with_one_blank_line_left(ctx):
    text, html = parts_for("Before.\n\nYour code: {{ coupon_code }}\n\nAfter.", None)
    assert "Before.\n\nAfter." in text
    assert "<p>Before.</p>\n<p>After.</p>" in html


def test_an_ordered_list_keeps_its_first_number_in_html(ctx):
    text, html = parts_for("3. Call us\n4. Book online", "AAAA-BBBB-CCCC")
    assert "3. Call us\n4. Book online" in text
    assert '<ol start="3">' in html


def test_phone_and_mail_links_work_and_the_coupon_link_is_a_whole_address(ctx):
    body = "[Call us](tel:+441234567), [mail](mailto:desk@clinic.test), [coupon]({{ coupon_url }})"
    check_links(body)
    _, html = parts_for(body, "AAAA-BBBB-CCCC")
    assert 'href="tel:+441234567"' in html
    assert 'href="mailto:desk@clinic.test"' in html
    assert 'href="https://clinic.test/coupon/t"' in html


def test_addresses_typed_bare_are_links_in_html_and_stay_as_typed_in_text(ctx):
    body = (
        "Book at https://harbour.com/book, or www.harbour.com/book.\n\n"
        "Questions? desk@harbour.com. Not links: harbour-notes.com, Dr.Smith, `https://x.com`."
    )
    check_links(body)
    text, html = parts_for(body, "AAAA-BBBB-CCCC")
    assert '<a href="https://harbour.com/book"' in html
    assert '<a href="https://www.harbour.com/book"' in html  # https, not linkify's http
    assert '<a href="mailto:desk@harbour.com"' in html
    assert html.count("<a ") == 5  # and the footer's unsubscribe and web version links
    assert "<code>https://x.com</code>" in html
    assert "harbour-notes.com, Dr.Smith," in html
    # The text part says each once, as typed: no "(https://...)" repeated after it.
    assert "https://harbour.com/book, or www.harbour.com/book." in text
    assert "(https://" not in text


@pytest.mark.parametrize(
    ("body", "advice"),
    [
        ("[Book](www.clinic.test/book)", "write https://www.clinic.test/book"),
        ("[Book](/book)", "use the whole address"),
        ("![logo](logo.png)", "an image needs its whole address"),
        ("![logo](mailto:x@clinic.test)", "an image needs its whole address"),
        # A reader's first name (or code) as the address: a name "javascript:..." or
        # "https://phish..." would be the link.
        ("Hi [click]({{ first_name }})", "Only {{ coupon_url }} can stand for a whole address"),
        ("![p]({{ first_name }})", "an image needs its whole address"),
        ("[x]({{ coupon_code }})", "Only {{ coupon_url }} can stand for a whole address"),
        ("![qr]({{ coupon_url }})", "an image needs its whole address"),
        # Said with the variables as typed, never the mailer's placeholders.
        ("[z]({{ coupon_url }}x)", "coupon_url }} is a whole address by itself"),
        ("[z](https://x.test/{{ coupon_url }})", "coupon_url }} is a whole address by itself"),
        ("[b](https://x.test/?n={{ first_name }})", "first_name }} cannot go in a link's"),
        ("![p](https://x.test/{{ first_name }}.png)", "first_name }} cannot go in a link's"),
        ("[b](/c/{{ coupon_code }})", r"'/c/\{\{ coupon_code \}\}' cannot be opened"),
    ],
)
def test_links_a_mail_app_cannot_open_are_refused_with_the_fix(body, advice):
    with pytest.raises(RenderError, match=advice):
        check_links(body)


def test_a_reference_link_to_the_coupon_goes_with_its_paragraph(ctx):
    body = "Before.\n\nClick [here][c] to use your coupon.\n\nAfter.\n\n[c]: {{ coupon_url }}"
    text, html = parts_for(body, coupon_code=None)
    for part in (text, html):
        assert "Click" not in part
        assert "After." in part
    assert 'href=""' not in html
    text, html = parts_for(body, coupon_code="AAAA-BBBB-CCCC")
    assert 'href="https://clinic.test/coupon/t"' in html
    assert "here (https://clinic.test/coupon/t)" in text


def test_the_coupon_link_typed_by_itself_is_a_link(ctx):
    # As any address typed in the text is: the variable is filled in after Markdown.
    body = "Plain: {{ coupon_url }}\n\nAngled: <{{ coupon_url }}>\n\nCode: `{{ coupon_url }}`"
    text, html = parts_for(body, coupon_code="AAAA-BBBB-CCCC")
    link = re.compile(
        r'<a href="https://clinic\.test/coupon/t"[^>]*>https://clinic\.test/coupon/t</a>'
    )
    assert len(link.findall(html)) == 2
    assert "&lt;" not in html
    assert "<code>https://clinic.test/coupon/t</code>" in html  # code stays code
    assert "Plain: https://clinic.test/coupon/t" in text
    # Without a coupon, the paragraphs go, as any with the coupon's variables.
    text, html = parts_for(body, coupon_code=None)
    assert "Plain" not in html
    assert "coupon/" not in html


def test_a_list_left_with_no_item_goes_whole(ctx):
    text, html = parts_for("Intro.\n\n- Only item {{ coupon_code }}\n\nAfter.", coupon_code=None)
    assert "<ul>" not in html
    assert "Intro.\n\nAfter." in text
    _, html = parts_for("- Parent\n  - Nested {{ coupon_url }}\n- Other", coupon_code=None)
    assert "<li>Parent</li>" in html.replace("\n", "")
    assert "<ul></ul>" not in html.replace("\n", "")
    assert "Other" in html


def test_a_text_part_whose_first_part_goes_starts_with_what_follows(ctx):
    text, _ = parts_for("# Offer: {{ coupon_code }}\n\nIntro.", coupon_code=None)
    assert text.startswith("Intro.")


@pytest.mark.parametrize(
    ("body", "text_left", "html_start"),
    [
        ("1. Code {{ coupon_code }}\n2. Two\n3. Three", "1. Two\n2. Three", "<ol>"),
        ("1. One\n2. Code {{ coupon_code }}\n3. Three", "1. One\n2. Three", "<ol>"),
        ("5. Code {{ coupon_code }}\n6. Six", "5. Six", '<ol start="5">'),
    ],
)
def test_numbered_lists_count_the_items_left_in_both_parts(ctx, body, text_left, html_start):
    text, html = parts_for(body, coupon_code=None)
    assert text_left in text
    assert html_start in html


def test_a_quote_is_set_off_in_the_clinics_colour(ctx):
    _, html = parts_for("> Best massage in town. (Ann, a client)", "AAAA-BBBB-CCCC")
    assert re.search(r'<blockquote style="[^"]*border-left: 4px solid #2f6b57', html)
