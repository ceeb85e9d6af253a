"""The script sandbox: helpers work, escapes do not, loops and huge values are stopped."""

from __future__ import annotations

import time

import pytest

from engine.calendar import WorkingCalendar
from engine.clock import FakeClock
from engine.workflow.scripting import (
    Effects,
    SandboxEnvironment,
    ScriptBudgetExceeded,
    ScriptRejected,
    make_script_engine,
)


@pytest.fixture
def env():
    engine = make_script_engine(
        WorkingCalendar, FakeClock("2026-09-18T10:00:00+08:00"), Effects(), budget=0.5
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
    env = SandboxEnvironment({"double": lambda v: v * 2}, budget=1.0)
    assert env.evaluate("double(n)", {"n": 4}) == 8
    with pytest.raises(NameError):
        env.evaluate("deadline(n, 1)", {"n": 4})


@pytest.mark.parametrize(
    "source",
    [
        "while True:\n    pass",
        "n = 0\nwhile n >= 0:\n    n = n + 1",
        "x = [i for i in range(999) for j in range(999) for k in range(999)]",
    ],
)
def test_a_loop_is_stopped_by_the_time_budget(env, source):
    started = time.monotonic()
    with pytest.raises(ScriptBudgetExceeded, match="longer than 0.5 s"):
        env.execute(source, {})
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    "source",
    [
        "x = 10 ** 10 ** 8",
        "x = 'a' * 10 ** 9",
        "x = [0] * 10 ** 8",
        "x = 1 << 10 ** 9",
        "x = 2 ** 70000",
    ],
)
def test_a_huge_value_is_refused_before_it_is_built(env, source):
    started = time.monotonic()
    with pytest.raises(ScriptBudgetExceeded, match="size guard"):
        env.execute(source, {})
    assert time.monotonic() - started < 1


def test_a_huge_range_is_refused(env):
    with pytest.raises(ValueError):
        env.execute("x = list(range(10 ** 9))", {})


def test_expressions_are_bounded_too(env):
    with pytest.raises(ScriptBudgetExceeded):
        env.evaluate("10 ** 10 ** 8 > 1", {})


def test_ordinary_arithmetic_still_works(env):
    data = {"a": 3}
    env.execute("b = a ** 4 * 2 << 1\nc = 'ab' * a", data)
    assert data["b"] == 324 and data["c"] == "ababab"


@pytest.mark.parametrize(
    "source",
    [
        "def f(g, n):\n    return 1 if n == 0 else g(g, n - 1) + g(g, n - 1)\nx = f(f, 40)",
        "f = lambda g, n: 1 if n == 0 else g(g, n - 1) + g(g, n - 1)\nx = f(f, 40)",
    ],
)
def test_runaway_recursion_is_stopped_by_the_time_budget(env, source):
    started = time.monotonic()
    with pytest.raises(ScriptBudgetExceeded, match="longer than 0.5 s"):
        env.execute(source, {})
    assert time.monotonic() - started < 3


def test_functions_and_loops_a_script_defines_still_work(env):
    data: dict = {}
    env.execute(
        "def double(n):\n    return n * 2\ntwice = lambda n: n * 4\n"
        "total = 0\nk = 0\nwhile k < 5:\n    total = total + double(k) + twice(k)\n    k = k + 1\n"
        "squares = [i * i for i in range(4)]",
        data,
    )
    assert data["total"] == 60 and data["squares"] == [0, 1, 4, 9]


@pytest.mark.parametrize(
    "source",
    [
        "x = pow(3, 6 * 10 ** 7)",
        "s = 'a'\ns *= 10 ** 8",
        "x = 3 ** 40000\nx *= x",
        "s = 'a' * 900000\ns = s + s",
        "x = 'a'.ljust(10 ** 8)",
        "x = '%*d' % (10 ** 8, 1)",
        "x = '{:>100000000}'.format(1)",
        "x = ''.join(['a' * 1000000] * 500)",
        "x = ('a' * 1000).replace('', 'b' * 1000)",
    ],
)
def test_builtins_operators_and_string_methods_respect_the_size_guard(env, source):
    started = time.monotonic()
    with pytest.raises(ScriptBudgetExceeded, match="size guard"):
        env.execute(source, {})
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "source",
    ["x = f'{1:>100000000}'", "raise SystemExit(0)", "raise KeyboardInterrupt()", "import math"],
)
def test_wide_f_strings_and_exceptions_that_stop_a_process_are_refused(env, source):
    with pytest.raises((ScriptRejected, NameError, SyntaxError, ImportError)):
        env.execute(source, {})


def test_a_helper_called_in_a_loop_counts_against_the_budget(env):
    with pytest.raises(ScriptBudgetExceeded):
        env.execute(
            "n = 0\nwhile n >= 0:\n    x = deadline('2026-09-18T10:00:00+08:00', 500)\n    n = n + 1",
            {},
        )
