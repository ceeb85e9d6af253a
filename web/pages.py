"""The landing redirect and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user

from engine.workflow import health

from . import clock, db
from .openapi import obj, operation

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
@operation(
    "Liveness and database check",
    {
        200: (
            "the database answers and the processes are deployed",
            obj(
                ("status", "database"),
                status={"const": "ok"},
                database={"type": "string"},
                process_versions={"type": "integer"},
                now={"type": "string", "format": "date-time"},
            ),
        ),
        503: (
            "the database does not answer, or no process is deployed",
            obj(("status",), status={"const": "error"}, database={"type": "string"}),
        ),
    },
    token=False,
)
def healthz():
    state = health.check(db.session)
    if not state.ok:
        return jsonify({"status": "error", "database": state.database}), 503
    return jsonify(
        {
            "status": "ok",
            "database": state.database,
            "process_versions": state.process_versions,
            "now": clock().now().isoformat(),
        }
    )


@bp.get("/")
def index():
    return redirect(
        url_for("inbox.view", view="mine")
        if current_user.is_authenticated
        else url_for("auth.login")
    )
