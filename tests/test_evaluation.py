"""annual_evaluation (art. 17): the year rollover starts every report, due by the end of January,
with reminders; late reports are breaches; the authority compiles the report."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.oversight import evaluation
from engine.oversight.models import Breach
from engine.workflow.deployment import active_definition
from engine.workflow.models import HumanTask, ProcessInstance
from tests.conftest import HUKOU
from tests.test_share_request_process import SCOPE


def definition_of_annual(session):
    return active_definition(session, "annual_evaluation")


def start(actors):
    return actors.run(lambda s: evaluation.start_due_campaigns(s, actors.clock))


def report_task(actors, slug):
    def go(s):
        dept = actors.user(s, f"{slug}.clerk").department_id
        return s.scalar(
            select(HumanTask).where(
                HumanTask.department_id == dept, HumanTask.task_name == "submit_annual_report"
            )
        ).instance.business_key

    return actors.run(go)


def test_the_year_rollover_starts_one_report_per_department_and_city_once(actors, clock):
    clock.set("2026-12-31T23:59:00+08:00")
    assert start(actors) == 0
    clock.set("2027-01-01T00:00:01+08:00")
    n = start(actors)
    units = actors.run(lambda s: len(evaluation.reporting_units(s)))
    assert n == units and units >= 30
    assert start(actors) == 0  # exactly once
    task = actors.run(
        lambda s: s.scalar(select(HumanTask).where(HumanTask.task_name == "submit_annual_report"))
    )
    assert (
        task.due_at.isoformat() == "2027-01-31T16:00:00+00:00"
    )  # 24:00 on 31 January, Beijing time


def test_outside_january_nothing_starts_by_itself(actors, clock):
    clock.set("2027-03-01T09:00:00+08:00")
    assert start(actors) == 0


def test_report_forms_come_pre_filled_with_known_figures(actors, clock):
    key = actors.request("civil.clerk", **HUKOU)
    clock.set("2026-09-22T10:00:00+08:00")
    actors.complete("pubsec.clerk", key, "provider_review", review_decision="approve", **SCOPE)
    clock.set("2027-01-04T09:00:00+08:00")
    start(actors)
    data = actors.run(
        lambda s: s.scalar(
            select(ProcessInstance).where(
                ProcessInstance.business_key == report_task(actors, "pubsec")
            )
        )
    )
    from engine.workflow.runtime import task_data

    row = actors.run(
        lambda s: s.scalar(
            select(HumanTask).where(HumanTask.instance_id == data.id, HumanTask.state == "open")
        )
    )
    d = actors.run(lambda s: task_data(s.get(ProcessInstance, data.id), row.spiff_task_id))
    assert (
        d["figure_requests_received"],
        d["figure_answered_on_time"],
        d["figure_median_days_to_answer"],
    ) == ("1", "1", "3")


def test_reports_on_time_and_late_then_compiled(actors, clock):
    clock.set("2027-01-01T08:00:00+08:00")
    start(actors)
    on_time = report_task(actors, "pubsec")
    actors.complete(
        "pubsec.clerk",
        on_time,
        "submit_annual_report",
        achievements="完成户籍数据共享接口改造",
        requests_received="1",
    )
    clock.set("2027-01-25T00:00:01+08:00")
    actors.sweep()  # reminders
    reminders = actors.run(
        lambda s: s.scalar(
            select(func.count())
            .select_from(ProcessInstance)
            .where(ProcessInstance.process_id == "annual_evaluation")
        )
    )
    assert reminders >= 30
    clock.set("2027-02-01T00:00:01+08:00")
    actors.sweep()
    breaches = actors.run(
        lambda s: s.scalar(
            select(func.count()).select_from(Breach).where(Breach.kind == "annual_report_overdue")
        )
    )
    assert breaches == reminders - 1  # everyone but 公安厅 is late
    late = report_task(actors, "civil")
    actors.complete("civil.clerk", late, "submit_annual_report", achievements="迟报")
    report = actors.run(lambda s: evaluation.compiled(s, 2026))
    by_name = {u["name"]: u for u in report["units"]}
    assert (
        by_name["自治区公安厅"]["on_time"] is True
        and by_name["自治区公安厅"]["report"]["achievements"] == "完成户籍数据共享接口改造"
    )
    assert (
        by_name["自治区民政厅"]["submitted"] is True and by_name["自治区民政厅"]["on_time"] is False
    )
    assert (
        by_name["自治区教育厅"]["submitted"] is False and by_name["自治区教育厅"]["overdue"] is True
    )
    assert "银川市数据共享主管部门" in by_name
    assert by_name["自治区公安厅"]["state"] == "on_time"
    assert by_name["自治区民政厅"]["state"] == "late"
    assert by_name["自治区教育厅"]["state"] == "missing"
    csv_text = actors.run(
        lambda s: evaluation.export_csv(
            evaluation.compiled(s, 2026), definition_of_annual(s).forms["annual_report"]
        )
    )
    assert (
        csv_text.startswith(
            "\ufeffReporting unit,State,Submitted,Submitted on time,Submitted at,Requests sent"
        )
        and "完成户籍数据共享接口改造" in csv_text
    )
    assert "Yes,Yes" in csv_text and "True" not in csv_text and "False" not in csv_text


def test_annual_report_page_and_csv_for_the_authority(actors, clock, db_url):
    from tests.test_web import Browser
    from web import create_app

    clock.set("2027-01-02T08:00:00+08:00")
    start(actors)
    actors.complete(
        "pubsec.clerk",
        report_task(actors, "pubsec"),
        "submit_annual_report",
        achievements="完成接口改造",
    )
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": db_url, "GOVSHARE_CLOCK": clock, "SECRET_KEY": "t"}
    )
    coord = Browser(app, "data.coord")
    html = coord.get("/reports/annual/2026").get_data(as_text=True)
    assert "完成接口改造" in html and "<svg" in html
    csv_zh = coord.get("/reports/annual/2026.csv").get_data(as_text=True)
    assert csv_zh.startswith("\ufeff报送单位,状态,已提交,按时提交,提交时间,发出的共享申请")
    assert ",是,是," in csv_zh and "True" not in csv_zh
    coord.client.set_cookie("lang", "en")
    assert coord.get("/reports/annual/2026.csv").data.startswith("\ufeffReporting unit".encode())
    pdf = coord.get("/reports/annual/2026.pdf")
    assert (
        pdf.status_code == 200
        and pdf.mimetype == "application/pdf"
        and pdf.data.startswith(b"%PDF")
    )
    assert Browser(app, "civil.clerk").get("/reports/annual/2026").status_code == 403
