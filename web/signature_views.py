"""Verification of signed decisions (docs/trust.md): anyone holding a verification code (printed
on the decision) sees who signed what and when, and whether the signature is valid, without
signing in."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from engine.errors import NotFound
from engine.trust.signatures import verify_code

from . import db

bp = Blueprint("signatures", __name__, url_prefix="/verify")


@bp.get("/")
def verify():
    code = (request.args.get("code") or "").strip()[:40]
    checks, problem = [], None
    if code:
        try:
            checks = verify_code(db.session, code)
        except NotFound as err:
            problem = err.message
    return (
        render_template("signatures/verify.html", code=code, checks=checks, problem=problem),
        404 if problem else 200,
    )
