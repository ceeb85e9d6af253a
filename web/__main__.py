"""The demo server: the web app on http://127.0.0.1:5000 with the timer worker in a thread.

Production runs the app under a WSGI server and ``govshare worker`` processes instead.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from engine.workflow.timers import run_worker

from . import ENGINE, ConfigurationError, create_app, db


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("spiff").setLevel(logging.WARNING)
    try:
        app = create_app()
    except ConfigurationError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    with app.app_context():
        factory = ENGINE.sessions(db.engine)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker,
        args=(factory, app.config["GOVSHARE_CLOCK"]),
        kwargs={"stop": stop, "interval": 5.0},
        name="timer-worker",
        daemon=True,
    )
    worker.start()
    try:
        app.run(
            host=os.environ.get("GOVSHARE_HOST", "127.0.0.1"),
            port=int(os.environ.get("GOVSHARE_PORT", "5000")),
            use_reloader=False,
        )
    finally:
        stop.set()


if __name__ == "__main__":
    main()
