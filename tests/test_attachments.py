"""Attachments: the content must match the extension, downloads are never sniffed, and files a
killed upload left behind are swept by the worker."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.audit import AuditEvent
from engine.errors import ValidationFailed
from engine.sharing import requests as share_requests
from engine.workflow import attachments
from engine.workflow.models import Attachment, HumanTask
from engine.workflow.timers import run_worker
from tests.conftest import HUKOU
from tests.test_web import Browser, app  # noqa: F401

HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"


def package(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in names:
            z.writestr(name, "<x/>")
    return out.getvalue()


DOCX = package("[Content_Types].xml", "word/document.xml")
XLSX = package("[Content_Types].xml", "xl/workbook.xml")
OFD = package("OFD.xml", "Doc_0/Document.xml")
GOOD = {
    "scan.pdf": b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n",
    "seal.ofd": OFD,
    "photo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "photo.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF",
    "photo.jpeg": b"\xff\xd8\xff\xe1\x00\x10Exif",
    "letter.docx": DOCX,
    "table.xlsx": XLSX,
    "note.txt": "说明：已核实".encode(),
    "note-gbk.txt": "说明：已核实".encode("gb18030"),
}
BAD = {
    "scan.pdf": HTML,
    "seal.ofd": DOCX,
    "photo.png": HTML,
    "photo.jpg": b"GIF89a",
    "letter.docx": XLSX,
    "table.xlsx": DOCX,
    "renamed.docx": b"PK\x03\x04 not really a zip",
    "note.txt": b"MZ\x90\x00\x03\x00\x00\x00",
}


@pytest.mark.parametrize("name", sorted(GOOD))
def test_content_that_matches_its_extension_is_accepted(name):
    attachments.check_content(name, GOOD[name])


@pytest.mark.parametrize("name", sorted(BAD))
def test_content_that_does_not_match_its_extension_is_refused_naming_the_file(name):
    with pytest.raises(ValidationFailed) as refused:
        attachments.check_content(name, BAD[name])
    assert name in str(refused.value.message)


def test_html_uploaded_as_pdf_is_refused_and_nothing_is_written(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    r = Browser(app, "pubsec.clerk").post(
        f"/tasks/{task_id}",
        {
            "review_decision": "refuse",
            "review_reason": "超出低保核定所需范围",
            "attachments": (io.BytesIO(HTML), "说明.pdf"),
        },
        page=f"/tasks/{task_id}",
        content_type="multipart/form-data",
    )
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "说明.pdf" in html and "PDF" in html
    assert actors.run(lambda s: s.get(HumanTask, task_id).state) == "open"
    assert actors.run(lambda s: s.scalar(select(func.count()).select_from(Attachment))) == 0
    folder = app.config["ATTACHMENT_DIR"]
    assert not os.path.isdir(folder) or os.listdir(folder) == []


def test_a_download_is_an_attachment_the_browser_never_sniffs(app, actors):  # noqa: F811
    key = actors.request("civil.clerk", **HUKOU)
    task_id = actors.open_task(key, "provider_review")
    Browser(app, "pubsec.clerk").post(
        f"/tasks/{task_id}",
        {
            "review_decision": "refuse",
            "review_reason": "超出低保核定所需范围",
            "attachments": (io.BytesIO(GOOD["note.txt"]), "说明.txt"),
        },
        page=f"/tasks/{task_id}",
        content_type="multipart/form-data",
    )
    att_id = actors.run(lambda s: s.scalar(select(Attachment.id)))
    got = Browser(app, "civil.clerk").get(f"/tasks/attachments/{att_id}")
    assert got.status_code == 200 and got.data == GOOD["note.txt"]
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"].startswith("attachment;")


def age(path, clock, hours):
    when = (clock.now() - timedelta(hours=hours)).timestamp()
    os.utime(path, (when, when))


@pytest.fixture
def folder(tmp_path, actors, clock):
    """An attachment directory with one stored (referenced) file, two days old."""
    key = actors.request("civil.clerk", **HUKOU)

    def go(s):
        inst = share_requests.instance_by_key(s, key)
        user = actors.user(s, "civil.clerk")
        attachments.store(
            s,
            clock,
            str(tmp_path),
            inst.id,
            None,
            user.id,
            "scan.pdf",
            "",
            io.BytesIO(GOOD["scan.pdf"]),
        )
        return hashlib.sha256(GOOD["scan.pdf"]).hexdigest()

    kept = actors.run(go)
    age(tmp_path / kept, clock, 48)
    return tmp_path, kept


def orphan(folder, clock, content: bytes, hours: float, suffix: str = "") -> str:
    name = hashlib.sha256(content).hexdigest() + suffix
    (folder / name).write_bytes(content)
    age(folder / name, clock, hours)
    return name


def test_orphans_older_than_the_grace_period_are_swept_and_audited(folder, actors, clock):
    path, kept = folder
    old = orphan(path, clock, b"killed upload", 25)
    part = orphan(path, clock, b"half written", 30, ".123.part")
    fresh = orphan(path, clock, b"upload in progress", 1)
    (path / "README").write_text("not ours")
    age(path / "README", clock, 1000)
    removed = actors.run(lambda s: attachments.sweep_orphans(s, clock, str(path)))
    assert sorted(removed) == sorted([old, part])
    assert sorted(os.listdir(path)) == sorted([kept, fresh, "README", attachments.SWEEP_MARK])
    event = actors.run(
        lambda s: s.scalars(
            select(AuditEvent).where(AuditEvent.kind == "attachments.orphans_removed")
        ).one()
    )
    assert sorted(event.detail["files"]) == sorted([old, part]) and event.at == clock.now()


def test_the_sweep_runs_at_most_once_an_hour(folder, actors, clock):
    path, _kept = folder
    actors.run(lambda s: attachments.sweep_orphans(s, clock, str(path)))
    late = orphan(path, clock, b"killed later", 30)
    clock.advance(minutes=30)
    assert actors.run(lambda s: attachments.sweep_orphans(s, clock, str(path))) == []
    clock.advance(minutes=31)
    assert actors.run(lambda s: attachments.sweep_orphans(s, clock, str(path))) == [late]


def test_storing_content_again_protects_its_file_from_a_concurrent_sweep(folder, actors, clock):
    """A second upload of an unreferenced old file refreshes it before its row commits."""
    path, _kept = folder
    name = orphan(path, clock, GOOD["note.txt"], 48)

    def upload_again(s):
        inst_id = s.scalar(select(Attachment.instance_id))
        attachments.store(
            s, clock, str(path), inst_id, None, 1, "a.txt", "", io.BytesIO(GOOD["note.txt"])
        )
        return attachments.sweep_orphans(s, clock, str(path), force=True)  # before the commit

    assert actors.run(upload_again) == [] and (path / name).exists()


def test_the_worker_sweeps_the_attachment_directory(monkeypatch, tmp_path, session_factory, clock):
    folder = tmp_path / "attachments"
    folder.mkdir()
    monkeypatch.setenv("GOVSHARE_INSTANCE", str(tmp_path))
    name = orphan(folder, clock, b"killed upload", 25)
    run_worker(session_factory, clock, once=True)
    assert not (folder / name).exists()
