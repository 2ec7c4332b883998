"""``GET /api/openapi.json``: the OpenAPI document of every ``/api/v1`` route."""

from __future__ import annotations

from flask import Blueprint, jsonify

bp = Blueprint("openapi", __name__)


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "Clinic newsletter and coupons", "version": "1"},
        "paths": {},
    }


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(document())
