"""The newsletter's plain-text part, written from the same Markdown as its HTML.

What a reader without HTML sees: no Markdown marks left (``**``, ``[x](y)``, fences),
links as ``text (address)``, lists, quotes and tables laid out in plain lines, and
paragraphs wrapped for reading. Placeholders (``XQ...QX``) pass through as words.
"""

from __future__ import annotations

import re
import textwrap
import unicodedata
from collections.abc import Sequence
from functools import cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

from campaign.campaigns.coupon_blocks import COUPON_END, COUPON_START, coupon_parts

WIDTH = 72


@cache
def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def _inline(token: Token) -> str:
    """One inline run as text; a hard line break stays a line break."""
    out: list[str] = []
    link: list[tuple[str, int]] = []  # (href, where its text starts in out)
    for child in token.children or []:
        kind = child.type
        if kind in ("text", "code_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")  # a typed line break shows in the HTML part too (rendering)
        elif kind == "image":
            alt = "".join(c.content for c in child.children or []) or child.content
            out.append(f"[{alt}]" if alt else "")
        elif kind == "link_open":
            link.append((str(child.attrs.get("href", "")), len(out)))
        elif kind == "link_close" and link:
            href, start = link.pop()
            text = "".join(out[start:]).strip()
            if href and href not in (text, f"mailto:{text}"):
                out.append(f" ({href})" if text else href)
    return "".join(out)


def _wrap(text: str, first: str = "", rest: str = "") -> list[str]:
    lines: list[str] = []
    for index, part in enumerate(text.split("\n")):
        wrapped = textwrap.wrap(
            " ".join(part.split()),
            width=WIDTH,
            initial_indent=first if index == 0 else rest,
            subsequent_indent=rest,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped or [(first if index == 0 else rest).rstrip()])
    return lines


# What a placeholder of the text part stands for, as wide as it will read: a code is
# 4-4-4-4, a link far longer than any rule.
_SHOWN_AS = {"XQCCODEQX": "0000-0000-0000-0000", "XQCURLQX": "x" * WIDTH}
_FIRST_NAME = re.compile(r"XQFNAMET(\d+)QX")


def _shown_width(text: str, first_name_defaults: Sequence[str]) -> int:
    """How wide the widest line of ``text`` reads once filled, in a monospaced font:
    a first name counted as its fallback (a heading's rule then fits "Hello Ann!",
    not the placeholder's 11 letters), a wide character (CJK, most emoji) as two
    columns, a combining accent as none."""
    for placeholder, shown in _SHOWN_AS.items():
        text = text.replace(placeholder, shown)
    text = _FIRST_NAME.sub(lambda m: first_name_defaults[int(m.group(1))], text)
    return max(map(_columns, text.split("\n")))


def _columns(line: str) -> int:
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1
        for char in line
    )


def markdown_to_text(
    body: str, coupon_parts_kept: bool = True, first_name_defaults: Sequence[str] = ()
) -> str:
    """The text part of ``body``: with its coupon parts between markers, or without
    them at all (numbered lists then count only the items that are left, as the HTML
    part's do). ``first_name_defaults`` are the fallbacks its placeholders name."""
    blocks: list[list[str]] = []
    depths: list[int] = []  # how deep in quotes each block starts
    lists: list[list] = []  # [marker kind, next number, items so far] per open list
    pending_marker: list[str] = []  # the marker of a list item's first paragraph
    item_indent = ""  # where the text of the list item being written starts
    quote = 0
    row: list[str] = []
    table: list[str] = []

    def add(lines: list[str], joined: bool = False) -> None:
        prefix = "> " * quote
        lines = [prefix + line if line else prefix.rstrip() for line in lines]
        if joined and blocks:
            blocks[-1].extend(lines)
        else:
            blocks.append(lines)
            depths.append(quote)

    def _write(index: int, token: Token) -> None:
        nonlocal item_indent, quote, row, table
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            start = int(token.attrs.get("start", 1) or 1)
            lists.append(["-" if kind == "bullet_list_open" else ".", start, 0])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            lists.pop()
        elif kind == "list_item_open":
            marker, number, _ = lists[-1]
            pending_marker.append("- " if marker == "-" else f"{number}. ")
            lists[-1][1] = number + 1
            lists[-1][2] += 1
        elif kind == "blockquote_open":
            quote += 1
        elif kind == "blockquote_close":
            quote -= 1
        elif kind == "inline" and tokens[index - 1].type == "heading_open":
            text = _inline(token).strip()
            level = tokens[index - 1].tag
            rule = {"h1": "=", "h2": "-"}.get(level)
            width = _shown_width(text, first_name_defaults)
            add([text] + ([rule * min(width, WIDTH)] if rule else []))
        elif kind == "inline" and tokens[index - 1].type == "paragraph_open":
            text = _inline(token)
            if pending_marker:
                marker = pending_marker.pop()
                indent = item_indent = " " * (len(marker) + 2 * (len(lists) - 1))
                first = " " * (2 * (len(lists) - 1)) + marker
                # Items of a tight list follow each other line after line, and a
                # nested list follows its item.
                follows = tokens[index - 1].hidden and (lists[-1][2] > 1 or len(lists) > 1)
                add(_wrap(text, first, indent), joined=follows)
            elif lists:  # a later paragraph of a list item: under the item's text
                add(_wrap(text, item_indent, item_indent))
            elif text.strip():  # a picture with no description alone says nothing here
                add(_wrap(text))
        elif kind in ("th_open", "td_open"):
            pass
        elif kind == "inline" and tokens[index - 1].type in ("th_open", "td_open"):
            row.append(" ".join(_inline(token).split()))
        elif kind == "tr_close":
            table.append(" | ".join(row))
            if tokens[index - 1].type == "th_close":
                table.append("-" * min(len(table[-1]), WIDTH))
            row = []
        elif kind == "table_close":
            add(table)
            table = []
        elif kind in ("code_block", "fence"):
            add(["    " + line for line in token.content.rstrip("\n").split("\n")])
        elif kind == "hr":
            add(["-" * 20])

    tokens = _parser().parse(body)
    parts = dict(coupon_parts(tokens))  # first token -> last token of a coupon part
    ends: dict[int, tuple[int, int]] = {}  # last token -> where the part's lines start
    skip_through = -1
    for index, token in enumerate(tokens):
        if index <= skip_through:
            continue
        if index in parts and not coupon_parts_kept:
            skip_through = parts[index]
            continue
        if index in parts:
            ends[parts[index]] = (len(blocks), len(blocks[-1]) if blocks else 0)
        _write(index, token)
        if index in ends:
            _mark_coupon_lines(blocks, *ends.pop(index))
    return _joined(blocks, depths)


def _joined(blocks: list[list[str]], depths: list[int]) -> str:
    """Blocks a blank line apart; inside a quote the blank line is quoted too, so the
    quote reads as one (``>`` alone on the line)."""
    out = "\n".join(blocks[0]) if blocks else ""
    for index in range(1, len(blocks)):
        shared = min(depths[index - 1], depths[index])
        out += "\n" + ("> " * shared).rstrip() + "\n" + "\n".join(blocks[index])
    return out


def _mark_coupon_lines(blocks: list[list[str]], block: int, line: int) -> None:
    """Put the coupon markers around the lines written since (``block``, ``line``):
    the part's first line may have joined the block that was last then."""
    if block and len(blocks[block - 1]) > line:
        block -= 1
    else:
        line = 0
    if block >= len(blocks):
        return  # the part wrote nothing (an empty table cell, say)
    blocks[block][line] = COUPON_START + blocks[block][line]
    blocks[-1][-1] += COUPON_END
