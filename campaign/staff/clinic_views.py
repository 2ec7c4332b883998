"""The admin's page for the clinic's details: the footer of every page and email."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from campaign import clinic, emails
from campaign.extensions import db
from campaign.images.models import Image
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.forms import NO_LOGO, ClinicForm
from campaign.staff.models import Role

LOGO_CHOICES = 200  # the Images page lists as many

bp = Blueprint("clinic_pages", __name__, url_prefix="/staff/clinic")


@bp.route("/", methods=["GET", "POST"])
@page_role_required(Role.ADMIN)
def edit():
    current = clinic.details()
    form = ClinicForm(
        name=current.name,
        postal_address=current.postal_address,
        reply_to=current.reply_to,
        logo=current.logo,
        colour=current.colour,
    )
    form.logo.choices = [NO_LOGO, *_logo_choices()]
    error = None
    if form.validate_on_submit():
        try:
            clinic.save_details(
                current_staff().id,
                form.name.data,
                form.postal_address.data,
                form.reply_to.data,
                form.logo.data,
                form.colour.data,
            )
        except clinic.DetailsInvalid as exc:
            error = exc
        else:
            db.session.commit()
            flash("Saved: every page and email from now on shows these details.", "ok")
            return redirect(url_for("clinic_pages.edit"))
    status = 400 if form.errors or error else 200
    return render_template(
        "staff/clinic.html",
        form=form,
        error=error,
        sender_address=emails.envelope_sender(),
        default_colour=clinic.DEFAULT_COLOUR,
    ), status


def _logo_choices() -> list[SelectChoice]:
    images = db.session.execute(
        select(Image.name, Image.original_name, Image.width, Image.height)
        .order_by(Image.id.desc())
        .limit(LOGO_CHOICES)
    )
    return [
        SelectChoice(row.name, f"{row.original_name or row.name} ({row.width} x {row.height})")
        for row in images
    ]
