"""The input boundary (engine/inputs.py): every text field of every form and engine command
refuses a NUL, a lone surrogate, control characters and values longer than their column with a
4xx naming the field by its label, and writes nothing; numbers, dates and periods stay in range;
deep JSON and binary files are refused clearly. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import urllib.parse

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from engine import inputs
from engine.audit import AuditEvent
from engine.catalog.transfer import import_entries, parse_upload
from engine.errors import ValidationFailed
from engine.oversight import breaches, projects, reports
from engine.oversight.models import Breach, Project
from engine.quality import verification
from engine.quality.models import ServedOnProof, Verification
from engine.sharing.grants import UseAsked, check_use
from engine.workflow import attachments
from engine.workflow.forms import field_errors
from engine.workflow.models import ProcessInstance
from tests.conftest import HUKOU
from tests.test_web import Browser, token_of
from web import create_app

BAD = {
    "nul": "核定\x00低保",
    "surrogate": "核定\ud800低保",
    "control": "核定\x1b[2J低保",
    "too_long": "长" * (inputs.TEXT_CAP + 1),
}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


def _count(actors, model):
    return actors.run(lambda s: s.scalar(select(func.count()).select_from(model)))


def _refused(actors, action, *models):
    """``action`` raises ValidationFailed and no row of ``models`` (and no audit event) appears."""
    before = [_count(actors, m) for m in (AuditEvent, *models)]
    with pytest.raises(ValidationFailed) as err:
        actors.run(action)
    assert [_count(actors, m) for m in (AuditEvent, *models)] == before
    return err.value


def _names(err: ValidationFailed) -> set[str]:
    return {d["field"] for d in err.details}


# -- the boundary's functions, driven by Hypothesis --------------------------------------------
CONTROL = st.sampled_from(
    [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), *range(127, 160))]
)


@SETTINGS
@given(st.text(), CONTROL, st.text())
def test_any_text_with_a_control_character_is_refused(before, control, after):
    assert inputs.text_problem(before + control + after, multiline=True) is not None


@SETTINGS
@given(st.text(), st.integers(0xD800, 0xDFFF), st.text())
def test_any_text_with_a_lone_surrogate_is_refused(before, code, after):
    assert inputs.text_problem(before + chr(code) + after) is not None


@SETTINGS
@given(st.text(st.characters(categories=["L", "N", "P", "S"]), min_size=1, max_size=200))
def test_visible_text_within_its_length_passes(value):
    assert inputs.text_problem(value, max_length=200, required=True) is None


@SETTINGS
@given(st.text(st.sampled_from(" \u200b\u200c\u200d\u2060\ufeff\u3000\u00a0\u3164"), min_size=1))
def test_a_required_value_of_only_blank_or_zero_width_characters_is_refused(value):
    assert inputs.text_problem(value, required=True) is not None


@SETTINGS
@given(st.integers())
def test_integers_outside_their_range_are_refused(n):
    problem = inputs.integer_problem(n, 1, inputs.INT32)
    assert (problem is None) == (1 <= n <= inputs.INT32)
    assert (inputs.integer_problem(str(n)) is None) == (1 <= n <= inputs.INT32)


@SETTINGS
@given(st.dates())
def test_dates_outside_the_plausible_range_are_refused(day):
    problem = inputs.day_problem(day.isoformat() if day.year >= 1000 else day)
    assert (problem is None) == (inputs.EARLIEST <= day <= inputs.LATEST)


@SETTINGS
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(), lambda c: st.lists(c)))
def test_json_within_the_depth_limit_parses_as_it_was(value):
    text = json.dumps(value)
    if inputs.nesting_depth(text.encode()) <= inputs.MAX_JSON_DEPTH:
        assert inputs.parse_json(text, "body") == value


def test_hundred_thousand_nested_arrays_are_refused_before_parsing():
    with pytest.raises(ValidationFailed, match="nested too deeply"):
        inputs.parse_json("[" * 100_000 + "]" * 100_000, "body")


def test_full_width_digits_are_named_not_folded():
    assert inputs.digits_problem("JC-RK/０００２") is not None
    assert inputs.digits_problem("JC-RK/0002") is None


def test_scrubbing_replaces_nul_and_lone_surrogates_only():
    stored = {"purpose": "a\x00b\ud800", "items": ["😀", "\udfff"]}
    assert inputs.scrubbed(stored) == {"purpose": "a\ufffdb\ufffd", "items": ["😀", "\ufffd"]}


# -- task forms (JSON Schema), driven by Hypothesis --------------------------------------------
SCHEMA = {
    "type": "object",
    "properties": {
        "reason": {"type": "string", "title": "理由", "x-widget": "textarea"},
        "name": {"type": "string", "title": "名称"},
        "items": {"type": "array", "title": "信息项", "items": {"type": "string"}},
        "period_start": {"type": "string", "format": "date", "title": "起"},
        "period_end": {"type": "string", "format": "date", "title": "止"},
    },
}


@SETTINGS
@given(st.sampled_from(["reason", "name"]), st.text(), CONTROL.filter(lambda c: c not in "\t"))
def test_task_forms_refuse_control_characters_in_any_text_field(field, text, control):
    errors = field_errors(SCHEMA, {field: text + control})
    assert [e["field"] for e in errors] == [field]


@SETTINGS
@given(st.lists(st.text(st.characters(categories=["L", "N"]), min_size=1), min_size=1))
def test_task_forms_accept_visible_list_items_and_refuse_a_surrogate_among_them(items):
    assert field_errors(SCHEMA, {"items": items}) == []
    assert [e["field"] for e in field_errors(SCHEMA, {"items": [*items, "\ud800"]})] == ["items"]


def test_task_forms_refuse_a_period_ending_before_it_starts_and_years_beyond_2100():
    errors = field_errors(SCHEMA, {"period_start": "2026-10-01", "period_end": "2026-09-30"})
    assert [e["field"] for e in errors] == ["period_end"]
    errors = field_errors(SCHEMA, {"period_start": "2026-10-01", "period_end": "9999-12-31"})
    assert [e["field"] for e in errors] == ["period_end"]


# -- share requests: every text field ----------------------------------------------------------
@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("field", ["resource_code", "purpose", "legal_basis", "info_items"])
def test_a_bad_share_request_field_is_refused_and_nothing_written(actors, field, bad):
    value = [BAD[bad]] if field == "info_items" else BAD[bad]
    form = {**HUKOU, field: value}
    err = _refused(actors, lambda s: _start(s, actors, form), ProcessInstance)
    assert _names(err) == {field}


@pytest.mark.parametrize(
    "change",
    [
        {"period_end": "9999-12-31"},
        {"period_start": "1900-01-01"},
        {"period_start": "2026-10-01", "period_end": "2026-09-30"},
        {"purpose": "\u200b\u200b\u200b"},
    ],
)
def test_implausible_periods_and_invisible_purposes_are_refused(actors, change):
    err = _refused(actors, lambda s: _start(s, actors, {**HUKOU, **change}), ProcessInstance)
    assert _names(err) <= {"period_start", "period_end", "purpose"}


def _start(session, actors, form):
    from engine.sharing.requests import start_share_request

    return start_share_request(session, actors.clock, actors.user(session, "civil.clerk"), form)


# -- task forms: every text field of the provider's review -------------------------------------
@pytest.mark.parametrize("bad", ["nul", "surrogate", "control"])
@pytest.mark.parametrize("field", ["granted_purpose", "review_reason", "granted_items"])
def test_a_bad_task_form_field_is_refused_and_the_task_stays_open(actors, field, bad):
    key = actors.request("civil.clerk", **HUKOU)
    data = {
        "review_decision": "approve",
        "granted_items": ["公民身份号码"],
        "granted_period_start": "2026-10-01",
        "granted_period_end": "2027-09-30",
        "granted_purpose": "核定低保",
        field: [BAD[bad]] if field == "granted_items" else BAD[bad],
    }
    with pytest.raises(ValidationFailed) as err:
        actors.complete("pubsec.clerk", key, "provider_review", **data)
    assert _names(err.value) == {field}
    assert actors.open_task(key, "provider_review")


def test_a_grant_ending_before_it_starts_is_refused(actors):
    key = actors.request("civil.clerk", **HUKOU)
    with pytest.raises(ValidationFailed) as err:
        actors.complete(
            "pubsec.clerk",
            key,
            "provider_review",
            review_decision="approve",
            granted_items=["公民身份号码"],
            granted_period_start="2027-10-01",
            granted_period_end="2026-10-01",
            granted_purpose="核定低保",
        )
    assert _names(err.value) == {"granted_period_end"}


# -- data errors, served on proof, grant checks ------------------------------------------------
REPORT = {"resource_code": "JC-RK/0002", "record_id": "6401", "field": "住址", "value_seen": "x"}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("field", sorted(verification.REPORT_FIELDS))
def test_a_bad_data_error_report_field_is_refused_and_nothing_written(actors, field, bad):
    form = {**REPORT, field: BAD[bad]}

    def report(s):
        user = actors.user(s, "civil.clerk")
        return verification.report_error(s, actors.clock, user, form)

    err = _refused(actors, report, ProcessInstance, Verification)
    assert _names(err) == {field}
    assert err.details[0]["label"] == verification.REPORT_FIELDS[field][0]


@pytest.mark.parametrize("value", [42, ["x"], {"a": 1}, None])
def test_a_data_error_report_with_wrong_json_types_is_refused(actors, value):
    form = {**REPORT, "record_id": value}
    err = _refused(
        actors,
        lambda s: verification.report_error(s, actors.clock, actors.user(s, "civil.clerk"), form),
        Verification,
    )
    assert _names(err) == {"record_id"}


@pytest.mark.parametrize(
    "args,field",
    [
        ((1, BAD["nul"], ""), "proof"),
        ((1, BAD["surrogate"], ""), "proof"),
        ((1, "身份证", BAD["nul"]), "service"),
        ((1, "身份证", "办" * 201), "service"),
        ((2**40, "身份证", ""), "verification_id"),
        (("１", "身份证", ""), "verification_id"),
    ],
)
def test_bad_served_on_proof_is_refused_and_nothing_written(actors, args, field):
    def serve(s):
        return verification.register_served(s, actors.clock, actors.user(s, "civil.clerk"), *args)

    assert _names(_refused(actors, serve, ServedOnProof)) == {field}


@pytest.mark.parametrize(
    "code,items,purpose,field",
    [
        (7, ["公民身份号码"], "核定低保", "resource_code"),
        ("JC-RK/0002", [{"a": 1}], "核定低保", "info_items"),
        ("JC-RK/0002", "公民身份号码", "核定低保", "info_items"),
        ("JC-RK/0002", [], "核定低保", "info_items"),
        ("JC-RK/0002", ["公民身份号码"], 5, "purpose"),
        ("JC-RK/0002", ["公民身份号码"], BAD["nul"], "purpose"),
        ("JC-RK/0002", ["公民身份号码"], "", "purpose"),  # art. 14: the purpose is stated
        ("JC-RK/0002", ["公民身份号码"], "  ", "purpose"),
        ("JC-RK/\x00", ["公民身份号码"], "核定低保", "resource_code"),
    ],
)
def test_grant_check_with_wrong_types_is_refused_and_no_breach_is_recorded(
    actors, code, items, purpose, field
):
    def check(s):
        use = UseAsked(code, items, purpose, "YYCJ006")
        return check_use(s, actors.clock, actors.user(s, "civil.clerk"), use)

    assert _names(_refused(actors, check, Breach)) == {field}


# -- appeals, projects, catalog events, entries, attachments, years ----------------------------
@pytest.mark.parametrize("bad", sorted(BAD))
def test_a_bad_appeal_or_decision_is_refused_and_nothing_written(actors, bad):
    def record(s):
        dept = actors.user(s, "civil.clerk").department_id
        return breaches.record(s, actors.clock, dept, "第二十三条", "reply_overdue", {}).id

    breach_id = actors.run(record)
    err = _refused(
        actors,
        lambda s: breaches.appeal(
            s, actors.clock, actors.user(s, "civil.clerk"), breach_id, BAD[bad]
        ),
    )
    assert _names(err) == {"reason"}
    assert actors.run(lambda s: s.get(Breach, breach_id).appeal_status) is None


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("field", ["name", "description", "catalog"])
def test_a_bad_project_field_is_refused_and_nothing_written(actors, field, bad):
    name, description, catalog = "政务服务平台", "", []
    if field == "name":
        name = BAD[bad][:300]
    elif field == "description":
        description = BAD[bad].replace("长", "长" * 2)
    else:
        catalog = [{"code": "BM-X/0001", "name": BAD[bad]}]

    def create(s):
        user = actors.user(s, "civil.clerk")
        return projects.create_project(s, actors.clock, user, name, description, catalog)

    assert _names(_refused(actors, create, Project)) == {field}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("field", ["reference", "description", "departments", "occurred_on"])
def test_a_bad_catalog_event_field_is_refused_and_nothing_written(actors, field, bad):
    from engine.catalog.events import register_event

    args = {
        "kind": "law_revision",
        "occurred_on": "2026-09-01",
        "reference": "宁政发〔2026〕1号",
        "department_slugs": ["civil"],
        "description": "",
    }
    key = "department_slugs" if field == "departments" else field
    args[key] = [BAD[bad]] if field == "departments" else BAD[bad]

    def register(s):
        return register_event(s, actors.clock, actors.user(s, "data.coord"), **args)

    assert _names(_refused(actors, register, ProcessInstance)) == {field}


ENTRY = {
    "code": "BM-MZ/000901",
    "name": "社会组织登记信息",
    "provider": "civil",
    "classification": "department",
    "summary": "社会组织登记",
    "share_type": "unconditional",
    "share_method": "interface",
    "network": "extranet",
    "update_cycle": "daily",
    "info_items": [{"name": "统一社会信用代码", "data_type": "字符型"}],
}


@pytest.mark.parametrize("bad", ["nul", "surrogate", "control"])
@pytest.mark.parametrize(
    "field", ["code", "name", "summary", "share_conditions", "legal_basis", "format", "item"]
)
def test_a_bad_catalog_entry_field_is_refused_on_import_and_nothing_written(actors, field, bad):
    entry = json.loads(json.dumps(ENTRY))
    if field == "item":
        entry["info_items"][0]["name"] = BAD[bad]
    else:
        entry[field] = BAD[bad]
    text = json.dumps([entry])

    def run(s):
        return import_entries(s, actors.clock, actors.user(s, "civil.clerk"), text, "json")

    err = _refused(actors, run, ProcessInstance)
    assert BAD[bad] not in str(err.to_dict())  # the value is named by its field, not echoed


def test_a_catalog_code_with_full_width_digits_is_refused_with_a_message(actors):
    text = json.dumps([{**ENTRY, "code": "BM-MZ/０００９０１"}])
    err = _refused(
        actors,
        lambda s: import_entries(s, actors.clock, actors.user(s, "civil.clerk"), text, "json"),
    )
    assert "0–9" in str(err.to_dict())


def test_a_binary_csv_is_refused_naming_the_file():
    with pytest.raises(ValidationFailed, match="catalog.csv is not UTF-8 text"):
        parse_upload(b"\x89PNG\r\n\x1a\n\xff\xfe\x00", "catalog.csv")


def test_deep_json_import_is_refused():
    with pytest.raises(ValidationFailed, match="nested too deeply"):
        parse_upload(b"[" * 100_000 + b"]" * 100_000, "catalog.json")


@pytest.mark.parametrize("name", ["a\x00.pdf", "\ud800.pdf", "a\nb.pdf", "长" * 300 + ".pdf"])
def test_attachment_names_pass_the_boundary(name):
    with pytest.raises(ValidationFailed) as err:
        attachments.check(name, "application/pdf", 10)
    assert _names(err.value) == {"attachments"}


@pytest.mark.parametrize("year", [0, 1999, 2101, 99999, "２０２６"])
def test_report_years_outside_2000_to_2100_are_refused(actors, year):
    with pytest.raises(ValidationFailed):
        actors.run(lambda s: reports.figures(s, year))


# -- web forms and the API: 4xx naming the field, nothing written ------------------------------
@pytest.fixture
def app(db_url, session_factory, clock, tmp_path):
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": db_url,
            "GOVSHARE_CLOCK": clock,
            "ATTACHMENT_DIR": str(tmp_path / "files"),
            "SECRET_KEY": "t",
        }
    )


# A browser cannot send a lone surrogate in a form: its UTF-8 bytes (ED A0 80) are invalid and
# werkzeug decodes them as U+FFFD. The API's JSON escapes (\ud800) are tested below.
@pytest.mark.parametrize("bad", ["nul", "control"])
@pytest.mark.parametrize("field", ["purpose", "legal_basis"])
def test_the_request_form_answers_422_naming_the_label(app, actors, field, bad):
    b = Browser(app, "civil.clerk")
    page = "/requests/new?resource=JC-RK/0002"
    data = {**HUKOU, field: BAD[bad], "resource_code": "JC-RK/0002"}
    r = b.post("/requests/new", data=data, page=page)
    assert r.status_code == 422
    label = {"purpose": "使用用途", "legal_basis": "申请依据"}[field]
    assert label in r.get_data(as_text=True)
    assert _count(actors, ProcessInstance) == 0


@pytest.mark.parametrize("bad", ["nul", "control"])
@pytest.mark.parametrize("field", sorted(verification.REPORT_FIELDS))
def test_the_data_error_form_answers_422(app, actors, field, bad):
    b = Browser(app, "civil.clerk")
    r = b.post("/verifications/new", data={**REPORT, field: BAD[bad]})
    assert r.status_code == 422
    assert _count(actors, Verification) == 0


def test_a_binary_catalog_import_answers_422_naming_the_file(app, actors):
    b = Browser(app, "civil.clerk")
    html = b.get("/catalog/import").get_data(as_text=True)
    r = b.client.post(
        "/catalog/import",
        data={"csrf_token": token_of(html), "file": (io.BytesIO(b"\xff\xfe\x00\x01"), "目录.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 422 and "目录.csv" in r.get_data(as_text=True)


def test_a_surrogate_sent_by_a_browser_arrives_as_a_replacement_character(app, actors):
    b = Browser(app, "civil.clerk")
    html = b.get("/requests/new?resource=JC-RK/0002").get_data(as_text=True)
    form = {**HUKOU, "csrf_token": token_of(html), "info_items": HUKOU["info_items"][0]}
    del form["purpose"]
    body = urllib.parse.urlencode(form) + "&purpose=%ED%A0%80"
    r = b.client.post("/requests/new", data=body, content_type="application/x-www-form-urlencoded")
    assert r.status_code in (302, 422)
    key = r.headers.get("Location", "").split("/")[-1].split("?")[0]
    if r.status_code == 302:
        assert "\ud800" not in json.dumps(actors.status(key)["summary"], default=str)


def test_ids_beyond_integer_range_are_not_found(app):
    b = Browser(app, "civil.clerk")
    for path in ("/tasks/99999999999", "/breaches/99999999999", "/projects/2147483648"):
        assert b.get(path).status_code == 404, path


def api(app):
    return app.test_client()


def auth(user):
    return {"Authorization": f"Bearer demo-{user}", "Content-Type": "application/json"}


@pytest.mark.parametrize("bad", ["nul", "surrogate"])
@pytest.mark.parametrize("field", ["purpose", "legal_basis", "resource_code"])
def test_the_api_refuses_a_bad_request_field_with_422_and_writes_nothing(app, actors, field, bad):
    body = json.dumps({**HUKOU, field: BAD[bad]})  # \u0000 and \ud800 escaped, as clients send
    r = api(app).post("/api/v1/requests", data=body, headers=auth("civil.clerk"))
    assert r.status_code == 422, r.get_json()
    assert [d["field"] for d in r.get_json()["details"]] == [field]
    assert _count(actors, ProcessInstance) == 0


@pytest.mark.parametrize(
    "path,body",
    [
        ("/api/v1/requests", "[" * 100_000 + "]" * 100_000),
        ("/api/v1/requests", b"\xff\xfe"),
        ("/api/v1/grants/check", json.dumps({"resource_code": 5, "info_items": ["a"]})),
        ("/api/v1/grants/check", json.dumps({"resource_code": "JC-RK/0002", "info_items": [[]]})),
        ("/api/v1/verifications", json.dumps({**REPORT, "record_id": 6401})),
        ("/api/v1/verifications/1/served", json.dumps({"proof": ["x"]})),
    ],
)
def test_the_api_answers_4xx_to_malformed_bodies(app, actors, path, body):
    r = api(app).post(path, data=body, headers=auth("civil.clerk"))
    assert 400 <= r.status_code < 500, r.get_data(as_text=True)
    assert _count(actors, Breach) == 0 and _count(actors, ProcessInstance) == 0


def test_the_api_refuses_keys_no_row_can_hold_without_looking_them_up(app):
    # the document declares keys as text without control characters: 422 naming the parameter
    client = api(app)
    for path in ("/api/v1/requests/GX-%00", "/api/v1/catalog/JC-RK%2F%00"):
        r = client.get(path, headers=auth("civil.clerk"))
        assert r.status_code == 422, path
        assert r.get_json()["details"][0]["field"] in ("key", "code"), r.get_json()
    r = client.get("/api/v1/verifications?resource=%00&record=1", headers=auth("civil.clerk"))
    assert r.status_code == 422


# -- data stored before the boundary -----------------------------------------------------------
@pytest.mark.skipif(bool(os.environ.get("DATABASE_URL")), reason="builds its own SQLite file")
def test_migration_0015_scrubs_nul_and_lone_surrogates_from_stored_json(tmp_path):
    from engine.schema import upgrade

    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0013")
    c = sqlite3.connect(path)
    c.execute("INSERT INTO division VALUES ('640000', '宁夏', 'Ningxia', 'region', NULL)")
    c.execute(
        "INSERT INTO process_definition (id, process_id, version, content_hash, name, source_file, "
        "bpmn_xml, spec_json, forms, task_meta, deployed_at, active) "
        "VALUES (1, 'share_request', 1, 'h', 'n', 'f', '<x/>', '{}', '{}', '{}', "
        "'2026-09-18 02:00:00', 1)"
    )
    for n, summary in enumerate([{"purpose": "a\x00b\ud800"}, {"purpose": "😀"}], 1):
        c.execute(
            "INSERT INTO process_instance (id, business_key, definition_id, process_id, status, "
            "bindings, summary, state, version, created_at, updated_at) VALUES (?, ?, 1, "
            "'share_request', 'running', '{}', ?, x'00', 1, '2026-09-18', '2026-09-18')",
            (n, f"GX-2026-00000{n}", json.dumps(summary)),
        )
    c.commit()
    c.close()
    upgrade(url)
    c = sqlite3.connect(path)
    rows = [json.loads(s) for (s,) in c.execute("SELECT summary FROM process_instance ORDER BY id")]
    c.close()
    assert rows == [{"purpose": "a\ufffdb\ufffd"}, {"purpose": "😀"}]
