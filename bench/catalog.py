"""Catalog search cost against catalog size: the same searches over 50,000 published entries, as a
ratio to 1,000 entries, measured alternately in one run (median of R rounds).

    python bench/catalog.py [--big 50000] [--small 1000] [--rounds 15]

Each database is the run's own (bench/scratch.py), dropped at the end.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scratch import scratch_database  # noqa: E402
from sqlalchemy import insert, select  # noqa: E402

from engine.app import build_engine
from engine.catalog.models import CatalogTerm, Resource
from engine.catalog.search import Filters, search, terms
from engine.db import make_engine
from engine.directory.models import Department
from engine.schema import upgrade
from engine.seed import seed_directory

TOPICS = [
    "户籍",
    "婚姻",
    "社会保险",
    "医疗保障",
    "养老服务",
    "食品经营",
    "药品",
    "建筑资质",
    "道路运输",
    "排污",
    "取水",
    "林木采伐",
    "学籍",
    "税务",
    "不动产",
    "低保",
    "残疾人",
    "退役军人",
    "旅游",
    "统计",
]
KINDS = ["登记信息", "许可信息", "备案信息", "认定信息", "发放信息", "检查信息", "处罚信息", "名录"]
ITEMS = [
    "公民身份号码",
    "姓名",
    "统一社会信用代码",
    "单位名称",
    "许可证编号",
    "有效期至",
    "登记日期",
    "地址",
    "联系电话",
    "金额",
    "类别",
    "状态",
    "所在地",
    "批准文号",
    "办理结果",
]
QUERIES = [
    Filters(q="公民身份号码"),
    Filters(q="养老服务"),
    Filters(q="许可证编号", share_type="unconditional"),
    Filters(q="退役军人 认定"),
    Filters(share_type="conditional", network="extranet"),
]


def build(url: str, n: int) -> str:
    upgrade(url)
    factory = build_engine().sessions(make_engine(url))
    rnd = random.Random(2026)
    with factory() as s, s.begin():
        seed_directory(s)
        depts = s.scalars(select(Department.id).where(Department.is_authority.is_(False))).all()
        for start in range(0, n, 5000):
            rows = []
            for i in range(start, min(n, start + 5000)):
                name = f"{rnd.choice(['', '自治区', '银川市', '吴忠市'])}{rnd.choice(TOPICS)}{rnd.choice(KINDS)}"
                items = rnd.sample(ITEMS, 5)
                text = f"{name} BM-X/{i:06d} {name}的业务数据 {' '.join(items)}"
                rows.append(
                    {
                        "code": f"BM-X/{i:06d}",
                        "name": name,
                        "provider_id": rnd.choice(depts),
                        "share_type": rnd.choice(["unconditional", "conditional"]),
                        "info_items": [{"name": it, "data_type": "字符型"} for it in items],
                        "classification": "department",
                        "network": rnd.choice(["extranet", "internal"]),
                        "open_to_public": False,
                        "status": "published",
                        "published_version": 1,
                        "search_text": text,
                        "metadata": {},
                        "conditions": "",
                        "legal_basis": "",
                        "summary": "",
                    }
                )
            s.execute(insert(Resource), rows)
        texts = s.execute(select(Resource.id, Resource.search_text)).all()
        for start in range(0, len(texts), 5000):
            s.execute(
                insert(CatalogTerm),
                [
                    {"term": t, "resource_id": rid}
                    for rid, text in texts[start : start + 5000]
                    for t in terms(text)
                ],
            )
    return url


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--big", type=int, default=50_000)
    ap.add_argument("--small", type=int, default=1_000)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    t0 = time.perf_counter()
    with ExitStack() as stack:
        dbs = {
            name: build_engine().sessions(
                make_engine(build(stack.enter_context(scratch_database(f"catalog{n}")), n))
            )
            for name, n in (("small", args.small), ("big", args.big))
        }
        measure(args, dbs, t0)


def measure(args: argparse.Namespace, dbs: dict, t0: float) -> None:
    print(f"built {args.small} and {args.big} entries in {time.perf_counter() - t0:.0f} s")
    times = {"small": [], "big": []}
    for _ in range(2):
        for factory in dbs.values():
            with factory() as s:
                for f in QUERIES:
                    search(s, f)
    for _ in range(args.rounds):
        for name, factory in dbs.items():
            with factory() as s:
                t = time.perf_counter()
                for f in QUERIES:
                    search(s, f)
                times[name].append(time.perf_counter() - t)
    for name, n in (("small", args.small), ("big", args.big)):
        print(
            f"{n:>6} entries: {statistics.median(times[name]) * 1000 / len(QUERIES):6.2f} ms per search (first page of 20, count capped at 1000)"
        )
    print(
        f"catalog search over {args.big} entries / over {args.small}: ratio {statistics.median(times['big']) / statistics.median(times['small']):.2f} (median of {args.rounds} rounds, {len(QUERIES)} searches each)"
    )
    print(
        "  (a search reads one page plus at most 1001 matches for its capped count: with 1,000 entries common terms match fewer rows than the cap)"
    )


if __name__ == "__main__":
    main()
