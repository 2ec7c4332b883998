"""The clinic's details, edited by an admin, in every page's and email's footer."""

import pytest
from flask import g

from campaign import emails
from campaign.coupons.tasks import welcome_subscriber
from campaign.extensions import db
from config import ConfigError
from tests.staff.helpers import csrf_from, log_in
from tests.subscribers.helpers import confirmed_subscriber


def admin(app, make_staff):
    client = app.test_client()
    _, email, password = make_staff("admin")
    log_in(client, email, password)
    return client


def save(client, **fields):
    token = csrf_from(client.get("/staff/clinic/").get_data(as_text=True))
    return client.post("/staff/clinic/", data={"csrf_token": token, **fields})


def test_new_details_show_in_pages_and_emails(app, ctx, make_staff, smtp, email_address):
    client = admin(app, make_staff)
    response = save(client, name="  Ocean   Spa ", postal_address="9 Quay Road, Hull HU1 1AA")
    assert response.status_code == 302
    assert "Ocean Spa" in client.get("/staff/clinic/").get_data(as_text=True)
    signup_page = app.test_client().get("/").get_data(as_text=True)
    assert "Ocean Spa" in signup_page
    assert "9 Quay Road, Hull HU1 1AA" in signup_page
    assert "Harbour Massage Clinic" not in signup_page

    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (welcome,) = smtp.wait_for(email_address)
    assert welcome.subject == "Welcome! Your coupon: Free massage oil"
    assert "9 Quay Road, Hull HU1 1AA" in welcome.text
    assert "9 Quay Road, Hull HU1 1AA" in welcome.html
    assert welcome.message["List-Id"] == '"Ocean Spa" <newsletter.clinic.test>'
    # The sender's name was the clinic's (CLINIC_NAME): it follows the new name.
    assert welcome.message["From"] == "Ocean Spa <news@clinic.test>"


def test_a_sender_name_of_its_own_is_kept_after_a_rename(app, make_app, make_staff):
    save(admin(app, make_staff), name="Ocean Spa", postal_address="9 Quay Road, Hull HU1 1AA")
    own_name = make_app(MAIL_DEFAULT_SENDER="Anna at Harbour <anna@clinic.test>")
    no_name = make_app(MAIL_DEFAULT_SENDER="news@clinic.test")
    with own_name.app_context():
        assert emails.from_header() == "Anna at Harbour <anna@clinic.test>"
    with no_name.app_context():
        assert emails.from_header() == "Ocean Spa <news@clinic.test>"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "", "postal_address": "1 Road"}, "required"),
        ({"name": "Spa\x07Bell", "postal_address": "1 Road"}, "not allowed"),
        ({"name": "Spa", "postal_address": "1 Road\x1bTown"}, "not allowed"),
        ({"name": "x" * 101, "postal_address": "1 Road"}, "100"),
        (
            {"name": "=?utf-8?q?Spa=0D=0ABcc:_x@evil.example?=", "postal_address": "1 Road"},
            "not allowed",
        ),
        ({"name": "Spa", "postal_address": "Unit XQ7QX"}, "not allowed"),
    ],
)
def test_bad_details_are_refused_and_nothing_changes(app, make_staff, fields, message):
    client = admin(app, make_staff)
    response = save(client, **fields)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert "Harbour Massage Clinic" in app.test_client().get("/").get_data(as_text=True)


def test_line_breaks_and_tabs_pasted_in_are_folded_into_spaces(app, make_staff):
    client = admin(app, make_staff)
    assert save(client, name="Spa\tTwo", postal_address="1 Road\r\nTown\u2028UK").status_code == 302
    page = app.test_client().get("/").get_data(as_text=True)
    assert "Spa Two" in page
    assert "1 Road Town UK" in page


def test_only_admins_edit_the_details(app, make_staff):
    client = app.test_client()
    _, email, password = make_staff("marketing")
    log_in(client, email, password)
    assert client.get("/staff/clinic/").status_code == 403


def test_a_name_no_list_id_can_quote_is_left_out_of_it(app, ctx, make_staff, smtp, email_address):
    client = admin(app, make_staff)
    assert save(client, name='Zoë\'s "Spa" \\ Co', postal_address="1 Road").status_code == 302
    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (welcome,) = smtp.wait_for(email_address)
    assert welcome.message["List-Id"] == "<newsletter.clinic.test>"  # the phrase is optional
    (sender,) = welcome.message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ('Zoë\'s "Spa" \\ Co', "news@clinic.test")
    assert 'Zoë\'s "Spa" \\ Co' in welcome.text


def test_the_newsletter_is_sent_under_the_new_name_too(app, ctx, make_staff):
    import email
    import email.policy

    from campaign.campaigns.message import Reader, build_skeleton, personalize
    from campaign.campaigns.rendering import render_campaign

    save(
        admin(app, make_staff),
        name="Mañana Spa",
        postal_address="9 Quay Road, Hull HU1 1AA",
        reply_to="desk@manana.example",
    )
    skeleton = build_skeleton("June news", render_campaign("June news", "", "Hello"))
    reader = Reader(email="r@example.com", first_name="Ann", unsubscribe_token="T" * 40)
    raw = personalize(skeleton, reader, "c1.d1")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    (sender,) = message["From"].addresses
    assert (sender.display_name, sender.addr_spec) == ("Mañana Spa", "news@clinic.test")
    assert message["Reply-To"] == "desk@manana.example"


def test_replies_go_to_the_address_the_admin_names(app, ctx, make_staff, smtp, email_address):
    client = admin(app, make_staff)
    page = client.get("/staff/clinic/").get_data(as_text=True)
    assert "replies go to the sending address, news@clinic.test" in page
    response = save(
        client, name="Ocean Spa", postal_address="9 Quay Road", reply_to=" Desk@Ocean.example "
    )
    assert response.status_code == 302
    assert 'value="Desk@ocean.example"' in client.get("/staff/clinic/").get_data(as_text=True)

    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (welcome,) = smtp.wait_for(email_address)
    assert welcome.message["Reply-To"] == "Desk@ocean.example"
    assert welcome.message["From"] == "Ocean Spa <news@clinic.test>"

    # Emptied again: replies go to the sender, whatever MAIL_REPLY_TO says.
    assert (
        save(client, name="Ocean Spa", postal_address="9 Quay Road", reply_to="").status_code == 302
    )
    assert emails.reply_to_header() is None


@pytest.mark.parametrize(
    "reply_to", ["not an address", "desk@ocean.example\r\nBcc: x@evil.example", "a@b@c.example"]
)
def test_a_reply_address_that_is_no_address_is_refused(app, make_staff, reply_to):
    client = admin(app, make_staff)
    response = save(client, name="Ocean Spa", postal_address="9 Quay Road", reply_to=reply_to)
    assert response.status_code == 400
    assert "reply address is not usable" in response.get_data(as_text=True)
    assert "Ocean Spa" not in app.test_client().get("/").get_data(as_text=True)


def test_mail_reply_to_is_the_default_and_is_checked_at_start(make_app):
    app = make_app(MAIL_REPLY_TO="desk@clinic.example")
    with app.test_request_context():
        assert emails.reply_to_header() == "desk@clinic.example"
    with pytest.raises(ConfigError, match="MAIL_REPLY_TO"):
        make_app(MAIL_REPLY_TO="front desk")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("CLINIC_NAME", "Spa =?utf-8?q?x?="),  # every email failed to build (UnsafeHeader)
        ("CLINIC_NAME", "XQFOOQX Spa"),  # every newsletter failed (a placeholder's form)
        ("CLINIC_POSTAL_ADDRESS", "1 Quay =?utf-8?q?Road?="),
        ("CLINIC_NAME", "x" * 300),
    ],
)
def test_the_clinic_details_of_the_environment_are_checked_at_start(make_app, setting, value):
    with pytest.raises(ConfigError, match=f"{setting}="):
        make_app(**{setting: value})


def test_the_clinic_name_of_the_environment_is_written_as_the_form_writes_it(app, make_app):
    """A tab (or a line break) folded into one space, as Clinic details folds it."""
    renamed = make_app(CLINIC_NAME="Zoë's\tSpa\n & Massage")
    assert renamed.config["CLINIC_NAME"] == "Zoë's Spa & Massage"
    page = renamed.test_client().get("/").get_data(as_text=True)
    assert "Zoë&#39;s Spa &amp; Massage" in page


def _uploaded_logo(app, api_token, width=400, height=200) -> dict:
    import io

    from tests.images.helpers import logo_png

    with app.test_client() as client:
        answer = client.post(
            "/api/v1/images",
            headers={"Authorization": f"Bearer {api_token('marketing')}"},
            data={"image": (io.BytesIO(logo_png(width, height)), "logo.png")},
            content_type="multipart/form-data",
        )
    assert answer.status_code == 201
    return answer.get_json()


def test_a_logo_and_a_colour_dress_every_email(
    app, ctx, make_staff, smtp, email_address, api_token
):
    import email
    import email.policy

    from campaign.campaigns.message import Reader, build_skeleton, personalize
    from campaign.campaigns.rendering import render_campaign

    logo = _uploaded_logo(app, api_token, 600, 100)
    client = admin(app, make_staff)
    page = client.get("/staff/clinic/").get_data(as_text=True)
    assert f'<option value="{logo["name"]}">logo.png (600 x 100)</option>' in page
    answer = save(
        client, name="Ocean Spa", postal_address="9 Quay Road", logo=logo["name"], colour="#7A1F5C"
    )
    assert answer.status_code == 302
    page = client.get("/staff/clinic/").get_data(as_text=True)
    assert f'<option selected value="{logo["name"]}">' in page
    assert 'value="#7a1f5c"' in page

    subscriber = confirmed_subscriber(email_address)
    welcome_subscriber.apply(args=[subscriber.id])
    (welcome,) = smtp.wait_for(email_address)
    skeleton = build_skeleton(
        "June news", render_campaign("June news", "", "[Book](https://x.com)")
    )
    raw = personalize(skeleton, Reader("r@example.com", "Ann", "T" * 40), "c1.d1")
    newsletter = email.message_from_bytes(raw, policy=email.policy.default)
    newsletter_html = newsletter.get_body(("html",)).get_content()
    # 600 x 100 fits 240 x 80 at 240 x 40; the name is the picture's description.
    tag = f'<img src="https://clinic.test/images/{logo["name"]}" width="240" height="40" alt="Ocean Spa"'
    for html in (welcome.html, newsletter_html):
        assert tag in html
        assert "#7a1f5c" in html
        assert "#2f6b57" not in html
    assert 'href="https://x.com" rel="noopener" style="color: #7a1f5c;"' in newsletter_html


@pytest.mark.parametrize(
    ("colour", "message"),
    [
        ("#ffeb3b", "too light for the white text on buttons (contrast 1.22:1"),
        # 4.478: rounded down, so it does not read as the 4.5 it misses.
        ("#777777", "(contrast 4.47:1, readable needs 4.5:1)"),
        ("#88c0a8", "readable needs 4.5:1"),
        ("green", "#rrggbb"),
        ("#12345", "#rrggbb"),
    ],
)
def test_a_colour_white_text_cannot_be_read_on_is_refused(app, make_staff, colour, message):
    client = admin(app, make_staff)
    response = save(client, name="Ocean Spa", postal_address="9 Quay Road", colour=colour)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert "Ocean Spa" not in app.test_client().get("/").get_data(as_text=True)


def test_a_logo_that_is_no_image_of_ours_is_refused(app, make_staff):
    client = admin(app, make_staff)
    response = save(
        client, name="Ocean Spa", postal_address="9 Quay Road", logo="0" * 24 + "-10x10.png"
    )
    assert response.status_code == 400
    assert "That image is no longer there" in response.get_data(as_text=True)


def test_a_logo_now_or_before_cannot_be_deleted(app, ctx, make_staff, api_token):
    first = _uploaded_logo(app, api_token, 400, 200)
    second = _uploaded_logo(app, api_token, 300, 300)
    client = admin(app, make_staff)
    for logo in (first["name"], second["name"]):
        answer = save(client, name="Ocean Spa", postal_address="9 Quay Road", logo=logo)
        assert answer.status_code == 302
    marketing = {"Authorization": f"Bearer {api_token('marketing')}"}
    with app.test_client() as api:
        now = api.delete(f"/api/v1/images/{second['id']}", headers=marketing).get_json()
        before = api.delete(f"/api/v1/images/{first['id']}", headers=marketing).get_json()
    assert "is the clinic's logo" in now["error"]["message"]
    assert "is a former logo of the clinic" in before["error"]["message"]
    images_page = client.get("/staff/images/").get_data(as_text=True)
    assert 'The clinic&#39;s logo (<a href="/staff/clinic/">Clinic details</a>)' in images_page
    assert "A former logo of the clinic" in images_page
    # The emails' default look comes back with no logo chosen.
    no_logo = save(client, name="Ocean Spa", postal_address="9 Quay Road", logo="", colour="")
    assert no_logo.status_code == 302
    db.session.expire_all()  # this context read the details before the save
    g.pop("clinic_details", None)
    assert emails.layout_context()["logo"] is None
    assert emails.layout_context()["brand_colour"] == "#2f6b57"
