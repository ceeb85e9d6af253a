"""The catalog: the rules of art. 9 and 10, versions and publication, search, import and export."""

from __future__ import annotations

import copy
import json

import pytest
from sqlalchemy import func, select

from engine.catalog import resource_by_code
from engine.catalog.entry import normalize
from engine.catalog.links import unlinked
from engine.catalog.models import Resource, ResourceVersion
from engine.catalog.rules import check
from engine.catalog.search import Filters, search, terms
from engine.catalog.transfer import export_csv, export_dcat, export_json, import_entries, published
from engine.catalog.versions import history, save_draft, submit
from engine.errors import Forbidden, NotFound, ValidationFailed

ENTRY = {
    "code": "BM-MZ/0099",
    "name": "养老服务机构信息",
    "provider": "civil",
    "classification": "department",
    "summary": "养老服务机构备案和等级评定信息。",
    "format": "数据库",
    "share_type": "conditional",
    "share_conditions": "用于养老服务补贴核定",
    "share_method": "interface",
    "network": "extranet",
    "open_to_public": False,
    "update_cycle": "monthly",
    "legal_basis": "",
    "info_items": [
        {"name": "机构名称", "data_type": "字符型", "share_type": "conditional"},
        {"name": "床位数", "data_type": "数值型", "share_type": "conditional"},
    ],
}


def problems(db, **changes):
    entry = copy.deepcopy(ENTRY)
    entry.update(changes)
    return [(p["field"], str(p["message"])) for p in check(db, normalize(entry))]


def test_a_well_formed_entry_passes(db):
    assert problems(db) == []


def test_not_shared_resource_needs_a_legal_basis(db):
    items = [{"name": "机构名称", "data_type": "字符型", "share_type": "not_shared"}]
    assert (
        "legal_basis",
        "a resource that is not shared needs a legal or State Council basis (art. 10)",
    ) in problems(db, share_type="not_shared", info_items=items)
    assert (
        problems(
            db, share_type="not_shared", info_items=items, legal_basis="《个人信息保护法》第十三条"
        )
        == []
    )


def test_not_shared_item_needs_a_basis(db):
    items = [
        {"name": "机构名称", "data_type": "字符型", "share_type": "conditional"},
        {"name": "负责人身份号码", "data_type": "字符型", "share_type": "not_shared"},
    ]
    assert (
        "info_items[2]",
        "info item “负责人身份号码” is not shared and needs a legal basis (art. 10)",
    ) in problems(db, info_items=items)
    items[1]["basis"] = "《个人信息保护法》"
    assert problems(db, info_items=items) == []


def test_base_items_of_a_base_database_stay_unconditional(db):
    items = [
        {"name": "公民身份号码", "data_type": "字符型", "share_type": "conditional", "base": True}
    ]
    found = problems(
        db, code="JC-RK/0099", classification="base", base_category="population", info_items=items
    )
    assert (
        "info_items[1]",
        "base info item “公民身份号码” of a base database must be shared unconditionally (art. 10)",
    ) in found
    assert ("share_type", "a base resource cannot be “not shared” (art. 10)") in problems(
        db,
        code="JC-RK/0099",
        classification="base",
        base_category="population",
        share_type="not_shared",
        legal_basis="x",
        info_items=[{**items[0], "share_type": "unconditional"}],
    )
    assert (
        "base_category",
        "a base resource names its base database: population, legal_entities, natural_resources_geospatial, e_licences",
    ) in problems(
        db,
        code="JC-RK/0099",
        classification="base",
        info_items=[{**items[0], "share_type": "unconditional"}],
    )


def test_thematic_resource_names_its_lead_department(db):
    assert (
        "lead_department",
        "a thematic resource names its lead department (art. 10)",
    ) in problems(db, classification="thematic", code="ZT-YL/0099")
    assert ("lead_department", "unknown department 'nobody'") in problems(
        db, classification="thematic", code="ZT-YL/0099", lead_department="nobody"
    )
    assert (
        problems(db, classification="thematic", code="ZT-YL/0099", lead_department="health") == []
    )


def test_conditional_resources_and_items_state_their_conditions(db):
    assert (
        "share_conditions",
        "a conditional resource states its sharing conditions (art. 9)",
    ) in problems(db, share_conditions="")


@pytest.mark.parametrize(
    "code,message",
    [
        (
            "BM-MZ-0099",
            "must be a class code, “/” and a 4–6 digit sequence number, e.g. JC-RK/000123",
        ),
        (
            "bm-mz/0099",
            "must be a class code, “/” and a 4–6 digit sequence number, e.g. JC-RK/000123",
        ),
        (
            "BM-MZ/12",
            "must be a class code, “/” and a 4–6 digit sequence number, e.g. JC-RK/000123",
        ),
        ("JC-RK/0002", "JC-RK/0002 is already used by another resource"),
    ],
)
def test_codes_are_well_formed_and_unique(db, code, message):
    assert ("code", message) in problems(db, code=code, classification_code="")


def test_code_starts_with_its_class_code(db):
    assert ("code", "must start with its class code BM-XX") in problems(
        db, classification_code="BM-XX"
    )


def test_internal_network_resources_are_not_open(db):
    assert (
        "open_to_public",
        "a resource on the e-government internal network cannot be open to the public (art. 5, 19)",
    ) in problems(db, network="internal", open_to_public=True)


def test_item_names_are_unique_and_typed(db):
    items = [
        {"name": "机构名称", "data_type": "字符型", "share_type": "conditional"},
        {"name": "机构名称", "data_type": "", "share_type": "conditional"},
    ]
    found = problems(db, info_items=items)
    assert ("info_items[2]", "info item “机构名称” is listed twice") in found and (
        "info_items[2]",
        "info item “机构名称” needs a data type",
    ) in found


def test_seeded_catalog_is_realistic(db):
    rows = db.scalars(select(Resource).where(Resource.status == "published")).all()
    assert len(rows) >= 60 and len({r.provider_id for r in rows}) >= 15
    bases = {r.metadata_["base_category"] for r in rows if r.classification == "base"}
    assert bases == {"population", "legal_entities", "natural_resources_geospatial", "e_licences"}
    assert sum(r.classification == "thematic" for r in rows) >= 5
    for r in rows:
        assert check(db, r.metadata_, r.id) == [], r.code


def _publish(actors, version_id, decision="publish", comment=None):
    key = actors.run(lambda s: s.get(ResourceVersion, version_id).instance_id)
    from engine.workflow.models import ProcessInstance

    business_key = actors.run(lambda s: s.get(ProcessInstance, key).business_key)
    data = {"catalog_decision": decision}
    if comment:
        data["review_comment"] = comment
    actors.complete("data.coord", business_key, "review_catalog_change", **data)
    return business_key


def test_publication_return_fix_and_publish(actors):
    v1 = actors.run(lambda s: save_draft(s, actors.clock, actors.user(s, "civil.clerk"), ENTRY).id)
    assert (
        actors.run(lambda s: search(s, Filters(q="养老服务")).total) == 0
    )  # drafts are not searchable
    with pytest.raises(NotFound):
        actors.run(lambda s: resource_by_code(s, "BM-MZ/0099"))  # nor requestable
    actors.run(
        lambda s: submit(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            s.scalar(select(Resource).where(Resource.code == "BM-MZ/0099")),
        )
    )
    key = actors.run(lambda s: s.get(ResourceVersion, v1).instance_id)
    from engine.workflow.models import ProcessInstance

    business_key = actors.run(lambda s: s.get(ProcessInstance, key).business_key)
    assert business_key.startswith("ML-2026-")
    with pytest.raises(ValidationFailed):  # returning needs comments
        actors.complete(
            "data.coord", business_key, "review_catalog_change", catalog_decision="return"
        )
    actors.complete(
        "data.coord",
        business_key,
        "review_catalog_change",
        catalog_decision="return",
        review_comment="请补充机构等级信息项",
    )
    assert actors.run(
        lambda s: (s.get(ResourceVersion, v1).status, s.get(ResourceVersion, v1).review_comment)
    ) == ("returned", "请补充机构等级信息项")
    fixed = {
        **ENTRY,
        "info_items": ENTRY["info_items"]
        + [{"name": "机构等级", "data_type": "字符型", "share_type": "conditional"}],
    }
    v2 = actors.run(
        lambda s: (
            save_draft(
                s, actors.clock, actors.user(s, "civil.clerk"), fixed, note="补充机构等级"
            ).id
        )
    )
    assert actors.run(lambda s: s.get(ResourceVersion, v2).changed_fields) == ["info_items"]
    actors.run(
        lambda s: submit(
            s,
            actors.clock,
            actors.user(s, "civil.clerk"),
            s.scalar(select(Resource).where(Resource.code == "BM-MZ/0099")),
        )
    )
    _publish(actors, v2)
    assert actors.run(lambda s: resource_by_code(s, "BM-MZ/0099").published_version) == 2
    found = actors.run(lambda s: [r.code for r in search(s, Filters(q="机构等级")).rows])
    assert found == ["BM-MZ/0099"]
    statuses = actors.run(
        lambda s: [
            (v.number, v.status)
            for v in history(s, s.scalar(select(Resource).where(Resource.code == "BM-MZ/0099")))
        ]
    )
    assert statuses == [(2, "published"), (1, "returned")]


def test_only_the_providing_department_edits_its_entries(actors):
    with pytest.raises(Forbidden):
        actors.run(lambda s: save_draft(s, actors.clock, actors.user(s, "health.clerk"), ENTRY))
    with pytest.raises(Forbidden):
        actors.run(
            lambda s: save_draft(
                s,
                actors.clock,
                actors.user(s, "civil.clerk"),
                {**ENTRY, "code": "JC-RK/0002", "provider": "civil"},
            )
        )


def test_search_by_info_item_and_filters(db):
    assert "JC-RK/0002" in [r.code for r in search(db, Filters(q="变动类型")).rows]
    unconditional = search(db, Filters(q="公民身份号码", share_type="unconditional")).rows
    assert "JC-RK/0001" in [r.code for r in unconditional] and "JC-RK/0002" not in [
        r.code for r in unconditional
    ]
    assert all(
        r.share_type == "unconditional" and "公民身份号码" in r.search_text for r in unconditional
    )
    internal = search(db, Filters(network="internal")).rows
    assert internal and all(r.network == "internal" for r in internal)
    assert all(r.open_to_public for r in search(db, Filters(open_to_public=True)).rows)
    assert search(db, Filters(q="不存在的资源名称")).total == 0
    assert search(db, Filters(q="jc-rk")).total >= 3  # codes match as words, case-insensitively


def test_terms_are_cjk_bigrams_and_words():
    assert terms("户籍变动 JC-RK/0002") == ["户籍", "籍变", "变动", "jc", "rk", "0002"]
    assert terms("户") == ["户"]


def test_import_with_bad_rows_reports_every_row_and_imports_nothing(actors):
    header = "code,name,provider,classification,summary,share_type,share_conditions,share_method,network,update_cycle,item_name,item_data_type,item_share_type\n"
    rows = [
        "BM-MZ/0101,养老机构床位信息,civil,department,床位信息,conditional,用于补贴核定,interface,extranet,monthly,床位数,数值型,conditional",
        "BM-MZ/0102,,civil,department,缺名称,conditional,用于补贴核定,interface,extranet,monthly,床位数,数值型,conditional",
        "BM-MZ/0103,殡葬设施信息,civil,department,设施,not_shared,,file,extranet,yearly,设施名称,字符型,not_shared",
        "JC-RK/0001,人口基础信息,civil,base,冒用,unconditional,,interface,extranet,daily,姓名,字符型,unconditional",
        "BM-MZ/0104,婚姻介绍机构信息,civil,department,机构,conditional,,interface,extranet,monthly,机构名称,字符型,conditional",
    ]
    with pytest.raises(ValidationFailed) as err:
        actors.run(
            lambda s: import_entries(
                s, actors.clock, actors.user(s, "civil.clerk"), header + "\n".join(rows), "csv"
            )
        )
    report = [(d["field"], str(d["message"])) for d in err.value.details]
    assert {f for f, _ in report} == {"line 3", "line 4", "line 5", "line 6"}
    assert ("line 3", "BM-MZ/0102 name: is required") in report
    assert (
        "line 4",
        "BM-MZ/0103 legal_basis: a resource that is not shared needs a legal or State Council basis (art. 10)",
    ) in report
    assert (
        "line 5",
        "JC-RK/0001: only officials of the providing department may edit it",
    ) in report
    assert (
        "line 6",
        "BM-MZ/0104 share_conditions: a conditional resource states its sharing conditions (art. 9)",
    ) in report
    assert (
        actors.run(
            lambda s: s.scalar(
                select(func.count()).select_from(Resource).where(Resource.code.like("BM-MZ/01%"))
            )
        )
        == 0
    )


def test_import_csv_rows_of_one_entry_and_json(actors):
    header = "code,name,provider,classification,summary,share_type,share_conditions,share_method,network,update_cycle,item_name,item_data_type,item_share_type\n"
    text = (
        header
        + "BM-MZ/0101,养老机构床位信息,civil,department,床位信息,conditional,用于补贴核定,interface,extranet,monthly,床位数,数值型,conditional\n"
        + "BM-MZ/0101,,,,,,,,,,入住人数,数值型,conditional\n"
    )
    versions = actors.run(
        lambda s: [
            (v.number, v.status, len(v.data["info_items"]))
            for v in import_entries(s, actors.clock, actors.user(s, "civil.clerk"), text, "csv")
        ]
    )
    assert versions == [(1, "draft", 2)]
    doc = json.dumps([{**ENTRY, "code": "BM-MZ/0105"}], ensure_ascii=False)
    assert (
        actors.run(
            lambda s: len(
                import_entries(s, actors.clock, actors.user(s, "civil.clerk"), doc, "json")
            )
        )
        == 1
    )


def test_exports_round_trip(db, actors):
    rows = published(db)
    csv_text = export_csv(rows)
    assert csv_text.startswith("\ufeffcode,name,provider")
    entries = json.loads(export_json(rows))["entries"]
    assert len(entries) == len(rows)
    dcat = export_dcat(rows, "http://gov.example")
    assert dcat["@type"] == "dcat:Catalog" and len(dcat["dcat:dataset"]) == len(rows)
    ds = next(d for d in dcat["dcat:dataset"] if d["dct:identifier"] == "JC-RK/0001")
    assert (
        ds["dct:publisher"]["foaf:name"] == "自治区公安厅" and "公民身份号码" in ds["dcat:keyword"]
    )
    # the CSV export of civil's own entries imports back without a change
    own = export_csv([r for r in rows if r.provider.slug == "civil"])
    db.rollback()  # end the read transaction (SQLite writers wait for it)
    assert (
        actors.run(
            lambda s: import_entries(s, actors.clock, actors.user(s, "civil.clerk"), own, "csv")
        )
        == []
    )


def test_city_and_county_entries_link_to_the_region_catalog(db):
    report = {r.code: why for r, why in unlinked(db)}
    assert "BM-YC-SC/0001" not in report and "BM-XQ-MZ/0001" not in report
    assert report["BM-YC-WJ/0001"] == "no link" and report["BM-GY-ZR/0001"] == "no link"
