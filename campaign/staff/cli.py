"""``flask --app campaign staff create|token``."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from campaign.extensions import db
from campaign.staff import services
from campaign.staff.models import Role

staff_cli = AppGroup("staff", help="Manage staff accounts.")


@staff_cli.command("create")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(["admin", "marketing", "receptionist"]))
@click.option("--name", default=None, help="Shown in the desk log, e.g. 'Maria'.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create(email: str, role: str, name: str | None, password_stdin: bool) -> None:
    """Create a staff account; the password is prompted for unless --password-stdin."""
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
    staff = services.find_staff(email)
    if staff is None:
        raise click.ClickException(f"no staff account for {email}")
    value = services.create_api_token(staff, name)
    db.session.commit()
    click.echo(value)
