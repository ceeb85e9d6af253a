"""Named actions BPMN scripts may ask for with ``perform(name, **args)``, and named checks a user
task may require before it completes (task property ``completion_check``).

Domain modules register their handlers here; the runtime calls them inside the command's
transaction, so an action happens exactly once with the state change that asked for it.
"""

from __future__ import annotations

from collections.abc import Callable

ACTIONS: dict[str, Callable] = {}
COMPLETION_CHECKS: dict[str, Callable] = {}


def action(name: str):
    """Register ``fn(session, clock, instance, actor_id, data, **args)`` as action ``name``."""

    def register(fn):
        ACTIONS[name] = fn
        return fn

    return register


def completion_check(name: str):
    """Register ``fn(session, clock, task_row, task_data)``; it raises ValidationFailed to refuse."""

    def register(fn):
        COMPLETION_CHECKS[name] = fn
        return fn

    return register


def load_handlers() -> None:
    """Import the modules that register handlers (idempotent)."""
