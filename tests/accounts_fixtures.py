"""A fixture that puts the accounts back as the seed made them after a test that creates,
moves, deactivates or re-roles accounts (tests/test_accounts_admin.py, test_delegation.py and
their browser tests)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select, update

from engine.directory.models import ApiToken, User
from tests.conftest import clear_rows

USERS = User.__table__
FIELDS = (
    "display_name",
    "display_name_en",
    "department_id",
    "job_roles",
    "password_hash",
    "active",
    "must_change_password",
)


@pytest.fixture
def restore_accounts(engine):
    with engine.connect() as conn:
        before = {r.id: r._mapping for r in conn.execute(select(USERS))}
    yield
    clear_rows(engine)
    with engine.begin() as conn:
        for row in conn.execute(select(USERS)).all():
            old = before.get(row.id)
            if old is None:
                conn.execute(delete(ApiToken.__table__).where(ApiToken.user_id == row.id))
                conn.execute(delete(USERS).where(USERS.c.id == row.id))
            elif any(row._mapping[f] != old[f] for f in FIELDS):
                conn.execute(
                    update(USERS).where(USERS.c.id == row.id).values({f: old[f] for f in FIELDS})
                )
