"""A real SMTP server on loopback (aiosmtpd) that tests read mail from."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    envelope_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage = field(init=False)
    # When it arrived (time.monotonic), for tests of the send rate.
    at: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.message = email.message_from_bytes(self.raw, policy=email.policy.default)

    @property
    def to(self) -> str:
        return self.rcpt_tos[0].lower()

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        return self.message.get_body(("plain",)).get_content()

    @property
    def html(self) -> str:
        return self.message.get_body(("html",)).get_content()


class _Server(SMTP):
    """aiosmtpd's SMTP session, greeting late when the sink says so."""

    def __init__(self, sink: SmtpSink, **options) -> None:
        super().__init__(sink, **options)
        self.sink = sink

    async def _handle_client(self) -> None:
        delay = self.sink.next_greeting_delay()
        if delay:
            # Silent for ``delay``. A client that gives up first (its EOF cancels this
            # task) is hung up on, as aiosmtpd does, so no session outlives the test.
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self.transport.close()
                raise
        await super()._handle_client()


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _Server(self.handler, **self.SMTP_kwargs)


class SmtpSink:
    """Keeps every message it accepts; ``wait_for`` blocks until mail arrives.

    Faults can be injected per recipient: ``answers[address]`` is a list of RCPT
    answers used one per attempt (e.g. ``["451 4.7.1 try later"]`` then accepted),
    ``drop_once`` holds addresses whose first DATA drops the connection, and
    ``delay`` slows every DATA down. ``greeting_delays`` holds, for the next
    connections one each, how long the server waits before its greeting (a slow
    server, as a client's connect sees it).
    """

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self._lock = threading.Condition()
        # A fixed server name: aiosmtpd would otherwise look up this host's name (a
        # DNS query that can take seconds) on every connection.
        self.controller = _Controller(
            self, hostname="127.0.0.1", port=free_port(), server_hostname="sink.test"
        )
        self.answers: dict[str, list[str]] = {}
        # Answers to the end of DATA, per recipient: a refusal of the message itself.
        self.data_answers: dict[str, list[str]] = {}
        self.drop_once: set[str] = set()
        self.delay = 0.0
        self.greeting_delays: list[float] = []
        self.rcpt_attempts: dict[str, int] = {}

    def next_greeting_delay(self) -> float:
        with self._lock:
            return self.greeting_delays.pop(0) if self.greeting_delays else 0.0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options) -> str:  # noqa: N802
        address = address.lower()
        with self._lock:
            self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
            queued = self.answers.get(address)
            answer = queued.pop(0) if queued else None
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        recipient = envelope.rcpt_tos[0].lower() if envelope.rcpt_tos else ""
        if recipient in self.drop_once:
            self.drop_once.discard(recipient)
            server.transport.abort()
            return "421 dropped"
        with self._lock:
            queued = self.data_answers.get(recipient)
            refusal = queued.pop(0) if queued else None
        if refusal:
            return refusal
        received = Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        with self._lock:
            self.messages.append(received)
            self._lock.notify_all()
        return f"250 OK queued as {len(self.messages)}"

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def port(self) -> int:
        return self.controller.port

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()
            self.answers.clear()
            self.data_answers.clear()
            self.drop_once.clear()
            self.rcpt_attempts.clear()
            self.greeting_delays.clear()
            self.delay = 0.0

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if m.to == address.lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 30.0) -> list[Received]:
        """Wait until ``address`` has at least ``count`` messages; return them all."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                found = [m for m in self.messages if m.to == address.lower()]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) for {address}, got {len(found)} in {timeout}s"
                    )
                self._lock.wait(remaining)
