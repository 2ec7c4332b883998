"""The newsletter's HTML as a phone shows it: words stay whole in table cells, and a
wide table scrolls in its own frame rather than widening the message."""

import email
import email.policy

from playwright.sync_api import Page

from campaign.campaigns.message import Reader, build_skeleton, personalize
from campaign.campaigns.rendering import render_campaign

HOURS = """Our opening hours:

| Day | Morning | Afternoon | Evening | Notes |
|---|---|---|---|---|
| Monday | 9:00-12:00 | 13:00-17:00 | closed | Physiotherapy |
| Wednesday | 9:00-12:00 | 13:00-17:00 | 18:00-20:00 | Aromatherapy |
| Saturday | 10:00-13:00 | closed | closed | Appointments |
"""


def test_table_cells_on_a_phone_break_between_words_not_inside_them(ctx, phone: Page):
    skeleton = build_skeleton("Hours", render_campaign("Hours", "", HOURS))
    raw = personalize(skeleton, Reader("ann@example.com", "Ann", "tok"), "c1.d1")
    html = email.message_from_bytes(raw, policy=email.policy.default).get_body(("html",))
    phone.set_viewport_size({"width": 360, "height": 740})
    phone.set_content(html.get_content())
    # A word broken across lines has one client rectangle per line (a hyphen is a
    # line-break opportunity, "9:00-12:00" may break there).
    broken = phone.evaluate(
        """() => [...document.querySelectorAll('td, th')].flatMap(cell => {
            const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
            const found = [];
            for (let node; (node = walker.nextNode());) {
              for (const match of node.data.matchAll(/[^\\s-]+/g)) {  // a hyphen may break
                const range = document.createRange();
                range.setStart(node, match.index);
                range.setEnd(node, match.index + match[0].length);
                if (range.getClientRects().length > 1) found.push(match[0]);
              }
            }
            return found;
        })"""
    )
    assert broken == []
    # The message itself does not scroll sideways; the table does, in its frame.
    assert (
        phone.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        <= 0
    )
    frame = phone.evaluate(
        """() => { const t = document.querySelector('table');
                   const f = t.parentElement;
                   return [f.className, getComputedStyle(f).overflowX,
                           f.getBoundingClientRect().right <= innerWidth]; }"""
    )
    assert frame == ["table-scroll", "auto", True]
