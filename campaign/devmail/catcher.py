"""A local mail catcher: an SMTP server that keeps each message as a file.

It stands in for a real mail server on a laptop (``make run``), so a person can read
and click through every email the service sends at ``/dev/mail``.
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller

logger = logging.getLogger(__name__)


class SaveToFolder:
    """aiosmtpd handler: write each accepted message to ``folder`` as an .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd API
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        recipients = ", ".join(envelope.rcpt_tos)
        header = f"X-Envelope-To: {recipients}\r\n".encode()
        (self.folder / name).write_bytes(header + envelope.original_content)
        logger.info("caught mail for %s", recipients)
        return "250 Message accepted for delivery"


def serve(folder: Path, host: str, port: int) -> Controller:
    # A fixed greeting name: aiosmtpd would otherwise look this host's name up in DNS
    # on every connection, which stalls for seconds where the resolver is slow.
    controller = Controller(
        SaveToFolder(folder), hostname=host, port=port, server_hostname="mailcatcher.local"
    )
    controller.start()
    return controller
