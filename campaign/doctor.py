"""``flask --app campaign doctor``: is this installation ready? Says what to fix."""

from __future__ import annotations

import smtplib
from collections.abc import Callable
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import with_appcontext

import config as config_module
from campaign.health import broker_ok, database_answers, schema_current
from campaign.logs import printable

Check = tuple[bool, str, str]  # passed, what, how to fix


def check_secret() -> Check:
    return (
        config_module.secret_is_strong(current_app.config["SECRET_KEY"]),
        "SECRET_KEY is set to a long random value",
        ('set SECRET_KEY, e.g. python -c "import secrets; print(secrets.token_urlsafe(48))"'),
    )


def check_base_url() -> Check:
    url = urlsplit(current_app.config["BASE_URL"])
    production = current_app.config["ENV_NAME"] == "production"
    ok = bool(url.hostname) and url.hostname.isascii()  # an accented host is made ASCII
    ok = ok and (url.scheme == "https" or not production)
    return (
        ok,
        f"BASE_URL ({current_app.config['BASE_URL']}) is a public https address",
        ("set BASE_URL to the https address people reach the service at"),
    )


def check_database() -> Check:
    fix = "check DATABASE_URL and that the server is up"
    return database_answers(), "the database answers", fix


def check_migrations() -> Check:
    fix = "run: flask --app campaign db upgrade"
    if not database_answers():  # "run db upgrade" would send the operator the wrong way
        return False, "the database schema is up to date", "first make the database answer"
    return schema_current(), "the database schema is up to date", fix


def check_broker() -> Check:
    return broker_ok(), "the Celery broker answers", "check CELERY_BROKER_URL and that Redis is up"


def check_mail() -> Check:
    """Open the connection as sending does (SSL or STARTTLS, then the login), so a
    server without STARTTLS or a refused password shows here, not at the first send."""
    from campaign import emails

    config = current_app.config
    fix = "check MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS, MAIL_USE_SSL and MAIL_USERNAME/PASSWORD"
    try:
        emails.connect().configure_host().quit()
        ok = True
    except (OSError, smtplib.SMTPException) as exc:
        ok = False
        fix += f" ({printable(str(exc) or type(exc).__name__)})"
    where = f"{config['MAIL_SERVER']}:{config['MAIL_PORT']}"
    how = ""
    if config["MAIL_USE_SSL"] or config["MAIL_USE_TLS"]:
        how = " over SSL" if config["MAIL_USE_SSL"] else " with STARTTLS"
    if config["MAIL_USERNAME"] and config["MAIL_PASSWORD"]:
        how += f" and accepts the login of {config['MAIL_USERNAME']}"
    return ok, f"the mail server at {where} answers{how}", fix


def check_postal_address() -> Check:
    from campaign import clinic

    address = clinic.details().postal_address  # the admin's, else CLINIC_POSTAL_ADDRESS
    # The built-in sample, not Config's value: that one is CLINIC_POSTAL_ADDRESS itself.
    sample = config_module.SAMPLE_POSTAL_ADDRESS
    production = current_app.config["ENV_NAME"] == "production"
    ok = bool(address.strip()) and (address != sample or not production)
    return (
        ok,
        "the postal address is the clinic's own (the law wants it in every email)",
        "enter it on the staff page Clinic details, or set CLINIC_POSTAL_ADDRESS",
    )


def check_sender() -> Check:
    """The From of every email: one address (a name with a comma must be quoted)."""
    from email.policy import SMTP

    sender = current_app.config["MAIL_DEFAULT_SENDER"]
    try:
        header = SMTP.header_factory("From", sender)
        ok = len(header.addresses) == 1 and "@" in header.addresses[0].addr_spec
        ok = ok and not header.defects and "\n" not in sender
        # SMTP without SMTPUTF8 carries no accented local part (the domain is made ASCII).
        ok = ok and header.addresses[0].addr_spec.isascii()
    except (ValueError, IndexError):
        ok = False
    return (
        ok,
        "MAIL_DEFAULT_SENDER is one address",
        'set it as Name <address>, quoting a name with a comma: "Spa, Town" <news@...>; '
        "the part before the @ in plain letters (ASCII)",
    )


CHECKS: list[Callable[[], Check]] = [
    check_secret,
    check_base_url,
    check_database,
    check_migrations,
    check_broker,
    check_mail,
    check_sender,
    check_postal_address,
]


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check the configuration and the services this installation needs."""
    failures = 0
    for check in CHECKS:
        ok, what, fix = check()
        if ok:
            click.secho(f"  ok    {what}", fg="green")
        else:
            failures += 1
            click.secho(f"  FIX   {what}: {fix}", fg="red")
    if failures:
        raise click.ClickException(f"{failures} problem(s) to fix")
    click.echo("All good.")
