"""``govshare`` command line: thin wrappers over the engine services, one transaction per command.

Runs without Flask. Every command accepts ``--database URL`` (default ``DATABASE_URL`` or the
embedded SQLite under ``instance/``) and ``--now ISO`` (a fixed clock, for simulations and tests).
Errors print what is wrong (and each field or element) to stderr and exit with status 2; nothing
of a failed command is written.

Commands call engine services only (no queries here; tests/test_architecture.py checks it).
"""

# Lazy imports: each command imports the services it calls inside its function, so that
# `govshare --help`, `calendar deadline` and `processes lint` start in about 0.3 s instead of the
# 2.4 s that importing every area takes. Nothing imports this module, so these hide no cycle.

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from engine.calendar import WorkingCalendar, due_label
from engine.clock import Clock, FakeClock, SystemClock
from engine.errors import GovshareError
from engine.i18n import Message

if TYPE_CHECKING:
    from engine.app import SessionFactory
    from engine.directory.administration import DivisionRow
    from engine.directory.clients import ClientInfo, IssuedToken, TokenInfo
    from engine.reorganisation import Plan
    from engine.sharing.scenarios import Scenario
    from engine.trust.keys import KeyInfo
    from engine.workflow.deployment import VersionSummary

    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

Command: TypeAlias = Callable[[argparse.Namespace], None]


def _clock(args: argparse.Namespace) -> Clock:
    return FakeClock(args.now) if args.now else SystemClock()


def _factory(args: argparse.Namespace) -> SessionFactory:
    from engine.app import build_engine

    return build_engine().sessions(args.database)


def _out(args: argparse.Namespace, data: object, text: str) -> None:
    print(
        json.dumps(data, ensure_ascii=False, indent=2, default=str)
        if getattr(args, "json", False)
        else text
    )


def _local(dt: datetime) -> str:
    return due_label(dt)


def _due(dt: datetime | None) -> Message:
    return Message("due: %(due)s", due=due_label(dt))


# -- db, seed, processes ----------------------------------------------------------------------
def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from engine.schema import upgrade

    upgrade(args.database)
    print(Message("Database schema is up to date."))


def cmd_seed(args: argparse.Namespace) -> None:
    from engine.seed import demo_mode, seed_all

    demo = demo_mode() if args.demo is None else args.demo
    with _factory(args)() as s, s.begin():
        seed_all(s, _clock(args), demo=demo)
    print(
        Message("Seed data loaded: directory, catalog, demo users and processes.")
        if demo
        else Message("Seed data loaded: directory, catalog and processes.")
    )


# -- users ------------------------------------------------------------------------------------
def cmd_users_deactivate(args: argparse.Namespace) -> None:
    from engine.workflow.accounts import deactivate_account

    with _factory(args)() as s, s.begin():
        done = deactivate_account(s, _clock(args), None, args.user)
    print(
        Message(
            "%(user)s is deactivated; %(n)s session(s) ended, %(t)s task(s) back in the queue.",
            user=args.user,
            n=done.sessions,
            t=done.tasks_returned,
        )
    )


def cmd_users_reactivate(args: argparse.Namespace) -> None:
    from engine.directory.accounts import reactivate_account

    with _factory(args)() as s, s.begin():
        reactivate_account(s, _clock(args), None, args.user)
    print(Message("%(user)s is active again.", user=args.user))


def _account_line(a: object) -> str:
    from engine.directory.accounts import AccountInfo

    assert isinstance(a, AccountInfo)
    roles = "、".join(str(r) for r in a.role_labels)
    state = "" if a.active else f" [{Message('inactive')}]"
    return f"{a.username:<28} {a.name}  {a.department}  {roles}{state}"


def cmd_users_list(args: argparse.Namespace) -> None:
    from dataclasses import asdict  # lazy import: only this command prints JSON rows

    from engine.directory.accounts import AccountFilters, list_accounts

    active = None if args.state == "all" else args.state == "active"
    filters = AccountFilters(args.department, args.role, active, args.search)
    with _factory(args)() as s:
        page = list_accounts(s, None, filters, page=args.page)
    lines = [_account_line(a) for a in page.rows]
    lines.append(str(Message("page %(page)s of %(pages)s", page=page.page, pages=page.pages)))
    data = [
        {**asdict(a), "name": str(a.name), "department": str(a.department), "role_labels": None}
        for a in page.rows
    ]
    _out(args, data, "\n".join(lines))


def cmd_users_create(args: argparse.Namespace) -> None:
    from engine.directory.accounts import create_account
    from notifications.preferences import set_email_address

    form = {
        "username": args.user,
        "display_name": args.name,
        "display_name_en": args.name_en or "",
        "department": args.department,
        "roles": args.role or ["official"],
        "email": args.email or "",
    }
    with _factory(args)() as s, s.begin():
        info, password = create_account(s, _clock(args), None, form)
        set_email_address(s, _clock(args), info.username, form["email"], None)
    print(
        Message(
            "%(user)s created; temporary password (shown once, to be changed at the first"
            " sign-in): %(password)s",
            user=info.username,
            password=password,
        )
    )


def cmd_users_roles(args: argparse.Namespace) -> None:
    from engine.directory.accounts import set_roles

    with _factory(args)() as s, s.begin():
        info = set_roles(s, _clock(args), None, args.user, args.roles)
        line = _account_line(info)
    print(line)


def cmd_users_move(args: argparse.Namespace) -> None:
    from engine.workflow.accounts import move_account

    with _factory(args)() as s, s.begin():
        info, returned = move_account(s, _clock(args), None, args.user, args.department)
        line = _account_line(info)
    print(line)
    print(Message("%(n)s task(s) back in the old department's queue.", n=returned))


def cmd_users_reset_password(args: argparse.Namespace) -> None:
    from engine.directory.accounts import reset_password

    with _factory(args)() as s, s.begin():
        password = reset_password(s, _clock(args), None, args.user)
    print(
        Message(
            "Temporary password of %(user)s (shown once; a new one must be chosen at the next"
            " sign-in): %(password)s",
            user=args.user,
            password=password,
        )
    )


def cmd_users_import(args: argparse.Namespace) -> None:
    from engine.directory.accounts import import_accounts
    from notifications.preferences import set_email_address

    data = Path(args.file).read_bytes()
    with _factory(args)() as s, s.begin():
        report = import_accounts(s, _clock(args), None, data, apply=args.apply)
        for username, email in report.emails if report.applied else []:
            set_email_address(s, _clock(args), username, email, None)
    for row, label, problem in report.problems:
        print(
            Message("row %(row)s, %(label)s: %(problem)s", row=row, label=label, problem=problem),
            file=sys.stderr,
        )
    if report.problems:
        print(Message("Nothing was imported."), file=sys.stderr)
        raise SystemExit(2)
    passwords = dict(report.passwords)
    for a in report.accounts:
        extra = f"  {passwords[a.username]}" if a.username in passwords else ""
        print(_account_line(a) + extra)
    print(
        Message("%(n)s account(s) created.", n=len(report.accounts))
        if report.applied
        else Message(
            "Dry run: %(n)s account(s) would be created; add --apply.", n=len(report.accounts)
        )
    )


def cmd_users_delegate(args: argparse.Namespace) -> None:
    from engine.directory.delegation import delegate

    with _factory(args)() as s, s.begin():
        info = delegate(s, _clock(args), None, args.user, args.to, args.start, args.until)
    print(
        Message(
            "Leave cover %(id)s: %(deputy)s stands in for %(absent)s from %(start)s until %(end)s.",
            id=info.id,
            deputy=info.deputy,
            absent=info.absent,
            start=info.first_day.isoformat(),
            end=info.last_day.isoformat(),
        )
    )


def cmd_users_end_delegation(args: argparse.Namespace) -> None:
    from engine.directory.delegation import end_delegation

    with _factory(args)() as s, s.begin():
        end_delegation(s, _clock(args), None, args.id)
    print(Message("Leave cover %(id)s ended.", id=args.id))


# -- single sign-on (issue 14) -----------------------------------------------------------------
def cmd_sso_link(args: argparse.Namespace) -> None:
    from engine.directory.sso import link_account

    with _factory(args)() as s, s.begin():
        link_account(s, _clock(args), args.user, args.identity or "")
    if args.identity:
        print(
            Message("%(user)s is linked to the identity %(id)s.", user=args.user, id=args.identity)
        )
    else:
        print(Message("%(user)s is no longer linked to an identity.", user=args.user))


def _sso_commands(sub: Commands) -> None:
    group = _group(sub, "sso", "single sign-on (OpenID Connect)")
    c = _leaf(
        group,
        "link",
        cmd_sso_link,
        "link an account to the identity provider's value of GOVSHARE_OIDC_CLAIM "
        "(with GOVSHARE_OIDC_LINK=external_id); without IDENTITY: unlink",
    )
    c.add_argument("user", help="user name")
    c.add_argument("identity", nargs="?", help="the claim's value, e.g. an employee number")


def _read_new_password() -> str:
    """From a prompt (twice) on a terminal, else the first line of stdin; never from argv."""
    if sys.stdin.isatty():
        import getpass  # lazy import: only this command prompts

        first = getpass.getpass(str(Message("New password: ")))
        if getpass.getpass(str(Message("Repeat new password: "))) != first:
            raise ValueError(str(Message("The two passwords differ; nothing was changed.")))
        return first
    return sys.stdin.readline().rstrip("\r\n")


def cmd_users_set_password(args: argparse.Namespace) -> None:
    from engine.directory.accounts import set_password

    password = _read_new_password()
    with _factory(args)() as s, s.begin():
        revoked = set_password(s, _clock(args), args.user, password)
    print(Message("Password of %(user)s set; %(n)s session(s) ended.", user=args.user, n=revoked))


def cmd_processes_deploy(args: argparse.Namespace) -> None:
    from engine.workflow.deployment import deploy

    with _factory(args)() as s, s.begin():
        results = deploy(
            s, _clock(args), Path(args.dir) if args.dir else None, activate=not args.no_activate
        )
        lines = [
            f"{r.process_id} v{r.version} {r.content_hash[:12]} {r.describe()}" for r in results
        ]
    print("\n".join(lines))


def cmd_processes_lint(args: argparse.Namespace) -> None:
    from engine.app import build_engine
    from engine.workflow.deployment import parse_directory

    parsed, problems = parse_directory(
        Path(args.dir) if args.dir else None, build_engine().handlers
    )
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        raise SystemExit(2)
    print(Message("%(n)s process(es) pass the lint.", n=len(parsed)))


def cmd_processes_activate(args: argparse.Namespace) -> None:
    from engine.workflow.deployment import activate_version

    with _factory(args)() as s, s.begin():
        result = activate_version(s, _clock(args), args.process, args.version)
    print(result.describe())


def cmd_processes_list(args: argparse.Namespace) -> None:
    from engine.workflow.deployment import list_versions

    with _factory(args)() as s:
        rows = list_versions(s)
    data = [
        {
            "process": v.process_id,
            "version": v.version,
            "active": v.active,
            "hash": v.content_hash,
            "deployed_at": v.deployed_at.isoformat(),
            "activated_at": v.activated_at.isoformat() if v.activated_at else None,
            "running": v.running,
            "incidents": v.incidents,
            "file": v.source_file,
        }
        for v in rows
    ]
    text = "\n".join(_version_line(v) for v in rows)
    if text:
        text += "\n" + str(Message("* = active: new instances start on this version"))
    _out(args, data, text or str(Message("No process is deployed.")))


def _version_line(v: VersionSummary) -> str:
    running = Message("running: %(n)s", n=v.running)
    incidents = Message("in incident: %(n)s", n=v.incidents)
    marker = "*" if v.active else " "
    return (
        f"{marker} {v.process_id:<24} v{v.version:<3} {_local(v.deployed_at)}  {running}  "
        f"{incidents}  {v.content_hash[:12]}  {v.source_file}"
    )


# -- the process cockpit (instances, suspend, resume, rollback) ------------------------------------
def cmd_processes_instances(args: argparse.Namespace) -> None:
    from engine.workflow.cockpit import COUNT_CAP, STATE_LABELS, InstanceFilters, instances

    filters = InstanceFilters(
        process=args.process or "",
        version=str(args.version or ""),
        state=args.state or "",
        key=args.key or "",
        started_from=args.started_from or "",
        started_to=args.started_to or "",
    )
    with _factory(args)() as s:
        page = instances(s, None, filters, after=args.after)
    data = {
        "total": page.total,
        "more": page.more,
        "next_after": page.next_after,
        "instances": [r.__dict__ for r in page.rows],
    }
    lines = [
        f"{r.business_key:<16} {r.process_id:<24} v{r.version:<3} "
        f"{STATE_LABELS[r.status]}  {_local(r.started_at)}"
        + (f"  {r.incident}" if r.incident and r.status == "incident" else "")
        for r in page.rows
    ]
    total = f"{COUNT_CAP}+" if page.more else str(page.total)
    lines.append(str(Message("%(n)s instance(s) match.", n=total)))
    if page.next_after:
        lines.append(str(Message("Next page: --after %(id)s", id=page.next_after)))
    _out(args, data, "\n".join(lines))


def cmd_processes_suspend(args: argparse.Namespace) -> None:
    from engine.workflow.cockpit import suspend

    with _factory(args)() as s, s.begin():
        change = suspend(s, _clock(args), None, args.key, args.reason)
    print(
        Message(
            "%(key)s is suspended: its timers wait and its tasks cannot be acted on.",
            key=change.business_key,
        )
    )


def cmd_processes_resume(args: argparse.Namespace) -> None:
    from engine.workflow.cockpit import STATE_LABELS, resume

    with _factory(args)() as s, s.begin():
        change = resume(s, _clock(args), None, args.key, args.reason or "")
    print(
        Message(
            "%(key)s is resumed (%(state)s); timers that fell due meanwhile fire at the "
            "worker's next sweep.",
            key=change.business_key,
            state=STATE_LABELS[change.after],
        )
    )


def cmd_processes_rollback(args: argparse.Namespace) -> None:
    from engine.workflow.cockpit import rollback

    with _factory(args)() as s, s.begin():
        result = rollback(s, _clock(args), None, args.process, args.reason)
    print(result.describe())


# -- requests and tasks -----------------------------------------------------------------------
def cmd_requests_start(args: argparse.Namespace) -> None:
    from engine.directory import user_by_name
    from engine.sharing.requests import start_share_request

    form = {
        "resource_code": args.resource,
        "info_items": [i.strip() for i in args.items.split(",") if i.strip()],
        "purpose": args.purpose,
        "scenario": args.scenario,
        "legal_basis": args.basis,
        "period_start": args.period_from,
        "period_end": args.period_to,
    }
    with _factory(args)() as s, s.begin():
        inst = start_share_request(s, _clock(args), user_by_name(s, args.user), form)
        key, status, summary = inst.business_key, inst.status, dict(inst.summary)
    reply_due = (
        Message("reply due: %(due)s", due=due_label(summary["reply_due"]))
        if summary.get("reply_due")
        else ""
    )
    _out(
        args,
        {"business_key": key, "status": status, "summary": summary},
        f"{key} {status}  {reply_due}".rstrip(),
    )


def cmd_requests_show(args: argparse.Namespace) -> None:
    from engine.sharing.requests import status_by_key

    with _factory(args)() as s:
        st = status_by_key(s, args.key)
    if args.json:
        return _out(args, st, "")
    sm = st["summary"]
    lines = [
        f"{st['business_key']}  {st['process']} v{st['version']}  {st['status']}"
        + (f"  INCIDENT: {st['incident']}" if st["incident"] else "")
    ]
    lines.append(
        f"  {sm.get('resource_code', '')} {sm.get('resource_name', '')} ({sm.get('share_type', '')})  {sm.get('requester_name', '')} → {sm.get('provider_name', '')}"
    )
    if st["reply_deadline"]:
        overdue = Message("OVERDUE") if sm.get("overdue") else ""
        reply_due = Message("reply due: %(due)s", due=st["reply_deadline"]["due_date"] + " 24:00")
        lines.append(f"  {reply_due}  {overdue}".rstrip())
    for t in st["tasks"]:
        who = t["completed_by"] or t["assignee"] or ""
        lines.append(
            f"  task {t['id']:<5} {t['state']:<10} {t['title']} [{t['department']}] {who}  {t['statute']}"
        )
    for g in st["grants"]:
        lines.append(
            f"  grant {g['basis']}: {', '.join(g['info_items'])}  {g['period_start']}..{g['period_end']}  {g['purpose']}"
        )
    for b in st["breaches"]:
        lines.append(f"  breach {b['kind']} {b['article']} {b['department']}")
    print("\n".join(lines))


def cmd_tasks_list(args: argparse.Namespace) -> None:
    from engine.directory import user_by_name
    from engine.workflow.inbox import task_batch

    with _factory(args)() as s:  # the first batch, as department systems list them
        rows = task_batch(s, user_by_name(s, args.user), args.scope, limit=100).tasks
        data = [
            {
                "id": t.id,
                "business_key": t.business_key,
                "task": t.task_name,
                "title": t.title,
                "due_at": t.due_at.isoformat() if t.due_at else None,
                "assignee": t.assignee,
            }
            for t in rows
        ]
        text = "\n".join(
            f"{t.id:<6} {t.business_key:<16} {t.title:<16} {_due(t.due_at)}  {t.assignee or '-'}"
            for t in rows
        )
    _out(args, data, text or str(Message("No open tasks.")))


def cmd_tasks_claim(args: argparse.Namespace) -> None:
    from engine.directory import user_by_name
    from engine.workflow.tasks import claim

    with _factory(args)() as s, s.begin():
        row = claim(s, _clock(args), args.task_id, user_by_name(s, args.user))
        print(
            Message(
                "Task %(id)s (%(title)s) claimed by %(user)s.",
                id=row.id,
                title=row.title,
                user=args.user,
            )
        )


def cmd_tasks_complete(args: argparse.Namespace) -> None:
    from engine.directory import user_by_name
    from engine.workflow.tasks import complete

    raw = Path(args.data[1:]).read_text("utf-8") if args.data.startswith("@") else args.data
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise GovshareError(Message("--data is not valid JSON: %(err)s", err=str(exc))) from exc
    _require_kek()  # completing a task may sign its decision
    with _factory(args)() as s, s.begin():
        row = complete(s, _clock(args), args.task_id, user_by_name(s, args.user), data)
        print(
            Message(
                "Task %(id)s (%(title)s) completed; request %(key)s is %(status)s.",
                id=row.id,
                title=row.title,
                key=row.business_key,
                status=row.request_status,
            )
        )


def cmd_incidents(args: argparse.Namespace) -> None:
    from engine.workflow import incidents

    with _factory(args)() as s, s.begin():
        if args.retry:
            variables = incidents.parse_variables(args.set or [])
            inst = incidents.retry(s, _clock(args), args.retry, None, variables)
            state = Message("resolved") if inst.status != "incident" else Message("still failing")
            print(f"{inst.business_key} {inst.status} ({state})")
            if inst.incident:
                print(f"  {inst.incident}")
            return
        rows, total = incidents.list_incidents(s, None, open_only=not args.all)
    if args.json:
        return _out(args, [r.__dict__ for r in rows], "")
    if not rows:
        print(Message("No incidents."))
        return
    for r in rows:
        where = f"{r.element_id} ({r.element_name})" if r.element_name else r.element_id
        if r.resolved_at:
            when = Message("resolved %(when)s", when=_local(r.resolved_at))
        elif r.next_retry_at:
            when = Message("next retry %(when)s", when=_local(r.next_retry_at))
        else:
            when = Message("waiting for an administrator")
        print(f"{r.business_key:<16} {r.process_id} v{r.version}  {where}")
        print(f"  {r.error}")
        attempts = Message("attempts: %(n)s", n=r.attempts)
        print(f"  {attempts}  {when}")
    if total > len(rows):
        print(Message("%(n)s more not shown.", n=total - len(rows)))


# -- notification delivery ---------------------------------------------------------------------
def cmd_notifications_list(args: argparse.Namespace) -> None:
    from notifications import dead_letters
    from notifications.delivery import CHANNEL_LABELS, STATUS_LABELS

    view = "dead" if args.dead else "pending" if args.pending else "all"
    with _factory(args)() as s:
        page = dead_letters.list_deliveries(s, None, view, after=args.after, page_size=args.limit)
    if args.json:
        return _out(args, [r.__dict__ for r in page.rows], "")
    print(Message("failed: %(dead)s  waiting: %(pending)s", dead=page.dead, pending=page.pending))
    if not page.rows:
        print(Message("No deliveries."))
    for r in page.rows:
        status = Message(STATUS_LABELS[r.status])
        to = r.address or Message("the configured webhook")
        print(f"{r.id:>6}  {status}  {Message(CHANNEL_LABELS[r.channel])}  {to}  {r.key}")
        print(f"        {r.subject}")
        attempts = Message("attempts: %(n)s", n=r.attempts)
        when = _local(r.sent_at) if r.sent_at else _local(r.next_attempt_at)
        print(f"        {attempts}  {when}")
        if r.last_error and r.status != "sent":
            print(f"        {r.last_error}")
    if page.next_after:
        print(Message("More: add --after %(id)s.", id=page.next_after))


def cmd_notifications_retry(args: argparse.Namespace) -> None:
    from notifications import dead_letters

    with _factory(args)() as s, s.begin():
        if args.all_dead:
            n = dead_letters.retry_all_dead(s, _clock(args), None)
            print(Message("%(n)s failed deliveries queued again.", n=n))
            return
        key = dead_letters.retry(s, _clock(args), args.id, None)
    print(Message("Delivery %(id)s (%(key)s) queued again.", id=args.id, key=key))


def cmd_notifications_send_test(args: argparse.Namespace) -> None:
    from notifications import dead_letters
    from notifications.delivery import CHANNEL_LABELS
    from notifications.sending import deliver_due
    from notifications.settings import enabled_channels, from_environ

    settings = from_environ()
    if args.channel not in enabled_channels(settings):
        raise GovshareError(
            Message(
                "%(channel)s is not configured on this installation; see "
                "docs/notification-delivery.md.",
                channel=Message(CHANNEL_LABELS[args.channel]),
            )
        )
    factory, clock = _factory(args), _clock(args)
    with factory() as s, s.begin():
        delivery_id = dead_letters.queue_test(s, clock, args.user, args.channel, args.to, None)
    deliver_due(factory, clock, settings, only=delivery_id)
    with factory() as s:
        row = dead_letters.delivery_status(s, delivery_id)
    if row.status != "sent":
        raise GovshareError(
            Message(
                "The test message %(id)s was not accepted: %(error)s (it is retried like any "
                "other; see govshare notifications list --pending).",
                id=row.id,
                error=row.last_error or "-",
            )
        )
    print(Message("Test message %(id)s sent (%(key)s).", id=row.id, key=row.key))


# -- department systems (API clients, issue 14) -------------------------------------------------
def _client_line(c: ClientInfo) -> str:
    from engine.directory.clients import NETWORK_LABELS

    state = "" if c.active else f"  [{Message('Deactivated')}]"
    network = NETWORK_LABELS[c.network]
    tokens = Message("Valid tokens: %(n)s", n=c.live_tokens)
    return f"{c.id:>5}  {c.department}  {c.name}  {network}  {tokens}{state}"


def _token_lines(t: TokenInfo) -> list[str]:
    from engine.directory.clients import SCOPE_LABELS, TOKEN_STATE_LABELS

    line = Message(
        "Token #%(id)s  %(state)s  expires %(expires)s  last use: %(last)s",
        id=t.id,
        state=TOKEN_STATE_LABELS[t.state],
        expires=_local(t.expires_at),
        last=_local(t.last_used_at) if t.last_used_at else Message("never used"),
    )
    scopes = ", ".join(f"{s} ({SCOPE_LABELS[s]})" for s in t.scopes)
    return [f"  {line}", f"        {scopes}"]


def cmd_clients_list(args: argparse.Namespace) -> None:
    from engine.directory import clients

    with _factory(args)() as s:
        page = clients.list_clients(s, _clock(args), None, after=args.after)
    if args.json:
        return _out(args, [{**r.__dict__, "department": str(r.department)} for r in page.rows], "")
    if not page.rows:
        print(Message("No department systems are registered."))
    for c in page.rows:
        print(_client_line(c))
    if page.next_after:
        print(Message("More: add --after %(id)s.", id=page.next_after))


def cmd_clients_add(args: argparse.Namespace) -> None:
    from engine.directory import clients

    form = {
        "department": args.department,
        "name": args.name,
        "network": args.network,
        "contact": args.contact,
    }
    with _factory(args)() as s, s.begin():
        c = clients.create_client(s, _clock(args), None, form)
        line = _client_line(c)
    print(Message("Registered department system %(id)s:", id=c.id))
    print(line)


def cmd_clients_show(args: argparse.Namespace) -> None:
    from engine.directory import clients

    with _factory(args)() as s:
        detail = clients.client_detail(s, _clock(args), None, args.id)
        lines = [_client_line(detail.client)]
    if detail.client.contact:
        lines.append(f"  {Message('Contact')}: {detail.client.contact}")
    for t in detail.tokens:
        lines += _token_lines(t)
    print("\n".join(lines))


def _issued(issued: IssuedToken) -> None:
    print(
        Message(
            "Token #%(id)s, valid until %(when)s. It is shown this once: give it to the "
            "system now.",
            id=issued.token.id,
            when=_local(issued.token.expires_at),
        )
    )
    print(issued.secret)


def cmd_clients_token(args: argparse.Namespace) -> None:
    from engine.directory import clients

    with _factory(args)() as s, s.begin():
        issued = clients.issue_token(s, _clock(args), None, args.id, args.scope, args.expires)
    _issued(issued)


def cmd_clients_rotate(args: argparse.Namespace) -> None:
    from engine.directory import clients

    with _factory(args)() as s, s.begin():
        issued = clients.rotate_token(s, _clock(args), None, args.id, args.token, args.expires)
    print(Message("The old token keeps working for 24 hours, then ends."))
    _issued(issued)


def cmd_clients_revoke(args: argparse.Namespace) -> None:
    from engine.directory import clients

    with _factory(args)() as s, s.begin():
        t = clients.revoke_token(s, _clock(args), None, args.id, args.token)
    print(Message("Token #%(id)s is revoked.", id=t.id))


def cmd_clients_active(args: argparse.Namespace) -> None:
    from engine.directory import clients

    with _factory(args)() as s, s.begin():
        c = clients.set_active(s, _clock(args), None, args.id, args.sub == "activate")
        line = _client_line(c)
    print(line)


# -- signing keys and signed decisions (docs/trust.md) ----------------------------------------
def _require_kek() -> None:
    """Commands that may sign refuse to start without the key-encryption key (one line)."""
    from engine.trust.keys import require_key_encryption_key

    require_key_encryption_key()


def _key_line(k: KeyInfo) -> str:
    made = Message("key made %(when)s", when=_local(k.created_at))
    state = (
        Message("signs now")
        if k.retired_at is None
        else Message("retired %(when)s", when=_local(k.retired_at))
    )
    return f"{k.department_slug:12} {k.key_id}  {state}  {made}"  # the whole id: auditors name it


def cmd_keys_list(args: argparse.Namespace) -> None:
    from engine.trust import keys

    with _factory(args)() as s:
        rows = keys.list_keys(s, args.department)
    if args.json:
        return _out(args, [{**k.__dict__, "department": str(k.department)} for k in rows], "")
    if not rows:
        print(Message("No department has a signing key yet."))
    for k in rows:
        print(_key_line(k))


def cmd_keys_generate(args: argparse.Namespace) -> None:
    from engine.trust import keys

    _require_kek()
    with _factory(args)() as s, s.begin():
        k = keys.generate(s, _clock(args), args.department)
    print(_key_line(k))
    print(k.public_key_pem, end="")


def cmd_keys_rotate(args: argparse.Namespace) -> None:
    from engine.trust import keys

    _require_kek()
    with _factory(args)() as s, s.begin():
        k = keys.rotate(s, _clock(args), args.department)
    print(Message("The old key is retired; it keeps verifying what it signed."))
    print(_key_line(k))
    print(k.public_key_pem, end="")


def cmd_signatures_verify(args: argparse.Namespace) -> None:
    from engine.trust.signatures import verify

    with _factory(args)() as s:
        checks = verify(s, args.key)
    if args.json:
        _out(args, [c.as_json() for c in checks], "")
    else:
        for c in checks:
            verdict = "VALID" if c.valid else "INVALID"
            key = Message("key %(id)s", id=c.key_id[:16] + "…")
            code = Message("verification code %(code)s", code=c.code)
            print(
                f"{verdict:8} {c.kind_label}  {c.subject}  {c.department}  {c.official or '-'}  "
                f"{_local(c.signed_at)}  {key}  {code}"
            )
            if c.problem is not None:
                print(f"         {c.problem}")
    if not all(c.valid for c in checks):
        raise SystemExit(1)


def cmd_bundle_export(args: argparse.Namespace) -> None:
    from engine.trust import bundle
    from engine.trust.keys import region_signer

    start, end = bundle.period(args.start, args.end)
    bundle.file_problem(args.file, writing=True)
    _require_kek()  # the bundle's manifest is signed by the region authority's key
    target = Path(args.file)
    partial = target.with_name(target.name + ".part")
    clock = _clock(args)
    try:
        with _factory(args)() as s, s.begin():  # the closing checkpoint (and the region's key)
            bundle.close_period(s, clock, start, end)
        with _factory(args)() as s, s.begin(), partial.open("wb") as out:
            signer = region_signer(s, clock)
            summary = bundle.export(s, clock, start, end, out, signer=signer)
        partial.replace(target)  # a failed export leaves no file that looks complete
    finally:
        partial.unlink(missing_ok=True)
    print(
        Message(
            "Wrote %(file)s: %(signatures)s signed decisions, audit events %(first)s to %(last)s "
            "(%(events)s), %(checkpoints)s checkpoints, %(keys)s public keys.",
            file=str(target),
            signatures=summary.signatures,
            first=summary.first_seq,
            last=summary.last_seq,
            events=summary.events,
            checkpoints=summary.checkpoints,
            keys=summary.keys,
        )
    )
    print(Message("Signed by the region authority's key %(key)s.", key=signer[0]))


def cmd_bundle_verify(args: argparse.Namespace) -> None:
    """Offline: reads the file only (no database, no configuration)."""
    from engine.trust import bundle

    trusted = bundle.trusted_keys(args.region_key)
    bundle.file_problem(args.file)
    report = bundle.verify(args.file, trusted)
    if report.period is not None:
        print(
            Message(
                "Bundle of %(start)s to %(end)s: %(signatures)s signed decisions, %(events)s audit "
                "events, %(checkpoints)s checkpoints, %(keys)s public keys.",
                start=report.period[0],
                end=report.period[1],
                signatures=report.signatures,
                events=report.events,
                checkpoints=report.checkpoints,
                keys=report.keys,
            )
        )
    for problem in report.problems:
        print(f"INVALID  {problem}")
    if not report.valid:
        raise SystemExit(1)
    print(
        Message(
            "VALID: every file, signature, chain link and checkpoint verifies; signed by the "
            "region authority's key %(key)s.",
            key=report.signed_by,
        )
    )


# -- application scenarios (purpose-bound use, art. 12, 14) ------------------------------------
def _scenario_line(sc: Scenario) -> str:
    state = "" if sc.active else f"  ({Message('not in use')})"
    return f"{sc.code}  {sc.name_zh} / {sc.name_en}{state}"


def cmd_scenarios_list(args: argparse.Namespace) -> None:
    from engine.sharing import scenarios

    with _factory(args)() as s:
        rows = scenarios.scenarios(s)
    if args.json:
        return _out(
            args,
            [
                {"code": r.code, "name_zh": r.name_zh, "name_en": r.name_en, "active": r.active}
                for r in rows
            ],
            "",
        )
    for r in rows:
        print(_scenario_line(r))


def cmd_scenarios_save(args: argparse.Namespace) -> None:
    from engine.sharing import scenarios

    with _factory(args)() as s, s.begin():
        sc = scenarios.save_scenario(s, _clock(args), None, args.code, args.name_zh, args.name_en)
    print(_scenario_line(sc))


def cmd_scenarios_active(args: argparse.Namespace) -> None:
    from engine.sharing import scenarios

    with _factory(args)() as s, s.begin():
        sc = scenarios.set_active(s, _clock(args), None, args.code, args.sub == "activate")
    print(_scenario_line(sc))


# -- grants -----------------------------------------------------------------------------------
def cmd_grants_revoke(args: argparse.Namespace) -> None:
    from engine.directory import user_by_name
    from engine.sharing.grants import revoke_grant

    with _factory(args)() as s, s.begin():
        revoke_grant(s, _clock(args), args.grant_id, user_by_name(s, args.user), args.reason)
        print(Message("Grant %(grant)s revoked by %(user)s.", grant=args.grant_id, user=args.user))


# -- backup and restore -----------------------------------------------------------------------
def cmd_backup(args: argparse.Namespace) -> None:
    from engine.backup import backup

    summary = backup(_clock(args), Path(args.file), args.database, args.attachments)
    print(
        Message(
            "Backed up %(rows)s rows in %(tables)s tables (%(kind)s) and %(files)s attachments "
            "to %(file)s.",
            rows=summary.rows,
            tables=len(summary.tables),
            kind=summary.dialect,
            files=summary.attachments,
            file=args.file,
        )
    )


def cmd_restore(args: argparse.Namespace) -> None:
    from engine.backup import restore

    summary = restore(_clock(args), Path(args.file), args.database, args.attachments, args.force)
    print(
        Message(
            "Restored the backup taken at %(at)s: %(rows)s rows in %(tables)s tables (%(kind)s) "
            "and %(files)s attachments.",
            at=summary.taken_at,
            rows=summary.rows,
            tables=len(summary.tables),
            kind=summary.dialect,
            files=summary.attachments,
        )
    )
    for table, rows in sorted(summary.tables.items()):
        print(f"  {table}: {rows}")


# -- the audit chain ----------------------------------------------------------------------------
def cmd_audit_verify(args: argparse.Namespace) -> None:
    from engine import audit

    outcome = audit.verify_chain(
        _factory(args),
        from_seq=args.from_seq,
        to_seq=args.to_seq,
        checkpoint=args.checkpoint,
        from_checkpoint=args.from_checkpoint,
    )
    if isinstance(outcome, audit.CheckpointRange):
        report = outcome.report
        end = Message("the chain head")
        if outcome.end is not None:
            end = Message("checkpoint %(id)s", id=outcome.end.id)
        print(
            Message(
                "Checkpoint %(id)s (position %(seq)s, %(at)s) to %(end)s:",
                id=outcome.start.id,
                seq=outcome.start.seq,
                at=_local(outcome.start.at),
                end=end,
            )
        )
    else:
        report = outcome
    if report.broken is not None:
        print(Message("The audit chain is broken: %(reason)s", reason=report.broken.message))
        raise SystemExit(1)
    print(
        Message(
            "The audit chain is intact: positions %(first)s to %(last)s checked (%(n)s events; "
            "head at position %(head)s).",
            first=report.first,
            last=report.last,
            n=report.checked,
            head=report.head_seq,
        )
    )


def cmd_audit_checkpoint(args: argparse.Namespace) -> None:
    from engine import audit

    with _factory(args)() as s, s.begin():
        cp = audit.write_checkpoint(s, _clock(args))
        signed = Message("not signed (no signing key configured)")
        if cp.signature:
            signed = Message("signed with key %(key)s", key=cp.key_id)
        line = Message(
            "Checkpoint %(id)s: chain position %(seq)s, hash %(hash)s, %(signed)s.",
            id=cp.id,
            seq=cp.seq,
            hash=cp.hash,
            signed=signed,
        )
    print(line)


def _audit_commands(sub: Commands) -> None:
    au = _group(sub, "audit", "the audit trail's hash chain: verify it, record checkpoints")
    c = _leaf(au, "verify", cmd_audit_verify, "walk the chain and name the first broken link")
    c.add_argument("--from", dest="from_seq", type=int, metavar="SEQ", help="first position")
    c.add_argument("--to", dest="to_seq", type=int, metavar="SEQ", help="last position")
    c.add_argument(
        "--from-checkpoint",
        dest="from_checkpoint",
        action="store_true",
        help="from the last checkpoint (or --checkpoint ID) to the next one (or the head)",
    )
    c.add_argument("--checkpoint", type=int, metavar="ID", help="the checkpoint to start from")
    _leaf(au, "checkpoint", cmd_audit_checkpoint, "record the chain head now")


# -- worker and calendar ----------------------------------------------------------------------
def cmd_worker(args: argparse.Namespace) -> None:
    from engine.workflow.timers import run_worker

    _require_kek()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)
    run_worker(_factory(args), _clock(args), interval=args.interval, once=args.once)


def _calendar(args: argparse.Namespace) -> WorkingCalendar:
    from engine.calendar import load_calendar

    try:
        with _factory(args)() as s:
            return load_calendar(s)
    except Exception:  # noqa: BLE001 - an unmigrated database still has the shipped calendar
        return WorkingCalendar()


def cmd_calendar_deadline(args: argparse.Namespace) -> None:
    cal = _calendar(args)
    start = args.start if "T" in args.start else f"{args.start}T12:00:00+08:00"
    d = cal.deadline(start, args.days)
    if args.json:
        return _out(args, d.to_dict(), "")
    summary = Message(
        "end of working day %(n)s after %(day)s", n=args.days, day=d.event_day.isoformat()
    )
    print(f"{d.due_date.isoformat()} 24:00 Asia/Shanghai — {summary}")
    for line in d.explanation():
        print(f"  {line}")


def cmd_calendar_show(args: argparse.Namespace) -> None:
    cal = _calendar(args)
    days = cal.year_listing(args.year)
    if args.json:
        return _out(
            args,
            [
                {
                    "day": d.day.isoformat(),
                    "kind": d.kind,
                    "scope": d.scope,
                    "name": d.name,
                    "source": d.source,
                }
                for d in days
            ],
            "",
        )
    print(Message("Holidays and make-up working days of %(year)s", year=args.year))
    for d in days:
        kind = (
            str(Message("day off")) if d.kind == "holiday" else str(Message("make-up working day"))
        )
        print(
            f"  {d.day.isoformat()} {d.day.strftime('%a')}  {kind:<20} {d.name:<24} [{d.scope}] {d.source}"
        )
    for w in cal.year_warnings(args.year):
        print(f"  ! {w}")


def cmd_calendar_add(args: argparse.Namespace) -> None:
    from engine.calendar import add_days

    with _factory(args)() as s, s.begin():
        days = add_days(
            s, _clock(args), args.days, args.kind, args.scope, args.name, args.reference
        )
    print(Message("%(n)s day(s) entered.", n=len(days)))


def cmd_calendar_import(args: argparse.Namespace) -> None:
    """Enter a notice from a JSON file (docs/calendar.md), or with --dry-run print its preview."""
    from engine.workflow.calendar_notices import apply_notice, notice_from_json, preview_notice

    try:
        content = Path(args.file).read_bytes()
    except OSError as exc:
        raise ValueError(f"{args.file}: {exc}") from exc
    notice = notice_from_json(content)
    if args.dry_run:
        with _factory(args)() as s:  # writes nothing; closed without a commit
            report = preview_notice(s, _clock(args), notice, None)
    else:
        with _factory(args)() as s, s.begin():
            report = apply_notice(s, _clock(args), notice, None)
    data = {
        "applied": report.applied,
        "reference": report.reference,
        "days": [d.to_dict() for d in report.days],
        "moved": report.total,
        "deadlines": [m.to_dict() for m in report.moves],
    }
    lines = [
        str(
            Message(
                "Notice %(reference)s: %(n)s deadline(s) move.",
                reference=report.reference,
                n=report.total,
            )
            if not report.applied
            else Message(
                "Notice %(reference)s entered: %(n)s deadline(s) moved.",
                reference=report.reference,
                n=report.total,
            )
        )
    ]
    for d in report.days:
        state = Message("working day") if d.is_working else Message("day off")
        mark = "*" if d.changes else " "
        lines.append(f" {mark} {d.day.isoformat()} {d.name}: {state}")
    for m in report.moves:
        lines.append(
            f"  {m.business_key}  {m.task}  {m.department}  "
            f"{due_label(m.before)} → {due_label(m.after)}  ({m.reason})"
        )
    if report.total > len(report.moves):
        lines.append(f"  … {Message('and %(n)s more', n=report.total - len(report.moves))}")
    _out(args, data, "\n".join(lines))


def cmd_evaluation_start(args: argparse.Namespace) -> None:
    from engine.oversight.evaluation import start_campaign

    with _factory(args)() as s, s.begin():
        started = start_campaign(s, _clock(args), args.year)
    print(
        Message(
            "%(n)s reporting task(s) started for the evaluation due in %(year)s.",
            n=started,
            year=args.year,
        )
    )


def cmd_evaluation_report(args: argparse.Namespace) -> None:
    from engine.oversight.evaluation import compiled, report_csv

    with _factory(args)() as s:
        report = compiled(s, args.year)
        text = report_csv(s, args.year) if args.csv else ""
    if args.csv:
        sys.stdout.write(text)
        return
    for u in report["units"]:
        state = (
            Message("on time")
            if u["on_time"]
            else Message("late")
            if u["submitted"]
            else Message("not submitted")
        )
        print(f"{u['name']:<30} {state}")


def cmd_reports_rebuild(args: argparse.Namespace) -> None:
    from engine.oversight.summary import recount

    with _factory(args)() as s, s.begin():
        n = recount(s, _clock(args))
    print(Message("The yearly figures were recounted from %(n)s process facts.", n=n))


# -- directory administration (docs/administration.md, Directory) ------------------------------
def _print_plan(plan: Plan) -> None:
    for group in plan.groups:
        if not group.count:
            continue
        print(f"{group.label}: {group.count}")
        for item in group.items:
            print(f"  {item.label}  {item.source} -> {item.target}")
    print(Message("Preview token: %(token)s", token=plan.token))


def cmd_directory_divisions(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    def walk(rows: list[DivisionRow], depth: int) -> None:
        for r in rows:
            print(f"{'  ' * depth}{r.code}  {r.label}  ({r.level_label}, {r.departments})")
            walk(r.children, depth + 1)

    with _factory(args)() as s:
        walk(admin.division_tree(s, None), 0)


def cmd_directory_departments(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s:
        page = admin.list_departments(
            s, None, args.division, args.query or "", args.inactive, args.after, args.limit
        )
    for r in page.rows:
        state = "" if r.active else f"  [{Message('inactive')}]"
        print(f"{r.slug:<28} {r.division_code}  {r.label}{state}")
    if page.next_after:
        print(Message("More: add --after %(id)s.", id=page.next_after))


def cmd_directory_create_division(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s, s.begin():
        admin.create_division(
            s, _clock(args), None, args.code, args.name, args.name_en, args.level, args.parent or ""
        )
    print(Message("Division %(code)s created.", code=args.code))


def cmd_directory_rename_division(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s, s.begin():
        admin.rename_division(s, _clock(args), None, args.code, args.name, args.name_en)
    print(Message("Division %(code)s renamed.", code=args.code))


def cmd_directory_create(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s, s.begin():
        row = admin.create_department(
            s, _clock(args), None, args.slug, args.name, args.name_en, args.division
        )
    print(Message("Department %(dept)s created.", dept=row.label))


def cmd_directory_rename(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s, s.begin():
        row = admin.rename_department(
            s, _clock(args), None, args.slug, args.name, args.name_en, args.reason
        )
    print(Message("Department renamed: %(dept)s.", dept=row.label))


def cmd_directory_move(args: argparse.Namespace) -> None:
    from engine.reorganisation import move

    with _factory(args)() as s, s.begin():
        row = move(s, _clock(args), None, args.slug, args.division, args.reason)
    print(
        Message(
            "%(dept)s now belongs to %(division)s.", dept=row.label, division=row.division_label
        )
    )


def cmd_rules_list(args: argparse.Namespace) -> None:
    from engine.rules import admin as rule_admin

    with _factory(args)() as s:
        sets, _pages = rule_admin.rule_sets(s, None, 1)
        in_force = rule_admin.in_force_now(s, _clock(args))
    data = [
        {
            "version": r.version,
            "name": r.name,
            "state": r.state,
            "effective_from": r.effective_from.isoformat() if r.effective_from else None,
            "in_force": r.version == in_force,
        }
        for r in sets
    ]
    lines = [
        f"v{d['version']:<4} {d['effective_from'] or '-':<11} "
        f"{Message('in force') if d['in_force'] else Message('draft') if d['state'] == 'draft' else ''!s:<10} {d['name']}"
        for d in data
    ]
    _out(args, data, "\n".join(lines))


def cmd_rules_show(args: argparse.Namespace) -> None:
    from engine.rules import admin as rule_admin

    with _factory(args)() as s:
        r = rule_admin.rule_set(s, None, args.version)
    data = {
        "version": r.version,
        "name": r.name,
        "state": r.state,
        "effective_from": r.effective_from.isoformat() if r.effective_from else None,
        "basis": r.basis,
        "limits": {
            limit.name: {
                "days": limit.days,
                "month_day": limit.month_day,
                "article": limit.article,
                "statutory": limit.statutory,
            }
            for limit in r.limits
        },
    }
    head = f"v{r.version} {r.name} ({r.effective_from or Message('draft')})"
    rows = [f"{limit.name:<22} {limit.amount()!s:<20} {limit.basis()!s}" for limit in r.limits]
    _out(args, data, "\n".join([head, *rows]))


def cmd_rules_import(args: argparse.Namespace) -> None:
    from engine.rules import admin as rule_admin

    raw = Path(args.file).read_bytes()
    with _factory(args)() as s, s.begin():
        r = rule_admin.import_rule_set(s, _clock(args), None, raw)
    print(
        Message(
            "Rule set version %(v)s «%(name)s» is published from %(day)s.",
            v=r.version,
            name=r.name,
            day=r.effective_from.isoformat() if r.effective_from else "",
        )
    )


def cmd_directory_merge(args: argparse.Namespace) -> None:
    from engine.reorganisation import merge

    with _factory(args)() as s, s.begin():
        plan = merge(
            s,
            _clock(args),
            None,
            args.sources,
            args.into,
            args.reason or "",
            dry_run=args.dry_run,
            expected=args.token,
        )
    _print_plan(plan)
    print(Message("Merged.") if plan.applied else Message("Preview only: nothing was changed."))


def cmd_directory_split(args: argparse.Namespace) -> None:
    from engine.reorganisation import split

    assignment = {}
    for pair in args.assign or []:
        item, _, slug = pair.rpartition("=")
        assignment[item] = slug
    with _factory(args)() as s, s.begin():
        plan = split(
            s,
            _clock(args),
            None,
            args.slug,
            args.into,
            assignment,
            args.reason or "",
            dry_run=args.dry_run,
            expected=args.token,
        )
    _print_plan(plan)
    print(Message("Split.") if plan.applied else Message("Preview only: nothing was changed."))


def cmd_directory_authority(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s, s.begin():
        row = admin.designate_authority(
            s, _clock(args), None, args.division, args.slug, args.reason
        )
    print(Message("%(dept)s is the data-sharing authority of its division.", dept=row.label))


def cmd_directory_duty(args: argparse.Namespace) -> None:
    from engine.directory import administration as admin

    with _factory(args)() as s, s.begin():
        row = admin.assign_duty(s, _clock(args), None, args.duty, args.slug, args.release)
    print(Message("Duty %(duty)s: %(dept)s.", duty=admin.duty_label(args.duty), dept=row.label))


def cmd_directory_import(args: argparse.Namespace) -> None:
    from engine.reorganisation.importing import import_directory

    path = Path(args.file)
    fmt = args.format or ("json" if path.suffix.lower() == ".json" else "csv")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise GovshareError(
            Message("Cannot read %(file)s: %(err)s", file=str(path), err=str(exc))
        ) from exc
    with _factory(args)() as s, s.begin():
        diff = import_directory(
            s, _clock(args), None, data, fmt, dry_run=args.dry_run, source=path.name
        )
    for title, rows in (
        (Message("Added"), diff.added),
        (Message("Changed"), diff.changed),
        (Message("Removed (deactivated)"), diff.removed),
    ):
        print(f"{title}: {len(rows)}")
        for r in rows:
            print(f"  {r.slug:<28} {r.division}  {r.label}")
            for c in r.changes:
                print(f"      {c.field}: {c.before} -> {c.after}")
    print(Message("Unchanged: %(n)s", n=diff.unchanged))
    print(Message("Imported.") if diff.applied else Message("Dry run: nothing was changed."))


def _directory_commands(sub: Commands) -> None:
    d = _group(
        sub, "directory", "divisions and departments: create, rename, move, merge, split, import"
    )
    _leaf(d, "divisions", cmd_directory_divisions, "the divisions: region, cities, counties")
    _directory_list_commands(d)
    _reorganisation_commands(d)


def _directory_list_commands(d: Commands) -> None:
    c = _leaf(d, "departments", cmd_directory_departments, "list departments (paged)")
    c.add_argument("--division", help="only this division (GB/T 2260 code)")
    c.add_argument("--query", help="name contains")
    c.add_argument("--inactive", action="store_true", help="include merged and deactivated ones")
    c.add_argument("--after", type=int, metavar="ID", help="the page after this department")
    c.add_argument("--limit", type=int, default=50, help="departments per page (default 50)")
    c = _leaf(d, "create-division", cmd_directory_create_division, "add a division")
    c.add_argument("code", help="GB/T 2260 code (six digits)")
    c.add_argument("--name", required=True, help="Chinese name")
    c.add_argument("--name-en", required=True, help="English name")
    c.add_argument("--level", required=True, choices=("region", "city", "county"))
    c.add_argument("--parent", help="the parent division's code")
    c = _leaf(d, "rename-division", cmd_directory_rename_division, "rename a division")
    c.add_argument("code", help="GB/T 2260 code")
    c.add_argument("--name", required=True, help="new Chinese name")
    c.add_argument("--name-en", required=True, help="new English name")
    c = _leaf(d, "create", cmd_directory_create, "add a department")
    c.add_argument("slug", help="short name (lower-case letters, digits, hyphens)")
    c.add_argument("--name", required=True, help="Chinese name")
    c.add_argument("--name-en", required=True, help="English name")
    c.add_argument("--division", required=True, help="GB/T 2260 code")
    c = _leaf(d, "rename", cmd_directory_rename, "rename a department (the old name is kept)")
    c.add_argument("slug")
    c.add_argument("--name", required=True, help="new Chinese name")
    c.add_argument("--name-en", required=True, help="new English name")
    c.add_argument("--reason", required=True, help="why (e.g. the reform's document)")
    c = _leaf(d, "move", cmd_directory_move, "move a department to another division")
    c.add_argument("slug")
    c.add_argument("--division", required=True, help="GB/T 2260 code")
    c.add_argument("--reason", required=True)


def _reorganisation_commands(d: Commands) -> None:
    c = _leaf(
        d, "merge", cmd_directory_merge, "merge departments into one (preview with --dry-run)"
    )
    c.add_argument("sources", nargs="+", help="the departments merged")
    c.add_argument("--into", required=True, help="the successor (an existing department)")
    c.add_argument("--reason", help="why (required to apply)")
    c.add_argument("--dry-run", action="store_true", help="only show what moves where")
    c.add_argument("--token", help="the preview's token: refuse if anything changed since")
    c = _leaf(d, "split", cmd_directory_split, "split a department (preview with --dry-run)")
    c.add_argument("slug", help="the department split")
    c.add_argument("--into", nargs="+", required=True, help="successors; the first takes the rest")
    c.add_argument(
        "--assign",
        action="append",
        metavar="KIND:KEY=SLUG",
        help="send one item to a successor, e.g. users:wang=dept-b or cases:GX-2026-000001=dept-b",
    )
    c.add_argument("--reason", help="why (required to apply)")
    c.add_argument("--dry-run", action="store_true", help="only show what moves where")
    c.add_argument("--token", help="the preview's token: refuse if anything changed since")
    c = _leaf(
        d, "authority", cmd_directory_authority, "designate a division's data-sharing authority"
    )
    c.add_argument("division", help="GB/T 2260 code")
    c.add_argument("slug", help="the department that becomes the authority")
    c.add_argument("--reason", required=True)
    c = _leaf(d, "duty", cmd_directory_duty, "give a review seat or lead to a department")
    c.add_argument("duty", help="e.g. project_review:drc, base:population, thematic:health")
    c.add_argument("slug")
    c.add_argument("--release", action="store_true", help="take a shared thematic lead back")
    c = _leaf(d, "import", cmd_directory_import, "import departments from CSV or JSON")
    c.add_argument("file")
    c.add_argument("--format", choices=("csv", "json"), help="default: by the file's suffix")
    c.add_argument("--dry-run", action="store_true", help="only show the diff")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="govshare", description="政务数据共享流程引擎 govshare")
    p.add_argument(
        "--database", help="database URL (default: DATABASE_URL or instance/govshare.db)"
    )
    p.add_argument("--now", help="use a fixed clock at this ISO 8601 instant (simulations, tests)")
    sub = p.add_subparsers(dest="command", required=True)
    for add_commands in (
        _db_commands,
        _seed_command,
        _user_commands,
        _process_commands,
        _request_commands,
        _task_commands,
        _incident_command,
        _notification_commands,
        _worker_command,
        _evaluation_commands,
        _reports_commands,
        _calendar_commands,
        _backup_commands,
        _client_commands,
        _scenario_commands,
        _grant_commands,
        _sso_commands,
        _directory_commands,
        _rules_commands,
        _audit_commands,
        _trust_commands,
    ):
        add_commands(sub)
    return p


def _group(sub: Commands, name: str, help_text: str) -> Commands:
    return sub.add_parser(name, help=help_text).add_subparsers(dest="sub", required=True)


def _leaf(
    g: Commands, name: str, fn: Command, help_text: str, json_flag: bool = False
) -> argparse.ArgumentParser:
    c = g.add_parser(name, help=help_text)
    c.set_defaults(fn=fn)
    if json_flag:
        c.add_argument("--json", action="store_true", help="print JSON")
    return c


def _db_commands(sub: Commands) -> None:
    db = _group(sub, "db", "database schema")
    _leaf(db, "upgrade", cmd_db_upgrade, "apply Alembic migrations")


def _seed_command(sub: Commands) -> None:
    seed = sub.add_parser(
        "seed",
        help="load the Ningxia directory, catalog and processes, and in demo mode the demo users "
        "(idempotent; never changes an existing user)",
    )
    demo = seed.add_mutually_exclusive_group()
    demo.add_argument(
        "--demo",
        dest="demo",
        action="store_true",
        default=None,
        help="create missing demo users (default when GOVSHARE_DEMO=1)",
    )
    demo.add_argument(
        "--no-demo", dest="demo", action="store_false", help="no demo users, even in demo mode"
    )
    seed.set_defaults(fn=cmd_seed)


def _user_commands(sub: Commands) -> None:
    users = _group(sub, "users", "user accounts (each change ends the user's sessions)")
    c = _leaf(users, "list", cmd_users_list, "list accounts, a page at a time", json_flag=True)
    c.add_argument("--department", help="department slug")
    c.add_argument("--role", help="job role: official, leader, coordinator, level_admin, admin")
    c.add_argument("--state", choices=("active", "inactive", "all"), default="all")
    c.add_argument("--search", help="part of the user name or name")
    c.add_argument("--page", type=int, default=1)
    c = _leaf(users, "create", cmd_users_create, "create an account; prints its temporary password")
    c.add_argument("user", help="user name")
    c.add_argument("--name", required=True, help="display name (Chinese)")
    c.add_argument("--name-en", help="display name (English)")
    c.add_argument("--department", required=True, help="department slug")
    c.add_argument("--role", action="append", help="job role (repeat for several)")
    c.add_argument("--email", help="e-mail address for notifications")
    c = _leaf(users, "roles", cmd_users_roles, "set a user's job roles")
    c.add_argument("user", help="user name")
    c.add_argument("roles", nargs="+", help="official, leader, coordinator, level_admin, admin")
    c = _leaf(users, "move", cmd_users_move, "move a user to another department")
    c.add_argument("user", help="user name")
    c.add_argument("department", help="the new department's slug")
    c = _leaf(
        users,
        "deactivate",
        cmd_users_deactivate,
        "deactivate a user, end their sessions, give their claimed tasks back to the queue",
    )
    c.add_argument("user", help="user name")
    c = _leaf(users, "reactivate", cmd_users_reactivate, "let a deactivated user sign in again")
    c.add_argument("user", help="user name")
    c = _leaf(
        users,
        "set-password",
        cmd_users_set_password,
        "set a user's password, read from a prompt or the first line of stdin (never argv)",
    )
    c.add_argument("user", help="user name")
    c = _leaf(
        users,
        "reset-password",
        cmd_users_reset_password,
        "a temporary password, shown once, to be changed at the next sign-in",
    )
    c.add_argument("user", help="user name")
    c = _leaf(
        users, "import", cmd_users_import, "create accounts from CSV (dry run unless --apply)"
    )
    c.add_argument(
        "file", help="CSV: username,display_name,display_name_en,department,roles[,email]"
    )
    c.add_argument("--apply", action="store_true", help="create them (all or nothing)")
    c = _leaf(users, "delegate", cmd_users_delegate, "name a deputy for a period of leave")
    c.add_argument("user", help="the absent official's user name")
    c.add_argument("--to", required=True, help="the deputy's user name")
    c.add_argument("--from", dest="start", required=True, help="first day, YYYY-MM-DD")
    c.add_argument("--until", required=True, help="last day, YYYY-MM-DD")
    c = _leaf(users, "end-delegation", cmd_users_end_delegation, "end a leave cover now")
    c.add_argument("id", type=int, help="the leave cover's number")


def _process_commands(sub: Commands) -> None:
    pr = _group(sub, "processes", "process definitions")
    c = _leaf(
        pr,
        "deploy",
        cmd_processes_deploy,
        "deploy processes/ (new version only where content changed)",
    )
    c.add_argument("--dir", help="processes directory (default: the project's processes/)")
    c.add_argument(
        "--no-activate",
        action="store_true",
        help="deploy new versions without activating them (see `processes activate`)",
    )
    c = _leaf(pr, "lint", cmd_processes_lint, "check processes/ without deploying")
    c.add_argument("--dir")
    c = _leaf(
        pr,
        "activate",
        cmd_processes_activate,
        "make a deployed version the one new instances start on (also to roll back)",
    )
    c.add_argument("process", help="process id, e.g. share_request")
    c.add_argument("version", type=int)
    _leaf(
        pr,
        "list",
        cmd_processes_list,
        "list deployed versions: active, instances running and in incident",
        json_flag=True,
    )
    _cockpit_commands(pr)


def _cockpit_commands(pr: Commands) -> None:
    from engine.workflow.cockpit import STATES  # lazy import: the choices of --state

    c = _leaf(
        pr,
        "instances",
        cmd_processes_instances,
        "list instances, newest first (50 a page), filtered",
        json_flag=True,
    )
    c.add_argument("--process", help="process id, e.g. share_request")
    c.add_argument("--version", type=int)
    c.add_argument("--state", choices=STATES)
    c.add_argument("--key", help="business key, or part of it")
    c.add_argument("--from", dest="started_from", help="started on or after YYYY-MM-DD")
    c.add_argument("--to", dest="started_to", help="started on or before YYYY-MM-DD")
    c.add_argument("--after", help="the next page: the number printed under the previous one")
    c = _leaf(
        pr,
        "suspend",
        cmd_processes_suspend,
        "suspend an instance: timers wait, tasks cannot be claimed or completed",
    )
    c.add_argument("key", help="business key, e.g. GX-2026-000001")
    c.add_argument("--reason", required=True, help="why (shown to whoever tries to act on it)")
    c = _leaf(pr, "resume", cmd_processes_resume, "resume a suspended instance")
    c.add_argument("key", help="business key")
    c.add_argument("--reason", help="a note for the audit trail")
    c = _leaf(
        pr,
        "rollback",
        cmd_processes_rollback,
        "activate the version below the active one (new instances start on it)",
    )
    c.add_argument("process", help="process id, e.g. share_request")
    c.add_argument("--reason", required=True, help="why (kept in the audit trail)")


def _request_commands(sub: Commands) -> None:
    rq = _group(sub, "requests", "share requests")
    c = _leaf(rq, "start", cmd_requests_start, "apply for a catalog resource", json_flag=True)
    c.add_argument("--user", required=True)
    c.add_argument("--resource", required=True, help="resource code, e.g. JC-RK/0002")
    c.add_argument("--items", required=True, help="comma-separated info items")
    c.add_argument("--purpose", required=True)
    c.add_argument(
        "--scenario", required=True, help="application scenario code (govshare scenarios list)"
    )
    c.add_argument("--basis", required=True, help="legal basis of the request")
    c.add_argument("--from", dest="period_from", required=True, help="use period start YYYY-MM-DD")
    c.add_argument("--to", dest="period_to", required=True, help="use period end YYYY-MM-DD")
    c = _leaf(
        rq,
        "show",
        cmd_requests_show,
        "status, tasks, grants and breaches of a request",
        json_flag=True,
    )
    c.add_argument("key", help="business key, e.g. GX-2026-000001")


def _task_commands(sub: Commands) -> None:
    tk = _group(sub, "tasks", "user tasks")
    c = _leaf(tk, "list", cmd_tasks_list, "open tasks of a user", json_flag=True)
    c.add_argument("--user", required=True)
    c.add_argument("--scope", choices=["inbox", "mine", "queue"], default="inbox")
    commands: tuple[tuple[str, Command], ...] = (
        ("claim", cmd_tasks_claim),
        ("complete", cmd_tasks_complete),
    )
    for name, fn in commands:
        c = _leaf(tk, name, fn, f"{name} a task")
        c.add_argument("task_id", type=int)
        c.add_argument("--user", required=True)
        if name == "complete":
            c.add_argument("--data", required=True, help="form data as JSON, or @file.json")


def _incident_command(sub: Commands) -> None:
    inc = sub.add_parser("incidents", help="list failed instances (incidents), or retry one")
    inc.add_argument("--retry", metavar="KEY", help="retry the instance with this business key")
    inc.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="with --retry: correct a variable first (VALUE is JSON or a word); repeatable",
    )
    inc.add_argument("--all", action="store_true", help="resolved incidents too")
    inc.add_argument("--json", action="store_true", help="print JSON")
    inc.set_defaults(fn=cmd_incidents)


def _notification_commands(sub: Commands) -> None:
    n = _group(sub, "notifications", "e-mail and webhook deliveries: list, retry, send a test")
    c = _leaf(
        n,
        "list",
        cmd_notifications_list,
        "list deliveries (failed first with --dead)",
        json_flag=True,
    )
    which = c.add_mutually_exclusive_group()
    which.add_argument("--dead", action="store_true", help="only failed ones (dead letters)")
    which.add_argument("--pending", action="store_true", help="only those waiting to be sent")
    c.add_argument("--after", type=int, metavar="ID", help="the page after this delivery")
    c.add_argument("--limit", type=int, default=50, help="deliveries per page (default 50)")
    c = _leaf(n, "retry", cmd_notifications_retry, "send a failed delivery again")
    target = c.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", type=int, help="the delivery's number")
    target.add_argument("--all-dead", action="store_true", help="every failed delivery")
    c = _leaf(n, "send-test", cmd_notifications_send_test, "send a test message now")
    c.add_argument("--user", required=True, help="the user it is addressed to (user name)")
    c.add_argument("--channel", required=True, choices=("email", "webhook"))
    c.add_argument(
        "--to",
        help="the e-mail address (default: the one in the user's notification settings), or a "
        "webhook URL instead of the configured one",
    )


def _worker_command(sub: Commands) -> None:
    w = sub.add_parser("worker", help="fire due timers and deliver notifications")
    w.add_argument("--once", action="store_true", help="one sweep, then exit")
    w.add_argument("--interval", type=float, default=5.0, help="seconds between sweeps")
    w.set_defaults(fn=cmd_worker)


def _evaluation_commands(sub: Commands) -> None:
    ev = _group(sub, "evaluation", "the yearly evaluation (art. 17)")
    c = _leaf(
        ev,
        "start",
        cmd_evaluation_start,
        "start the reporting tasks of a year (the worker does this in January)",
    )
    c.add_argument("year", type=int, help="the year in which the reports are due")
    c = _leaf(ev, "report", cmd_evaluation_report, "the compiled report about a year")
    c.add_argument("year", type=int, help="the year reported on")
    c.add_argument("--csv", action="store_true")


def _reports_commands(sub: Commands) -> None:
    rp = _group(sub, "reports", "the yearly and public figures (art. 17, 24)")
    _leaf(
        rp,
        "rebuild",
        cmd_reports_rebuild,
        "recount the yearly figures from the process facts (e.g. after a past year's calendar changed)",
    )


def _calendar_commands(sub: Commands) -> None:
    cal = _group(sub, "calendar", "statutory working days")
    c = _leaf(
        cal,
        "deadline",
        cmd_calendar_deadline,
        "end of the Nth working day after a date",
        json_flag=True,
    )
    c.add_argument("start", help="event date YYYY-MM-DD (or ISO instant)")
    c.add_argument("days", type=int)
    c = _leaf(
        cal, "show", cmd_calendar_show, "a year's holidays and make-up working days", json_flag=True
    )
    c.add_argument("year", type=int)
    c = _leaf(cal, "add", cmd_calendar_add, "enter holidays or make-up working days from a notice")
    c.add_argument("days", nargs="+", help="YYYY-MM-DD ...")
    c.add_argument("--kind", choices=["holiday", "workday"], required=True)
    c.add_argument("--scope", choices=["national", "regional"], required=True)
    c.add_argument("--name", required=True, help="e.g. 开斋节")
    c.add_argument("--reference", required=True, help="the notice, e.g. 宁政办发〔2025〕XX号")
    c = _leaf(
        cal,
        "import",
        cmd_calendar_import,
        "enter a notice from a JSON file and move the open deadlines it changes",
        json_flag=True,
    )
    c.add_argument("file", help="the notice as JSON (docs/calendar.md)")
    c.add_argument("--dry-run", action="store_true", help="print what would move; change nothing")


def _backup_commands(sub: Commands) -> None:
    where = "attachment directory (default: attachments/ in GOVSHARE_INSTANCE)"
    b = sub.add_parser("backup", help="back up the database and the attachments to one file")
    b.add_argument("file", help="the backup file to write (a tar archive)")
    b.add_argument("--attachments", help=where)
    b.set_defaults(fn=cmd_backup)
    r = sub.add_parser("restore", help="restore a backup into the database and attachments")
    r.add_argument("file", help="a file written by govshare backup")
    r.add_argument("--attachments", help=where)
    r.add_argument(
        "--force", action="store_true", help="replace a database that holds data (all of it)"
    )
    r.set_defaults(fn=cmd_restore)


def _grant_commands(sub: Commands) -> None:
    gr = _group(sub, "grants", "grants of use issued by share requests")
    c = _leaf(gr, "revoke", cmd_grants_revoke, "revoke a grant: no use is allowed under it")
    c.add_argument("grant_id", type=int, help="the grant's number (shown on the request page)")
    c.add_argument("--user", required=True, help="who revokes it (user name)")
    c.add_argument("--reason", required=True, help="why (kept with the grant and audited)")


def _scenario_commands(sub: Commands) -> None:
    sc = _group(sub, "scenarios", "application scenarios (应用场景) grants are bound to")
    _leaf(sc, "list", cmd_scenarios_list, "list the scenarios", json_flag=True)
    c = _leaf(sc, "save", cmd_scenarios_save, "add a scenario, or rename one")
    c.add_argument("code", help="the scenario's code, e.g. YYCJ012")
    c.add_argument("name_zh", help="its Chinese name")
    c.add_argument("name_en", help="its English name")
    for name, help_text in (
        ("deactivate", "no longer offer the scenario to new requests"),
        ("activate", "offer the scenario to new requests again"),
    ):
        c = _leaf(sc, name, cmd_scenarios_active, help_text)
        c.add_argument("code", help="the scenario's code")


def _client_commands(sub: Commands) -> None:
    cl = _group(sub, "clients", "department systems: registered API clients and their tokens")
    c = _leaf(cl, "list", cmd_clients_list, "list the registered systems", json_flag=True)
    c.add_argument("--after", type=int, metavar="ID", help="the page after this system")
    c = _leaf(cl, "add", cmd_clients_add, "register a department's system")
    c.add_argument("department", help="the department (slug, e.g. civil)")
    c.add_argument("name", help="the system's name")
    c.add_argument("--network", required=True, choices=("internal", "extranet"))
    c.add_argument("--contact", default="", help="who runs it (name, telephone)")
    c = _leaf(cl, "show", cmd_clients_show, "a system and its tokens")
    c.add_argument("id", type=int, help="the system's number")
    c = _leaf(cl, "token", cmd_clients_token, "issue a token (printed once)")
    c.add_argument("id", type=int, help="the system's number")
    c.add_argument(
        "--scope",
        action="append",
        required=True,
        help="catalog:read, requests:status, grants:check or verification:flags (repeat it)",
    )
    c.add_argument("--expires", help="last valid day, YYYY-MM-DD (default 90 days, max a year)")
    c = _leaf(cl, "rotate", cmd_clients_rotate, "a new token; the old one ends after 24 hours")
    c.add_argument("id", type=int, help="the system's number")
    c.add_argument("token", type=int, help="the token's number")
    c.add_argument("--expires", help="last valid day of the new token, YYYY-MM-DD")
    c = _leaf(cl, "revoke", cmd_clients_revoke, "end a token at once")
    c.add_argument("id", type=int, help="the system's number")
    c.add_argument("token", type=int, help="the token's number")
    for name, help_text in (
        ("deactivate", "refuse every token of the system"),
        ("activate", "accept the system's tokens again"),
    ):
        c = _leaf(cl, name, cmd_clients_active, help_text)
        c.add_argument("id", type=int, help="the system's number")


def _rules_commands(sub: Commands) -> None:
    ru = _group(sub, "rules", "statutory rule sets (time limits, docs/administration.md)")
    _leaf(ru, "list", cmd_rules_list, "the versions, newest first", json_flag=True)
    c = _leaf(ru, "show", cmd_rules_show, "a version's limits and articles", json_flag=True)
    c.add_argument("version", type=int)
    c = _leaf(ru, "import", cmd_rules_import, "a new version from a JSON file, published at once")
    c.add_argument("file", help="JSON: name, basis, effective_from, limits")


def _trust_commands(sub: Commands) -> None:
    ke = _group(sub, "keys", "departments' SM2 signing keys (docs/trust.md)")
    c = _leaf(ke, "list", cmd_keys_list, "every key, active and retired", json_flag=True)
    c.add_argument("--department", help="only this department (its short name)")
    c = _leaf(ke, "generate", cmd_keys_generate, "make a department's key now if it has none")
    c.add_argument("department", help="the department's short name (slug)")
    c = _leaf(ke, "rotate", cmd_keys_rotate, "retire the active key and make a new one")
    c.add_argument("department", help="the department's short name (slug)")
    sg = _group(sub, "signatures", "signed decisions")
    c = _leaf(
        sg,
        "verify",
        cmd_signatures_verify,
        "verify the signatures of a business key or verification code (exit 1 if one is invalid)",
        json_flag=True,
    )
    c.add_argument("key", help="a business key (e.g. GX-2026-000123) or a verification code")
    bu = _group(sub, "bundle", "the auditor's bundle: decisions, signatures, audit chain, keys")
    c = _leaf(bu, "export", cmd_bundle_export, "write the bundle of a period to a zip file")
    c.add_argument("--from", dest="start", required=True, metavar="DAY", help="first day")
    c.add_argument("--to", dest="end", required=True, metavar="DAY", help="last day")
    c.add_argument("file", help="the zip file to write")
    c = _leaf(bu, "verify", cmd_bundle_verify, "verify a bundle offline (exit 1 if anything fails)")
    c.add_argument("file", help="the bundle (zip file)")
    c.add_argument(
        "--region-key",
        dest="region_key",
        action="append",
        required=True,
        metavar="KEY_ID",
        help="a key id of the region authority to trust (as published; repeat for older keys)",
    )


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        args.fn(args)
    except GovshareError as err:
        print(f"error: {err.message}", file=sys.stderr)
        for d in err.details:
            print(
                f"  - {d['field']}: {d['message']}" if isinstance(d, dict) else f"  - {d}",
                file=sys.stderr,
            )
        raise SystemExit(2) from None
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
