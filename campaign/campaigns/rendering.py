"""Newsletter rendering: Markdown to a sanitised, responsive email, once per campaign.

Staff write Markdown with ``{{ first_name }}``, ``{{ first_name | default("friend") }}``,
``{{ coupon_code }}`` and ``{{ coupon_url }}``. The body is rendered and laid out once,
with placeholders (``XQ...QX``, plain letters that Markdown, the sanitiser and the CSS
inliner leave alone) where each reader's values go. Sending then fills placeholders in
pre-built message bytes: building a MIME message with the ``email`` package costs about
twice what sending it does, so we do it once per campaign, not once per reader.

The paragraph (in a list, the list item) that uses a coupon variable is shown only
to readers who hold an unredeemed coupon; for everyone else it disappears
(``coupon_blocks``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from urllib.parse import urlsplit

import nh3
from flask import current_app, render_template
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

from campaign.campaigns.coupon_blocks import COUPON_END, COUPON_START, with_markers
from campaign.campaigns.plaintext import markdown_to_text
from campaign.emails import inline_css, layout_context, public_url
from campaign.images.services import ALT_PLACEHOLDER, size_in_name

VARIABLE = re.compile(
    r"\{\{\s*(first_name|coupon_code|coupon_url)\s*"
    r"(?:\|\s*default\(\s*(?P<quote>['\"])(?P<default>[^'\"{}]{0,60})(?P=quote)\s*\))?\s*\}\}"
)
UNKNOWN_VARIABLE = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
DEFAULT_FIRST_NAME = "there"

ALLOWED_TAGS = {
    "a", "b", "blockquote", "br", "code", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "li", "ol", "p", "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "ol": {"start"},  # "3. Call us" starts at 3, as it does in the text part
}
LINK_SCHEMES = {"http", "https", "mailto", "tel"}


class RenderError(ValueError):
    """The campaign uses something we cannot render; the message says what, and
    ``field`` where."""

    def __init__(self, message: str, field: str = "body_markdown") -> None:
        super().__init__(message)
        self.field = field


# The form of our own placeholders: text of that form typed by staff would be taken
# for one and filled (or fail) at send time.
RESERVED = re.compile(r"XQ[A-Z0-9]+QX")


@cache
def _markdown() -> MarkdownIt:
    # commonmark without raw HTML: staff formatting, never staff markup. (A raw HTML
    # block in the tokens is only ever a coupon marker of ours.) A line break typed is
    # a line break shown ("Warm wishes,⏎The team"), as in every mail app's editor;
    # commonmark would join the lines. An address typed bare (https://..., www...., an
    # email address) is a link, as a mail app's editor makes it; see _settle_bare_links.
    markdown = MarkdownIt("commonmark", {"html": False, "linkify": True, "breaks": True})
    return markdown.enable(["table", "linkify"])


@dataclass
class Rendered:
    """A campaign body laid out once, with placeholders for each reader's values."""

    html: str
    text: str
    first_name_defaults: list[str] = field(default_factory=list)
    # The text part for readers without a coupon, laid out without the coupon parts
    # (None for campaigns frozen before it existed: the parts are cut out of ``text``).
    text_without_coupon: str | None = None


def check_line(text: str, field: str) -> None:
    """Subject and preheader are the same for every reader: no variables in them."""
    if UNKNOWN_VARIABLE.search(text):
        raise RenderError(
            f"The {field} is the same for every reader: personalise the body instead "
            "({{ first_name }} and the coupon work there).",
            field,
        )
    _refuse_reserved(text, field)


def _refuse_reserved(text: str, field: str) -> None:
    if found := RESERVED.search(text):
        raise RenderError(f"{found.group(0)!r} is reserved for the mailer: please reword.", field)


def check_campaign(subject: str, preheader: str, body: str) -> None:
    """Everything staff wrote, checked before it is saved or previewed."""
    check_line(subject, "subject")
    check_line(preheader, "preheader")
    check_variables(body)
    check_links(body)


def check_image_descriptions(body: str) -> None:
    """At save, not in the preview: the editor inserts an image with a placeholder
    description, and the preview should show the picture while it is being written."""
    if f"![{ALT_PLACEHOLDER}]" in body:
        raise RenderError(
            f"Replace {ALT_PLACEHOLDER!r} with what the picture shows: readers whose mail "
            "app hides pictures read that instead."
        )


_FIRST_NAME = re.compile(r"XQFNAME[HT]\d+QX")


def _as_typed(text: str) -> str:
    """``text`` with the mailer's placeholders written back as the variables typed."""
    text = text.replace("XQCCODEQX", "{{ coupon_code }}")
    return _FIRST_NAME.sub("{{ first_name }}", text)


def check_links(body: str) -> None:
    """Refuse links and images a mail app cannot open: ``www.clinic.com/book`` and
    ``/book`` work on a web page, where the browser knows the site; in an email they
    lead nowhere. Links to the coupon (``{{ coupon_url }}``) are whole addresses."""
    for token in _markdown().parse(_placeholders(body, [], "H")):
        for child in token.children or []:
            address = child.attrs.get("href" if child.type == "link_open" else "src")
            if child.type not in ("link_open", "image") or not address:
                continue
            address = str(address)
            if _FIRST_NAME.search(address) and not _FIRST_NAME.fullmatch(address):
                # A name is text ("Anne Marie", "Ann&ref=x"): in an address it would
                # break the link or add to it.
                raise RenderError(
                    "{{ first_name }} cannot go in a link's address: put it in the text. "
                    "{{ coupon_code }} can (codes are letters, digits and dashes)."
                )
            if "XQCURLQX" in address and address != "XQCURLQX":
                raise RenderError(
                    "{{ coupon_url }} is a whole address by itself: put nothing right "
                    "before or after it in a link."
                )
            scheme = urlsplit(address).scheme.lower()
            allowed = {"http", "https"} if child.type == "image" else LINK_SCHEMES
            if scheme in allowed or (address == "XQCURLQX" and child.type == "link_open"):
                continue
            if RESERVED.fullmatch(address) and child.type == "link_open":
                # A first name or a code is what a reader typed or holds, not an
                # address: as one, a name of "javascript:..." would be the link.
                raise RenderError(
                    "Only {{ coupon_url }} can stand for a whole address: write the "
                    "address itself (https://...) and put other variables in the text."
                )
            if address.lower().startswith("www."):
                fix = f"write https://{address}"
            elif child.type == "image":
                fix = "an image needs its whole address, starting with https://"
            else:
                fix = "use the whole address, starting with https:// (or mailto:, tel:)"
            typed = _as_typed(address)
            raise RenderError(f"The address {typed!r} cannot be opened from an email: {fix}.")


# A character reference for a plain letter or digit (``&#65;`` is "A"): nobody needs
# one, and with them text of the placeholders' form could be spelled past the check.
_LETTER_REFERENCE = re.compile(r"&#(?:[0-9]{1,7}|[xX][0-9a-fA-F]{1,6});")


def _refuse_letter_references(body: str) -> None:
    for found in _LETTER_REFERENCE.finditer(body):
        digits = found.group(0)[2:-1]
        number = int(digits[1:], 16) if digits[:1] in "xX" else int(digits)
        if number < 128 and chr(number).isalnum():
            raise RenderError(
                f"{found.group(0)!r} stands for {chr(number)!r}: please type the character itself."
            )


def check_variables(body: str) -> None:
    """Refuse ``{{ something }}`` we do not know, so typos do not reach readers."""
    _refuse_reserved(body, "body_markdown")
    _refuse_letter_references(body)
    for match in UNKNOWN_VARIABLE.finditer(body):
        if not VARIABLE.fullmatch(match.group(0)):
            raise RenderError(
                f"Unknown variable {match.group(0)!r}: use {{{{ first_name }}}}, "
                "{{ coupon_code }} or {{ coupon_url }}."
            )


# Words after which the fallback reads well: "Hi there", "Good morning there". After
# anything else ("Dear there,", a line that opens with the name) it reads oddly.
GREETINGS_BEFORE_THERE = {"hi", "hello", "hey", "hiya", "howdy", "morning", "afternoon", "evening"}
_LINE_BEFORE = re.compile(r"[^\n]*\Z")
_WORDS = re.compile(r"[^\W\d_]+")
_WORD_AND_GAP_BEFORE = re.compile(r"(?:[^\W\d_]+\W*)?\Z")
_PUNCTUATION_AND_WORD_AFTER = re.compile(r"[^\w\s{]*(?:[^\S\n]+[^\W\d_]+)?")


def fallback_note(body: str) -> str | None:
    """A note for the editor where a reader without a first name reads the fallback
    oddly ("Dear there,"), with the way to choose another word; None where it reads well.
    Not an error: the writer may mean it."""
    for match in VARIABLE.finditer(body):
        if match.group(1) != "first_name" or match.group("default") is not None:
            continue
        before = _LINE_BEFORE.search(body, 0, match.start()).group()
        if GREETINGS_BEFORE_THERE & {word.lower() for word in _WORDS.findall(before)}:
            continue
        word_before = _WORD_AND_GAP_BEFORE.search(before).group()
        after = _PUNCTUATION_AND_WORD_AFTER.match(body, match.end()).group()
        shown = f"{word_before}{DEFAULT_FIRST_NAME}{after}".replace("*", "").replace("_", "")
        return (
            f"A reader who gave no first name reads \u201c{shown.strip()}\u201d. To choose "
            f'that word, write {{{{ first_name | default("friend") }}}}.'
        )
    return None


def _placeholders(body: str, defaults: list[str], part: str) -> str:
    """Swap variables for placeholders; ``part`` is H (HTML) or T (text)."""

    def swap(match: re.Match) -> str:
        name = match.group(1)
        if name == "first_name":
            default = match.group("default")
            if default is None:  # default("") is kept: the writer wants nothing there
                default = DEFAULT_FIRST_NAME
            if default not in defaults:
                defaults.append(default)
            return f"XQFNAME{part}{defaults.index(default)}QX"
        return "XQCCODEQX" if name == "coupon_code" else "XQCURLQX"

    return VARIABLE.sub(swap, body)


# Formatting nested deeper than this is refused. Real newsletters nest a few levels;
# thousands (``*`` x 30,000 makes 15,000 <strong>) overflow the CSS inliner's stack
# and kill the process. Markdown caps blocks at 20 levels, not emphasis.
MAX_NESTING = 40


def markdown_to_html(body: str) -> str:
    """Sanitised HTML for a Markdown body (variables already swapped for placeholders)."""
    markdown = _markdown()
    env: dict = {}  # link references found by the parse, read by the render
    tokens = markdown.parse(body, env)
    _refuse_deep_nesting(tokens)
    _settle_bare_links(tokens)
    _link_bare_coupon_urls(tokens)
    _size_own_images(tokens)
    tokens = with_markers(tokens)
    raw = markdown.renderer.render(tokens, markdown.options, env)
    clean = nh3.clean(
        raw,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=LINK_SCHEMES,
        link_rel="noopener",
    )
    # A table wider than a phone scrolls in its own frame (the layout's .table-scroll),
    # not the whole message sideways. Added after the sanitiser, which allows no div.
    return clean.replace("<table>", '<div class="table-scroll"><table>').replace(
        "</table>", "</table></div>"
    )


def _settle_bare_links(tokens: list) -> None:
    """Of the addresses found in the text, keep those a writer means as links: with a
    scheme, an email address (``mailto:``), or ``www.`` (given https, not linkify's
    http). A bare name with a dot ("harbour.clinic", "Dr.Smith") goes back to text."""
    for token in tokens:
        children = token.children or []
        for index, child in enumerate(children):
            if child.type != "link_open" or child.markup != "linkify":
                continue
            shown = children[index + 1].content if index + 1 < len(children) else ""
            if "://" in shown or str(child.attrs.get("href", "")).startswith("mailto:"):
                continue
            if shown.lower().startswith("www."):
                child.attrs["href"] = "https://" + shown
                continue
            # No link: the open and close tags render as nothing.
            child.type = children[index + 2].type = "text"
            child.content = children[index + 2].content = ""


# {{ coupon_url }} typed by itself (or in <>), outside a link: an address, as any typed
# in the text is, once filled in. The filling comes after Markdown, so it is made
# a link here.
_BARE_COUPON_URL = re.compile(r"<?(XQCURLQX)>?")


def _link_bare_coupon_urls(tokens: list) -> None:
    for token in tokens:
        if not token.children:
            continue
        children: list = []
        inside_link = 0
        for child in token.children:
            inside_link += {"link_open": 1, "link_close": -1}.get(child.type, 0)
            if child.type != "text" or inside_link or "XQCURLQX" not in child.content:
                children.append(child)
                continue
            for index, piece in enumerate(_BARE_COUPON_URL.split(child.content)):
                if index % 2 == 0:
                    if piece:
                        children.append(Token("text", "", 0, content=piece))
                    continue
                children += [
                    Token("link_open", "a", 1, attrs={"href": piece}),
                    Token("text", "", 0, content=piece),
                    Token("link_close", "a", -1),
                ]
        token.children = children


# The email's column (600 px less the content's padding): Outlook on Windows ignores
# max-width and shows an image as wide as its width attribute says.
COLUMN_WIDTH = 536


def _size_own_images(tokens: list) -> None:
    """Give our own images the width and height they are shown at; mail apps that
    size by attributes alone then lay the column out right before the image loads."""
    for token in tokens:
        for child in token.children or []:
            size = child.type == "image" and size_in_name(str(child.attrs.get("src", "")))
            if size:
                width, height = size
                shown = min(width, COLUMN_WIDTH)
                child.attrs["width"] = str(shown)
                child.attrs["height"] = str(max(1, round(height * shown / width)))


def _refuse_deep_nesting(tokens: list) -> None:
    for token in tokens:
        inner = max((child.level for child in token.children or []), default=0)
        if token.level + inner > MAX_NESTING:
            raise RenderError(
                f"The formatting is nested more than {MAX_NESTING} levels deep "
                "(a long run of * or _?): please simplify it."
            )


# Lazy, as the sender cuts them: two side by side are two.
_ONE_PLACEHOLDER = re.compile(r"XQ[A-Z0-9]+?QX")


def _refuse_foreign_placeholders(text: str, ours: set[str]) -> None:
    """Markdown decodes entities, so ``XQ&#65;QX`` passes the check of what staff
    typed and comes out as ``XQAQX``: the rendered parts are checked too."""
    for found in _ONE_PLACEHOLDER.finditer(text):
        if found.group(0) not in ours:
            raise RenderError(
                f"{found.group(0)!r} (as written, with an entity) is reserved for the "
                "mailer: please reword."
            )


# Around parts of the footer the newsletter's web version changes; the message keeps
# what they hold. The web version drops its own link (a page linking to itself), and
# tells a reader who has unsubscribed since that no more are sent to them.
FOOTER_MARKERS = {
    "web_link": ("XQWSTARTQX", "XQWENDQX"),
    "note": ("XQNSTARTQX", "XQNENDQX"),
}


def web_version_path(campaign_id: int, unsubscribe_token: str) -> str:
    """Where a reader's copy of a sent newsletter opens in the browser (``web_views``)."""
    return f"/newsletters/{campaign_id}/{unsubscribe_token}"


def render_campaign(subject: str, preheader: str, body: str, campaign_id: int = 0) -> Rendered:
    """Lay out a campaign for sending (and for the live preview); ``campaign_id`` is
    the one its web version link names (0 for a campaign not saved yet)."""
    check_variables(body)
    defaults: list[str] = []
    fragment = markdown_to_html(_placeholders(body, defaults, "H"))
    text_source = _placeholders(body, defaults, "T")
    text_body = markdown_to_text(text_source, first_name_defaults=defaults)
    text_body_without = markdown_to_text(
        text_source, coupon_parts_kept=False, first_name_defaults=defaults
    )
    ours = {COUPON_START, COUPON_END, "XQCCODEQX", "XQCURLQX"} | {
        f"XQFNAME{part}{index}QX" for part in "HT" for index in range(len(defaults))
    }
    _refuse_foreign_placeholders(fragment, ours)
    _refuse_foreign_placeholders(text_body, ours)
    context = {
        "subject": subject,
        "preheader": preheader,
        "content": Markup(fragment),  # noqa: S704 - sanitised by nh3 above
        **layout_context(),
        "unsubscribe_url": current_app.config["BASE_URL"] + "/unsubscribe/XQUNSUBQX",
        "web_url": public_url(web_version_path(campaign_id, "XQUNSUBQX")),
        "footer_markers": FOOTER_MARKERS,
    }
    html = inline_css(render_template("email/newsletter.html", **context))
    text = render_template("email/newsletter.txt", **{**context, "content": text_body})
    text_without = render_template(
        "email/newsletter.txt", **{**context, "content": text_body_without}
    )
    return Rendered(
        html=html, text=text, first_name_defaults=defaults, text_without_coupon=text_without
    )


# Lazy: two variables side by side ("XQFNAMET0QXXQFNAMET0QX") are two placeholders.
PLACEHOLDER = re.compile(rb"XQ([A-Z0-9]+?)QX")


@dataclass(frozen=True)
class Template:
    """Message bytes cut at their placeholders, once per campaign.

    ``pieces`` alternates literal bytes and placeholder names (literal, name, literal,
    ..., literal), so filling is a list copy and one ``join``: no scan of the message
    per reader.
    """

    pieces: tuple[bytes, ...]


def compile_template(message: bytes) -> Template:
    """Cut the message bytes at every placeholder."""
    return Template(tuple(PLACEHOLDER.split(message)))


def fill(template: Template, values: dict[bytes, bytes]) -> bytes:
    """One reader's message: every placeholder replaced by its value."""
    pieces = list(template.pieces)
    pieces[1::2] = [values[name] for name in pieces[1::2]]
    return b"".join(pieces)


def first_name_defaults(body: str) -> list[str]:
    """The first-name fallbacks a body uses, in placeholder order."""
    defaults: list[str] = []
    _placeholders(body, defaults, "H")
    return defaults
