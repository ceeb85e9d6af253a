"""HTTP hardening for every response, and the one check of where the app may redirect to.

Headers (docs/security.md, "HTTP headers"): a Content-Security-Policy that allows scripts only
from the app itself (no inline script, no ``on…=`` handler; the pages' behaviour lives in
web/static/*.js), frames from nowhere; X-Frame-Options, nosniff and a Referrer-Policy for older
browsers; Strict-Transport-Security only on a request that arrived over HTTPS (behind a proxy,
set GOVSHARE_PROXY_FIX so that the proxy's X-Forwarded-Proto is believed).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HSTS = "max-age=31536000; includeSubDomains"

# What browsers drop from a URL before reading it: ASCII tab and newlines anywhere, and leading or
# trailing C0 controls and spaces; and they read a backslash in the path as a slash.
_STRIPPED = re.compile(r"[\t\n\r]")


def local_path(target: str | None) -> str | None:
    """``target`` when a browser would read it as a path on this site, else None.

    Refuses anything a browser would take to another host or scheme: ``//host``, ``/\\host``,
    ``/<tab>/host``, ``https://host``, ``javascript:…``, and whatever has a scheme or a host once
    tabs and newlines are removed and backslashes read as slashes."""
    if not target:
        return None
    cleaned = _STRIPPED.sub("", target).replace("\\", "/")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in cleaned):
        return None
    if not cleaned.startswith("/") or cleaned.startswith("//"):
        return None
    parts = urlsplit(cleaned)
    if parts.scheme or parts.netloc:
        return None
    return cleaned


def client_address() -> str:
    """The client's address (the proxy's X-Forwarded-For once GOVSHARE_PROXY_FIX trusts it)."""
    return (request.remote_addr or "")[:64]


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
