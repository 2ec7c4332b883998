"""The newsletter's plain-text part reads as text: no Markdown marks left."""

from campaign.campaigns.plaintext import markdown_to_text
from campaign.campaigns.rendering import render_campaign

BODY = """## What's new

Our **new sauna** is open: [book it](https://clinic.example/book), or see
<https://clinic.example>.

- Hot stone
- Lavender oil
  1. 30 minutes

> Best massage in town.

![The sauna](https://clinic.example/sauna.jpg)

| Treatment | Price |
|---|--:|
| Hot stone | 60 |

```
a code line
```
"""


def test_markdown_becomes_plain_lines():
    assert markdown_to_text(BODY) == "\n".join(
        [
            "What's new",
            "----------",
            "",
            "Our new sauna is open: book it (https://clinic.example/book), or see",
            "https://clinic.example.",
            "",
            "- Hot stone",
            "- Lavender oil",
            "  1. 30 minutes",
            "",
            "> Best massage in town.",
            "",
            "[The sauna]",
            "",
            "Treatment | Price",
            "-----------------",
            "Hot stone | 60",
            "",
            "    a code line",
        ]
    )


def test_long_paragraphs_are_wrapped_for_reading_and_words_kept_whole():
    long_word = "https://clinic.example/" + "x" * 100
    text = markdown_to_text(("Relax and unwind. " * 20) + long_word)
    lines = text.split("\n")
    assert all(len(line) <= 72 for line in lines if line != long_word)
    assert long_word in lines


def test_the_sent_text_part_keeps_variables_and_coupon_blocks(ctx):
    body = 'Hi {{ first_name | default("friend") }}, **welcome**.\n\nShow {{ coupon_code }}.'
    rendered = render_campaign("Subject", "", body)
    assert "Hi XQFNAMET0QX, welcome." in rendered.text
    assert "XQCSTARTQX" in rendered.text
    assert "**" not in rendered.text


def test_variables_side_by_side_and_long_values_fill_short_lines(ctx, app):
    """Two placeholders in a row are two (one greedy match was a KeyError that stalled
    the send), and every filled line stays within quoted-printable's 76 characters."""
    import email
    import email.policy

    from campaign.campaigns.message import Reader, build_skeleton, personalize

    body = "Dear {{ first_name }}{{ first_name }}, {{ coupon_code }}{{ coupon_url }}A1QX"
    skeleton = build_skeleton("Subject", render_campaign("Subject", "", body))
    reader = Reader(
        email="r@example.com",
        first_name="Zoë " * 20,
        unsubscribe_token="T" * 60,
        coupon_code="AAAA-BBBB-CCCC-DDDD",
        coupon_url="https://clinic.example/coupon/" + "c" * 120,
    )
    raw = personalize(skeleton, reader, "c1.d1")
    body_bytes = raw.partition(b"\r\n\r\n")[2]
    assert max(len(line) for line in body_bytes.split(b"\r\n")) <= 76
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    name = " ".join(["Zoë"] * 20)
    assert f"Dear {name} {name}" in " ".join(text.split())
    assert "AAAA-BBBB-CCCC-DDDDhttps://clinic.example/coupon/" + "c" * 120 + "A1QX" in text
    assert "/unsubscribe/" + "T" * 60 in message.get_body(("html",)).get_content()


def test_a_list_items_later_paragraphs_stay_under_its_text():
    text = markdown_to_text("- one\n\n  one, more\n\n- two\n\n10. ten\n\n    ten, more\n")
    assert text == "- one\n\n  one, more\n\n- two\n\n10. ten\n\n    ten, more"


def test_a_quote_stays_one_quote_across_its_blank_lines():
    text = markdown_to_text("> Quote intro\n>\n> - one\n> - two\n>\n> > deeper\n\nAfter")
    assert text == "> Quote intro\n>\n> - one\n> - two\n>\n> > deeper\n\nAfter"


def test_a_typed_line_break_is_a_line_break_in_both_parts(ctx):
    """Writers sign off on two lines and expect two lines (commonmark joins them)."""
    rendered = render_campaign("Subject", "", "See you soon!\n\nWarm wishes,\nThe Harbour team")
    assert "Warm wishes,\nThe Harbour team" in rendered.text
    assert "Warm wishes,<br>" in rendered.html.replace("<br />", "<br>").replace("<br/>", "<br>")


def test_a_headings_rule_fits_it_as_a_reader_reads_it(ctx):
    import email
    import email.policy

    from campaign.campaigns.message import Reader, build_skeleton, personalize

    body = '# Hello {{ first_name }}!\n\n## {{ first_name | default("friend") }}, 20% off'
    skeleton = build_skeleton("Subject", render_campaign("Subject", "", body))

    def text_for(first_name):
        raw = personalize(skeleton, Reader("r@example.com", first_name, "tok"), "c1.d1")
        message = email.message_from_bytes(raw, policy=email.policy.default)
        return message.get_body(("plain",)).get_content().splitlines()

    lines = text_for(None)
    assert lines[:2] == ["Hello there!", "=" * len("Hello there!")]
    assert lines[3:5] == ["friend, 20% off", "-" * len("friend, 20% off")]
    # A name of the fallback's length fits exactly; others are near, never 11 letters
    # of placeholder off.
    assert text_for("Alice")[:2] == ["Hello Alice!", "=" * 12]


def test_a_headings_rule_fits_its_widest_line_in_columns():
    # Two lines of a setext heading; wide characters fill two columns; a combining
    # accent none.
    assert markdown_to_text("Line one\nLine two longer\n===").splitlines()[:3] == [
        "Line one",
        "Line two longer",
        "=" * 15,
    ]
    assert markdown_to_text("# 新年のご挨拶").splitlines()[1] == "=" * 12
    assert markdown_to_text("# 🎉 Party 🎉").splitlines()[1] == "=" * 11
    assert markdown_to_text("# Cafe\u0301 au lait").splitlines()[1] == "=" * 12


def test_a_picture_without_a_description_leaves_no_gap_in_the_text():
    """It left three blank lines where it stood ("Hello\\n\\n\\n\\nBye")."""
    text = markdown_to_text("Hello\n\n![](https://clinic.test/images/a.png)\n\nBye")
    assert text == "Hello\n\nBye"
    described = markdown_to_text("Hello\n\n![Our garden](https://clinic.test/images/a.png)\n\nBye")
    assert described == "Hello\n\n[Our garden]\n\nBye"
