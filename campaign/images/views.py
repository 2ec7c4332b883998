"""The images page for staff, and the public address each image is served from."""

from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import undefer

from campaign import database
from campaign.extensions import db
from campaign.images import services
from campaign.images.models import Image
from campaign.images.services import ImageInUse, ImageRefused
from campaign.staff.auth import current_staff, page_role_required
from campaign.staff.models import Role

bp = Blueprint("images", __name__, template_folder="templates")
LISTED = 200
CACHED_FOR_GOOD = "public, max-age=31536000, immutable"


@bp.get("/images/<name>")
def serve(name: str):
    """Mail apps load newsletter pictures from here, for as long as the mail is kept.

    The name holds the content's digest, so a name always means the same bytes and
    caches may keep them for good.
    """
    if not services.NAME.fullmatch(name):
        abort(404)
    image = db.session.scalar(select(Image).filter_by(name=name).options(undefer(Image.data)))
    if image is None:
        abort(404)
    if request.if_none_match.contains(name):
        response = Response(status=304)
    else:
        response = Response(image.data, mimetype=image.content_type)
    response.headers["Cache-Control"] = CACHED_FOR_GOOD
    response.set_etag(name)
    return response


@bp.route("/staff/images/", methods=["GET", "POST"])
@page_role_required(Role.MARKETING)
def index():
    error = None
    if request.method == "POST":
        upload = request.files.get("image")
        try:
            image = services.store_image(
                upload.read() if upload else b"", upload.filename if upload else "", current_staff()
            )
        except ImageRefused as exc:
            error = str(exc)
        else:
            db.session.commit()
            label = image.original_name or "The image"
            flash(f"{label} is uploaded: copy its line below into a newsletter.", "ok")
            return redirect(url_for("images.index"))
    images = services.recent_images(LISTED)
    return render_template(
        "images/index.html",
        images=images,
        used_in=services.newsletters_using(images),
        as_logo=services.as_logo,
        markdown_for=services.markdown_for,
        error=error,
        accept=services.ACCEPT_ATTRIBUTE,
        alt=services.ALT_PLACEHOLDER,
        max_width=services.MAX_WIDTH,
        allowed_size=services.allowed_size(),
    ), (400 if error else 200)


@bp.post("/staff/images/<int:image_id>/delete")
@page_role_required(Role.MARKETING)
def delete(image_id: int):
    image = database.get(Image, image_id)
    if image is None:
        flash("That image was already deleted.", "ok")
        return redirect(url_for("images.index"))
    label = image.original_name or "The image"
    try:
        services.delete_image(image, current_staff())
    except ImageInUse as exc:
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(f"{label} is deleted.", "ok")
    return redirect(url_for("images.index"))
