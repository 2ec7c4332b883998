"""The clinic's details, edited by an admin, in every page's and email's footer."""

import pytest

from campaign.coupons.tasks import welcome_subscriber
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
    assert 'Zoë\'s "Spa" \\ Co' in welcome.text
