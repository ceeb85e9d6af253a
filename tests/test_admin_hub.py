"""管理 (administration): the system administrator sees every section, a level's administrator
the sections of their level, and an official is refused the hub and sees no menu entry."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.directory import user_by_name
from engine.directory.admin import admin_scope, require_admin
from engine.directory.models import Division
from engine.errors import Forbidden
from tests.test_web import Browser, app  # noqa: F401


def test_the_system_administrator_sees_every_section(app):  # noqa: F811
    admin = Browser(app, "data.admin")
    html = admin.get("/admin/").get_data(as_text=True)
    assert "系统管理" in html and "流程故障" in html and "通知投递" in html


def test_a_level_administrator_sees_the_hub_without_system_sections(app):  # noqa: F811
    ladmin = Browser(app, "yinchuan-data.admin")
    r = ladmin.get("/admin/")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "银川市" in html
    assert "通知投递" not in html  # the system administrator's


def test_an_official_is_refused_the_hub_and_sees_no_menu_entry(app):  # noqa: F811
    clerk = Browser(app, "civil.clerk")
    assert clerk.get("/admin/").status_code == 403
    assert 'href="/admin/"' not in clerk.get("/inbox/mine").get_data(as_text=True)


def test_a_level_administrator_administers_their_level_and_below_never_above(db):
    ladmin = user_by_name(db, "yinchuan-data.admin")
    scope = admin_scope(ladmin)
    assert scope is not None and not scope.everything
    yinchuan = ladmin.department.division_code
    require_admin(db, ladmin, yinchuan)  # their own level
    county = db.scalars(select(Division.code).where(Division.parent_code == yinchuan)).first()
    require_admin(db, ladmin, county)  # a county below it
    with pytest.raises(Forbidden):
        require_admin(db, ladmin, "640000")  # the region above
    with pytest.raises(Forbidden):
        require_admin(db, user_by_name(db, "civil.clerk"))
    assert admin_scope(user_by_name(db, "data.admin")).everything
