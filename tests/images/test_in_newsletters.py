"""Uploaded images in newsletters: sized for every mail app, described for readers."""

from __future__ import annotations

import io
import re

from tests.images import helpers
from tests.staff.helpers import csrf_from


def _upload_photo(marketing_client, token: str) -> dict:
    answer = marketing_client.post(
        "/api/v1/images",
        headers={"X-CSRFToken": token},
        data={"image": (io.BytesIO(helpers.phone_photo(3000, 2000)), "room.jpg")},
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def _preview(marketing_client, token: str, body: str):
    return marketing_client.post(
        "/staff/campaigns/preview",
        data={"subject": "June", "body_markdown": body, "csrf_token": token},
    )


def test_our_images_carry_the_size_they_are_shown_at(ctx, marketing_client):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    image = _upload_photo(marketing_client, token)
    body = (
        f"![Our new room]({image['url']})\n\n![A partner's logo](https://partner.example/logo.png)"
    )
    preview = _preview(marketing_client, token, body)
    assert preview.status_code == 200, preview.get_json()
    html = preview.get_json()["html"]
    ours = re.search(r'<img[^>]*src="' + re.escape(image["url"]) + '"[^>]*>', html).group(0)
    # 1200 x 1800 shown in the 536 px column: 536 x 804 (Outlook sizes by attributes).
    assert 'width="536"' in ours
    assert 'height="804"' in ours
    assert 'alt="Our new room"' in ours
    theirs = re.search(r"<img[^>]*partner\.example[^>]*>", html).group(0)
    assert "width=" not in theirs


def test_a_small_image_keeps_its_own_size(ctx, marketing_client):
    token = csrf_from(marketing_client.get("/staff/campaigns/new").get_data(as_text=True))
    answer = marketing_client.post(
        "/api/v1/images",
        headers={"X-CSRFToken": token},
        data={"image": (io.BytesIO(helpers.logo_png(400, 200)), "logo.png")},
        content_type="multipart/form-data",
    )
    html = _preview(marketing_client, token, answer.get_json()["markdown"]).get_json()["html"]
    assert re.search(r'<img[^>]*width="400"[^>]*height="200"', html)


def test_the_placeholder_description_shows_in_the_preview_but_cannot_be_saved(
    ctx, marketing_client
):
    page = marketing_client.get("/staff/campaigns/new").get_data(as_text=True)
    token = csrf_from(page)
    image = _upload_photo(marketing_client, token)
    assert _preview(marketing_client, token, image["markdown"]).status_code == 200
    saved = marketing_client.post(
        "/staff/campaigns/new",
        data={"subject": "June", "body_markdown": image["markdown"], "csrf_token": token},
    )
    assert saved.status_code == 400
    assert "Replace &#39;Describe the image&#39; with what the picture shows" in saved.get_data(
        as_text=True
    )
    api = marketing_client.post(
        "/api/v1/campaigns",
        headers={"X-CSRFToken": token},
        json={"subject": "June", "body_markdown": image["markdown"]},
    )
    assert api.status_code == 400
    assert api.get_json()["error"]["code"] == "invalid_body_markdown"
    described = image["markdown"].replace("Describe the image", "Our new room")
    created = marketing_client.post(
        "/api/v1/campaigns",
        headers={"X-CSRFToken": token},
        json={"subject": "June", "body_markdown": described},
    )
    assert created.status_code == 201


def test_the_editor_may_show_pictures_from_other_sites_and_other_pages_may_not(
    ctx, marketing_client
):
    editor = marketing_client.get("/staff/campaigns/new")
    policy = editor.headers["Content-Security-Policy"]
    assert "img-src 'self' data: https: https://clinic.test;" in policy
    assert "script-src 'self';" in policy
    assert 'id="image-file"' in editor.get_data(as_text=True)
    listing = marketing_client.get("/staff/campaigns/")
    assert "img-src 'self' data:;" in listing.headers["Content-Security-Policy"]
