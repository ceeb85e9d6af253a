"""Back up and restore a whole installation: the database and the attachment files, in one file.

A backup is a tar archive holding ``manifest.json`` (format, database kind, when it was taken,
the rows of every table, the number of attachments), the database and ``attachments/<sha256>``:

* SQLite: ``database.sqlite3``, a consistent copy made with SQLite's online backup API while the
  application runs (readers and writers carry on);
* PostgreSQL: ``database.pgdump``, made by ``pg_dump -Fc`` (one consistent snapshot) and read back
  by ``pg_restore``; both come with the PostgreSQL client tools (``postgresql-client``), whose
  version must be at least the server's.

Restore refuses a database that holds any rows unless ``force`` (it then replaces everything),
refuses a backup of the other database kind, checks afterwards that every table holds the rows
the manifest lists, copies back the attachment files that are missing and records an audit event
``database.restored`` in the restored database.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, inspect, make_url, pool, select, text
from sqlalchemy import func as sql_func
from sqlalchemy.orm import Session

from engine import audit
from engine.clock import Clock
from engine.db import default_url, make_engine, normalize_url
from engine.errors import Conflict, GovshareError, ValidationFailed
from engine.i18n import Message
from engine.workflow import business_keys
from engine.workflow.attachments import default_directory

FORMAT = 1
DUMPS = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_ATTACHMENT = re.compile(r"attachments/([0-9a-f]{64})")
SKIP_TABLES = {"alembic_version"}  # not data: whether a database "holds data" ignores it


class ToolFailed(GovshareError):
    """``pg_dump`` or ``pg_restore`` is missing or failed (the message carries its output)."""


@dataclass(frozen=True)
class Summary:
    """What a backup holds: the database kind, when it was taken, rows per table, files."""

    dialect: str
    taken_at: str
    tables: dict[str, int]
    attachments: int

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def table_rows(database: Engine | Connection) -> dict[str, int]:
    """The number of rows of every table of the database (its schema as it is, not as expected)."""
    if isinstance(database, Engine):
        with database.connect() as conn:
            return table_rows(conn)
    names = sorted(set(inspect(database).get_table_names()) - SKIP_TABLES)
    meta = MetaData()
    meta.reflect(database, only=names)
    return {
        name: int(database.scalar(select(sql_func.count()).select_from(meta.tables[name])) or 0)
        for name in names
    }


def backup(
    clock: Clock, target: Path, url: str | None = None, attachments: str | None = None
) -> Summary:
    """Write a backup of the database at ``url`` and of the attachment directory to ``target``
    (written aside and renamed, so ``target`` is complete or absent). The rows the manifest
    counts are those of the copy: the SQLite copy itself, PostgreSQL's exported snapshot."""
    url = normalize_url(url or default_url())
    database = make_engine(url, poolclass=pool.NullPool)
    dialect = database.dialect.name
    folder = Path(attachments or default_directory())
    files = sorted(p for p in folder.glob("*") if re.fullmatch(r"[0-9a-f]{64}", p.name))
    with tempfile.TemporaryDirectory() as scratch:
        dump = Path(scratch) / DUMPS[dialect]
        if dialect == "sqlite":
            _sqlite_copy(str(make_url(url).database), dump)
            copy = make_engine(f"sqlite:///{dump}", poolclass=pool.NullPool)
            rows = table_rows(copy)
            copy.dispose()
        else:
            with database.connect() as conn:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    snapshot = conn.scalar(text("SELECT pg_export_snapshot()"))
                    rows = table_rows(conn)
                    _run(
                        ["pg_dump", "-Fc", "--no-owner", "--no-privileges"]
                        + [f"--snapshot={snapshot}", "-f", str(dump)],
                        url,
                    )
        database.dispose()
        summary = Summary(dialect, clock.now().isoformat(), rows, len(files))
        partial = target.with_name(target.name + ".part")
        with tarfile.open(partial, "w") as archive:
            _add_bytes(archive, "manifest.json", _manifest(summary))
            archive.add(dump, DUMPS[dialect])
            for path in files:
                archive.add(path, f"attachments/{path.name}")
        os.replace(partial, target)
    return summary


def restore(
    clock: Clock,
    source: Path,
    url: str | None = None,
    attachments: str | None = None,
    force: bool = False,
) -> Summary:
    """Restore the backup ``source`` into the database at ``url`` and the attachment directory."""
    url = normalize_url(url or default_url())
    database = make_engine(url, poolclass=pool.NullPool)
    dialect = database.dialect.name
    with tarfile.open(source, "r") as archive:
        summary = _read_manifest(archive, source)
        if summary.dialect != dialect:
            raise ValidationFailed(
                Message(
                    "%(file)s is a backup of a %(kind)s database; restore it into one of that kind.",
                    file=str(source),
                    kind=summary.dialect,
                )
            )
        held = {t: n for t, n in table_rows(database).items() if n}
        if held and not force:
            raise Conflict(
                Message(
                    "The database holds %(rows)s rows in %(tables)s tables; restoring replaces "
                    "them all, so give --force if that is what you want.",
                    rows=sum(held.values()),
                    tables=len(held),
                )
            )
        with tempfile.TemporaryDirectory() as scratch:
            dump = Path(scratch) / DUMPS[dialect]
            _extract(archive, DUMPS[dialect], dump)
            database.dispose()
            if dialect == "sqlite":
                _sqlite_copy(str(dump), Path(str(make_url(url).database)))
            else:
                _drop_everything(database)
                _run(
                    ["pg_restore", "--no-owner", "--no-privileges", "--single-transaction"]
                    + ["--exit-on-error", "-d", "{url}", str(dump)],
                    url,
                )
        _restore_files(archive, Path(attachments or default_directory()))
    business_keys.forget()  # the year's sequences are the backup's now (or missing)
    _check_rows(database, summary)
    with Session(database) as session, session.begin():
        audit.record(
            session,
            clock.now(),
            "database.restored",
            object_type="database",
            object_ref=dialect,
            backup=source.name,
            taken_at=summary.taken_at,
            rows=summary.rows,
            attachments=summary.attachments,
        )
    database.dispose()
    return summary


def _sqlite_copy(source: str, target: Path) -> None:
    """Copy an SQLite database page by page (consistent even while others write the source)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def _run(command: list[str], url: str) -> None:
    """Run a PostgreSQL client tool against ``url`` (password in the environment, not argv)."""
    parsed = make_url(url)
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string()
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    argv = [conninfo if a == "{url}" else a for a in command]
    if "-d" not in command:
        argv.append(conninfo)
    if shutil.which(argv[0]) is None:
        raise ToolFailed(
            Message(
                "%(tool)s is not installed (PostgreSQL client tools, e.g. apt-get install "
                "postgresql-client).",
                tool=argv[0],
            )
        )
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ToolFailed(
            Message("%(tool)s failed: %(err)s", tool=argv[0], err=done.stderr.strip()[-2000:])
        )


def _drop_everything(database: Engine) -> None:
    meta = MetaData()
    meta.reflect(database)
    meta.drop_all(database)
    if database.dialect.name == "postgresql":  # sequences of no table: the business keys'
        with database.begin() as conn:
            for name in conn.scalars(
                text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
            ):
                conn.execute(text(f'DROP SEQUENCE IF EXISTS "{name}"'))


def _manifest(summary: Summary) -> bytes:
    return json.dumps(
        {
            "format": FORMAT,
            "dialect": summary.dialect,
            "taken_at": summary.taken_at,
            "tables": summary.tables,
            "attachments": summary.attachments,
        },
        indent=1,
    ).encode()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def _read_manifest(archive: tarfile.TarFile, source: Path) -> Summary:
    try:
        member = archive.extractfile("manifest.json")
        data = json.loads(member.read()) if member else {}
    except (KeyError, ValueError):
        data = {}
    if data.get("format") != FORMAT or data.get("dialect") not in DUMPS:
        raise ValidationFailed(
            Message("%(file)s is not a govshare backup.", file=str(source)),
            [{"field": "FILE", "message": Message("no manifest of format %(f)s", f=FORMAT)}],
        )
    return Summary(data["dialect"], data["taken_at"], dict(data["tables"]), data["attachments"])


def _extract(archive: tarfile.TarFile, name: str, target: Path) -> None:
    member = archive.extractfile(name)
    if member is None:
        raise ValidationFailed(Message("The backup lacks %(name)s.", name=name))
    with open(target, "wb") as out:
        shutil.copyfileobj(member, out)


def _restore_files(archive: tarfile.TarFile, folder: Path) -> None:
    """Copy back the attachment files that are missing (content-addressed: a present file with
    that name holds that content)."""
    folder.mkdir(parents=True, exist_ok=True)
    for member in archive.getmembers():
        match = _ATTACHMENT.fullmatch(member.name)
        if not match or not member.isfile() or (folder / match.group(1)).exists():
            continue
        part = folder / f"{match.group(1)}.{os.getpid()}.part"
        _extract(archive, member.name, part)
        os.replace(part, folder / match.group(1))


def _check_rows(database: Engine, summary: Summary) -> None:
    found = table_rows(database)
    wrong = [
        {"field": t, "message": Message("%(found)s rows, expected %(n)s", found=found.get(t), n=n)}
        for t, n in summary.tables.items()
        if found.get(t) != n
    ]
    if wrong:
        raise ValidationFailed(
            Message("The restored database differs from the backup's manifest."), wrong
        )
