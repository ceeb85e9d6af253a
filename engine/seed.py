"""Seed data: the Ningxia directory, demo users and a small catalog. Idempotent.

Divisions come from ``engine/data/divisions.json`` (GB/T 2260), region departments from
``engine/data/departments.json``. Every city and county gets its data-sharing authority and the
departments most requests involve. The authority's display name is configurable
(``GOVSHARE_REGION_AUTHORITY_NAME``) because the body behind it has changed over time.

Demo accounts (never in production): every department has ``<slug>.clerk`` (official); region
departments also ``<slug>.lead`` (official + leader); every authority ``<slug>.coord``
(official + coordinator). They share the password ``demo`` and each has the API token
``demo-<username>``.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from .clock import Clock
from .deployment import deploy
from .models import ApiToken, Department, Division, Resource, User
from .passwords import hash_password

LOCAL_DEPARTMENTS = [
    ("samr", "市场监督管理局", "Administration for Market Regulation"),
    ("civil", "民政局", "Civil Affairs Bureau"),
    ("hrss", "人力资源和社会保障局", "Human Resources and Social Security Bureau"),
    ("health", "卫生健康委员会", "Health Commission"),
    ("natres", "自然资源局", "Natural Resources Bureau"),
]

# code, provider slug, name, share type, conditions, legal basis, [(item, data type, item share type)]
RESOURCES = [
    ("JC-RK/0001", "pubsec", "人口基础信息", "unconditional", "", "", [("姓名", "字符型", "unconditional"), ("公民身份号码", "字符型", "unconditional"), ("性别", "字符型", "unconditional"), ("民族", "字符型", "unconditional"), ("出生日期", "日期型", "unconditional"), ("户籍地址", "字符型", "unconditional")]),
    ("JC-RK/0002", "pubsec", "户籍变动信息", "conditional", "用于办理社会保障、民政救助等法定职责", "", [("公民身份号码", "字符型", "conditional"), ("变动类型", "字符型", "conditional"), ("变动日期", "日期型", "conditional"), ("迁入地", "字符型", "conditional")]),
    ("BM-GA/0003", "pubsec", "刑事案件侦查信息", "not_shared", "", "《中华人民共和国刑事诉讼法》第一百五十二条；《中华人民共和国保守国家秘密法》", [("案件编号", "字符型", "not_shared"), ("案由", "字符型", "not_shared")]),
    ("JC-FR/0001", "samr", "市场主体登记信息", "unconditional", "", "", [("统一社会信用代码", "字符型", "unconditional"), ("名称", "字符型", "unconditional"), ("法定代表人", "字符型", "unconditional"), ("注册资本", "数值型", "unconditional"), ("成立日期", "日期型", "unconditional"), ("住所", "字符型", "unconditional")]),
    ("ZT-SP/0001", "samr", "食品生产经营许可信息", "conditional", "用于食品安全监管及联合执法", "", [("许可证编号", "字符型", "conditional"), ("经营者名称", "字符型", "conditional"), ("有效期至", "日期型", "conditional")]),
    ("ZT-SB/0001", "hrss", "社会保险参保缴费信息", "conditional", "用于核定社会救助、住房保障等待遇资格", "", [("公民身份号码", "字符型", "conditional"), ("参保险种", "字符型", "conditional"), ("参保状态", "字符型", "conditional"), ("缴费基数", "数值型", "conditional"), ("缴费月数", "数值型", "conditional")]),
    ("JC-ZR/0001", "natres", "不动产登记信息", "conditional", "依法办理不动产相关政务服务", "", [("不动产单元号", "字符型", "conditional"), ("权利人", "字符型", "conditional"), ("坐落", "字符型", "conditional"), ("权利类型", "字符型", "conditional")]),
    ("ZT-YL/0001", "health", "出生医学证明信息", "conditional", "用于户籍登记、社保参保等出生一件事办理", "", [("出生医学证明编号", "字符型", "conditional"), ("新生儿姓名", "字符型", "conditional"), ("出生日期", "日期型", "conditional"), ("母亲公民身份号码", "字符型", "conditional")]),
    ("BM-MZ/0001", "civil", "婚姻登记信息", "conditional", "用于办理与婚姻状况相关的政务服务", "", [("男方公民身份号码", "字符型", "conditional"), ("女方公民身份号码", "字符型", "conditional"), ("登记类型", "字符型", "conditional"), ("登记日期", "日期型", "conditional")]),
    ("JC-DZZZ/0001", "govservice", "电子证照目录信息", "unconditional", "", "", [("证照名称", "字符型", "unconditional"), ("证照编号", "字符型", "unconditional"), ("持证主体", "字符型", "unconditional"), ("颁发日期", "日期型", "unconditional")]),
    ("BM-YC-SC/0001", "yinchuan-samr", "银川市个体工商户登记信息", "unconditional", "", "", [("统一社会信用代码", "字符型", "unconditional"), ("字号名称", "字符型", "unconditional"), ("经营场所", "字符型", "unconditional")]),
    ("BM-YC-MZ/0001", "yinchuan-civil", "银川市最低生活保障对象信息", "conditional", "用于社会救助对象认定和动态管理", "", [("公民身份号码", "字符型", "conditional"), ("保障类别", "字符型", "conditional"), ("保障金额", "数值型", "conditional")]),
]


def _place_slug(name_en: str) -> str:
    return name_en.split()[0].lower()


def _upsert(session: Session, model, key: dict, values: dict):
    row = session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key, **values)
        session.add(row)
    else:
        for k, v in values.items():
            setattr(row, k, v)
    return row


def seed_directory(session: Session) -> None:
    divisions = json.loads(resources.files("engine").joinpath("data/divisions.json").read_text("utf-8"))
    region = divisions["region"]
    _upsert(session, Division, {"code": region["code"]}, {"name": region["name"], "name_en": region["name_en"], "level": "region", "parent_code": None})
    session.flush()
    places = []
    for city in divisions["cities"]:
        _upsert(session, Division, {"code": city["code"]}, {"name": city["name"], "name_en": city["name_en"], "level": "city", "parent_code": region["code"]})
        places.append(city)
        session.flush()
        for county in city["counties"]:
            _upsert(session, Division, {"code": county["code"]}, {"name": county["name"], "name_en": county["name_en"], "level": "county", "parent_code": city["code"]})
            places.append(county)
    session.flush()
    authority_name = os.environ.get("GOVSHARE_REGION_AUTHORITY_NAME", "")
    for d in json.loads(resources.files("engine").joinpath("data/departments.json").read_text("utf-8"))["departments"]:
        is_authority = "authority" in d["roles"]
        name = authority_name if (is_authority and authority_name) else d["name"]
        _upsert(session, Department, {"slug": d["slug"]}, {"name": name, "name_en": d["name_en"], "division_code": region["code"], "is_authority": is_authority, "duties": d["roles"]})
    for place in places:
        p = _place_slug(place["name_en"])
        _upsert(session, Department, {"slug": f"{p}-data"}, {"name": f"{place['name']}数据共享主管部门", "name_en": f"{place['name_en']} data-sharing authority", "division_code": place["code"], "is_authority": True, "duties": ["authority"]})
        for slug, name, name_en in LOCAL_DEPARTMENTS:
            _upsert(session, Department, {"slug": f"{p}-{slug}"}, {"name": f"{place['name']}{name}", "name_en": f"{place['name_en']} {name_en}", "division_code": place["code"], "is_authority": False, "duties": []})
    session.flush()


def seed_demo_users(session: Session) -> None:
    password = hash_password("demo")
    region_code = json.loads(resources.files("engine").joinpath("data/divisions.json").read_text("utf-8"))["region"]["code"]
    for dept in session.scalars(select(Department)).all():
        accounts = [("clerk", "经办人", ["official"])]
        if dept.is_authority:
            accounts.append(("coord", "协调员", ["official", "coordinator"]))
        elif dept.division_code == region_code:
            accounts.append(("lead", "负责人", ["official", "leader"]))
        for suffix, title, roles in accounts:
            username = f"{dept.slug}.{suffix}"
            user = _upsert(session, User, {"username": username}, {"display_name": f"{dept.name}{title}", "department_id": dept.id, "job_roles": roles, "password_hash": password, "active": True})
            session.flush()
            token = f"demo-{username}"
            _upsert(session, ApiToken, {"token_sha256": hashlib.sha256(token.encode()).hexdigest()}, {"user_id": user.id, "label": "demo token"})
    session.flush()


def seed_catalog(session: Session) -> None:
    for code, provider, name, share_type, conditions, basis, items in RESOURCES:
        dept = session.scalar(select(Department).where(Department.slug == provider))
        _upsert(session, Resource, {"code": code}, {
            "name": name, "provider_id": dept.id, "share_type": share_type, "conditions": conditions, "legal_basis": basis,
            "info_items": [{"name": n, "data_type": t, "share_type": s} for n, t, s in items], "summary": "",
        })
    session.flush()


def seed_all(session: Session, clock: Clock, demo: bool = True) -> None:
    seed_directory(session)
    seed_catalog(session)
    if demo:
        seed_demo_users(session)
    deploy(session, clock)
