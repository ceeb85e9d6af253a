"""Errors the services raise; each carries a translatable message naming what is wrong."""

from __future__ import annotations

from collections.abc import Callable
from typing import NotRequired, TypedDict

from engine.i18n import Message


class FieldProblem(TypedDict):
    """One of a :class:`ValidationFailed`'s details: the field (by name, and by the label people
    see where the input boundary knows it) and what is wrong with it."""

    field: str
    message: Message | str
    label: NotRequired[Message | str]


class GovshareError(Exception):
    """Base class: ``message`` is shown to the user, ``details`` lists specifics (fields, elements)."""

    http_status = 400

    def __init__(self, message: Message | str, details: list | None = None) -> None:
        self.message = message if isinstance(message, Message) else Message(message)
        self.details = details or []
        super().__init__(str(self.message))

    def to_dict(self, gettext_fn: Callable[[str], str] | None = None) -> dict:
        """The error as JSON data, in the reader's language (``gettext_fn``; else the server's)."""
        return {
            "error": type(self).__name__,
            "message": self.message.render(gettext_fn),
            "details": [_render_detail(d, gettext_fn) for d in self.details],
        }


class NotFound(GovshareError):
    http_status = 404


class ValidationFailed(GovshareError):
    http_status = 422


class Conflict(GovshareError):
    """A concurrent action won the race; nothing of this one was applied."""

    http_status = 409


class Forbidden(GovshareError):
    http_status = 403


class ProcessFailed(GovshareError):
    """A process failed in a way the person acting cannot fix; an administrator must."""

    http_status = 503


class DeploymentError(GovshareError):
    http_status = 422


def _render_detail(detail: object, gettext_fn: Callable[[str], str] | None = None) -> object:
    if isinstance(detail, dict):
        return {k: v.render(gettext_fn) if isinstance(v, Message) else v for k, v in detail.items()}
    return detail.render(gettext_fn) if isinstance(detail, Message) else str(detail)
