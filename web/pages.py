"""The landing redirect and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, url_for
from flask_login import current_user
from sqlalchemy import func, select, text

from engine.workflow.models import ProcessDefinition

from . import clock, db

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        deployed = db.session.scalar(select(func.count()).select_from(ProcessDefinition))
    except Exception as exc:  # noqa: BLE001 - report any database failure
        return jsonify({"status": "error", "database": str(exc)}), 503
    return jsonify(
        {
            "status": "ok",
            "database": db.engine.dialect.name,
            "process_versions": deployed,
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
