"""Catalog pages: browse and search, an entry with its versions, edit and submit, import/export,
the linking report, and registering a law revision or change of function."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_login import current_user, login_required

from engine.catalog import entry as entry_meta
from engine.catalog import reading
from engine.catalog.events import KINDS, affected_candidates, may_register, register_event
from engine.catalog.links import unlinked
from engine.catalog.search import Filters, search
from engine.catalog.transfer import (
    export_csv,
    export_dcat,
    export_json,
    import_entries,
    published,
    read_upload,
)
from engine.catalog.versions import save_entry, submit_code
from engine.errors import ValidationFailed

from . import clock, db
from .errors import lookup
from .params import number
from .templating import render_message

bp = Blueprint("catalog", __name__, url_prefix="/catalog")


def _filters(args) -> Filters:
    def opt(name):
        return args.get(name) or None

    open_ = {"1": True, "0": False}.get(args.get("open", ""))
    provider = args.get("provider")
    return Filters(
        q=(args.get("q") or "").strip(),
        provider_id=number(provider),
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
        page=number(request.args.get("page")) or 1,
    )
    return render_template(
        "catalog/browse.html",
        results=results,
        providers=reading.providers(db.session),
        args=request.args,
        may_register=may_register(current_user),
    )


@bp.get("/entry/<path:code>")
@login_required
def show(code: str):
    view = lookup(
        reading.entry_view, db.session, current_user, code, request.args.get("version", "")
    )
    return render_template(
        "catalog/entry.html",
        resource=view.resource,
        versions=view.versions,
        own=view.own,
        latest=view.latest,
        entry=view.entry,
        chosen=view.chosen,
        lead=view.lead,
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
    view = lookup(reading.edit_view, db.session, current_user, code)
    data, errors = view.data, {}
    if request.method == "POST":
        data = _entry_from_form(request.form)
        data["provider"] = view.provider
        try:
            version = save_entry(
                db.session,
                clock(),
                current_user,
                data,
                note=request.form.get("note", "").strip(),
                code=code,
                then_submit=request.form.get("then") == "submit",
            )
            db.session.commit()
            if request.form.get("then") == "submit":
                flash(
                    gettext(
                        "Version %(n)s saved and sent to the data-sharing authority for review.",
                        n=version.number,
                    ),
                    "success",
                )
            else:
                flash(gettext("Version %(n)s saved as a draft.", n=version.number), "success")
            return redirect(url_for(".show", code=data["code"]))
        except ValidationFailed as err:
            db.session.rollback()
            errors = _field_errors(err)
            flash(err.message.render(gettext), "danger")
    return render_template(
        "catalog/edit.html",
        code=view.code,
        data=data,
        items=list(data.get("info_items", [])) + [{}] * 3,
        errors=errors,
        meta=entry_meta,
        departments=view.departments,
    ), (422 if errors else 200)


def _field_errors(err: ValidationFailed) -> dict[str, list[str]]:
    """A rule's problems by form field (every info item's problems under ``info_items``)."""
    errors: dict[str, list[str]] = {}
    for e in err.details:
        field = e["field"].split("[")[0] if e["field"].startswith("info_items") else e["field"]
        errors.setdefault(field, []).append(render_message(e["message"]))
    return errors


@bp.post("/submit/<path:code>")
@login_required
def submit_entry(code: str):
    submit_code(db.session, clock(), current_user, code)
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
            try:
                text, fmt = read_upload(upload.stream.read(), upload.filename)
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
                problems = [
                    (render_message(e.get("label") or e["field"]), render_message(e["message"]))
                    for e in err.details
                ]
    return render_template("catalog/import.html", problems=problems), (422 if problems else 200)


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
    departments = lookup(affected_candidates, db.session, current_user)
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        try:
            registered = register_event(
                db.session,
                clock(),
                current_user,
                request.form.get("kind", ""),
                request.form.get("occurred_on", ""),
                request.form.get("reference", ""),
                [s for s in request.form.getlist("departments") if s],
                request.form.get("description", ""),
                confirm_late=request.form.get("confirm_late") == "1",
            )
            db.session.commit()
            flash(
                gettext(
                    "Registered; %(n)s department(s) must update their catalog within 15 working "
                    "days: %(keys)s.",
                    n=len(registered.business_keys),
                    keys=", ".join(registered.business_keys),
                ),
                "success",
            )
            keys = registered.business_keys
            if keys:  # the first duty's page (its deadline, its department's task); the notice
                # names every duty's key, which the search box finds
                return redirect(url_for("requests.show", key=keys[0]))
            return redirect(url_for("catalog.browse"))
        except ValidationFailed as err:
            db.session.rollback()
            for e in err.details:
                errors.setdefault(e["field"], []).append(render_message(e["message"]))
    return render_template(
        "catalog/event.html", departments=departments, errors=errors, kinds=KINDS, form=request.form
    ), (422 if errors else 200)
