"""Inboxes: my tasks, the department queue, overdue, done, and the coordinators' inbox."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user, login_required

from engine.workflow import inbox as inbox_service
from engine.workflow import tasks as task_service

from . import clock, db
from .errors import lookup
from .params import number

bp = Blueprint("inbox", __name__, url_prefix="/inbox")


def _int(value: str | None) -> int | None:
    return number(value)


@bp.get("/<view>")
@login_required
def view(view: str):
    args = request.args
    filters = inbox_service.Filters(
        process=args.get("process") or None,
        counterpart=_int(args.get("counterpart")),
        due_from=args.get("due_from", "").strip(),
        due_to=args.get("due_to", "").strip(),
        key=(args.get("key") or "").strip() or None,
        sort=args.get("sort", "due"),
        urgency=args.get("urgency")
        if args.get("urgency") in ("normal", "soon", "overdue")
        else None,
    )
    inbox = lookup(
        inbox_service.inbox_page,
        db.session,
        current_user,
        clock(),
        view,
        filters,
        page=_int(args.get("page")) or 1,
    )
    g.inbox_counts = inbox.counts  # the badges, read with the page (templating.nav_counts)
    return render_template(
        "inbox.html",
        view=view,
        page=inbox.page,
        filters=filters,
        counterparts=inbox.counterparts,
        colleagues=inbox.colleagues,
        args=args,
        count_cap=inbox_service.COUNT_CAP,  # "more than 1000 tasks"
    )


@bp.post("/claim")
@login_required
def claim_selected():
    ids = [n for n in map(number, request.form.getlist("task_id")) if n]
    if not ids:
        flash(gettext("Select the tasks to claim first."), "warning")
        return redirect(request.referrer or url_for(".view", view="queue"))
    done, failed = task_service.claim_many(db.session, clock(), ids, current_user)
    db.session.commit()
    if done:
        flash(ngettext("%(num)s task claimed.", "%(num)s tasks claimed.", len(done)), "success")
    for task_id, err in failed:
        flash(
            gettext("Task %(id)s: %(why)s", id=task_id, why=err.message.render(gettext)), "danger"
        )
    return redirect(url_for(".view", view="mine"))
