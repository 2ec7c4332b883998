"""``flask --app campaign staff create|token``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from campaign.extensions import db
from campaign.staff import services
from campaign.staff.models import Role, Staff

staff_cli = AppGroup("staff", help="Manage staff accounts.")


def _require_tables() -> None:
    """Say what to do on a database that is down or not migrated, before asking for a
    password (a traceback of OperationalError said neither)."""
    try:
        ready = inspect(db.engine).has_table(Staff.__tablename__)
    except SQLAlchemyError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise click.ClickException(
            f"cannot reach the database (check DATABASE_URL): {reason}"
        ) from None
    if not ready:
        raise click.ClickException(
            "the database has no tables yet: run flask --app campaign db upgrade first"
        )


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "marketing", "receptionist"]))
@click.option("--name", default=None, help="Shown in the desk log, e.g. 'Maria'.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create a staff account; the password is prompted for unless --password-stdin."""
    _require_tables()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        staff = services.create_staff(email, Role.named(role), password, name=name)
    except services.StaffError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"created {staff.email} ({role})")


@staff_cli.command("token")
@click.argument("email")
@click.option("--name", default="CLI token", show_default=True)
def token(email: str, name: str) -> None:
    """Print a new API token for EMAIL (shown once; only its hash is stored)."""
    _require_tables()
    staff = services.find_staff(email)
    if staff is None:
        raise click.ClickException(f"no staff account for {email}")
    if not staff.active:  # its tokens answer 401 until an admin reactivates it
        raise click.ClickException(
            f"{staff.email} is deactivated: reactivate it on the Staff page first"
        )
    value = services.create_api_token(staff, name)
    db.session.commit()
    click.echo(value)
