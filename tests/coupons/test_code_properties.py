"""Properties of coupon codes: what people type verifies, anything else is rejected.

No database and no app: ``codes`` is pure, so these run against many random secrets.
"""

from __future__ import annotations

import random
import re
import secrets

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from campaign.coupons import codes
from campaign.coupons.codes import ALPHABET, CODE_LENGTH, InvalidCode

DISPLAY_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
# What a person may type for each canonical character besides itself (Crockford).
LOOKALIKES = {"0": "0Oo", "1": "1IiLl"}

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

secret_keys = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=64)
# Shaped like codes.new_nonce() (32 hex digits), or any text at all. Drawn by
# hypothesis rather than by new_nonce() itself, so failing examples replay and shrink.
nonces = st.one_of(
    st.binary(min_size=16, max_size=16).map(bytes.hex),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=64),
)
alphabet_chars = st.sampled_from(ALPHABET)


@st.composite
def typed_variants(draw, value: str) -> str:
    """How a person might type ``value``: any case, 0/O and 1/I/L, dashes, spaces."""
    chars = []
    for char in value:
        choices = LOOKALIKES.get(char, char + char.lower())
        chars.append(draw(st.sampled_from(sorted(set(choices)))))
    groups = ["".join(chars[i : i + 4]) for i in range(0, CODE_LENGTH, 4)]
    pieces = []
    for index, group in enumerate(groups):
        if index:
            pieces.append(draw(st.sampled_from(["-", "", " ", " - ", "--"])))
        pieces.append(group)
    text = "".join(pieces)
    # Whitespace anywhere, as long as the whole stays within normalize's 64 characters.
    for _ in range(draw(st.integers(0, 64 - len(text)))):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from([" ", "\t", "\n"])) + text[at:]
    return text


def issued(secret_key: str, nonce: str) -> str:
    return codes.code_for(secret_key, nonce).value


def assert_rejected(secret_key: str, text: str) -> None:
    with pytest.raises(InvalidCode):
        codes.parse(secret_key, text)


# -- Constants and format ---------------------------------------------------------------


def test_code_size_and_tag_strength():
    assert (codes.BODY_BYTES + codes.TAG_BYTES) * 8 >= 60
    assert codes.TAG_BYTES * 8 >= 30
    assert CODE_LENGTH * 5 == (codes.BODY_BYTES + codes.TAG_BYTES) * 8 == 80
    assert CODE_LENGTH == 16
    assert len(ALPHABET) == len(set(ALPHABET)) == 32
    assert not set("ILOU") & set(ALPHABET)


@PROPERTY
@given(secret_keys, nonces)
def test_display_format_and_stability(secret_key, nonce):
    code = codes.code_for(secret_key, nonce)
    assert DISPLAY_RE.match(code.display), code.display
    assert code.display.replace("-", "") == code.value
    assert codes.code_for(secret_key, nonce) == code


# -- Every issued code verifies however it is typed --------------------------------------


@PROPERTY
@given(secret_keys, nonces, st.data())
def test_issued_code_verifies_however_typed(secret_key, nonce, data):
    code = codes.code_for(secret_key, nonce)
    typed = data.draw(typed_variants(code.value), label="typed")
    assert codes.normalize(typed) == code.value
    assert codes.parse(secret_key, typed) == code


@pytest.mark.parametrize(
    "transform",
    [
        str.upper,
        str.lower,
        str.swapcase,
        lambda d: d.replace("-", ""),
        lambda d: d.replace("-", " "),
        # A phone's smart punctuation, a copy from a chat, an East Asian keyboard.
        lambda d: d.replace("-", "\u2013"),
        lambda d: d.replace("-", "\u2010") + "\u200b",
        lambda d: "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in d),
    ],
    ids=["upper", "lower", "swapcase", "no-dashes", "spaces", "en-dash", "zero-width", "fullwidth"],
)
def test_issued_code_verifies_in_fixed_forms(transform):
    for _ in range(200):
        secret_key = secrets.token_urlsafe(32)
        code = codes.code_for(secret_key, codes.new_nonce())
        assert codes.parse(secret_key, transform(code.display)) == code
        assert codes.parse(secret_key, transform(code.value)) == code


@PROPERTY
@given(secret_keys, secret_keys, nonces)
def test_code_is_bound_to_its_secret(secret_key, other_key, nonce):
    assume(secret_key != other_key)
    assert_rejected(other_key, codes.code_for(secret_key, nonce).display)


# -- Random input is rejected, and only ever with InvalidCode ----------------------------


@PROPERTY
@given(secret_keys, st.text())
def test_random_text_is_rejected_with_invalid_code(secret_key, text):
    assert_rejected(secret_key, text)


@PROPERTY
@given(secret_keys, st.binary(max_size=80))
def test_random_bytes_decoded_as_latin1_are_rejected(secret_key, raw):
    assert_rejected(secret_key, raw.decode("latin-1"))


@PROPERTY
@given(secret_keys, st.text(alphabet=ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH))
def test_random_alphabet_strings_fail_the_tag(secret_key, value):
    # Well-formed, so only the tag stands between them and acceptance (2**-40 each).
    assert codes.normalize(value) == value
    assert_rejected(secret_key, value)


@PROPERTY
@given(
    secret_keys,
    st.text(alphabet=ALPHABET, max_size=40).filter(lambda t: len(t) != CODE_LENGTH),
)
def test_wrong_length_is_rejected(secret_key, value):
    assert_rejected(secret_key, value)


# -- Single-character edits of real codes are rejected ----------------------------------


@PROPERTY
@given(secret_keys, nonces, st.integers(0, CODE_LENGTH - 1), alphabet_chars, st.booleans())
def test_substitution_is_rejected(secret_key, nonce, at, char, lower):
    value = issued(secret_key, nonce)
    assume(char != value[at])
    mutated = value[:at] + char + value[at + 1 :]
    assert_rejected(secret_key, mutated.lower() if lower else mutated)


@PROPERTY
@given(secret_keys, nonces, st.integers(0, CODE_LENGTH - 2))
def test_adjacent_transposition_is_rejected(secret_key, nonce, at):
    value = issued(secret_key, nonce)
    assume(value[at] != value[at + 1])
    mutated = value[:at] + value[at + 1] + value[at] + value[at + 2 :]
    assert_rejected(secret_key, mutated)


@PROPERTY
@given(secret_keys, nonces, st.integers(0, CODE_LENGTH - 1))
def test_deletion_is_rejected(secret_key, nonce, at):
    value = issued(secret_key, nonce)
    assert_rejected(secret_key, value[:at] + value[at + 1 :])
    display = codes.code_for(secret_key, nonce).display
    assert_rejected(secret_key, display.replace(value[at], "", 1))


@PROPERTY
@given(secret_keys, nonces, st.integers(0, CODE_LENGTH), alphabet_chars)
def test_insertion_is_rejected(secret_key, nonce, at, char):
    value = issued(secret_key, nonce)
    assert_rejected(secret_key, value[:at] + char + value[at:])


@PROPERTY
@given(secret_keys, nonces, st.integers(0, CODE_LENGTH - 1), st.integers(0, CODE_LENGTH - 2))
def test_deletion_plus_insertion_keeping_length_is_rejected(secret_key, nonce, drop, add):
    # A skipped character and a doubled one: right length, shifted content.
    value = issued(secret_key, nonce)
    shortened = value[:drop] + value[drop + 1 :]
    mutated = shortened[:add] + shortened[add] + shortened[add:]
    assume(mutated != value)
    assert_rejected(secret_key, mutated)


# -- Measured false-accept rate ---------------------------------------------------------


def _mutations(value: str):
    """Every single substitution and adjacent transposition, within the canonical alphabet."""
    for at, original in enumerate(value):
        for char in ALPHABET:
            if char != original:
                yield value[:at] + char + value[at + 1 :]
    for at in range(CODE_LENGTH - 1):
        if value[at] != value[at + 1]:
            yield value[:at] + value[at + 1] + value[at] + value[at + 2 :]


def test_false_accept_rate_of_single_character_mutations(capsys):
    rng = random.Random(20240527)
    secret_pool = [secrets.token_urlsafe(32) for _ in range(8)]
    tried = accepted = 0
    code_count = 0
    while tried < 100_000:
        secret_key = rng.choice(secret_pool)
        value = issued(secret_key, codes.new_nonce())
        code_count += 1
        for mutated in _mutations(value):
            assert mutated != value
            tried += 1
            try:
                codes.parse(secret_key, mutated)
            except InvalidCode:
                continue
            accepted += 1
    rate = accepted / tried
    with capsys.disabled():
        print(
            f"\n[coupon codes] false accepts: {accepted} of {tried} single-character "
            f"mutations of {code_count} codes (rate {rate:.3g}; expected 2**-40 = {2**-40:.3g})"
        )
    assert tried >= 100_000
    assert accepted <= 2


def test_random_well_formed_strings_are_all_rejected(capsys):
    rng = random.Random(5)
    secret_key = secrets.token_urlsafe(32)
    tried = 50_000
    accepted = 0
    for _ in range(tried):
        value = "".join(rng.choices(ALPHABET, k=CODE_LENGTH))
        try:
            codes.parse(secret_key, value)
        except InvalidCode:
            continue
        accepted += 1
    with capsys.disabled():
        print(f"\n[coupon codes] random well-formed strings accepted: {accepted} of {tried}")
    assert accepted <= 1


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("ann@gmail.com", "a***@gmail.com"),  # millions share it: helps, names no one
        ("Ann@GMAIL.COM", "A***@GMAIL.COM"),
        ("ann@smithfamily.co.uk", "a***@s***.co.uk"),  # a family's own: masked too
        ("ann@mail.smith-clinic.com", "a***@m***.com"),
        ("ann@xn--bcher-kva.de", "a***@x***.de"),
        ("ann@localhost", "a***@l***"),
    ],
)
def test_the_desk_masks_a_domain_that_could_name_the_guest(address, shown):
    from campaign.coupons.services import mask_email

    assert mask_email(address) == shown
