"""Paging shared by every list: counts capped at :data:`COUNT_CAP`, the arithmetic of pages, and
keyset paging (:func:`beyond`).

A list page costs a count that stops at the cap plus the page itself, whatever is stored; above
the cap a list shows "1000+" and asks for narrower filters instead of more pages. A list read in
batches (an export, the API's task list, the cockpit) pages by keyset instead: no count and no
offset, each batch an index range that starts where the previous one ended.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

COUNT_CAP = 1000  # counts above this show as "1000+": narrow the filters
# the navigation's badges, on every page: a badge says "there is work", the list says how much
# ("99+", as badges do); each badge reads at most BADGE_CAP + 1 index entries
BADGE_CAP = 99


def capped_count(session: Session, stmt: Select[Any], column: Any, cap: int = COUNT_CAP) -> int:
    """``COUNT(*)`` of ``stmt`` that stops at ``cap`` + 1 rows (``column``: the primary key the
    subquery selects), so the cost of a count never grows past the cap."""
    limited = stmt.with_only_columns(column).order_by(None).limit(cap + 1).subquery()
    return session.execute(select(func.count()).select_from(limited)).scalar_one()


def page_count(total: int, page_size: int, cap: int = COUNT_CAP) -> int:
    """Pages for ``total`` matches (at least one; no more than the cap allows)."""
    return max(1, -(-min(total, cap) // page_size))


def beyond(
    key: Any, tie: Any, last: tuple[Any, Any], descending: bool = False
) -> ColumnElement[bool]:
    """Keyset paging: the rows after ``last`` (the ``(key, tie)`` of the previous batch's last
    row) in the order ``key, tie`` (ascending, or ``descending``), where ``tie`` (the primary
    key) breaks ties between equal keys, so each row comes exactly once. Written as a range on
    ``key`` narrowed by the tie, which an index on (…, ``key``, ``tie``) reads as one range."""
    at, tied = last
    if descending:
        return and_(key <= at, or_(key < at, tie < tied))
    return and_(key >= at, or_(key > at, tie > tied))
