"""Hypothesis against the public form and the token routes: never a 5xx, never a
partial write, and no header injection in any mail that results."""

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.subscribers.models import ConsentRecord, Subscriber
from campaign.subscribers.tasks import send_confirmation_email

FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text that likes to break things: line breaks, NULs, unicode, quotes, lookalikes.
NASTY = st.text(
    alphabet=st.sampled_from(
        list(string.printable) + ["\r", "\n", "\x00", "\u2028", "é", "ß", "\ufeff", "<", '"']
    ),
    max_size=300,
)
ADDRESS_LIKE = st.one_of(
    st.emails(),
    st.builds(
        lambda local, extra: f"{local}{extra}@example.com",
        st.text(string.ascii_letters, min_size=1, max_size=20),
        NASTY,
    ),
    NASTY,
)
ALLOWED_HEADERS = {
    "subject", "from", "to", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding", "list-id", "list-unsubscribe", "list-unsubscribe-post",
    "auto-submitted",
}  # fmt: skip


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(Subscriber)),
        db.session.scalar(select(func.count()).select_from(ConsentRecord)),
    )


@FUZZ
@given(
    email=ADDRESS_LIKE,
    first_name=NASTY,
    consent=st.sampled_from(["yes", "", "no", "on"]),
    source=NASTY,
    website=st.sampled_from(["", "spam"]),
)
def test_signup_form_never_fails_or_writes_half(
    client, ctx, email, first_name, consent, source, website
):
    before = counts()
    response = client.post(
        "/subscribe",
        data={
            "email": email,
            "first_name": first_name,
            "consent": consent,
            "source": source,
            "website": website,
        },
    )
    assert response.status_code in {200, 400}, response.status_code
    after = counts()
    if response.status_code == 400 or website:
        assert after == before
    else:
        # Accepted: at most one consent record more (none for a signup within the resend
        # interval: no link could confirm it), and at most one new subscriber.
        assert after[1] - before[1] in {0, 1}
        assert after[0] - before[0] in {0, 1}


@FUZZ
@given(
    token=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#%"),
        min_size=1,
        max_size=600,
    )
)
def test_token_routes_never_fail(client, token):
    for path in (f"/confirm/{token}", f"/unsubscribe/{token}", f"/coupon/{token}"):
        for method in ("GET", "POST"):
            if path.startswith("/coupon/") and method == "POST":
                continue
            response = client.open(path, method=method)
            assert response.status_code < 500, (path, method, response.status_code)
    assert client.post(f"/confirm/{token}/resend").status_code < 500
    assert client.post(f"/resubscribe/{token}").status_code < 500


@pytest.mark.parametrize(
    "first_name", ["Ann\r\nBcc: victim@example.com", "Ann\nSubject: hi", "A\x00B", "Ann\u2028X"]
)
def test_mail_from_accepted_signups_carries_only_our_headers(
    client, ctx, smtp, first_name, email_address
):
    client.post(
        "/subscribe", data={"email": email_address, "first_name": first_name, "consent": "yes"}
    )
    subscriber = db.session.scalar(select(Subscriber))
    if subscriber is None:
        return  # refused outright, which is also fine
    send_confirmation_email.apply(args=[subscriber.id])
    for message in smtp.to(email_address):
        names = {name.lower() for name in message.message}
        assert names <= ALLOWED_HEADERS, names
        assert message.rcpt_tos == [email_address.lower()]


def test_a_file_posted_in_place_of_any_form_field_is_no_500(app, ctx, make_staff):
    """A multipart post with a file under a text field's name: Flask-WTF read files as
    fields too, and a file reached the validators (len() of it: a 500)."""
    import io
    import re

    from tests.staff.helpers import csrf_from, log_in

    anonymous = app.test_client()
    admin = app.test_client()
    _, email, password = make_staff("admin")
    log_in(admin, email, password)
    pages = [
        (anonymous, "/staff/login", "/staff/login"),
        (anonymous, "/staff/password/forgot", "/staff/password/forgot"),
        (admin, "/staff/offer", "/staff/offer"),
        (admin, "/staff/tokens", "/staff/tokens"),
        (admin, "/staff/team/", "/staff/team/"),
        (admin, "/staff/clinic/", "/staff/clinic/"),
        (admin, "/staff/account", "/staff/account"),
        (admin, "/staff/account", "/staff/account/name"),
    ]
    for client, page, action in pages:
        html = client.get(page).get_data(as_text=True)
        names = set(re.findall(r'name="([a-z_]+)"', html)) - {"csrf_token"}
        assert names, page
        for name in sorted(names):
            data = {"csrf_token": csrf_from(html), name: (io.BytesIO(b"x" * 10), "a.txt")}
            answer = client.post(action, data=data, content_type="multipart/form-data")
            assert answer.status_code < 500, (action, name, answer.status_code)
