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
