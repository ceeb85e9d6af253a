"""gunicorn settings for the govshare web app (docs/performance.md, "Running under gunicorn").

    gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'

Every setting comes from the environment, so one file serves every host:

- ``GOVSHARE_WEB_WORKERS``: worker processes (default: one per CPU core);
- ``GOVSHARE_WEB_THREADS``: threads per worker (default 4; more than one runs gunicorn's
  ``gthread`` workers, 1 its ``sync`` workers);
- ``GOVSHARE_WEB_BIND``: address to listen on (default ``127.0.0.1:8000``: loopback, behind the
  reverse proxy of docs/security.md);
- ``GOVSHARE_WEB_TIMEOUT``: seconds a request may take before its worker is restarted (60);
- ``GOVSHARE_WEB_PRELOAD=1``: import and build the app once in the master before forking.

A worker count, thread count or timeout that is not a whole number of at least 1 stops gunicorn
with one line naming the variable.

Why one process per core with 4 threads each (measured with bench/http_load.py on 2 cores,
PostgreSQL, docs/performance.md): a request is CPU-bound Python (4–6 ms for a grant check,
about 50 ms of app CPU for a start, a read and a completion) with short waits on the database in
between. Processes beyond the cores only take turns on them; threads fill a worker's waits on the
database without another copy of the app, and keep a client's connection open between its
requests (``keepalive``; gunicorn's ``sync`` workers close every connection). In two runs side by
side, 2 workers × 4 threads served 2.0–3.7× the flows and 1.0–10× the grant checks of 4 ``sync``
workers (the earlier default: twice the cores), and 5 ``sync`` workers (twice the cores plus
one) did no better than 4. The machine was shared (load average 5–10), hence the spread.
The app is thread-safe: the demo server (``python -m web``) serves it with threads, each
request has its own session, and on SQLite a process's writers queue at its write gate
(engine/db.py).

Preloading is fork-safe: ``create_app()`` opens no database connection, and every worker
disposes of the engines it inherited right after the fork (``post_fork``), so no two processes
ever share a pooled connection.
"""

from __future__ import annotations

import multiprocessing
import os


def _count(name: str, default: int, least: int = 1) -> int:
    """A whole-number setting from the environment; a bad value stops gunicorn with one line
    naming the variable, not a traceback."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = least - 1
    if value < least:
        raise SystemExit(f"{name}={raw!r}: a whole number of at least {least} is needed")
    return value


bind = os.environ.get("GOVSHARE_WEB_BIND", "127.0.0.1:8000")
workers = _count("GOVSHARE_WEB_WORKERS", multiprocessing.cpu_count())
threads = _count("GOVSHARE_WEB_THREADS", 4)  # > 1: gunicorn runs gthread workers
timeout = _count("GOVSHARE_WEB_TIMEOUT", 60)
preload_app = os.environ.get("GOVSHARE_WEB_PRELOAD", "0") == "1"
accesslog = os.environ.get("GOVSHARE_WEB_ACCESS_LOG") or None
errorlog = "-"
keepalive = 5


def post_fork(server, worker):
    """Drop the connections a preloaded app's engines may hold from the master: each worker
    opens its own (``dispose(close=False)`` leaves the parent's sockets alone)."""
    app = getattr(server.app, "callable", None) if preload_app else None
    if app is None:
        return
    from web import db

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
