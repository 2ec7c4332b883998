"""Image uploads of the HTTP API (the editor's "Add an image" uses it too)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from campaign import database
from campaign.api_util import no_body
from campaign.errors import ApiError
from campaign.extensions import csrf, db
from campaign.images import services
from campaign.images.models import Image
from campaign.images.services import ImageInUse, ImageRefused
from campaign.staff.auth import api_role_required, current_staff
from campaign.staff.models import Role

bp = Blueprint("images_api", __name__, url_prefix="/api/v1/images")
csrf.exempt(bp)


def image_json(image: Image) -> dict:
    return {
        "id": image.id,
        "name": image.name,
        "url": services.image_url(image),
        "content_type": image.content_type,
        "width": image.width,
        "height": image.height,
        "bytes": image.byte_size,
        "markdown": services.markdown_for(image),
    }


@bp.post("")
@api_role_required(Role.MARKETING)
def upload():
    upload = request.files.get("image")
    if upload is None:
        raise ApiError(400, "invalid_image", "Send the image as the form field 'image'.", "image")
    try:
        image = services.store_image(upload.read(), upload.filename or "", current_staff())
    except ImageRefused as exc:
        raise ApiError(400, "invalid_image", str(exc), "image") from None
    db.session.commit()
    return jsonify(image_json(image)), 201


@bp.delete("/<int:image_id>")
@api_role_required(Role.MARKETING)
def delete(image_id: int):
    no_body()
    image = database.get(Image, image_id)
    if image is None:
        raise ApiError(404, "not_found", "No image has this id.")
    try:
        services.delete_image(image, current_staff())
    except ImageInUse as exc:
        raise ApiError(409, "image_in_use", str(exc)) from None
    db.session.commit()
    return "", 204
