"""The administrator runs the directory in the browser (issue 14): previews a merger, reads what
moves where, applies it and finds the predecessor "merged into …"; designates authorities and
review seats; dry-runs an import. An official and a level administrator outside their level are
refused."""

from __future__ import annotations

from engine.directory import administration as admin
from tests.conftest import HUKOU
from tests.test_directory_admin import directory, run  # noqa: F401

TEXT = {
    "zh_CN": {
        "nav": "组织目录",
        "preview": "预览",
        "apply": "执行合并",
        "tasks": "待办任务",
        "merged": "已并入",
        "done": "部门已合并",
        "dry": "试运行",
        "added": "新增",
        "refused": "403",
    },
    "en": {
        "nav": "Directory",
        "preview": "Preview",
        "apply": "Apply the merger",
        "tasks": "Open tasks",
        "merged": "merged into",
        "done": "The departments were merged",
        "dry": "Dry run",
        "added": "Added",
        "refused": "403",
    },
}
PAIRS = {"zh_CN": ("pubsec", "pubsec-data"), "en": ("edu", "edu-new")}


def test_the_administrator_previews_and_applies_a_merger(
    directory,  # noqa: F811
    official,
    actors,
    clock,
):
    run(
        directory,
        lambda s: admin.create_department(
            s,
            clock,
            None,
            "pubsec-data",
            "自治区公安数据中心",
            "Public Security Data Centre",
            "640000",
        ),
    )
    run(
        directory,
        lambda s: admin.create_department(
            s,
            clock,
            None,
            "edu-new",
            "自治区教育厅（新）",
            "Department of Education (new)",
            "640000",
        ),
    )
    key = actors.request("civil.clerk", **HUKOU)
    for lang, text in TEXT.items():
        source, target = PAIRS[lang]
        a = official("data.admin", lang)
        page = a.go("/admin/")
        page.get_by_role("link", name=text["nav"], exact=True).first.click()
        assert "/admin/directory/" in page.url
        a.shot("directory")
        page = a.go("/admin/directory/merge")
        page.select_option("#sources", [source])
        page.select_option("#target", target)
        page.fill("#reason", "机构改革")
        page.get_by_role("button", name=text["preview"], exact=True).click()
        preview = page.inner_text("#preview")
        assert text["tasks"] in preview
        if source == "pubsec":
            assert key in preview and "JC-RK/0002" in preview
        a.shot("directory-merge-preview")
        page.get_by_role("button", name=text["apply"]).click()
        assert text["done"] in page.inner_text("main")  # on the successor's page
        a.shot("directory-successor")
        page = a.go(f"/admin/directory/departments/{source}")
        assert text["merged"] in page.inner_text("main")
        a.shot("directory-department")


def test_authorities_duties_and_an_import_dry_run(directory, official, tmp_path, clock):  # noqa: F811
    run(
        directory,
        lambda s: admin.create_division(
            s, clock, None, "640199", "示范区", "Demo District", "county", "640100"
        ),
    )
    path = tmp_path / "directory.csv"
    path.write_text(
        "slug,name,name_en,division,duties\n"
        "demo-data,示范区数据局,Demo District Data Bureau,640199,\n"
        "demo-health,示范区卫生健康局,Demo District Health Bureau,640199,thematic:health\n",
        encoding="utf-8",
    )
    for lang, text in TEXT.items():
        a = official("data.admin", lang)
        page = a.go("/admin/directory/duties")
        assert "project_review" not in page.inner_text("main")  # labels, never keys
        a.shot("directory-duties")
        page = a.go("/admin/directory/import")
        page.set_input_files("#file", str(path))
        page.get_by_role("button", name=text["dry"], exact=True).click()
        main = page.inner_text("main")
        assert "Demo District Data Bureau" in main or "示范区数据局" in main
        assert text["added"] in main
        a.shot("directory-import")


def test_an_official_and_an_administrator_of_another_level_are_refused(
    directory,  # noqa: F811
    official,
):
    clerk = official("pubsec.clerk", "en")
    for path in ("/admin/directory/", "/admin/directory/merge", "/admin/directory/duties"):
        page = clerk.go(path)
        assert "belongs to another department" in page.inner_text(
            "main"
        ) or "administrator" in page.inner_text("main")
    city = official("yinchuan-data.admin", "en")
    page = city.go("/admin/directory/")
    main = page.inner_text("main")
    assert "Yinchuan" in main and "Public Security Department" not in main
    city.shot("directory-level-admin")
    page = city.go("/admin/directory/departments/pubsec")
    assert "only their level" in page.inner_text("main")


def test_the_administrator_splits_a_department_item_by_item(directory, official, clock):  # noqa: F811
    for slug, name, name_en in (
        ("pubsec-a", "自治区公安厅治安部门", "Public Security: Public Order"),
        ("pubsec-b", "自治区公安厅户政部门", "Public Security: Household Registration"),
    ):
        run(
            directory,
            lambda s, slug=slug, name=name, name_en=name_en: admin.create_department(
                s, clock, None, slug, name, name_en, "640000"
            ),
        )
    a = official("data.admin", "zh_CN")
    page = a.go("/admin/directory/split")
    page.select_option("#source", "pubsec")
    page.select_option("#successors", ["pubsec-a", "pubsec-b"])
    page.fill("#reason", "职能拆分")
    page.get_by_role("button", name="预览", exact=True).click()
    page.select_option("select[name='assign:resources:JC-RK/0002']", "pubsec-b")
    page.get_by_role("button", name="更新预览").click()
    row = page.locator("#preview tr", has_text="JC-RK/0002")
    assert row.locator("select").input_value() == "pubsec-b"
    a.shot("directory-split-preview")
    page.get_by_role("button", name="执行拆分").click()
    assert "部门已按分配拆分" in page.inner_text("main")
    page = a.go("/admin/directory/departments/pubsec-b")
    assert "自治区公安厅" in page.inner_text("main")
