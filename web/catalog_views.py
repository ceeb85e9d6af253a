"""Catalog pages: browse and search, an entry with its versions, edit and submit, import/export,
the linking report, and registering a law revision or change of function."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required
from sqlalchemy import select

from engine.catalog import entry as entry_meta
from engine.catalog.events import KINDS, register_event
from engine.catalog.links import unlinked
from engine.catalog.models import Resource
from engine.catalog.search import Filters, search
from engine.catalog.transfer import export_csv, export_dcat, export_json, import_entries, published
from engine.catalog.versions import history, latest_version, save_draft, submit
from engine.directory.models import Department, User
from engine.errors import ValidationFailed

from . import clock, db
from .templating import render_message

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


def _filters(args) -> Filters:
    def opt(name):
        return args.get(name) or None

    open_ = {"1": True, "0": False}.get(args.get("open", ""))
    provider = args.get("provider")
    return Filters(
        q=(args.get("q") or "").strip(),
        provider_id=int(provider) if provider and provider.isdigit() else None,
        share_type=opt("share_type"),
        classification=opt("classification"),
        network=opt("network"),
        open_to_public=open_,
    )


@bp.get("/")
@login_required
def browse():
    results = search(
        db.session,
        _filters(request.args),
        page=int(request.args.get("page", "1") or 1)
        if request.args.get("page", "1").isdigit()
        else 1,
    )
    providers = db.session.scalars(
        select(Department)
        .where(
            Department.id.in_(select(Resource.provider_id).where(Resource.status == "published"))
        )
        .order_by(Department.division_code, Department.name)
    ).all()
    return render_template(
        "catalog/browse.html", results=results, providers=providers, args=request.args
    )


def _resource(code: str) -> Resource:
    """An entry; unpublished ones only for their department and data-sharing authorities (reviewers)."""
    resource = db.session.scalar(select(Resource).where(Resource.code == code))
    if resource is None or (
        resource.status != "published"
        and resource.provider_id != current_user.department_id
        and not current_user.department.is_authority
    ):
        abort(404)
    return resource


@bp.get("/entry/<path:code>")
@login_required
def show(code: str):
    resource = _resource(code)
    versions = history(db.session, resource)
    own = resource.provider_id == current_user.department_id
    users = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(
                User.id.in_(
                    {v.created_by_id for v in versions if v.created_by_id}
                    | {v.decided_by_id for v in versions if v.decided_by_id}
                )
            )
        )
    }
    latest = versions[0] if versions else None
    insider = own or current_user.department.is_authority
    shown = [v for v in versions if insider or v.status in ("published", "superseded")]
    wanted = request.args.get("version", "")
    chosen = next((v for v in shown if str(v.number) == wanted), None)
    entry = (
        chosen.data
        if chosen
        else (
            resource.metadata_
            if resource.status == "published"
            else (latest.data if latest else {})
        )
    )
    return render_template(
        "catalog/entry.html",
        resource=resource,
        versions=shown,
        own=own,
        latest=latest,
        users=users,
        entry=entry,
        chosen=chosen,
    )


def _entry_from_form(form) -> dict:
    entry = {
        f: form.get(f, "")
        for f in entry_meta.FIELDS
        if f not in ("info_items", "open_to_public", "related_codes")
    }
    entry["open_to_public"] = form.get("open_to_public") == "1"
    entry["related_codes"] = form.get("related_codes", "")
    names, types, shares, conditions, bases, basis = (
        form.getlist(f"item_{f}")
        for f in ("name", "data_type", "share_type", "conditions", "base", "basis")
    )
    items = []
    for n, name in enumerate(names):
        if not name.strip():
            continue
        items.append(
            {
                "name": name,
                "data_type": types[n] if n < len(types) else "",
                "share_type": shares[n] if n < len(shares) else "",
                "conditions": conditions[n] if n < len(conditions) else "",
                "base": str(n) in bases,
                "basis": basis[n] if n < len(basis) else "",
            }
        )
    entry["info_items"] = items
    return entry


@bp.route("/edit", methods=["GET", "POST"], defaults={"code": None})
@bp.route("/edit/<path:code>", methods=["GET", "POST"])
@login_required
def edit(code: str | None):
    resource = _resource(code) if code else None
    if resource is not None and resource.provider_id != current_user.department_id:
        abort(403)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        entry = _entry_from_form(request.form)
        entry["provider"] = (
            resource.provider.slug if resource is not None else current_user.department.slug
        )
        try:
            version = save_draft(
                db.session,
                clock(),
                current_user,
                entry,
                note=request.form.get("note", "").strip(),
                resource=resource,
            )
            if request.form.get("then") == "submit":
                submit(
                    db.session, clock(), current_user, db.session.get(Resource, version.resource_id)
                )
                flash(
                    gettext(
                        "Version %(n)s saved and sent to the data-sharing authority for review.",
                        n=version.number,
                    ),
                    "success",
                )
            else:
                flash(gettext("Version %(n)s saved as a draft.", n=version.number), "success")
            db.session.commit()
            return redirect(url_for(".show", code=entry["code"]))
        except ValidationFailed as err:
            db.session.rollback()
            for e in err.details:
                errors.setdefault(
                    e["field"].split("[")[0] if e["field"].startswith("info_items") else e["field"],
                    [],
                ).append(render_message(e["message"]))
            flash(err.message.render(gettext), "danger")
        data = entry
    else:
        latest = latest_version(db.session, resource) if resource else None
        data = (
            latest.data
            if latest
            else {
                "provider": current_user.department.slug,
                "info_items": [],
                "share_method": "interface",
                "network": "extranet",
                "update_cycle": "monthly",
                "classification": "department",
            }
        )
    items = list(data.get("info_items", [])) + [{}] * 3
    departments = db.session.scalars(
        select(Department).order_by(Department.division_code, Department.name)
    ).all()
    return render_template(
        "catalog/edit.html",
        resource=resource,
        data=data,
        items=items,
        errors=errors,
        meta=entry_meta,
        departments=departments,
    )


@bp.post("/submit/<path:code>")
@login_required
def submit_entry(code: str):
    resource = _resource(code)
    submit(db.session, clock(), current_user, resource)
    db.session.commit()
    flash(gettext("Sent to the data-sharing authority for review."), "success")
    return redirect(url_for(".show", code=code))


@bp.route("/import", methods=["GET", "POST"])
@login_required
def import_file():
    problems = []
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            flash(gettext("Choose a CSV or JSON file."), "warning")
        else:
            fmt = "json" if upload.filename.lower().endswith(".json") else "csv"
            text = upload.stream.read().decode("utf-8-sig", errors="replace")
            try:
                versions = import_entries(db.session, clock(), current_user, text, fmt)
                db.session.commit()
                flash(
                    gettext(
                        "%(n)s entries imported as drafts; submit them for publication from their pages.",
                        n=len(versions),
                    ),
                    "success",
                )
                return redirect(url_for(".browse"))
            except ValidationFailed as err:
                db.session.rollback()
                flash(err.message.render(gettext), "danger")
                problems = [(e["field"], render_message(e["message"])) for e in err.details]
    return render_template("catalog/import.html", problems=problems)


@bp.get("/export.<fmt>")
@login_required
def export(fmt: str):
    mine = request.args.get("mine") == "1"
    rows = published(db.session, current_user.department_id if mine else None)
    if fmt == "csv":
        return Response(
            export_csv(rows),
            mimetype="text/csv",
            headers={"Content-Disposition": "attachment; filename=catalog.csv"},
        )
    if fmt == "json":
        return Response(
            export_json(rows),
            mimetype="application/json",
            headers={"Content-Disposition": "attachment; filename=catalog.json"},
        )
    if fmt == "dcat":
        return Response(
            json.dumps(export_dcat(rows, request.host_url.rstrip("/")), ensure_ascii=False),
            mimetype="application/ld+json",
        )
    abort(404)


@bp.get("/links")
@login_required
def links():
    return render_template("catalog/links.html", rows=unlinked(db.session))


@bp.route("/events/new", methods=["GET", "POST"])
@login_required
def new_event():
    if not current_user.department.is_authority:
        abort(403)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            event, instances = register_event(
                db.session,
                clock(),
                current_user,
                request.form.get("kind", ""),
                request.form.get("occurred_on", ""),
                request.form.get("reference", ""),
                [s for s in request.form.getlist("departments") if s],
                request.form.get("description", ""),
            )
            db.session.commit()
            flash(
                gettext(
                    "Registered; %(n)s department(s) must update their catalog within 15 working days.",
                    n=len(instances),
                ),
                "success",
            )
            return redirect(url_for("catalog.browse"))
        except ValidationFailed as err:
            db.session.rollback()
            for e in err.details:
                errors.setdefault(e["field"], []).append(render_message(e["message"]))
    departments = db.session.scalars(
        select(Department)
        .where(Department.is_authority.is_(False))
        .order_by(Department.division_code, Department.name)
    ).all()
    return render_template(
        "catalog/event.html", departments=departments, errors=errors, kinds=KINDS, form=request.form
    )
