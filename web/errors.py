"""Error pages: 400 (incl. a missing CSRF token), 403, 404, 409 and server errors, in the reader's language."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, abort, current_app, jsonify, render_template, request
from flask_babel import gettext, lazy_gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import Forbidden, GovshareError, NotFound

from . import db
from .openapi import operation_of
from .templating import render_message

log = logging.getLogger("govshare.web")
TITLES = {
    400: lazy_gettext("The request could not be processed"),
    401: lazy_gettext("Please sign in"),
    403: lazy_gettext("You may not see or do this"),
    404: lazy_gettext("Not found"),
    409: lazy_gettext("Someone else was faster"),
    413: lazy_gettext("The upload is too large"),
    422: lazy_gettext("The input is not valid"),
    500: lazy_gettext("Something went wrong on our side"),
}


P = ParamSpec("P")
T = TypeVar("T")


def lookup(find: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Call the service that finds what a page shows: a record that does not exist, or that the
    user may not see, gives the plain 404 or 403 page, as an unknown address does."""
    try:
        return find(*args, **kwargs)
    except (NotFound, Forbidden) as err:
        abort(err.http_status)


def _page(status: int, message: str, details=None):
    view = current_app.view_functions.get(request.endpoint or "")
    if request.path.startswith("/api/") or operation_of(view) is not None:
        return jsonify(
            {"error": TITLES.get(status, ""), "message": message, "details": details or []}
        ), status
    return render_template(
        "error.html",
        status=status,
        title=TITLES.get(status, TITLES[500]),
        message=message,
        details=details or [],
    ), status


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(err):
        return _page(
            400,
            gettext(
                "The form was not accepted because its security token is missing or expired. Reload the page and try again."
            ),
        )

    @app.errorhandler(GovshareError)
    def _govshare(err: GovshareError):
        db.session.rollback()
        details = [
            {k: render_message(v) for k, v in d.items()}
            if isinstance(d, dict)
            else render_message(d)
            for d in err.details
        ]
        return _page(err.http_status, err.message.render(gettext), details)

    @app.errorhandler(HTTPException)
    def _http(err: HTTPException):
        forbidden = (
            gettext(
                "This page is for administrators. If you need it, ask your system administrator."
            )
            if request.path.startswith("/admin/")
            else gettext("This task or request belongs to another department or role.")
        )
        messages = {
            403: forbidden,
            404: gettext("The page or record does not exist."),
        }
        body, status = _page(err.code or 500, messages.get(err.code, err.description or ""))
        # keep what the exception says in headers (Allow on 405, WWW-Authenticate on 401)
        headers = [(k, v) for k, v in err.get_headers() if k.lower() != "content-type"]
        return body, status, headers

    @app.errorhandler(Exception)
    def _server(err: Exception):
        db.session.rollback()
        log.exception("unhandled error on %s", request.path)
        return _page(
            500,
            gettext(
                "The error was logged. Nothing of this action was saved; please try again later."
            ),
        )
