"""A realistic stored history, written fast: N share requests as the engine would have left them.

A few real share requests are first run through the engine (:func:`run_templates`): pending,
claimed, answered late (a breach in the ledger), approved (a grant), refused and accepted, refused
and escalated to an open dispute, and a dispute decided. Their rows — the instance with its
serialized state, its human tasks, its facts, grants, dossier entries and breaches —
are then cloned (:func:`clone`) with bulk INSERTs (thousands of rows per statement) under new ids
and business keys, shifted in time (open work is recent, some of it overdue; answered requests
spread over the last 18 months, so last year's report has figures) and spread across the
region's departments and catalog entries. Catalog entries are added too (one per 20 requests, at least 2,500: catalog_size).

    python bench/dataset.py [N]    # builds N requests in a scratch database and prints the time

Used by bench/pages.py and tests/test_page_budget.py; never by the application.
"""

from __future__ import annotations

import functools
import random
import sys
import time
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Table, func, insert, select, text, update  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402

from engine.catalog.models import CatalogTerm, Resource  # noqa: E402
from engine.catalog.search import terms  # noqa: E402
from engine.clock import SHANGHAI, Clock, FakeClock  # noqa: E402
from engine.directory import user_by_name  # noqa: E402
from engine.directory.models import Department, User  # noqa: E402
from engine.oversight import summary  # noqa: E402
from engine.oversight.models import Breach  # noqa: E402
from engine.sharing import requests as share_requests  # noqa: E402
from engine.sharing.models import DossierEntry, Grant  # noqa: E402
from engine.workflow import business_keys  # noqa: E402
from engine.workflow import tasks as task_service  # noqa: E402
from engine.workflow.models import Counter, HumanTask, ProcessFact, ProcessInstance  # noqa: E402
from engine.workflow.timers import sweep  # noqa: E402

CHUNK = 2000  # rows per INSERT statement


def _hukou(day: date) -> dict:
    """The civil affairs office's request for the household register, for a year from ``day``."""
    return dict(
        resource_code="JC-RK/0002",
        info_items=["公民身份号码", "变动类型"],
        purpose="核定城乡低保对象户籍状况",
        scenario="YYCJ006",
        legal_basis="《社会救助暂行办法》第十一条",
        period_start=day.isoformat(),
        period_end=(day + timedelta(days=364)).isoformat(),
    )


def _approve(day: date) -> dict:
    form = _hukou(day)
    return dict(
        review_decision="approve",
        granted_items=form["info_items"],
        granted_period_start=form["period_start"],
        granted_period_end=form["period_end"],
        granted_purpose=form["purpose"],
    )


REFUSE = dict(review_decision="refuse", review_reason="申请的信息项超出低保核定所需范围")
# the rows of an instance that are cloned with it (the rest — audit chain, outbox, notifications,
# incidents, attachments, the deadlines' counting for calendar notices — no page of the bench reads)
CHILDREN: tuple[Table, ...] = tuple(
    m.__table__  # type: ignore[misc]
    for m in (HumanTask, ProcessFact, Grant, DossierEntry, Breach)
)


# -- the templates: real share requests through the engine ----------------------------------------
@dataclass(frozen=True)
class Kind:
    name: str
    weight: int  # clones per 100
    recent: tuple[int, int]  # the clone starts this many days before now (from, to)


KINDS = (
    Kind("pending", 22, (0, 21)),  # the provider's review is open: some overdue already
    Kind("claimed", 10, (0, 21)),  # … claimed by an official of the provider
    Kind("late", 6, (25, 120)),  # the reply deadline passed: overdue, in the breach ledger
    Kind("approved", 40, (20, 560)),  # answered, a grant issued
    Kind("refused", 12, (20, 560)),  # refused, the requester accepted
    Kind("dispute", 5, (20, 120)),  # negotiation failed: the authority coordinates (open)
    Kind("decided", 5, (30, 560)),  # … and decided
)


def _complete(factory: sessionmaker, clock: Clock, key: str, task: str, user: str, **data) -> None:
    clock.advance(days=2)  # officials take a couple of days over each step
    with factory() as s, s.begin():
        inst = share_requests.instance_by_key(s, key)
        row = s.scalar(
            select(HumanTask).where(
                HumanTask.instance_id == inst.id,
                HumanTask.task_name == task,
                HumanTask.state == "open",
            )
        )
        assert row is not None, f"no open task {task} on {key}"
        task_service.complete(s, clock, row.id, user_by_name(s, user), data)


def _day(clock: Clock) -> date:
    return clock.now().astimezone(SHANGHAI).date()


def _request(factory: sessionmaker, clock: Clock) -> str:
    with factory() as s, s.begin():
        form = _hukou(_day(clock))
        inst = share_requests.start_share_request(s, clock, user_by_name(s, "civil.clerk"), form)
        return inst.business_key


def _template(factory: sessionmaker, clock: Clock, kind: str) -> str:
    day = _day(clock)  # the grants run a year from the request: the template's still valid now
    key = _request(factory, clock)
    if kind == "claimed":
        with factory() as s, s.begin():
            inst = share_requests.instance_by_key(s, key)
            task_id = s.scalar(select(HumanTask.id).where(HumanTask.instance_id == inst.id))
            task_service.claim(s, clock, task_id, user_by_name(s, "pubsec.clerk"))
    elif kind == "late":
        for _ in range(6):  # the reminders, then the deadline: one timer per sweep
            clock.advance(days=5)
            sweep(factory, clock)
    elif kind == "approved":
        _complete(factory, clock, key, "provider_review", "pubsec.clerk", **_approve(day))
    elif kind in ("refused", "dispute", "decided"):
        _complete(factory, clock, key, "provider_review", "pubsec.clerk", **REFUSE)
        if kind == "refused":
            _complete(factory, clock, key, "after_refusal", "civil.clerk", next_step="accept")
            return key
        _complete(factory, clock, key, "after_refusal", "civil.clerk", next_step="negotiate")
        _complete(
            factory, clock, key, "requester_position", "civil.clerk", requester_position="确需"
        )
        _complete(
            factory,
            clock,
            key,
            "provider_position",
            "pubsec.clerk",
            provider_position="不同意",
            negotiation_result="failed",
        )
        if kind == "decided":
            _complete(
                factory,
                clock,
                key,
                "coordinate",
                "data.coord",
                coordination_action="decide",
                coordination_decision="grant",
                coordination_reasons="低保核定属法定职责，所需信息项必要",
                **{k: v for k, v in _approve(day).items() if k != "review_decision"},
            )
    return key


def run_templates(factory: sessionmaker, now: datetime) -> dict[str, int]:
    """One real share request of each :data:`KINDS` through the engine (started 60 days before
    ``now``, each on a clock of its own); their instance ids by kind. The database must hold no
    other running instance (the late one's timers are swept)."""
    ids = {}
    # the late one first: its timers are swept, and a sweep would fire every other's too
    for kind in sorted(KINDS, key=lambda k: k.name != "late"):
        clock = FakeClock(now - timedelta(days=60))
        key = _template(factory, clock, kind.name)
        with factory() as s:
            ids[kind.name] = share_requests.instance_by_key(s, key).id
    return ids


# -- cloning --------------------------------------------------------------------------------------
@dataclass
class Region:
    """What clones are spread over: departments, their first official, catalog entries."""

    departments: list[tuple[int, str]]  # (id, name) of the departments that request/provide
    official: dict[int, int]  # department id -> the user id of its clerk
    resources: list[tuple[int, str, str, int]]  # (id, code, name, provider id), published
    civil: int = 0
    pubsec: int = 0
    hukou: tuple[int, str, str, int] = (0, "", "", 0)


def region_of(session: Session) -> Region:
    depts = session.execute(
        select(Department.id, Department.name, Department.slug)
        .where(Department.is_authority.is_(False), Department.active.is_(True))
        .order_by(Department.id)
    ).all()
    clerks = {
        u.department_id: u.id
        for u in session.scalars(select(User).where(User.username.like("%.clerk")))
    }
    resources = [
        tuple(r)
        for r in session.execute(
            select(Resource.id, Resource.code, Resource.name, Resource.provider_id)
            .where(Resource.status == "published", Resource.code.not_like("BENCH-%"))
            .order_by(Resource.id)
        )
    ]
    slug = {d.slug: d.id for d in depts}
    region = Region(
        [(d.id, d.name) for d in depts if d.id in clerks],
        clerks,
        [r for r in resources if r[3] in clerks],  # type: ignore[misc]
        slug["civil"],
        slug["pubsec"],
    )
    region.hukou = next(r for r in resources if r[1] == "JC-RK/0002")  # type: ignore[assignment]
    return region


@dataclass
class Template:
    kind: Kind
    instance: dict
    children: dict[str, list[dict]] = field(default_factory=dict)


def load_templates(session: Session, ids: dict[str, int]) -> list[Template]:
    table = ProcessInstance.__table__
    out = []
    for kind in KINDS:
        iid = ids[kind.name]
        row = dict(session.execute(select(table).where(table.c.id == iid)).mappings().one())
        t = Template(kind, row)
        for child in CHILDREN:
            t.children[child.name] = [
                dict(r)
                for r in session.execute(
                    select(child).where(child.c.instance_id == iid).order_by(child.c.id)
                ).mappings()
            ]
        out.append(t)
    return out


@functools.cache
def _fk_columns(table: Table, target: str) -> list[str]:
    return [c.name for c in table.c if any(fk.column.table.name == target for fk in c.foreign_keys)]


class Bulk:
    """Rows of one table inserted with the driver's ``executemany``: each template row's columns
    are converted for the database once (JSON, binary …); a clone converts only what it changes
    (its instants, ids, departments, officials, resource)."""

    def __init__(self, session: Session, table: Table) -> None:
        self.conn = session.connection()
        self.table = table
        self.keys = [c.name for c in table.c if c.name != "id" or table.name == "process_instance"]
        compiled = insert(table).compile(dialect=self.conn.dialect, column_keys=self.keys)
        self.sql = str(compiled)
        self.order = compiled.positiontup if compiled.positional else None
        dialect = self.conn.dialect
        self.convert = {
            c.name: c.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
            for c in table.c
        }
        self.depts = _fk_columns(table, "department")
        self.users = _fk_columns(table, "app_user")
        self.resources = _fk_columns(table, "resource")
        self.rows: list[Any] = []

    def prepare(self, row: dict) -> tuple[dict, dict, list[str]]:
        """(the row's constant columns converted, its raw values, the names of its instants)."""
        instants = [k for k, v in row.items() if isinstance(v, date) and k != "id"]
        changed = set(instants) | set(self.depts) | set(self.users) | set(self.resources)
        changed |= {"id", "instance_id", "business_key", "bindings", "summary"}
        base = {k: self.convert[k](v) for k, v in row.items() if k not in changed}
        return base, row, instants

    def add(
        self, prepared: tuple[dict, dict, list[str]], delta: timedelta, maps: tuple, **set_
    ) -> None:
        base, raw, instants = prepared
        depts, users, res = maps
        row = dict(base)
        for k in instants:
            row[k] = self.convert[k](_shift(raw[k], delta))
        for k in self.depts:
            row[k] = depts.get(raw[k], raw[k])
        for k in self.users:
            row[k] = users.get(raw[k], raw[k])
        for k in self.resources:
            row[k] = res.get(raw[k], raw[k])
        for k, v in set_.items():
            row[k] = self.convert[k](v)
        self.rows.append(tuple(row[k] for k in self.order) if self.order else row)

    def flush(self) -> None:
        if self.rows:
            self.conn.exec_driver_sql(self.sql, self.rows)
            self.rows = []


def _shift(value: Any, delta: timedelta) -> Any:
    if isinstance(value, datetime):
        return value + delta
    if isinstance(value, date):
        return value + timedelta(days=delta.days)
    return value


def _next_id(session: Session, table: Table) -> int:
    return (session.scalar(select(func.max(table.c.id))) or 0) + 1


class _KeyNumbers(Tally):
    """The last number given per key prefix (``GX-2026``): the counter's (SQLite) or, where the
    keys come from a sequence (PostgreSQL), the highest stored, read on first use."""

    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session

    def __missing__(self, name: str) -> int:
        self[name] = business_keys._highest_key(self.session.connection(), name)
        return self[name]


def _key_numbers(session: Session) -> Tally:
    return _KeyNumbers(session)


def clone(
    session: Session, templates: list[Template], n: int, now: datetime, seed: int = 2026
) -> None:
    """Add ``n`` share requests cloned from the templates, with bulk INSERTs, in ``session``'s
    transaction."""
    instance_table = ProcessInstance.__table__
    rnd = random.Random(seed + _next_id(session, instance_table))
    region = region_of(session)
    names = dict(region.departments)
    keys = _key_numbers(session)
    weights = [t.kind.weight for t in templates]
    instances = Bulk(session, instance_table)
    children = [Bulk(session, child) for child in CHILDREN]
    prepared = {
        t.kind.name: (
            instances.prepare(t.instance),
            [[b.prepare(row) for row in t.children[b.table.name]] for b in children],
        )
        for t in templates
    }
    next_id = _next_id(session, instance_table)
    for start in range(0, n, CHUNK):
        for _ in range(min(CHUNK, n - start)):
            t = rnd.choices(templates, weights)[0]
            src = t.instance
            begun = now - timedelta(days=rnd.uniform(*t.kind.recent))
            delta = begun - src["created_at"]
            requester, provider, resource = _parties(rnd, region)
            depts = {region.civil: requester[0], region.pubsec: provider}
            users = {
                region.official[region.civil]: region.official[requester[0]],
                region.official[region.pubsec]: region.official[provider],
            }
            maps = (depts, users, {region.hukou[0]: resource[0]})
            prefix = f"{src['business_key'].split('-')[0]}-{begun.astimezone(SHANGHAI).year}"
            keys[prefix] += 1
            own, theirs = prepared[t.kind.name]
            instances.add(
                own,
                delta,
                maps,
                id=next_id,
                business_key=f"{prefix}-{keys[prefix]:06d}",
                bindings={k: depts.get(v, v) for k, v in (src["bindings"] or {}).items()},
                summary={
                    **(src["summary"] or {}),
                    "resource_code": resource[1],
                    "resource_name": resource[2],
                    "requester_name": requester[1],
                    "provider_name": names[provider],
                },
            )
            for bulk, rows in zip(children, theirs, strict=True):
                for row in rows:
                    bulk.add(row, delta, maps, instance_id=next_id)
            next_id += 1
        instances.flush()
        for bulk in children:
            bulk.flush()
    _keep_counters(session, keys)
    _advance_sequence(session, instance_table, next_id - 1)


def _parties(rnd: random.Random, region: Region) -> tuple[tuple[int, str], int, tuple]:
    """(requester, provider department id, resource): a third of the requests are the civil
    affairs office's for the household register (the department that asks most), the rest spread
    over the region's departments and entries."""
    if rnd.random() < 0.3:
        resource = region.hukou
    else:
        resource = rnd.choice(region.resources)
    provider = resource[3]
    if rnd.random() < 0.3 and provider != region.civil:
        requester = next(d for d in region.departments if d[0] == region.civil)
    else:
        requester = rnd.choice([d for d in region.departments if d[0] != provider])
    return requester, provider, resource


def _keep_counters(session: Session, keys: Tally) -> None:
    """The business-key counters (SQLite) and sequences (PostgreSQL) continue after the keys
    the clones took, as they would after the engine had started them."""
    known = set(session.scalars(select(Counter.name)))
    postgres = session.get_bind().dialect.name == "postgresql"
    for name, value in keys.items():
        if name in known:
            session.execute(update(Counter).where(Counter.name == name).values(value=value))
        else:
            session.execute(insert(Counter).values(name=name, value=value))
        if postgres:
            sequence = business_keys.sequence_name(name)
            session.execute(text(f"CREATE SEQUENCE IF NOT EXISTS {sequence}"))
            session.execute(text(f"SELECT setval('{sequence}', :v)"), {"v": value})


def _advance_sequence(session: Session, table: Table, last: int) -> None:
    """Explicit ids leave PostgreSQL's sequence behind: move it past them."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), :v)"), {"v": last}
        )


# -- the catalog ----------------------------------------------------------------------------------
TOPICS = ["户籍", "婚姻", "社会保险", "医疗保障", "养老服务", "食品经营", "药品", "建筑资质"]
TOPICS += ["道路运输", "排污", "取水", "林木采伐", "学籍", "税务", "不动产", "低保", "残疾人"]
SUBJECTS = ["登记信息", "许可信息", "备案信息", "认定信息", "发放信息", "检查信息", "名录"]
ITEMS = ["公民身份号码", "姓名", "统一社会信用代码", "单位名称", "许可证编号", "有效期至"]
ITEMS += ["登记日期", "地址", "联系电话", "金额", "类别", "状态", "所在地", "批准文号"]


def catalog_size(requests: int) -> int:
    """Catalog entries beside ``requests`` share requests: one per 20, and at least 2,500 (a
    region's catalog does not shrink with the requests stored; with fewer, the catalog search and
    the public page would show part of a page on the small side and a full one on the large)."""
    return max(2_500, requests // 20)


def add_catalog(session: Session, n: int, seed: int = 2026) -> None:
    """``n`` more published catalog entries (codes BENCH-…) with their search terms, the
    departments providing them in turn; one in 50 open to the public."""
    if n <= 0:
        return
    rnd = random.Random(seed + n)
    region = region_of(session)
    first = _next_id(session, Resource.__table__)
    rows, term_rows = [], []
    for i in range(first, first + n):
        name = f"{rnd.choice(['', '自治区', '银川市', '吴忠市'])}{rnd.choice(TOPICS)}{rnd.choice(SUBJECTS)}"
        items = rnd.sample(ITEMS, 5)
        code = f"BENCH-{i:07d}"
        search_text = f"{name} {code} {name}的业务数据 {' '.join(items)}"
        rows.append(
            {
                "id": i,
                "code": code,
                "name": name,
                "provider_id": region.departments[i % len(region.departments)][0],
                "share_type": rnd.choice(["unconditional", "conditional"]),
                "info_items": [{"name": it, "data_type": "字符型"} for it in items],
                "classification": "department",
                "network": rnd.choice(["extranet", "internal"]),
                "open_to_public": rnd.random() < 0.02,
                "status": "published",
                "published_version": 1,
                "search_text": search_text,
                "metadata": {},
                "conditions": "",
                "legal_basis": "",
                "summary": "",
            }
        )
        term_rows.extend({"term": t, "resource_id": i} for t in terms(search_text))
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(Resource), rows[start : start + CHUNK])
    for start in range(0, len(term_rows), CHUNK * 5):
        session.execute(insert(CatalogTerm), term_rows[start : start + CHUNK * 5])
    _advance_sequence(session, Resource.__table__, first + n - 1)


# -- all of it ------------------------------------------------------------------------------------
def stored_requests(session: Session) -> int:
    return session.scalar(select(func.count()).where(ProcessInstance.process_id == "share_request"))


GRANT_ITEMS = {  # a grant's info items, one row each, as revision 0045 back-fills them
    "sqlite": "json_each(g.info_items) AS i",
    "postgresql": "json_array_elements_text(g.info_items::json) AS i(value)",
}


def add_grant_items(session: Session) -> None:
    """The grant check's rows (``data_grant_item``) of the grants cloned without them."""
    items = GRANT_ITEMS[session.get_bind().dialect.name]
    session.execute(
        text(
            "INSERT INTO data_grant_item (grant_id, item, requester_id, resource_id, until)"
            " SELECT DISTINCT g.id, i.value, g.requester_id, g.resource_id,"
            f" COALESCE(g.period_end, '9999-12-31') FROM data_grant g, {items}"
            " WHERE NOT EXISTS (SELECT 1 FROM data_grant_item d WHERE d.grant_id = g.id)"
        )
    )


def grow(
    factory: sessionmaker,
    now: datetime,
    n: int,
    templates: dict[str, int] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Make the database hold ``n`` share requests (the templates count), catalog_size(n)
    catalog entries; returns the template ids (run through the engine when not given).
    Call again with a larger ``n`` to grow the same database."""
    t0 = time.perf_counter()
    if templates is None:
        templates = run_templates(factory, now)
        if progress:
            progress(
                f"{len(templates)} templates through the engine: {time.perf_counter() - t0:.1f} s"
            )
    with factory() as s, s.begin():
        if s.get_bind().dialect.name == "sqlite":  # B-tree pages of the indexes stay in memory
            s.execute(text("PRAGMA cache_size = -262144"))
        have = stored_requests(s)
        loaded = load_templates(s, templates)
        clone(s, loaded, max(0, n - have), now)
        add_grant_items(s)
        bench = s.scalar(select(func.count()).where(Resource.code.like("BENCH-%")))
        add_catalog(s, max(0, catalog_size(n) - (bench or 0)))
        summary.rebuild(s)  # the figures the engine keeps in step with the facts it records
    if factory.kw["bind"].dialect.name == "postgresql":  # as autovacuum would, soon after
        with factory.kw["bind"].connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(text("ANALYZE"))
    if progress:
        progress(f"{n} share requests stored: {time.perf_counter() - t0:.1f} s")
    return templates


def main() -> None:
    from scratch import scratch_database  # type: ignore[import-not-found]

    from engine.app import build_engine
    from engine.db import make_engine
    from engine.schema import upgrade
    from engine.seed import seed_all

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    now = FakeClock("2026-09-18T10:00:00+08:00")
    with scratch_database("dataset") as url:
        upgrade(url)
        factory = build_engine().sessions(make_engine(url))
        with factory() as s, s.begin():
            seed_all(s, now, demo=True)
        grow(factory, now.now(), n, progress=print)
        with factory() as s:
            for table in (ProcessInstance, HumanTask, ProcessFact, Grant, Breach, DossierEntry):
                count = s.scalar(select(func.count()).select_from(table))
                print(f"  {table.__tablename__}: {count} rows")
            overdue = s.scalar(
                select(func.count()).where(HumanTask.state == "open", HumanTask.due_at < now.now())
            )
            print(f"  open tasks overdue: {overdue}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
