"""gunicorn settings for the govshare web app (docs/performance.md, "Running under gunicorn").

    gunicorn -c deploy/gunicorn.conf.py 'web:create_app()'

Every setting comes from the environment, so one file serves every host:

- ``GOVSHARE_WEB_WORKERS``: worker processes (default: twice the CPU cores);
- ``GOVSHARE_WEB_BIND``: address to listen on (default ``127.0.0.1:8000``: loopback, behind the
  reverse proxy of docs/security.md);
- ``GOVSHARE_WEB_TIMEOUT``: seconds a request may take before its worker is restarted (60);
- ``GOVSHARE_WEB_PRELOAD=1``: import and build the app once in the master before forking.

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
workers = _count("GOVSHARE_WEB_WORKERS", 2 * multiprocessing.cpu_count())
threads = _count("GOVSHARE_WEB_THREADS", 1)
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
