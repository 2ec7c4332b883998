"""Signup over the HTML form and the JSON API: one answer for every address."""

import re
import time

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from campaign.subscribers.tasks import send_confirmation_email, send_queued_confirmations


def subscribe_api(client, **body):
    return client.post("/api/v1/subscribe", json=body, headers={"User-Agent": "pytest-agent"})


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_signup_page_has_the_form_with_an_unticked_consent_box(client):
    page = client.get("/").get_data(as_text=True)
    assert 'name="email"' in page
    assert 'name="first_name"' in page
    assert 'type="checkbox" name="consent"' in page
    assert "checked" not in page
    assert 'name="website"' in page  # the honeypot


def test_a_refused_form_keeps_what_the_visitor_entered_and_ticked(client, ctx):
    response = client.post(
        "/subscribe", data={"email": "ann@", "first_name": "Ann", "consent": "yes"}
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'value="Ann"' in page
    assert re.search(r'name="consent" value="yes" required checked', page)
    assert count(Subscriber) == 0


def test_api_signup_stores_pending_subscriber_with_consent_record(client, ctx, email_address):
    response = subscribe_api(
        client, email=email_address, first_name="Ann", consent=True, source="site"
    )
    assert response.status_code == 202
    assert response.get_json() == {"status": "pending_confirmation"}

    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.email == email_address
    assert subscriber.status == SubscriberStatus.PENDING
    assert subscriber.first_name == "Ann"
    consent = db.session.scalar(select(ConsentRecord))
    assert consent.subscriber_id == subscriber.id
    assert consent.ip == "127.0.0.1"
    assert consent.user_agent == "pytest-agent"
    assert consent.source == "site"
    assert consent.wording_version
    assert consent.created_at is not None
    assert consent.confirmed_at is None


def test_form_signup_answers_check_your_inbox(client, ctx, email_address):
    response = client.post(
        "/subscribe", data={"email": email_address, "first_name": "Bo", "consent": "yes"}
    )
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert db.session.scalar(select(Subscriber.source)) == "web"


def test_the_answer_is_the_same_whatever_the_address_state(client, ctx):
    subscribe_api(client, email="confirmed@example.com", consent=True)
    db.session.execute(Subscriber.__table__.update().values(status=SubscriberStatus.CONFIRMED))
    db.session.commit()
    answers = set()
    for address in ["new@example.com", "confirmed@example.com", "new@example.com"]:
        response = subscribe_api(client, email=address, consent=True)
        answers.add((response.status_code, response.get_data()))
    form_answers = {
        client.post("/subscribe", data={"email": a, "consent": "yes"}).get_data()
        for a in ["fresh@example.com", "confirmed@example.com"]
    }
    assert len(answers) == 1
    assert len(form_answers) == 1


def test_address_variants_are_one_subscriber(client, ctx):
    for typed in ["ann.lee@gmail.com", "Ann.Lee+oil@googlemail.com", "annlee@GMAIL.com"]:
        assert subscribe_api(client, email=typed, consent=True).status_code == 202
    assert count(Subscriber) == 1
    # The two asking again within the resend interval are mailed nothing, so they
    # leave no consent record that no link could ever confirm.
    assert count(ConsentRecord) == 1


def test_pending_address_is_mailed_again_at_most_once_per_interval(
    client, ctx, smtp, email_address
):
    subscribe_api(client, email=email_address, consent=True)
    subscriber = db.session.scalar(select(Subscriber))
    first_sent = subscriber.confirmation_sent_at
    assert first_sent is not None
    subscribe_api(client, email=email_address, consent=True)
    db.session.refresh(subscriber)
    assert subscriber.confirmation_sent_at == first_sent

    # Once the interval has passed, a new signup claims a new send.
    db.session.execute(
        Subscriber.__table__.update().values(
            confirmation_sent_at=first_sent.replace(year=first_sent.year - 1)
        )
    )
    db.session.commit()
    subscribe_api(client, email=email_address, consent=True)
    db.session.refresh(subscriber)
    assert subscriber.confirmation_sent_at > first_sent


def test_confirmed_address_is_not_mailed_a_new_confirmation(client, ctx, smtp, email_address):
    subscribe_api(client, email=email_address, consent=True)
    subscriber = db.session.scalar(select(Subscriber))
    subscriber.status = SubscriberStatus.CONFIRMED
    subscriber.confirmation_sent_at = None
    db.session.commit()
    subscribe_api(client, email=email_address, consent=True)
    db.session.refresh(subscriber)
    assert subscriber.confirmation_sent_at is None
    send_confirmation_email.apply(args=[subscriber.id])
    assert smtp.to(email_address) == []


def test_confirmation_email_is_sent_over_smtp(client, ctx, smtp, email_address):
    # The first name is whatever the signup typed, for anyone's address: the email
    # does not repeat it, so no stranger's words reach that inbox in our name.
    scam = "WIN £1000 at https://scam.example/claim now"
    subscribe_api(client, email=email_address, first_name=scam, consent=True)
    subscriber_id = db.session.scalar(select(Subscriber.id))
    send_confirmation_email.apply(args=[subscriber_id])
    (mail,) = smtp.wait_for(email_address)
    assert "confirm" in mail.subject.lower()
    assert mail.text.lstrip().startswith("Hello,")
    for part in (mail.text, mail.html):
        assert "scam.example" not in part
        assert "1000" not in part
    assert "https://clinic.test/confirm/" in mail.text
    assert "https://clinic.test/confirm/" in mail.html
    assert "1 Harbour Street" in mail.text


def test_honeypot_signup_is_answered_but_not_stored(client, ctx, email_address):
    response = client.post(
        "/subscribe", data={"email": email_address, "consent": "yes", "website": "http://spam"}
    )
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    assert count(Subscriber) == 0


def test_a_signup_owes_its_confirmation_and_wakes_a_worker_only_once_committed(
    app, ctx, monkeypatch, email_address
):
    """A signup whose transaction rolls back owes nothing and wakes nobody."""
    from campaign import outbox
    from campaign.subscribers import services
    from campaign.subscribers.services import Signup

    monkeypatch.setattr(outbox, "_wakeups", {})  # no coalescing with earlier tests
    woken, mailed = [], []
    monkeypatch.setattr(send_queued_confirmations, "apply_async", lambda **kw: woken.append(kw))
    monkeypatch.setattr(send_confirmation_email, "delay", mailed.append)
    services.subscribe(Signup.parse(email=email_address, consent=True))
    assert woken == []
    db.session.rollback()
    assert woken == []
    assert count(Subscriber) == 0

    services.subscribe(Signup.parse(email=email_address, consent=True))
    db.session.commit()
    assert woken == [{"countdown": 0.0}]
    subscriber = db.session.scalar(select(Subscriber))
    assert subscriber.confirmation_queued_at is not None

    send_queued_confirmations.apply()
    send_queued_confirmations.apply()  # a second worker finds nothing left to take
    assert mailed == [subscriber.id]
    db.session.refresh(subscriber)
    assert subscriber.confirmation_queued_at is None


def test_a_signup_made_while_the_broker_is_down_is_mailed_by_the_sweep(
    app, client, ctx, monkeypatch, email_address
):
    from campaign import outbox
    from tests.conftest import beat_schedule

    def broker_down(**_):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(outbox, "_wakeups", {})
    monkeypatch.setattr(send_queued_confirmations, "apply_async", broker_down)
    response = client.post("/api/v1/subscribe", json={"email": email_address, "consent": True})
    assert response.status_code == 202

    sweep = beat_schedule(app.config)["send-queued-confirmations"]
    assert sweep["task"] == send_queued_confirmations.name
    mailed = []
    monkeypatch.setattr(send_confirmation_email, "delay", mailed.append)
    send_queued_confirmations.apply()  # what beat runs each minute
    assert mailed == [db.session.scalar(select(Subscriber.id))]


def test_a_signup_joins_work_already_in_the_request_transaction(ctx, monkeypatch, email_address):
    """A new address commits on its own only when the request has written nothing else;
    otherwise it joins that transaction (on PostgreSQL a second connection would wait
    forever on the row this one holds)."""
    from campaign.subscribers import services
    from campaign.subscribers.addresses import canonical_address
    from campaign.subscribers.services import Signup

    monkeypatch.setattr(send_queued_confirmations, "apply_async", lambda **_: None)
    canonical = canonical_address(email_address)
    db.session.add(
        Subscriber(email=email_address, email_canonical=canonical, status="unsubscribed")
    )
    db.session.flush()  # the unique address is now taken, uncommitted
    services.subscribe_now(Signup.parse(email=email_address, consent=True))
    db.session.rollback()  # nothing left to undo: it committed both

    subscriber = db.session.scalar(select(Subscriber))
    # The row stays unsubscribed until the new round is confirmed; the round is open.
    assert subscriber.status == SubscriberStatus.UNSUBSCRIBED
    assert subscriber.optin_round == db.session.scalar(select(ConsentRecord.id))
    assert subscriber.confirmation_queued_at is not None
    assert count(ConsentRecord) == 1


def test_an_api_signup_wakes_the_worker_once_committed(client, ctx, monkeypatch, email_address):
    from campaign import outbox

    monkeypatch.setattr(outbox, "_wakeups", {})
    woken = []
    monkeypatch.setattr(send_queued_confirmations, "apply_async", lambda **kw: woken.append(kw))
    assert subscribe_api(client, email=email_address, consent=True).status_code == 202
    assert woken == [{"countdown": 0.0}]
    assert db.session.scalar(select(Subscriber.confirmation_queued_at)) is not None
    assert count(ConsentRecord) == 1


def test_confirmations_the_broker_did_not_take_stay_owed(app, ctx, monkeypatch):
    from campaign.subscribers import services
    from campaign.subscribers.services import Signup

    monkeypatch.setattr(send_queued_confirmations, "apply_async", lambda **_: None)
    for n in range(4):
        services.subscribe(Signup.parse(email=f"owed-{n}@example.com", consent=True))
    db.session.commit()
    published = []

    def broker_fails_on_the_third(subscriber_id):
        if len(published) == 2:
            raise ConnectionError("broker unreachable")
        published.append(subscriber_id)

    monkeypatch.setattr(send_confirmation_email, "delay", broker_fails_on_the_third)
    send_queued_confirmations.apply()
    db.session.expire_all()
    owed = set(
        db.session.scalars(
            select(Subscriber.id).where(Subscriber.confirmation_queued_at.is_not(None))
        )
    )
    everyone = set(db.session.scalars(select(Subscriber.id)))
    assert len(published) == 2
    assert owed == everyone - set(published)

    mailed = []
    monkeypatch.setattr(send_confirmation_email, "delay", mailed.append)
    send_queued_confirmations.apply()  # the next wake-up or sweep
    assert sorted(mailed) == sorted(owed)


def test_wake_ups_in_a_burst_fold_into_one_immediate_and_one_delayed_run():
    from campaign.outbox import Wakeup

    class Task:
        countdowns: list[float] = []

        def apply_async(self, countdown):
            self.countdowns.append(countdown)

    task = Task()
    wakeup = Wakeup(task, interval=0.5)
    for _ in range(100):
        wakeup.ring()
    assert len(task.countdowns) == 2
    assert task.countdowns[0] == 0.0
    assert 0.4 < task.countdowns[1] <= 0.5  # starts after every commit of the burst
    time.sleep(0.55)
    wakeup.ring()
    assert task.countdowns[2] == 0.0  # quiet again: at once


def test_signups_are_rate_limited_per_ip(make_app, settings):

    limited = make_app(SIGNUP_RATE_LIMIT="3 per minute")
    client = limited.test_client()
    statuses = [
        client.post("/api/v1/subscribe", json={"email": "x@", "consent": True}).status_code
        for _ in range(5)
    ]
    assert statuses == [400, 400, 400, 429, 429]
    response = client.post("/api/v1/subscribe", json={"email": "x@", "consent": True})
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert client.post("/subscribe", data={"email": "a@example.com"}).status_code == 429


def test_cors_allows_configured_origins_only(make_app, settings):

    app = make_app(CORS_ORIGINS=["https://www.clinic.example"])
    client = app.test_client()
    preflight = client.options(
        "/api/v1/subscribe",
        headers={
            "Origin": "https://www.clinic.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://www.clinic.example"
    other = client.options(
        "/api/v1/subscribe",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"email": "not-an-email", "consent": True}, "invalid_email", "email"),
        ({"email": "a" * 300 + "@example.com", "consent": True}, "invalid_email", "email"),
        ({"email": "ann@example.com\r\nBcc: x@example.com", "consent": True}, "invalid_email", "email"),
        ({"email": "ann@exa\x00mple.com", "consent": True}, "invalid_email", "email"),
        ({"email": 42, "consent": True}, "invalid_email", "email"),
        ({"email": "üñî@example.com", "consent": True}, "invalid_email", "email"),
        ({"email": "a=?utf-8?q?x?=@example.com", "consent": True}, "invalid_email", "email"),
        ({"email": "=?@gmail.com", "consent": True}, "invalid_email", "email"),
        ({"consent": True}, "invalid_email", "email"),
        ({"email": "ann@example.com"}, "consent_required", "consent"),
        ({"email": "ann@example.com", "consent": "yes"}, "consent_required", "consent"),
        ({"email": "ann@example.com", "consent": False}, "consent_required", "consent"),
        ({"email": "ann@example.com", "consent": True, "admin": True}, "unknown_field", "admin"),
        ({"email": "ann@example.com", "consent": True, "first_name": "A\r\nB"}, "invalid_first_name", "first_name"),
        ({"email": "ann@example.com", "consent": True, "first_name": "A\x00"}, "invalid_first_name", "first_name"),
        ({"email": "ann@example.com", "consent": True, "first_name": "A" * 101}, "invalid_first_name", "first_name"),
        ({"email": "ann@example.com", "consent": True, "first_name": ["Ann"]}, "invalid_first_name", "first_name"),
        ({"email": "ann@example.com", "consent": True, "source": "x\r\ny"}, "invalid_source", "source"),
        ({"email": "ann@example.com", "consent": True, "source": "s" * 65}, "invalid_source", "source"),
    ],
)  # fmt: skip
def test_bad_api_input_gets_a_clear_400_and_writes_nothing(client, ctx, body, code, field):
    response = client.post("/api/v1/subscribe", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["field"] == field
    assert error["message"]
    assert count(Subscriber) == 0
    assert count(ConsentRecord) == 0


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"email=ann@example.com", "application/x-www-form-urlencoded"),
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'"ann@example.com"', "application/json"),
        (b"\xff\xfe\x00", "application/json"),
        (b"", "application/json"),
    ],
)
def test_non_json_bodies_get_a_clear_400(client, ctx, data, content_type):
    response = client.post("/api/v1/subscribe", data=data, content_type=content_type)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert count(Subscriber) == 0


def test_oversized_body_gets_413_json(client, ctx):
    body = (
        b'{"email": "ann@example.com", "consent": true, "first_name": "'
        + b"a" * (2 * 1024 * 1024)
        + b'"}'
    )
    response = client.post("/api/v1/subscribe", data=body, content_type="application/json")
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"
    assert count(Subscriber) == 0


def test_oversized_form_gets_a_friendly_413_page(client, ctx):
    response = client.post(
        "/subscribe", data={"email": "a@example.com", "first_name": "a" * (2 * 1024 * 1024)}
    )
    assert response.status_code == 413
    assert "<h1>" in response.get_data(as_text=True)
    assert count(Subscriber) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"email": "broken", "consent": "yes"},
        {"email": "ann@example.com"},
        {"email": "ann@example.com\r\nBcc: x@example.com", "consent": "yes"},
        {"email": "ann@example.com", "consent": "yes", "first_name": "A\nB"},
        {"email": "ann@example.com", "consent": "yes", "source": "a b"},
        {},
    ],
)
def test_bad_form_input_shows_the_form_again_with_a_message(client, ctx, data):
    response = client.post("/subscribe", data=data)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert 'role="alert"' in page
    assert 'name="email"' in page
    assert count(Subscriber) == 0


@pytest.mark.parametrize("typed", ["", "   "])
def test_an_empty_address_is_asked_for_on_the_form_and_the_api(client, ctx, typed):
    """Not "Please enter an email address of at most 254 characters": nothing was typed."""
    answer = subscribe_api(client, email=typed, consent=True).get_json()["error"]
    assert (answer["field"], answer["message"]) == ("email", "Please enter your email address.")
    response = client.post("/subscribe", data={"email": typed, "consent": "yes"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Please enter your email address." in page
    assert "at most 254 characters" not in page


def test_concurrent_signups_of_one_address_make_one_subscriber(app, settings, email_address):
    """Simultaneous first signups race on the unique canonical email; none fails."""
    from concurrent.futures import ThreadPoolExecutor

    def sign_up(_):
        with app.test_client() as c:
            return c.post(
                "/api/v1/subscribe", json={"email": email_address, "consent": True}
            ).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(sign_up, range(16)))
    assert statuses == [202] * 16
    with app.app_context():
        assert count(Subscriber) == 1
        subscriber = db.session.scalar(select(Subscriber))
        assert subscriber.confirmation_sent_at is not None
        db.session.remove()


def test_names_with_joiners_are_names(client, ctx):
    """The zero-width non-joiner of Persian and the joiner inside emoji are ordinary
    text; a direction override is not."""
    for number, name in enumerate(["علی\u200cرضا", "Ana \U0001f469\u200d\u2695\ufe0f"]):
        response = subscribe_api(
            client, email=f"joiner{number}@example.com", first_name=name, consent=True
        )
        assert response.status_code == 202, name
    refused = subscribe_api(client, email="rtl@example.com", first_name="Ann\u202e", consent=True)
    assert refused.get_json()["error"]["code"] == "invalid_first_name"


def test_a_first_name_typed_with_combining_accents_is_stored_composed(client, ctx):
    """60 letters "é" typed as e + U+0301 were refused as over 100 characters."""
    decomposed = "e\u0301" * 60
    response = client.post(
        "/api/v1/subscribe",
        json={"email": "zoe@example.com", "consent": True, "first_name": decomposed},
    )
    assert response.status_code == 202
    stored = db.session.scalar(select(Subscriber.first_name))
    assert stored == "\u00e9" * 60
