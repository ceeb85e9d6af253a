"""A real OpenID Connect provider for the tests: a small Flask app served on a free local port in
a thread, with discovery, an authorization endpoint that signs in a configured test user at
once, a token endpoint that checks the client's secret and the code, and the JWKS. Its RSA keys
are generated when it starts; ID tokens are signed with joserfc (Authlib's JOSE library).

A test may make it misbehave (``provider.mode``): sign with another key than the one it
publishes (``bad_signature``), name another audience (``wrong_audience``) or issuer
(``wrong_issuer``), hand out the ID token it issued for an earlier sign-in (``replay``: the
earlier nonce), issue an expired token (``expired``), or refuse the sign-in (``deny``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from sqlalchemy import text
from werkzeug.serving import make_server

CLIENT_ID = "govshare-tests"
CLIENT_SECRET = "provider-test-secret"


class Provider:
    """The provider's state: its keys, the user it signs in, its codes and what it issued."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.now = now
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        # same key id as the published key, another key: its signatures do not verify
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.user: dict[str, Any] = {"sub": "u-1", "preferred_username": "civil.clerk"}
        self.mode = "ok"
        self.codes: dict[str, dict[str, Any]] = {}
        self.issued: list[str] = []
        self.issuer = ""
        self.app = self._app()

    def id_token(self, nonce: str) -> str:
        now = int(self.now().timestamp())
        claims = {
            "iss": self.issuer + ("/elsewhere" if self.mode == "wrong_issuer" else ""),
            "aud": "another-application" if self.mode == "wrong_audience" else CLIENT_ID,
            "iat": now - (7200 if self.mode == "expired" else 0),
            "exp": now + (-3600 if self.mode == "expired" else 300),
            "nonce": nonce,
            **self.user,
        }
        key = self.other_key if self.mode == "bad_signature" else self.key
        return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)

    def _app(self) -> Flask:
        app = Flask("oidc_provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=self.issuer,
                authorization_endpoint=f"{self.issuer}/authorize",
                token_endpoint=f"{self.issuer}/token",
                jwks_uri=f"{self.issuer}/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                token_endpoint_auth_methods_supported=["client_secret_basic"],
            )

        @app.get("/authorize")
        def authorize():
            args = request.args
            if args.get("client_id") != CLIENT_ID or args.get("response_type") != "code":
                abort(400)
            target = args["redirect_uri"]
            if self.mode == "deny":
                query = {"error": "access_denied", "error_description": "user cancelled"}
                return redirect(f"{target}?{urlencode({**query, 'state': args['state']})}")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": args.get("nonce", ""), "redirect_uri": target}
            return redirect(f"{target}?{urlencode({'code': code, 'state': args['state']})}")

        @app.post("/token")
        def token():
            auth = request.authorization
            if auth is None or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            grant = self.codes.pop(request.form.get("code", ""), None)
            if grant is None or grant["redirect_uri"] != request.form.get("redirect_uri"):
                return jsonify(error="invalid_grant"), 400
            issued = self.id_token(grant["nonce"])
            if self.mode == "replay" and self.issued:
                issued = self.issued[0]  # an earlier sign-in's token, with its nonce
            self.issued.append(issued)
            return jsonify(
                access_token=secrets.token_urlsafe(16),
                token_type="Bearer",
                expires_in=300,
                id_token=issued,
            )

        @app.get("/jwks")
        def jwks():
            return jsonify(KeySet([self.key]).as_dict(private=False))

        return app


class RunningProvider:
    """A :class:`Provider` served on 127.0.0.1 in a thread (``stop()`` ends it)."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        self.provider = Provider(now)
        self.server = make_server("127.0.0.1", 0, self.provider.app, threaded=True)
        self.provider.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def issuer(self) -> str:
        return self.provider.issuer

    def settings(self) -> dict[str, str]:
        """The app configuration that points govshare at this provider."""
        return {
            "GOVSHARE_OIDC_ISSUER": self.issuer,
            "GOVSHARE_OIDC_CLIENT_ID": CLIENT_ID,
            "GOVSHARE_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        }

    def stop(self) -> None:
        self.server.shutdown()


def forget_subjects(engine) -> None:
    """Unpin every account from the provider subjects a test signed it in with (the seeded users
    outlive a test)."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE app_user SET sso_subject = NULL WHERE sso_subject IS NOT NULL"))


def main() -> None:
    """Serve the test provider for trying single sign-on by hand with the demo (docs/
    administration.md): ``python -m tests.oidc_provider --port 5084 --user civil.clerk``."""
    import argparse

    from engine.clock import SystemClock

    parser = argparse.ArgumentParser(
        description="a test OpenID Connect provider (never production)"
    )
    parser.add_argument("--port", type=int, default=5084)
    parser.add_argument("--user", default="civil.clerk", help="preferred_username it signs in")
    parser.add_argument("--sub", default="u-1", help="the subject it signs in")
    args = parser.parse_args()
    provider = Provider(SystemClock().now)
    provider.user = {"sub": args.sub, "preferred_username": args.user}
    provider.issuer = f"http://127.0.0.1:{args.port}"
    print(
        f"GOVSHARE_OIDC_ISSUER={provider.issuer} GOVSHARE_OIDC_CLIENT_ID={CLIENT_ID} "
        f"GOVSHARE_OIDC_CLIENT_SECRET={CLIENT_SECRET}",
        flush=True,
    )
    make_server("127.0.0.1", args.port, provider.app).serve_forever()


if __name__ == "__main__":
    main()
