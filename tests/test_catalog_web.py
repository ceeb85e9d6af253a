"""Catalog pages through the test client: import reports, events, links, access."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from engine.catalog.models import CatalogEvent, Resource
from tests.test_web import Browser, app  # noqa: F401  (the app fixture)

HEADER = "code,name,provider,classification,summary,share_type,share_conditions,share_method,network,update_cycle,item_name,item_data_type,item_share_type\n"


def test_import_page_lists_every_bad_row(app, actors):  # noqa: F811
    civil = Browser(app, "civil.clerk")
    text = (
        HEADER
        + "BM-MZ/0201,,civil,department,x,conditional,c,interface,extranet,monthly,a,字符型,conditional\n"
        + "BM-MZ/0202,殡葬设施信息,civil,department,x,not_shared,,file,extranet,yearly,b,字符型,not_shared\n"
    )
    r = civil.post(
        "/catalog/import",
        {"file": (io.BytesIO(text.encode()), "entries.csv")},
        page="/catalog/import",
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert "line 2" in html and "line 3" in html and "未导入任何内容" in html
    assert (
        actors.run(
            lambda s: s.scalar(
                select(func.count()).select_from(Resource).where(Resource.code.like("BM-MZ/02%"))
            )
        )
        == 0
    )


def test_import_page_saves_drafts(app, actors):  # noqa: F811
    civil = Browser(app, "civil.clerk")
    text = (
        HEADER
        + "BM-MZ/0201,养老床位信息,civil,department,床位,conditional,用于补贴,interface,extranet,monthly,床位数,数值型,conditional\n"
    )
    r = civil.post(
        "/catalog/import",
        {"file": (io.BytesIO(text.encode("utf-8-sig")), "entries.csv")},
        page="/catalog/import",
        content_type="multipart/form-data",
    )
    assert r.status_code == 302
    assert (
        actors.run(lambda s: s.scalar(select(Resource.status).where(Resource.code == "BM-MZ/0201")))
        == "draft"
    )
    assert "尚未发布" in civil.get("/catalog/entry/BM-MZ/0201").get_data(as_text=True)
    assert (
        Browser(app, "health.clerk").get("/catalog/entry/BM-MZ/0201").status_code == 404
    )  # drafts stay with their department


def test_only_authorities_register_events_and_tasks_follow(app, actors):  # noqa: F811
    assert Browser(app, "civil.clerk").get("/catalog/events/new").status_code == 403
    coord = Browser(app, "data.coord")
    r = coord.post(
        "/catalog/events/new",
        {
            "kind": "law_revision",
            "occurred_on": "2026-09-18",
            "reference": "《宁夏回族自治区养老服务条例》",
            "departments": ["civil"],
        },
        page="/catalog/events/new",
    )
    assert r.status_code == 302
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(CatalogEvent))) == 1
    duty = coord.client.get(r.headers["Location"])  # the coordinator lands on the duty's page
    assert r.headers["Location"].startswith("/requests/MG-2026-")
    assert duty.status_code == 200 and "MG-2026-" in duty.get_data(as_text=True)
    queue = Browser(app, "civil.clerk").get("/inbox/queue").get_data(as_text=True)
    assert "更新本部门政务数据资源目录" in queue and "2026-10-15 24:00" in queue


def test_linking_report_and_exports(app):  # noqa: F811
    b = Browser(app, "data.coord")
    html = b.get("/catalog/links").get_data(as_text=True)
    assert "BM-YC-WJ/0001" in html and "BM-YC-SC/0001" not in html
    assert b.get("/catalog/export.csv").data.startswith("\ufeffcode".encode())
    assert b.get("/catalog/export.dcat").get_json()["@type"] == "dcat:Catalog"


def test_another_departments_entry_cannot_be_edited(app):  # noqa: F811
    assert Browser(app, "health.clerk").get("/catalog/edit/JC-RK/0002").status_code == 403
