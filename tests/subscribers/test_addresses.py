import pytest

from campaign.subscribers.addresses import InvalidAddress, canonical_address, normalize_address


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Ann.Lee@Example.com", "ann.lee@example.com"),
        ("ann.lee+oil@example.com", "ann.lee@example.com"),
        ("A.n.n.Lee+promo@GoogleMail.com", "annlee@gmail.com"),
        ("annlee@gmail.com", "annlee@gmail.com"),
        ("ann.lee@outlook.com", "ann.lee@outlook.com"),
    ],
)
def test_canonical_address_folds_variants_of_one_mailbox(typed, canonical):
    assert canonical_address(normalize_address(typed)) == canonical


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "not-an-email",
        "a@b",
        "ann@example.com\r\nBcc: victim@example.com",
        "ann@exam\x00ple.com",
        "ann\n@example.com",
        "x" * 250 + "@example.com",
        "ann@@example.com",
        "üñî@example.com",  # SMTP without SMTPUTF8 cannot carry it: refused, not kept
        "a" * 65 + "@example.com",  # RFC 5321: at most 64 before the @
        "b=?utf-8?q?y?=@example.com",  # legal, but no header of ours may hold "=?"
    ],
)
def test_normalize_address_rejects_malformed_input(bad):
    with pytest.raises(InvalidAddress):
        normalize_address(bad)


def test_a_local_part_of_64_is_the_longest_taken():
    assert normalize_address("a" * 64 + "@example.com") == "a" * 64 + "@example.com"


def test_normalize_address_keeps_the_local_part_as_typed():
    assert normalize_address("  Ann.Lee@EXAMPLE.com ") == "Ann.Lee@example.com"


def test_an_internationalised_domain_is_kept_in_the_form_smtp_carries():
    assert normalize_address("Ann@Bücher.de") == "Ann@xn--bcher-kva.de"
    assert canonical_address(normalize_address("ann@bücher.de")) == canonical_address(
        normalize_address("ann@xn--bcher-kva.de")
    )


@pytest.mark.parametrize("typed", ["", "   ", "\t\r\n"])
def test_an_empty_address_is_asked_for_not_called_too_long(typed):
    with pytest.raises(InvalidAddress, match=r"^Please enter your email address\.$"):
        normalize_address(typed)


def test_a_too_long_address_says_how_long_one_may_be():
    with pytest.raises(InvalidAddress, match="at most 254 characters"):
        normalize_address("x" * 250 + "@example.com")


def test_letters_smtp_cannot_carry_before_the_at_are_named_in_plain_words():
    with pytest.raises(InvalidAddress) as refused:
        normalize_address("jürgen.müller@example.com")
    assert str(refused.value) == (
        "Most mail servers cannot deliver to an address with ü before the @: please use "
        "one with plain letters (a to z) and digits there."
    )
    # Other mistakes keep email-validator's own words, which say what is wrong.
    with pytest.raises(InvalidAddress, match="@-sign"):
        normalize_address("ann.example.com")
