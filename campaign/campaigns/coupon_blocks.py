"""What only coupon holders see: the part of a newsletter around a coupon variable.

The part is the paragraph (or heading, code block) that uses ``{{ coupon_code }}`` or
``{{ coupon_url }}``; in a list, only the list item; in a table or a quote, the whole
table or quote, which would be left with a hole. Markers around each part
(``XQCSTARTQX ... XQCENDQX``) travel through rendering; the message skeleton keeps or
drops what they hold (``settle_coupon_parts``).
"""

from __future__ import annotations

import re

from markdown_it.token import Token

COUPON_START, COUPON_END = "XQCSTARTQX", "XQCENDQX"
COUPON_PLACEHOLDERS = ("XQCCODEQX", "XQCURLQX")
# Parts one or several in a row, with the line breaks before the first and after the last.
_MARKED_PARTS = re.compile(r"(\n*)(?:XQCSTARTQX.*?XQCENDQX(\n*))+", re.DOTALL)


def _uses_coupon(token: Token) -> bool:
    if token.type in ("fence", "code_block"):
        return _holds_coupon(token.content)
    if token.type != "inline":
        return False
    # A reference link ("[here][c]", "[c]: {{ coupon_url }}") has its address only in
    # the parsed link, not in the paragraph's text.
    addresses = (
        str(child.attrs.get("href") or child.attrs.get("src") or "")
        for child in token.children or []
    )
    return _holds_coupon(token.content) or any(_holds_coupon(address) for address in addresses)


def _holds_coupon(text: str) -> bool:
    return any(placeholder in text for placeholder in COUPON_PLACEHOLDERS)


def coupon_parts(tokens: list[Token]) -> list[tuple[int, int]]:
    """(first, last) token index of each part that holds a coupon placeholder, in
    order, none inside another."""
    closes: dict[int, int] = {}
    stack: list[int] = []
    for index, token in enumerate(tokens):
        if token.nesting == 1:
            stack.append(index)
        elif token.nesting == -1:
            closes[stack.pop()] = index
    parts: set[tuple[int, int]] = set()
    stack = []
    for index, token in enumerate(tokens):
        if token.nesting == 1:
            stack.append(index)
        elif token.nesting == -1:
            stack.pop()
        elif _uses_coupon(token):
            first = _part_opening(tokens, stack)
            parts.add((index, index) if first is None else (first, closes[first]))
    _whole_lists(tokens, closes, parts)
    chosen: list[tuple[int, int]] = []
    for first, last in sorted(parts):
        if not chosen or first > chosen[-1][1]:
            chosen.append((first, last))
    return chosen


def _whole_lists(tokens: list[Token], closes: dict[int, int], parts: set) -> None:
    """A list all of whose items go goes whole: no empty <ul> is left behind."""
    for first, last in sorted(closes.items(), reverse=True):  # inner lists first
        if tokens[first].type not in ("bullet_list_open", "ordered_list_open"):
            continue
        items = {
            (index, closes[index])
            for index in range(first + 1, last)
            if tokens[index].type == "list_item_open"
            and tokens[index].level == tokens[first].level + 1
        }
        if items and items <= parts:
            parts -= items
            parts.add((first, last))


def _part_opening(tokens: list[Token], stack: list[int]) -> int | None:
    """Where the part holding the token inside ``stack`` opens (None: the token alone)."""
    kinds = [tokens[index].type for index in stack]
    for outermost in ("table_open", "blockquote_open"):
        if outermost in kinds:
            return stack[kinds.index(outermost)]
    if "list_item_open" in kinds:
        return stack[len(kinds) - 1 - kinds[::-1].index("list_item_open")]
    return stack[0] if stack else None


def with_markers(tokens: list[Token]) -> list[Token]:
    """``tokens`` with a marker before and after each coupon part, as raw HTML blocks
    (the HTML renderer writes their content as it is)."""
    marked = list(tokens)
    for first, last in reversed(coupon_parts(tokens)):
        marked.insert(last + 1, _marker(COUPON_END))
        marked.insert(first, _marker(COUPON_START))
    return marked


def _marker(content: str) -> Token:
    token = Token("html_block", "", 0)
    token.content = content
    token.block = True
    return token


def settle_coupon_parts(text: str, has_coupon: bool) -> str:
    """Laid-out ``text`` for one reader: the coupon parts kept (markers gone) for a
    coupon holder, cut out for everyone else."""
    if has_coupon:
        return text.replace(COUPON_START, "").replace(COUPON_END, "")
    # Gone, with the line breaks of one side: a paragraph leaves one blank line
    # between its neighbours, a list item none, and the first part of the text
    # nothing before what follows.
    return _MARKED_PARTS.sub(
        lambda m: "" if m.start() == 0 else max(m.group(1), m.group(2), key=len), text
    )
