"""The script sandbox: helpers work, escapes do not."""

from __future__ import annotations

import pytest

from engine.calendar import WorkingCalendar
from engine.clock import FakeClock
from engine.workflow.scripting import (
    Effects,
    SandboxEnvironment,
    ScriptRejected,
    make_script_engine,
)


@pytest.fixture
def env():
    engine = make_script_engine(
        WorkingCalendar(), FakeClock("2026-09-18T10:00:00+08:00"), Effects()
    )
    return engine.environment


def test_deadline_helper_returns_the_statutory_instant(env):
    assert (
        env.evaluate("deadline(submitted_at, 10)", {"submitted_at": "2026-09-18T10:00:00+08:00"})
        == "2026-10-10T00:00:00+08:00"
    )


def test_scripts_set_task_data(env):
    data = {"a": 2}
    env.execute("b = a * 3\nitems = sorted(['y', 'x'])", data)
    assert data == {"a": 2, "b": 6, "items": ["x", "y"]}


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "x = ().__class__.__base__.__subclasses__()",
        "x = open('/etc/passwd').read()",
        "x = eval('1')",
        "x = getattr(a, '__dict__')",
    ],
)
def test_escapes_are_refused(env, source):
    with pytest.raises((ScriptRejected, NameError, SyntaxError, ImportError)):
        env.execute(source, {"a": 1})


def test_task_data_may_not_shadow_a_helper(env):
    with pytest.raises(ValueError, match="deadline"):
        env.execute("x = 1", {"deadline": "2026-10-09"})


def test_sandbox_environment_exposes_only_given_helpers():
    env = SandboxEnvironment({"double": lambda v: v * 2})
    assert env.evaluate("double(n)", {"n": 4}) == 8
    with pytest.raises(NameError):
        env.evaluate("deadline(n, 1)", {"n": 4})
