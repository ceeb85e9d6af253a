"""Counting the SQL statements a block sends (tests hold pages and commands to budgets by count,
never by time)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Engine, event


@contextlib.contextmanager
def statements(
    target: Any = Engine,
    keep: Callable[[str], bool] | None = None,
    flat: bool = False,
) -> Iterator[list[str]]:
    """The statements ``target`` (an engine, or every engine) sends inside the block, those
    ``keep`` accepts; ``flat``: each on one line, whitespace collapsed."""
    seen: list[str] = []

    def listen(_conn, _cursor, statement: str, *_args) -> None:
        text = " ".join(statement.split()) if flat else statement
        if keep is None or keep(text):
            seen.append(text)

    event.listen(target, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(target, "before_cursor_execute", listen)
