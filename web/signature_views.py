"""Verification of signed decisions (docs/trust.md): anyone holding a verification code (printed
on the decision) sees who signed what and when, and whether the signature is valid, without
signing in."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for

from engine.errors import NotFound
from engine.trust.decision_pdf import DOCUMENTS, decision_pdf
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
        render_template(
            "signatures/verify.html",
            code=code,
            checks=checks,
            problem=problem,
            printable=DOCUMENTS,
        ),
        404 if problem else 200,
    )


@bp.get("/<code>.pdf")
def pdf(code: str):
    """The printable decision (回复函, 协调决定书) a verification code names, with its QR code."""
    if len(code) > 40:
        abort(404)
    link = url_for("signatures.verify", code=code.upper(), _external=True)
    body = decision_pdf(db.session, code, link)
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f"inline; filename=decision-{code.upper()}.pdf"},
    )
