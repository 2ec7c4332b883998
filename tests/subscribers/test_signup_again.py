"""A signup for an address already on the list: anyone can type any address, so it
changes nothing of the person's record until its own round is confirmed."""

import re
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import select

from campaign.database import utcnow
from campaign.extensions import db
from campaign.subscribers import services
from campaign.subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from campaign.subscribers.tasks import send_confirmation_email, send_queued_confirmations
from tests.subscribers.helpers import confirmed_subscriber, pending_subscriber
from tests.test_integration import link

ATTACKER = {"REMOTE_ADDR": "198.51.100.66"}


@pytest.fixture
def admin(api_token):
    return {"Authorization": f"Bearer {api_token('admin')}"}


@pytest.fixture
def no_broker(monkeypatch):
    """The wake-ups after commit go nowhere: these tests run the tasks themselves."""
    monkeypatch.setattr(send_queued_confirmations, "apply_async", lambda **_: None)


def sign_up_again(client, address: str, **body):
    return client.post(
        "/api/v1/subscribe",
        json={"email": address, "consent": True, **body},
        headers={"User-Agent": "attacker-agent"},
        environ_base=ATTACKER,
    )


def unsubscribed_subscriber(email: str, first_name: str = "Vera") -> Subscriber:
    subscriber = confirmed_subscriber(email)
    subscriber.first_name = first_name
    services.unsubscribe(subscriber.id)
    db.session.commit()
    db.session.refresh(subscriber)
    return subscriber


def consents(subscriber_id: int) -> list[ConsentRecord]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(ConsentRecord).filter_by(subscriber_id=subscriber_id).order_by(ConsentRecord.id)
        )
    )


def test_an_anonymous_signup_leaves_an_unsubscribed_persons_record_as_it_is(
    client, ctx, admin, no_broker
):
    victim = unsubscribed_subscriber("victim@example.com")
    before = client.get(f"/api/v1/subscribers/{victim.id}/export", headers=admin).get_json()

    response = sign_up_again(
        client, "VICTIM+x@example.com", first_name="Scammer Name", source="attacker"
    )
    assert (response.status_code, response.get_json()) == (202, {"status": "pending_confirmation"})

    after = client.get(f"/api/v1/subscribers/{victim.id}/export", headers=admin).get_json()
    assert after["subscriber"] == before["subscriber"]
    assert after["subscriber"]["email"] == "victim@example.com"
    assert after["subscriber"]["first_name"] == "Vera"
    assert after["subscriber"]["status"] == "unsubscribed"
    assert after["subscriber"]["unsubscribed_at"] is not None
    # The signup waits in its own round's consent record, unconfirmed.
    *_, waiting = consents(victim.id)
    assert (waiting.email, waiting.first_name, waiting.source, waiting.confirmed_at) == (
        "VICTIM+x@example.com",
        "Scammer Name",
        "attacker",
        None,
    )


def test_the_signups_details_take_effect_when_its_round_is_confirmed(client, ctx, no_broker):
    person = unsubscribed_subscriber("vera@example.com")
    old_round = person.optin_round
    sign_up_again(client, "Vera+news@example.com", first_name="Veronica", source="site")
    db.session.refresh(person)
    opened = consents(person.id)[-1]
    assert person.optin_round == opened.id != old_round

    response = client.post(
        f"/confirm/{services.confirm_token(person)}", environ_base={"REMOTE_ADDR": "192.0.2.8"}
    )
    assert response.status_code == 200
    db.session.refresh(person)
    assert person.status == SubscriberStatus.CONFIRMED
    assert person.unsubscribed_at is None
    assert (person.email, person.first_name) == ("Vera+news@example.com", "Veronica")
    assert person.source == "web"  # where she first came from, as the dashboard counts
    first, confirmed = consents(person.id)  # the round's own record is the one confirmed
    assert confirmed.source == "site"
    assert confirmed.id == opened.id
    assert (confirmed.confirmed_at, confirmed.confirmed_ip) == (person.confirmed_at, "192.0.2.8")
    assert first.confirmed_at < confirmed.confirmed_at


def bounced_subscriber(email: str) -> Subscriber:
    return bounce(confirmed_subscriber(email))


def bounce(subscriber: Subscriber) -> Subscriber:
    """Refused for good by its mail server, as the sender marks it."""
    from campaign.campaigns.sending import count_hard_bounce

    for _ in range(current_app.config["BOUNCE_LIMIT"]):
        count_hard_bounce(subscriber.id)
    db.session.refresh(subscriber)
    assert subscriber.status == SubscriberStatus.BOUNCED
    return subscriber


def test_a_bounce_ends_the_round_so_an_old_link_cannot_bring_the_address_back(client, ctx):
    subscriber = confirmed_subscriber("old-link@example.com")
    old_link = services.confirm_token(subscriber)
    bounced = bounce(subscriber)
    assert bounced.optin_round is None
    assert client.post(f"/confirm/{old_link}").status_code == 409
    db.session.refresh(bounced)
    assert bounced.status == SubscriberStatus.BOUNCED


def test_a_bounced_address_comes_back_only_when_confirmed_from_it(client, ctx, smtp, no_broker):
    bounced = bounced_subscriber("bounced@example.com")
    snapshot = {c.key: getattr(bounced, c.key) for c in Subscriber.__table__.columns}

    assert sign_up_again(client, "Bounced@example.com", first_name="Bea").status_code == 202
    db.session.refresh(bounced)
    # Nothing of the row changes yet but the round it waits on.
    changed = {c for c in snapshot if getattr(bounced, c) != snapshot[c]}
    assert changed <= {"optin_round", "confirmation_sent_at", "confirmation_queued_at"}
    assert bounced.status == SubscriberStatus.BOUNCED
    send_confirmation_email.apply(args=[bounced.id])
    (mail,) = smtp.to("bounced@example.com")
    # The mail's own link, of this round (a token made here a second later would differ).
    token = re.search(r"/confirm/([^\s/]+)", mail.text).group(1)
    assert services.read_confirm_token(token) == (bounced.id, bounced.optin_round)

    assert client.post(f"/confirm/{token}").status_code == 200
    db.session.refresh(bounced)
    assert bounced.status == SubscriberStatus.CONFIRMED
    assert bounced.bounce_count == 0
    assert bounced.first_name == "Bea"


def test_the_answer_is_the_same_in_every_state(client, ctx, no_broker):
    pending_subscriber("pending@example.com")
    confirmed_subscriber("confirmed@example.com")
    unsubscribed_subscriber("unsubscribed@example.com")
    bounced = confirmed_subscriber("bounced@example.com")
    bounced.status = SubscriberStatus.BOUNCED
    db.session.commit()
    answers = set()
    for state in ["new", "pending", "confirmed", "unsubscribed", "bounced"]:
        for form in (False, True):
            if form:
                response = client.post(
                    "/subscribe", data={"email": f"{state}@example.com", "consent": "yes"}
                )
            else:
                response = sign_up_again(client, f"{state}@example.com")
            answers.add((form, response.status_code, response.get_data()))
    assert len(answers) == 2  # one answer for the form, one for the API


def test_a_confirmed_persons_record_gets_nothing_from_a_signup(client, ctx, no_broker):
    person = confirmed_subscriber("kept@example.com")
    sign_up_again(client, "kept+x@example.com", first_name="Scammer Name")
    db.session.refresh(person)
    assert (person.status, person.first_name, person.email) == (
        SubscriberStatus.CONFIRMED,
        None,
        "kept@example.com",
    )
    assert [c.ip for c in consents(person.id)] == [None]  # the helper's own, nothing added


def test_a_confirmation_is_stamped_on_its_own_round_not_on_a_later_signup(
    app, client, ctx, no_broker
):
    person = pending_subscriber("ann@example.com", first_name="Ann")
    token = services.confirm_token(person)
    # Someone else asks for the same address while Ann's link is on its way.
    sign_up_again(client, "ann+x@example.com", first_name="Scammer Name")
    confirmed = client.post(f"/confirm/{token}", environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert confirmed.status_code == 200
    db.session.refresh(person)
    assert (person.status, person.first_name) == (SubscriberStatus.CONFIRMED, "Ann")
    (consent,) = consents(person.id)  # Ann's own: the attacker's IP is held nowhere
    assert (consent.user_agent, consent.confirmed_ip) == (None, "192.0.2.1")


def test_a_round_confirms_its_own_record_when_a_later_one_exists(ctx, no_broker):
    """Rounds numbered by their record (imports, a signup again) find it by id."""
    person = unsubscribed_subscriber("rounds@example.com")
    services.subscribe(services.Signup.parse(email="rounds@example.com", consent=True))
    db.session.commit()
    db.session.refresh(person)
    opened = consents(person.id)[-1]
    db.session.add(ConsentRecord(subscriber_id=person.id, wording_version="later", source="later"))
    db.session.commit()
    assert services.confirm(person.id, person.optin_round, ip="192.0.2.9") == "confirmed"
    by_id = {c.id: c for c in consents(person.id)}
    assert by_id[opened.id].confirmed_ip == "192.0.2.9"
    assert [c.confirmed_at for c in by_id.values() if c.source == "later"] == [None]


def test_a_pending_person_asking_again_after_the_interval_gets_a_new_round(client, ctx, no_broker):
    person = pending_subscriber("again@example.com")
    old_token = services.confirm_token(person)
    person.confirmation_sent_at -= timedelta(days=1)
    db.session.commit()
    sign_up_again(client, "again@example.com", first_name="Agnes")
    db.session.refresh(person)
    assert person.optin_round == consents(person.id)[-1].id
    assert person.first_name is None  # until confirmed
    assert client.post(f"/confirm/{old_token}").status_code == 409  # "use the newest email"
    assert client.post(f"/confirm/{services.confirm_token(person)}").status_code == 200
    db.session.refresh(person)
    assert person.first_name == "Agnes"


def test_an_unsubscribe_ends_a_round_opened_since(client, ctx, no_broker):
    person = unsubscribed_subscriber("ends@example.com")
    unsubscribed_at = person.unsubscribed_at
    sign_up_again(client, "ends@example.com")
    db.session.refresh(person)
    token = services.confirm_token(person)
    assert client.post(f"/unsubscribe/{services.unsubscribe_token(person.id)}").status_code == 200
    db.session.refresh(person)
    assert (person.status, person.optin_round) == (SubscriberStatus.UNSUBSCRIBED, None)
    assert person.unsubscribed_at == unsubscribed_at
    assert client.post(f"/confirm/{token}").status_code == 409


def test_an_unsubscribed_person_signing_up_again_is_mailed_the_new_rounds_link(
    client, ctx, smtp, no_broker
):
    person = unsubscribed_subscriber("comeback@example.com")
    sign_up_again(client, "Comeback+spa@example.com")
    db.session.refresh(person)
    assert services.confirmation_address(person) == "Comeback+spa@example.com"
    send_confirmation_email.apply(args=[person.id])
    (mail,) = smtp.to("comeback+spa@example.com")
    # The link names this round (a token minted a second later differs, so the link's
    # own is read rather than one made here compared).
    token = link(mail.text, "confirm").removeprefix("/confirm/")
    assert services.read_confirm_token(token) == (person.id, person.optin_round)


def test_the_migration_ends_the_rounds_of_people_unsubscribed_before_it(make_app, tmp_path):
    """Before, an unsubscribed row kept its round; now a round there means a signup
    waits, so a link from before the unsubscribe would confirm it again."""
    from alembic.script import ScriptDirectory
    from flask_migrate import downgrade, upgrade

    fresh = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/m.db")
    with fresh.app_context():
        config = fresh.extensions["migrate"].migrate.get_config()
        before = ScriptDirectory.from_config(config).get_revision("a7c3e9f15b48").down_revision
        upgrade(revision=before)
        table = Subscriber.__table__
        rows = [
            {"email": f"{s}@example.com", "email_canonical": f"{s}@example.com", "status": s}
            for s in ("unsubscribed", "confirmed")
        ]
        for row in rows:
            row.update(source="web", created_at=utcnow(), bounce_count=0, optin_round=1)
        with db.engine.begin() as connection:
            connection.execute(table.insert(), rows)
        upgrade(revision="a7c3e9f15b48")
        rounds = select(table.c.status, table.c.optin_round).order_by(table.c.status)
        with db.engine.connect() as connection:
            assert connection.execute(rounds).all() == [("confirmed", 1), ("unsubscribed", None)]
        downgrade(revision=before)  # the old code must not number a new round 1 again
        with db.engine.connect() as connection:
            assert connection.execute(rounds).all() == [("confirmed", 1), ("unsubscribed", 1)]
        db.session.remove()
        db.engine.dispose()


def test_the_person_sees_the_name_a_signup_gave_them_and_confirms_their_own(client, ctx, no_broker):
    """Found by an outside audit: a stranger's signup of a known address chose the name
    every later newsletter greeted the person by, once they confirmed."""
    person = unsubscribed_subscriber("bob@example.org", first_name="Bob")
    sign_up_again(client, "Bob@Example.org", first_name="Mallory")
    db.session.refresh(person)
    token = services.confirm_token(person)
    page = client.get(f"/confirm/{token}").get_data(as_text=True)
    assert 'name="first_name"' in page
    assert 'value="Mallory"' in page  # shown, to be changed before it is anyone's

    confirmed = client.post(f"/confirm/{token}", data={"first_name": "  Bob  "})
    assert confirmed.status_code == 200
    db.session.refresh(person)
    assert (person.status, person.first_name) == (SubscriberStatus.CONFIRMED, "Bob")


def test_a_name_cleared_on_the_confirm_page_is_no_name_and_a_bad_one_changes_nothing(
    client, ctx, no_broker
):
    person = pending_subscriber("cleo@example.org", first_name="Mallory")
    token = services.confirm_token(person)
    refused = client.post(f"/confirm/{token}", data={"first_name": "x" * 101})
    assert refused.status_code == 400
    assert "under 100 characters" in refused.get_data(as_text=True)
    db.session.refresh(person)
    assert (person.status, person.first_name) == (SubscriberStatus.PENDING, "Mallory")

    assert client.post(f"/confirm/{token}", data={"first_name": ""}).status_code == 200
    db.session.refresh(person)
    assert (person.status, person.first_name) == (SubscriberStatus.CONFIRMED, None)


def test_a_link_no_longer_current_says_so_when_opened_not_after_the_button(client, ctx):
    person = pending_subscriber("dora@example.org")
    token = services.confirm_token(person)
    services.unsubscribe(person.id)
    db.session.commit()
    page = client.get(f"/confirm/{token}")
    assert page.status_code == 409
    assert 'name="first_name"' not in page.get_data(as_text=True)


def test_an_address_is_mailed_again_at_most_the_daily_budget_whatever_the_ips(
    app, client, ctx, monkeypatch, no_broker
):
    """Found by an outside audit: a stranger signing an address up every resend
    interval, from new IPs, had it mailed 144 times a day."""
    monkeypatch.setitem(app.config, "CONFIRMATION_RESEND_INTERVAL_SECONDS", 0)
    monkeypatch.setitem(app.config, "CONFIRMATION_RESEND_LIMIT", "2 per day")
    person = pending_subscriber("victim@example.org")
    first_sent = person.confirmation_sent_at
    rounds = []
    for n in range(4):
        answer = client.post(
            "/api/v1/subscribe",
            json={"email": "victim@example.org", "consent": True},
            environ_base={"REMOTE_ADDR": f"198.51.100.{n + 10}"},
        )
        assert answer.status_code == 202  # the same answer, mailed or not
        db.session.refresh(person)
        rounds.append(person.optin_round)
    assert len(set(rounds)) == 2  # two new rounds mailed, then nothing
    assert person.confirmation_sent_at > first_sent
    # The person's own "send it again" is refused too once the day's budget is spent.
    assert services.queue_confirmation(person.id) is False


def test_a_signup_the_interval_refuses_spends_none_of_the_budget(
    app, client, ctx, monkeypatch, no_broker
):
    monkeypatch.setitem(app.config, "CONFIRMATION_RESEND_INTERVAL_SECONDS", 3600)
    monkeypatch.setitem(app.config, "CONFIRMATION_RESEND_LIMIT", "1 per day")
    person = pending_subscriber("kept@example.org")
    for _ in range(3):  # within the interval: not mailed, nothing spent
        client.post("/api/v1/subscribe", json={"email": "kept@example.org", "consent": True})
    person.confirmation_sent_at -= timedelta(hours=2)
    db.session.commit()
    assert services.queue_confirmation(person.id) is True


def test_a_confirmation_refused_for_good_does_not_hold_back_the_next_signup(
    client, ctx, smtp, no_broker
):
    """The mail server refused the first confirmation (its mailbox was briefly
    unknown): the person signing up again at once is mailed, not left waiting out
    the resend interval for an email that never came."""
    address = "retry@example.org"
    smtp.answers[address] = ["550 5.1.1 mailbox unavailable"]
    assert (
        client.post("/api/v1/subscribe", json={"email": address, "consent": True}).status_code
        == 202
    )
    person = db.session.scalar(select(Subscriber).where(Subscriber.email == address))
    assert send_confirmation_email.apply(args=[person.id]).successful()
    assert smtp.to(address) == []
    first_round = person.optin_round

    assert (
        client.post("/api/v1/subscribe", json={"email": address, "consent": True}).status_code
        == 202
    )
    db.session.refresh(person)
    assert person.optin_round != first_round
    send_confirmation_email.apply(args=[person.id])
    (received,) = smtp.wait_for(address)
    assert link(received.text, "confirm")
