"""The laptop mail catcher: a real SMTP server writing files, and the page to read them."""

import smtplib
from email.message import EmailMessage

from campaign.devmail.catcher import serve
from tests.smtp_sink import free_port


def test_catcher_saves_mail_and_the_page_shows_it(make_app, settings, tmp_path):
    port = free_port()
    folder = tmp_path / "mail"
    controller = serve(folder, "127.0.0.1", port)
    try:
        message = EmailMessage()
        message["From"] = "news@clinic.test"
        message["To"] = "ann@example.com"
        message["Subject"] = "Hello from the catcher"
        message.set_content("plain body https://clinic.test/confirm/abc")
        message.add_alternative(
            "<html><head></head><body><a href='x'>html body</a></body></html>", subtype="html"
        )
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()
    (saved,) = folder.glob("*.eml")

    app = make_app(DEV_MAIL_VIEWER=True, DEV_MAIL_DIR=str(folder))
    client = app.test_client()
    inbox = client.get("/dev/mail/").get_data(as_text=True)
    assert "Hello from the catcher" in inbox
    detail = client.get(f"/dev/mail/{saved.name}").get_data(as_text=True)
    assert "plain body https://clinic.test/confirm/abc" in detail
    html = client.get(f"/dev/mail/{saved.name}/html")
    assert '<base target="_top">' in html.get_data(as_text=True)
    assert "sandbox" in html.headers["Content-Security-Policy"]
    # The message page shows it in a frame of the same site: not refused, not blank.
    assert html.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in html.headers["Content-Security-Policy"]
    assert f'src="/dev/mail/{saved.name}/html"' in detail
    assert client.get("/dev/mail/..%2Fetc%2Fpasswd").status_code == 404


def test_the_viewer_shows_inline_images_such_as_the_coupons_qr(make_app, tmp_path):
    port = free_port()
    folder = tmp_path / "mail"
    controller = serve(folder, "127.0.0.1", port)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    try:
        message = EmailMessage()
        message["From"] = "news@clinic.test"
        message["To"] = "ann@example.com"
        message["Subject"] = "Your coupon"
        message.set_content("code AAAA-BBBB-CCCC")
        message.add_alternative(
            '<html><head></head><body><img src="cid:coupon-qr" alt="QR"></body></html>',
            subtype="html",
        )
        message.get_payload()[1].add_related(png, "image", "png", cid="<coupon-qr>")
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()
    (saved,) = folder.glob("*.eml")
    client = make_app(DEV_MAIL_VIEWER=True, DEV_MAIL_DIR=str(folder)).test_client()
    html = client.get(f"/dev/mail/{saved.name}/html").get_data(as_text=True)
    source = f"/dev/mail/{saved.name}/cid/coupon-qr"
    assert f'src="{source}"' in html
    image = client.get(source)
    assert (image.status_code, image.mimetype, image.data) == (200, "image/png", png)
    assert client.get(f"/dev/mail/{saved.name}/cid/other").status_code == 404
