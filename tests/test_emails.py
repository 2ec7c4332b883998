"""Headers and layout of the emails, read back from a real SMTP server."""

import re
import smtplib
from email.header import decode_header, make_header

import pytest

from campaign import emails
from campaign.coupons.tasks import welcome_subscriber
from campaign.extensions import db
from campaign.subscribers import mail
from tests.subscribers.helpers import confirmed_subscriber


def test_subscriber_mail_carries_rfc8058_list_headers(client, ctx, smtp, email_address):
    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (received,) = smtp.wait_for(email_address)
    headers = received.message

    unsubscribe = headers["List-Unsubscribe"]
    # No mailto: nothing reads that mailbox unless UNSUBSCRIBE_MAILTO names one.
    https_url = re.fullmatch(r"<(https://[^>]+)>", unsubscribe).group(1)
    assert https_url.startswith("https://clinic.test/unsubscribe/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"] == '"Harbour Massage Clinic" <newsletter.clinic.test>'
    assert re.fullmatch(r"<[^@>]+@clinic\.test>", headers["Message-ID"])
    assert headers["Date"]
    assert headers["From"] == "Harbour Massage Clinic <news@clinic.test>"
    # The raw header must not be wrapped in encoded words, or clients cannot parse it.
    assert b"List-Unsubscribe: <https://clinic.test/unsubscribe/" in received.raw

    # The footer carries the postal address and the same link, in both parts.
    for part in (received.text, received.html):
        assert "1 Harbour Street, Portsmouth PO1 1AA" in part
        assert https_url in part

    # The one-click POST from the header unsubscribes.
    path = https_url.removeprefix("https://clinic.test")
    response = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)


def test_a_mailbox_that_someone_reads_is_offered_as_a_mailto(make_app):
    app = make_app(UNSUBSCRIBE_MAILTO="leave@clinic.test")
    with app.test_request_context():
        headers = emails.list_headers("https://clinic.test/unsubscribe/T0k.en", "T0k.en")
    assert headers["List-Unsubscribe"] == (
        "<https://clinic.test/unsubscribe/T0k.en>, <mailto:leave@clinic.test?subject=unsubscribe%20T0k.en>"
    )


def test_html_part_has_its_css_inlined(ctx, smtp, email_address):
    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (received,) = smtp.wait_for(email_address)
    assert 'style="' in received.html
    # A light layout, said so: Apple Mail does not recolour it in dark mode.
    assert '<meta name="color-scheme" content="light only">' in received.html
    assert re.search(r'<div class="container" style="[^"]*max-width: 600px', received.html)
    # Outlook on Windows ignores max-width: a 600 px table it alone reads holds the
    # column and the footer.
    opened = received.html.index('<!--[if mso]><table role="presentation" width="600"')
    closed = received.html.index("<!--[if mso]></td></tr></table><![endif]-->")
    assert (
        opened
        < received.html.index('class="container"')
        < received.html.index('class="footer"')
        < closed
    )


def test_confirmation_is_transactional_and_has_no_list_headers(ctx, smtp, email_address):
    from tests.subscribers.helpers import pending_subscriber

    subscriber = pending_subscriber(email_address)
    emails.send(mail.confirmation_email(subscriber))
    (received,) = smtp.wait_for(email_address)
    assert received.message["List-Unsubscribe"] is None
    assert "did not sign up" in received.text


def test_an_address_smtp_cannot_carry_is_refused_for_good_and_the_task_gives_up(ctx, smtp, caplog):
    from campaign.extensions import db
    from campaign.subscribers.models import Subscriber
    from campaign.subscribers.tasks import send_confirmation_email

    # Addresses like this were accepted before signup refused them: rows may hold one.
    subscriber = Subscriber(email="ünï@example.com", email_canonical="ünï@example.com")
    db.session.add(subscriber)
    db.session.commit()
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        emails.send(mail.confirmation_email(subscriber))
    assert not emails.is_temporary(refused.value)
    result = send_confirmation_email.apply(args=[subscriber.id])
    assert result.successful()  # given up, not crashed or retried
    assert "giving up on confirm email" in caplog.text
    assert smtp.messages == []


@pytest.mark.parametrize("value", ["Hi\r\nBcc: x@example.com", "Hi\nX: y", "a\x00b"])
def test_no_header_is_built_from_a_value_with_line_breaks(ctx, value):
    with pytest.raises(emails.UnsafeHeader):
        emails.Email(to="ann@example.com", subject=value, template="welcome").build()
    with pytest.raises(emails.UnsafeHeader):
        emails.Email(to=value, subject="Hello", template="welcome").build()


def test_first_names_are_escaped_in_html(ctx, smtp):
    subscriber = confirmed_subscriber("markup@example.com")
    subscriber.first_name = "<b>Ann</b>"
    message = mail.welcome_email(subscriber).build()
    html = message.get_body(("html",)).get_content()
    assert "<b>Ann</b>" not in html
    assert "&lt;b&gt;Ann&lt;/b&gt;" in html


def test_transactional_lines_keep_to_the_rfcs(ctx, smtp, email_address):
    """Headers folded at 78 with encoded words of at most 75 (RFC 5322, 2047), body
    lines of at most 76 (RFC 2045: quoted-printable and the QR's base64), and the list
    headers on one line each, as clients read them."""
    from campaign import clinic

    clinic.save_details(None, "Physiotherapie und Massage Zürich-Oerlikon Süd", "1 Road")
    db.session.commit()
    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (received,) = smtp.wait_for(email_address)
    head, _, body = received.raw.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if not line.startswith((b"List-Unsubscribe:", b"List-Id:")):
            assert len(line) <= 78, line
    assert all(len(word) <= 75 for word in re.findall(rb"=\?[^?]+\?[bq]\?[^?]*\?=", head, re.I))
    long_lines = [line for line in body.split(b"\r\n") if len(line) > 76]
    assert long_lines == [], long_lines
    assert received.message["Subject"] == "Welcome! Your coupon: Free massage oil"
    assert "Zürich-Oerlikon Süd" in received.text
    assert re.search(
        rb"^List-Unsubscribe: <https://clinic\.test/unsubscribe/[^>\r\n]+>\r$", head + b"\r", re.M
    )


def _header_of(raw: bytes, name: str) -> str:
    """The raw value of header ``name``, unfolded."""
    from email import message_from_bytes
    from email.policy import compat32

    return str(message_from_bytes(raw, policy=compat32)[name]).replace("\r\n", "")


def _decoded(raw: bytes, name: str) -> str:
    from email import message_from_bytes
    from email.policy import default

    return str(message_from_bytes(raw, policy=default)[name])


def test_accented_subjects_and_names_keep_every_space_when_folded(ctx):
    """CPython's folding put spaces between encoded words, where readers drop them
    (RFC 2047 6.2): "Clínica Señora" arrived as "ClínicaSeñora" in 4 % of subjects."""
    import random

    words = ["Clínica", "Señora", "Łódź–Massage", "émojis🎉", "Zoë", "and", "Spa", "«Zen»",
             "Physiotherapie", "Zürich", "李", "a", "Öl", "gratis!", "für", "Sie"]  # fmt: skip
    chooser = random.Random(7)
    for _ in range(400):
        subject = " ".join(chooser.choice(words) for _ in range(chooser.randint(2, 14)))
        name = " ".join(chooser.choice(words) for _ in range(chooser.randint(1, 8)))
        line = emails.folded("Subject", subject) + emails.folded(
            "From", emails.Address(display_name=name, addr_spec="news@clinic.test").__str__()
        )
        assert all(len(part) <= 78 for part in line.split("\r\n")), line
        raw = (line + "\r\n").encode("ascii")
        assert _decoded(raw, "Subject") == subject
        # Read as RFC 2047 6.2 says (mail clients do): Python's address parser puts a
        # space between two encoded words, which only a name too long for one makes.
        from_value = _header_of(raw, "From")
        assert str(make_header(decode_header(from_value))) == f"{name} <news@clinic.test>"


def test_a_newsletter_subject_and_from_decode_to_what_was_written(ctx):
    from campaign import clinic
    from campaign.campaigns.message import Reader, build_skeleton, personalize
    from campaign.campaigns.rendering import render_campaign

    clinic.save_details(None, "Clínica Señora Łódź Massage & Spa «Zen»", "1 Road")
    db.session.commit()
    subject = "Clínica Señora Łódź– Massage news: hot stones, émojis 🎉 and a free oil for you"
    skeleton = build_skeleton(subject, render_campaign(subject, "", "Hello"))
    raw = personalize(skeleton, Reader("ann@example.com", "Ann", "tok"), "c1.d1")
    assert _decoded(raw, "Subject") == subject
    assert _decoded(raw, "From") == "Clínica Señora Łódź Massage & Spa «Zen» <news@clinic.test>"


def an_email_and_a_newsletter(app) -> tuple[bytes, bytes]:
    """A confirmation (built by ``emails.Email``) and a newsletter (filled into its
    skeleton) as ``app`` writes them: the two ways our messages are made."""
    from campaign.campaigns.message import Reader, build_skeleton, personalize
    from campaign.campaigns.rendering import render_campaign

    with app.test_request_context():
        confirmation = emails.Email(
            to="ann@example.com",
            subject="Hello",
            template="confirm",
            context={"confirm_url": emails.public_url("/confirm/x"), "first_name": "Ann"},
            unsubscribe_url=emails.public_url("/unsubscribe/tok"),
            unsubscribe_token="tok",
        )
        skeleton = build_skeleton("News", render_campaign("News", "", "Hello"))
        newsletter = personalize(skeleton, Reader("ann@example.com", "Ann", "tok"), "c1.d1")
        return confirmation.build().as_bytes(), newsletter


def test_an_accented_domain_in_the_sender_and_base_url_is_sent_in_ascii(make_app):
    """A clinic at praxis-müller.de: every email used to fail to build."""
    app = make_app(
        BASE_URL="https://Praxis-Müller.de/news/",
        MAIL_DEFAULT_SENDER="Zoë at Clínica <news@bücher.de>",
    )
    assert app.config["BASE_URL"] == "https://xn--praxis-mller-klb.de/news"
    assert app.config["MAIL_DEFAULT_SENDER"] == "Zoë at Clínica <news@xn--bcher-kva.de>"
    for message in an_email_and_a_newsletter(app):
        assert message.isascii()
        assert _decoded(message, "From") == "Zoë at Clínica <news@xn--bcher-kva.de>"
        assert "<https://xn--praxis-mller-klb.de/news/unsubscribe/tok>" in _decoded(
            message, "List-Unsubscribe"
        )
        assert _decoded(message, "Message-ID").endswith("@xn--bcher-kva.de>")


@pytest.mark.parametrize(
    "written", ["Anna Zoë <anna@zoespa.example> ", "anna@zoespa.example (Anna Zoë)"]
)
def test_a_sender_written_another_way_still_sends_from_its_address(make_app, written):
    """A trailing space, or the old ``address (Name)`` form, with an accented name: the
    whole From used to be encoded words, the address inside them (Gmail refuses that)."""
    from email import message_from_bytes
    from email.policy import default

    app = make_app(MAIL_DEFAULT_SENDER=written)
    assert app.config["MAIL_DEFAULT_SENDER"] == "Anna Zoë <anna@zoespa.example>"
    for message in an_email_and_a_newsletter(app):
        (sender,) = message_from_bytes(message, policy=default)["From"].addresses
        assert (sender.display_name, sender.addr_spec) == ("Anna Zoë", "anna@zoespa.example")


def test_the_sample_clinics_name_in_the_sender_follows_the_clinics_name(app, make_app):
    """.env.example's sender with only the address changed: mail went out as the
    sample clinic, whatever CLINIC_NAME or Clinic details said."""
    app = make_app(
        CLINIC_NAME="Zoë's Spa", MAIL_DEFAULT_SENDER="Harbour Massage Clinic <news@zoespa.example>"
    )
    with app.test_request_context():
        assert emails.from_header() == "Zoë's Spa <news@zoespa.example>"
    own = make_app(
        CLINIC_NAME="Zoë's Spa", MAIL_DEFAULT_SENDER="Anna at Zoë's <news@zoespa.example>"
    )
    with own.test_request_context():
        assert emails.from_header() == "Anna at Zoë's <news@zoespa.example>"


def test_the_welcome_qr_is_a_related_part_with_an_address_like_content_id(ctx, smtp, email_address):
    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (received,) = smtp.wait_for(email_address)
    related = next(
        p for p in received.message.walk() if p.get_content_type() == "multipart/related"
    )
    assert related.get_param("type") == "text/html"  # RFC 2387
    (image,) = [p for p in related.iter_parts() if p.get_content_maintype() == "image"]
    content_id = image["Content-ID"]
    assert re.fullmatch(r"<coupon-qr\.[0-9a-f]{16}@clinic\.test>", content_id)
    assert f'src="cid:{content_id.strip("<>")}"' in received.html

    # Each message's own (RFC 2045): a mail app keeping images by Content-ID showed
    # the last welcome's QR in the next.
    other = confirmed_subscriber("other-" + email_address)
    welcome_subscriber.apply(args=[other.id])
    (second,) = smtp.wait_for("other-" + email_address)
    (other_image,) = [p for p in second.message.walk() if p.get_content_maintype() == "image"]
    assert other_image["Content-ID"] != content_id


def test_every_email_says_a_machine_wrote_it(app, ctx, smtp, email_address):
    """RFC 3834: holiday auto-replies are not sent back to the clinic's reply address."""
    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (welcome,) = smtp.wait_for(email_address)
    assert welcome.message["Auto-Submitted"] == "auto-generated"
    for message in an_email_and_a_newsletter(app):
        assert _decoded(message, "Auto-Submitted") == "auto-generated"
