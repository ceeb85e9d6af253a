"""Translatable messages without a web framework.

The engine never formats user-visible text in a fixed language: it returns :class:`Message`
objects (an English msgid plus parameters). The web layer renders them with Flask-Babel; the CLI
renders them with the gettext catalog of ``GOVSHARE_LANG`` (default ``zh_CN``) when one is
compiled under ``web/translations``, else in English.
"""

from __future__ import annotations

import gettext
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

TRANSLATIONS = Path(__file__).resolve().parent.parent / "web" / "translations"


def N_(msgid: str) -> str:
    """Mark a literal for extraction; translated where it is shown."""
    return msgid


@cache
def _catalog(lang: str) -> gettext.NullTranslations:
    return gettext.translation("messages", localedir=TRANSLATIONS, languages=[lang], fallback=True)


# Translated in every catalog as the catalog's own language code ("zh" in zh_CN); untranslated it
# reads "en". A :class:`Label` asks it which of its two texts the reader's gettext wants.
LANGUAGE_PROBE = N_("language:en")


def translate(msgid: str, lang: str | None = None) -> str:
    return _catalog(lang or os.environ.get("GOVSHARE_LANG", "zh_CN")).gettext(msgid)


def _rendered(value: object, gettext_fn: Callable[[str], str] | None) -> object:
    """A parameter in the reader's language: a Message rendered, a list of them joined."""
    if isinstance(value, Message):
        return value.render(gettext_fn)
    if isinstance(value, list | tuple):
        return ", ".join(str(_rendered(v, gettext_fn)) for v in value)
    return value


class Message:
    """A msgid with named parameters, rendered in the reader's language."""

    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params: object) -> None:
        self.msgid = msgid
        self.params = params

    def render(self, gettext_fn: Callable[[str], str] | None = None) -> str:
        text = gettext_fn(self.msgid) if gettext_fn else translate(self.msgid)
        if not self.params:
            return text
        return text % {k: _rendered(v, gettext_fn) for k, v in self.params.items()}

    def __str__(self) -> str:
        return self.render()

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Message):
            return (self.msgid, self.params) == (other.msgid, other.params)
        if isinstance(other, str):
            return str(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.msgid)

    def to_dict(self) -> dict:
        return {
            "msgid": self.msgid,
            "params": {k: str(v) for k, v in self.params.items()},
            "text": str(self),
        }


class Label(Message):
    """A label written in both languages where it is defined (a form field's ``title`` and
    ``x-title-en``, a department's ``name`` and ``name_en``), rendered like a :class:`Message`:
    English for an English reader, else Chinese. An empty English text falls back to Chinese."""

    __slots__ = ("en",)

    def __init__(self, zh: str, en: str | None = None) -> None:
        super().__init__(zh)
        self.en = en or zh

    @property
    def zh(self) -> str:
        """The Chinese text (the one stored as ``msgid``)."""
        return self.msgid

    def render(self, gettext_fn: Callable[[str], str] | None = None) -> str:
        probe = gettext_fn(LANGUAGE_PROBE) if gettext_fn else translate(LANGUAGE_PROBE)
        return self.en if probe == LANGUAGE_PROBE else self.msgid

    def __repr__(self) -> str:
        return f"Label({self.msgid!r}, {self.en!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Label):
            return (self.msgid, self.en) == (other.msgid, other.en)
        return super().__eq__(other)

    def __hash__(self) -> int:
        return hash(self.msgid)
