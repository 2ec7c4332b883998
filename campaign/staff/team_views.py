"""The admin's staff page: who has an account, with which role; add, change, close."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from campaign import database
from campaign.coupons import abuse
from campaign.extensions import db
from campaign.staff import services
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.forms import AddStaffForm, NameForm, RoleForm
from campaign.staff.models import Role, Staff

bp = Blueprint("team", __name__, url_prefix="/staff/team")


def _page(form: AddStaffForm, status: int = 200):
    members = db.session.scalars(select(Staff).order_by(Staff.active.desc(), Staff.email)).all()
    return render_template(
        "staff/team.html", form=form, members=members, role_form=RoleForm, me=current_staff()
    ), status


@bp.get("/")
@page_role_required(Role.ADMIN)
def index():
    return _page(AddStaffForm())


@bp.post("/")
@page_role_required(Role.ADMIN)
def add():
    form = AddStaffForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    try:
        staff = services.invite_staff(
            form.email.data, Role.named(form.role.data), form.name.data, by=current_staff()
        )
    except services.StaffError as exc:
        form.email.errors.append(str(exc))
        return _page(form, 400)
    db.session.commit()
    flash(f"Added {staff.email}: they have been emailed a link to choose a password.", "ok")
    return redirect(url_for("team.index"))


def _act(staff_id: int, action) -> object:
    """Run one change to another member's account and come back to the list."""
    staff = database.get_or_404(Staff, staff_id)
    try:
        message = action(staff)
    except services.StaffError as exc:
        flash(str(exc), "error")
        return redirect(url_for("team.index")), 303
    db.session.commit()
    flash(message, "ok")
    return redirect(url_for("team.index")), 303


@bp.post("/<int:staff_id>/role")
@page_role_required(Role.ADMIN)
def change_role(staff_id: int):
    form = RoleForm()
    if not form.validate_on_submit():
        flash("Choose one of the roles.", "error")
        return redirect(url_for("team.index")), 303

    def change(staff: Staff) -> str:
        services.change_role(staff, Role.named(form.role.data), by=current_staff())
        return f"{staff.email} is now {staff.role.label}."

    return _act(staff_id, change)


@bp.post("/<int:staff_id>/name")
@page_role_required(Role.ADMIN)
def change_name(staff_id: int):
    form = NameForm()
    if not form.validate_on_submit():
        flash(" ".join(form.name.errors) or "The name could not be read.", "error")
        return redirect(url_for("team.index")), 303

    def change(staff: Staff) -> str:
        services.set_name(staff, form.name.data, by=current_staff())
        return f"{staff.email} is shown at the desk as {staff.display_name}."

    return _act(staff_id, change)


@bp.post("/<int:staff_id>/active")
@page_role_required(Role.ADMIN)
def set_active(staff_id: int):
    if request.form.get("active") not in ("0", "1"):
        abort(400, description="active must be 0 or 1.")
    active = request.form.get("active") == "1"

    def change(staff: Staff) -> str:
        services.set_active(staff, active, by=current_staff())
        done = "reactivated" if active else "deactivated: logged out, API tokens stopped"
        return f"{staff.email} {done}."

    return _act(staff_id, change)


@bp.post("/<int:staff_id>/unlock")
@page_role_required(Role.ADMIN)
def lift_pause(staff_id: int):
    def lift(staff: Staff) -> str:
        if abuse.lift_pause(staff, by=current_staff()):
            return f"{staff.email} can check coupon codes again."
        return f"{staff.email} was not paused."

    return _act(staff_id, lift)


@bp.post("/<int:staff_id>/password-link")
@page_role_required(Role.ADMIN)
def send_password_link(staff_id: int):
    def send(staff: Staff) -> str:
        services.send_password_link(staff, by=current_staff())
        return f"A link to choose a new password is on its way to {staff.email}."

    return _act(staff_id, send)
