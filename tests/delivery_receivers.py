"""Receivers the delivery tests start: a real SMTP server (aiosmtpd), an HTTP webhook receiver
that verifies the signature the way docs/notification-delivery.md tells gateway authors to, and
an SMTP server that hangs (accepts connections, never answers)."""

from __future__ import annotations

import contextlib
import email
import hashlib
import hmac
import json
import socket
import ssl
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    key: str
    sender: str  # the X-Govshare-Sender header: which worker sent it
    content: object  # the e-mail message or the JSON document


@dataclass
class Receiver:
    """What a receiver got, deduplicated by key the way a careful receiver does."""

    received: list[Received] = field(default_factory=list)
    rejected: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # open unless a test closes it: a closed gate keeps each request waiting for its answer
    # after it was received (a sender blocked mid-delivery); ``held`` counts those waiting
    gate: threading.Event = field(default_factory=threading.Event)
    held: int = 0

    def __post_init__(self) -> None:
        self.gate.set()

    def add(self, item: Received) -> None:
        with self.lock:
            self.received.append(item)

    def keys(self) -> Counter:
        with self.lock:
            return Counter(r.key for r in self.received)

    def unique(self) -> dict[str, Received]:
        with self.lock:
            first: dict[str, Received] = {}
            for r in self.received:
                first.setdefault(r.key, r)
            return first


# -- SMTP -----------------------------------------------------------------------------------------
class _MailHandler:
    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.receiver.add(Received(msg["X-Govshare-Delivery"], msg["X-Govshare-Sender"], msg))
        return "250 Message accepted for delivery"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost (openssl), its own CA."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@contextlib.contextmanager
def smtp_server(tls: tuple[Path, Path] | None = None, credentials: tuple[str, str] | None = None):
    """A real SMTP server on 127.0.0.1; with ``tls`` it requires STARTTLS, with ``credentials``
    it requires AUTH. Yields (port, receiver)."""
    receiver = Receiver()
    kwargs: dict = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        kwargs.update(tls_context=context, require_starttls=True)
    if credentials:

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                isinstance(auth_data, LoginPassword)
                and (
                    auth_data.login.decode(),
                    auth_data.password.decode(),
                )
                == credentials
            )
            if not ok:
                receiver.rejected += 1
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=authenticator, auth_required=True)
    port = free_port()
    controller = Controller(_MailHandler(receiver), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield port, receiver
    finally:
        controller.stop()


@contextlib.contextmanager
def hanging_smtp_server():
    """Accepts TCP connections and never says a word; yields its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


# -- webhook --------------------------------------------------------------------------------------
def signature_is_valid(secret: str, headers, raw: bytes, now: float) -> bool:
    """The receiver's check from docs/notification-delivery.md, written from the docs."""
    timestamp = headers.get("X-Govshare-Timestamp", "")
    given = headers.get("X-Govshare-Signature", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > 300:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
    return hmac.compare_digest("sha256=" + expected.hexdigest(), given)


@contextlib.contextmanager
def webhook_receiver(secret: str, clock=None):
    """An HTTP receiver on 127.0.0.1 that answers 401 to a request whose signature it cannot
    verify with ``secret`` and 200 otherwise. ``clock``: the time it judges timestamps by
    (default: the real time). Yields (url, receiver)."""
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            now = clock.now().timestamp() if clock else time.time()
            if not signature_is_valid(secret, self.headers, raw, now):
                with receiver.lock:
                    receiver.rejected += 1
                self.send_response(401)
                self.end_headers()
                return
            document = json.loads(raw)
            assert document["idempotency_key"] == self.headers["Idempotency-Key"]
            receiver.add(
                Received(
                    self.headers["Idempotency-Key"], self.headers["X-Govshare-Sender"], document
                )
            )
            if not receiver.gate.is_set():
                with receiver.lock:
                    receiver.held += 1
                receiver.gate.wait(60)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", receiver
    finally:
        server.shutdown()
        server.server_close()
