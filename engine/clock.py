"""The one place where "now" comes from.

Every service takes a :class:`Clock`; production code uses :class:`SystemClock`, tests and
simulations a :class:`FakeClock`. SpiffWorkflow's timer module reads ``datetime.now`` itself,
so :func:`install_spiff_clock_seam` replaces that module's ``datetime`` with a subclass whose
``now()`` asks the clock bound to the current context (see :func:`using_clock`). That is the only
patch of SpiffWorkflow we make.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Clock:
    """A source of the current time, always timezone-aware UTC."""

    def now(self) -> datetime:
        raise NotImplementedError


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock(Clock):
    """A clock that only moves when told to; for tests and simulations."""

    def __init__(self, start: datetime | str) -> None:
        self._now = parse_instant(start)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime | str) -> None:
        self._now = parse_instant(when)

    def advance(self, **kwargs: float) -> datetime:
        self._now = self._now + timedelta(**kwargs)
        return self._now


def parse_instant(value: datetime | str) -> datetime:
    """Parse an ISO 8601 instant; a naive value is read as Asia/Shanghai local time."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=SHANGHAI)
    return dt.astimezone(UTC)


_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar(
    "govshare_clock", default=None
)


@contextlib.contextmanager
def using_clock(clock: Clock) -> Iterator[None]:
    """Bind ``clock`` as the time source SpiffWorkflow's timers see inside this block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)


class _ClockedDatetime(datetime):
    # returns the injected clock's plain datetime, not an instance of this patch class (which
    # typeshed's ``-> Self`` would demand): SpiffWorkflow only compares and formats the value
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        clock = _current.get()
        if clock is None:
            raise RuntimeError(
                "SpiffWorkflow asked for the time outside engine.clock.using_clock()"
            )
        value = clock.now()
        return value.astimezone(tz) if tz else value.astimezone(SHANGHAI).replace(tzinfo=None)


def install_spiff_clock_seam() -> None:
    """Make SpiffWorkflow's timer events read the injected clock (idempotent)."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    timer.datetime = _ClockedDatetime


install_spiff_clock_seam()
