"""Plain pages: the landing page and the health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from sqlalchemy import func, select, text

from engine.models import ProcessDefinition, ProcessInstance

from . import clock, db

bp = Blueprint("pages", __name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        deployed = db.session.scalar(select(func.count()).select_from(ProcessDefinition))
    except Exception as exc:  # noqa: BLE001 - report any database failure
        return jsonify({"status": "error", "database": str(exc)}), 503
    return jsonify({"status": "ok", "database": db.engine.dialect.name, "process_versions": deployed, "now": clock().now().isoformat()})


@bp.get("/")
def index():
    counts = dict(db.session.execute(select(ProcessInstance.status, func.count()).group_by(ProcessInstance.status)).all())
    return render_template("index.html", counts=counts)
