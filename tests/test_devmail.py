"""The laptop mail catcher: a real SMTP server writing files, and the page to read them."""

import smtplib
from email.message import EmailMessage
from pathlib import Path

from campaign.devmail.catcher import serve
from tests.smtp_sink import free_port


def new_message(subject: str, text: str, html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "news@clinic.test"
    message["To"] = "ann@example.com"
    message["Subject"] = subject
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def caught(folder: Path, message: EmailMessage) -> Path:
    """Send ``message`` over SMTP to a real catcher writing to ``folder``; its file."""
    port = free_port()
    controller = serve(folder, "127.0.0.1", port)
    try:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            smtp.send_message(message)
    finally:
        controller.stop()
    (saved,) = folder.glob("*.eml")
    return saved


def test_catcher_saves_mail_and_the_page_shows_it(make_app, settings, tmp_path):
    folder = tmp_path / "mail"
    message = new_message(
        "Hello from the catcher",
        "plain body https://clinic.test/confirm/abc",
        "<html><head></head><body><a href='x'>html body</a></body></html>",
    )
    saved = caught(folder, message)

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
    folder = tmp_path / "mail"
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    message = new_message(
        "Your coupon",
        "code AAAA-BBBB-CCCC",
        '<html><head></head><body><img src="cid:coupon-qr" alt="QR"></body></html>',
    )
    message.get_payload()[1].add_related(png, "image", "png", cid="<coupon-qr>")
    saved = caught(folder, message)
    client = make_app(DEV_MAIL_VIEWER=True, DEV_MAIL_DIR=str(folder)).test_client()
    html = client.get(f"/dev/mail/{saved.name}/html").get_data(as_text=True)
    source = f"/dev/mail/{saved.name}/cid/coupon-qr"
    assert f'src="{source}"' in html
    image = client.get(source)
    assert (image.status_code, image.mimetype, image.data) == (200, "image/png", png)
    assert client.get(f"/dev/mail/{saved.name}/cid/other").status_code == 404
