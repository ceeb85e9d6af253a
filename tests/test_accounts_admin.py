"""Accounts (issue 14, item 3): deactivation hands claimed tasks back and tells the department,
a reset forces a change, the password policy names the field, bulk import is dry-run and
all-or-nothing, level administrators stay in their scope, the last system administrator stays."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import cli
from engine.audit import events_for
from engine.directory import accounts, signin, user_by_name
from engine.directory.models import User
from engine.errors import Conflict, Forbidden, ValidationFailed
from engine.workflow import accounts as handover
from engine.workflow import tasks as task_service
from engine.workflow.models import HumanTask
from notifications.fanout import fan_out
from notifications.models import Notification, NotificationPreference
from tests.accounts_fixtures import restore_accounts  # noqa: F401 - a fixture
from tests.conftest import HUKOU

pytestmark = pytest.mark.usefixtures("restore_accounts")


def _claimed(actors, clock, who="pubsec.clerk"):
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    actors.run(lambda s: task_service.claim(s, clock, task_id, user_by_name(s, who)))
    actors.run(lambda s: fan_out(s, clock))
    return task_id


def _new(actors, clock, username, department="pubsec", roles=("official",), actor=None):
    form = {
        "username": username,
        "display_name": "测试" + username,
        "display_name_en": "Test " + username,
        "department": department,
        "roles": list(roles),
    }
    return actors.run(
        lambda s: accounts.create_account(s, clock, user_by_name(s, actor) if actor else None, form)
    )


def test_deactivation_returns_claimed_tasks_and_tells_the_department(actors, clock):
    task_id = _claimed(actors, clock)
    done = actors.run(
        lambda s: handover.deactivate_account(
            s, clock, user_by_name(s, "data.admin"), "pubsec.clerk"
        )
    )
    assert done.tasks_returned == 1
    assert actors.run(lambda s: s.get(HumanTask, task_id).assignee_id) is None
    actors.run(lambda s: fan_out(s, clock))
    told = actors.run(
        lambda s: [
            (s.get(User, n.user_id).username, n.kind)
            for n in s.scalars(select(Notification).where(Notification.kind == "task_returned"))
        ]
    )
    assert told == [("pubsec.lead", "task_returned")]
    result = actors.run(lambda s: signin.sign_in(s, clock, "pubsec.clerk", "demo"))
    assert result.user is None
    events = actors.run(
        lambda s: [(e.kind, dict(e.detail)) for e in events_for(s, "user", "pubsec.clerk")]
    )
    assert ("user_deactivated", 1) in [(k, d.get("tasks_returned")) for k, d in events]
    # reactivation lets them sign in again
    actors.run(lambda s: accounts.reactivate_account(s, clock, None, "pubsec.clerk"))
    assert actors.run(lambda s: signin.sign_in(s, clock, "pubsec.clerk", "demo").user) is not None


def test_moving_an_account_returns_its_tasks_to_the_old_queue_and_drops_roles_it_cannot_hold(
    actors, clock
):
    task_id = _claimed(actors, clock)
    info, returned = actors.run(
        lambda s: handover.move_account(s, clock, None, "data.coord", "civil")
    )
    assert returned == 0 and info.roles == ["official"] and info.department_slug == "civil"
    info, returned = actors.run(
        lambda s: handover.move_account(s, clock, None, "pubsec.clerk", "civil")
    )
    assert returned == 1
    assert actors.run(lambda s: s.get(HumanTask, task_id).assignee_id) is None


def test_a_reset_password_is_temporary_and_must_be_changed(actors, clock):
    temporary = actors.run(
        lambda s: accounts.reset_password(s, clock, user_by_name(s, "data.admin"), "pubsec.clerk")
    )
    assert actors.run(lambda s: signin.sign_in(s, clock, "pubsec.clerk", "demo").user) is None
    assert actors.run(
        lambda s: signin.sign_in(s, clock, "pubsec.clerk", temporary).user.must_change_password
    )

    def change(s):
        user = user_by_name(s, "pubsec.clerk")
        accounts.change_password(
            s, clock, user, temporary, "a new long secret", "a new long secret"
        )
        return user.must_change_password

    assert actors.run(change) is False


@pytest.mark.parametrize(
    "password,says",
    [
        ("short1", "at least 10 characters"),
        ("12345678901234", "only digits"),
        ("my-pubsec.clerk-pass", "user name"),
        ("Password123", "most common passwords"),
    ],
)
def test_the_password_policy_refuses_naming_the_field(actors, clock, password, says):
    with pytest.raises(ValidationFailed) as err:
        actors.run(lambda s: accounts.set_password(s, clock, "pubsec.clerk", password))
    (problem,) = err.value.details
    assert problem["field"] == "new_password" and str(problem["label"]) == "New password"
    assert says in str(problem["message"])


def test_create_refuses_bad_fields_by_label_and_writes_nothing(actors, clock):
    with pytest.raises(ValidationFailed) as err:
        _new(actors, clock, "bad name!", department="nowhere")
    assert {str(p["label"]) for p in err.value.details} == {"User name", "Department"}
    assert actors.run(lambda s: s.scalar(select(User).where(User.username == "bad name!"))) is None
    info, password = _new(actors, clock, "pubsec.clerk2")
    assert info.must_change_password and len(password) >= accounts.MIN_PASSWORD_LENGTH
    with pytest.raises(ValidationFailed) as err:
        _new(actors, clock, "pubsec.clerk2")
    assert "is taken" in str(err.value.message)


CSV_OK = (
    "username,display_name,display_name_en,department,roles\n"
    "pubsec.a,公安甲,Officer A,pubsec,official\n"
    "pubsec.b,公安乙,Officer B,pubsec,official;leader\n"
)


def test_import_dry_run_writes_nothing_and_apply_creates_all(actors, clock):
    report = actors.run(lambda s: accounts.import_accounts(s, clock, None, CSV_OK))
    assert [a.username for a in report.accounts] == ["pubsec.a", "pubsec.b"]
    assert not report.applied and report.passwords == [] and report.problems == []
    assert (
        actors.run(lambda s: s.scalar(select(User.id).where(User.username == "pubsec.a"))) is None
    )
    report = actors.run(lambda s: accounts.import_accounts(s, clock, None, CSV_OK, apply=True))
    assert report.applied and [u for u, _ in report.passwords] == ["pubsec.a", "pubsec.b"]
    assert actors.run(lambda s: user_by_name(s, "pubsec.b").job_roles) == ["official", "leader"]


def test_import_is_all_or_nothing_and_names_row_and_field(actors, clock):
    bad = CSV_OK + "pubsec.c,,Officer C,nowhere,official\npubsec.a,重复,Dup,pubsec,\n"
    report = actors.run(lambda s: accounts.import_accounts(s, clock, None, bad, apply=True))
    assert not report.applied
    assert [(row, str(label)) for row, label, _ in report.problems] == [
        (4, "Name (Chinese)"),
        (4, "Department"),
        (5, "User name"),
    ]
    assert (
        actors.run(lambda s: s.scalar(select(User.id).where(User.username == "pubsec.a"))) is None
    )


def test_level_administrators_stay_in_their_scope(actors, clock):
    lvl = "yinchuan-data.admin"
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: handover.deactivate_account(s, clock, user_by_name(s, lvl), "pubsec.clerk")
        )
    with pytest.raises(Forbidden):
        _new(actors, clock, "region.new", department="pubsec", actor=lvl)
    with pytest.raises(Forbidden):
        _new(actors, clock, "yc.boss", department="yinchuan-civil", roles=["admin"], actor=lvl)
    info, _ = _new(actors, clock, "yc.new", department="yinchuan-civil", actor=lvl)
    assert info.department_slug == "yinchuan-civil"
    with pytest.raises(Forbidden):  # into a department above their level
        actors.run(
            lambda s: handover.move_account(s, clock, user_by_name(s, lvl), "yc.new", "pubsec")
        )
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: accounts.set_roles(s, clock, user_by_name(s, lvl), "yc.new", ["admin"])
        )
    page = actors.run(lambda s: accounts.list_accounts(s, user_by_name(s, lvl)))
    assert page.rows and all(not r.username.startswith("pubsec.") for r in page.rows)
    assert "admin" not in [k for k, _ in page.roles]
    with pytest.raises(Forbidden):
        actors.run(lambda s: accounts.list_accounts(s, user_by_name(s, "pubsec.clerk")))


def test_nobody_removes_the_last_active_system_administrator(actors, clock):
    with pytest.raises(Conflict):
        actors.run(lambda s: handover.deactivate_account(s, clock, None, "data.admin"))
    with pytest.raises(Conflict):
        actors.run(lambda s: accounts.set_roles(s, clock, None, "data.admin", ["official"]))
    actors.run(lambda s: accounts.set_roles(s, clock, None, "data.coord", ["official", "admin"]))
    actors.run(lambda s: accounts.set_roles(s, clock, None, "data.admin", ["official"]))


def test_the_list_filters_by_department_role_state_and_name(actors, clock):
    def page(**f):
        return actors.run(
            lambda s: [
                a.username
                for a in accounts.list_accounts(s, None, accounts.AccountFilters(**f)).rows
            ]
        )

    assert page(department="pubsec") == ["pubsec.clerk", "pubsec.lead"]
    assert page(department="pubsec", role="leader") == ["pubsec.lead"]
    actors.run(lambda s: handover.deactivate_account(s, clock, None, "pubsec.lead"))
    assert page(department="pubsec", active=False) == ["pubsec.lead"]
    assert "pubsec.clerk" in page(q="pubsec.cl")


def test_cli_creates_resets_and_imports(actors, db_url, tmp_path, capsys):
    cli.main(
        [
            "--database",
            db_url,
            "users",
            "create",
            "cli.user",
            "--name",
            "命令行",
            "--department",
            "pubsec",
            "--role",
            "official",
        ]
    )
    assert "temporary password" in capsys.readouterr().out
    cli.main(["--database", db_url, "users", "reset-password", "cli.user"])
    assert "Temporary password" in capsys.readouterr().out
    path = tmp_path / "users.csv"
    path.write_text(CSV_OK, "utf-8")
    cli.main(["--database", db_url, "users", "import", str(path)])
    assert "Dry run: 2 account(s)" in capsys.readouterr().out
    path.write_text(
        "username,display_name,department,email\ncli.mail,邮件,pubsec,m@pubsec.example.gov.cn\n",
        "utf-8",
    )
    cli.main(["--database", db_url, "users", "import", str(path), "--apply"])
    assert "1 account(s) created" in capsys.readouterr().out
    assert (
        actors.run(
            lambda s: s.get(NotificationPreference, user_by_name(s, "cli.mail").id).email_address
        )
        == "m@pubsec.example.gov.cn"
    )
    path.write_text(CSV_OK + "x,,,,\n", "utf-8")
    with pytest.raises(SystemExit):
        cli.main(["--database", db_url, "users", "import", str(path), "--apply"])
    assert "row 4" in capsys.readouterr().err


def test_two_administrators_creating_the_same_name_at_once_one_wins(session_factory, clock):
    """PostgreSQL: the second insert waits for the first and is refused as a conflict."""
    import threading

    if session_factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers; the race needs PostgreSQL")
    form = {"username": "race.user", "display_name": "竞争", "department": "pubsec"}
    first = session_factory()
    first.begin()
    accounts.create_account(first, clock, None, form)
    outcome = []

    def second():
        with session_factory() as s, s.begin():
            try:
                accounts.create_account(s, clock, None, form)
                outcome.append("created")
            except Conflict as err:
                outcome.append(str(err.message))

    thread = threading.Thread(target=second)
    thread.start()
    thread.join(1)
    assert thread.is_alive()  # waiting for the first transaction
    first.commit()
    first.close()
    thread.join(10)
    assert outcome == ["The user name race.user was just taken by another account."]
