"""The CJK font the PDF documents embed (the annual report, the signed decisions), found on the server.

reportlab embeds TrueType-outline fonts only (``glyf``; a font with CFF outlines such as Noto Sans
CJK is refused), so the PDF uses a TrueType CJK font installed by the project's own set-up:
Debian's ``fonts-wqy-microhei`` (``make demo`` and ``make test`` install it, see the Makefile's
``pdffont`` target), else ``fonts-wqy-zenhei``. ``GOVSHARE_PDF_FONT`` names another file:
``/path/font.ttf``, or ``/path/fonts.ttc#N`` for the N-th font of a collection (default 0).

Without any of them the PDF is still produced, with the Adobe CJK font STSong-Light that PDF
readers supply (nothing embedded: a reader without Adobe's Asian font pack shows boxes), and a
warning names the package to install. The choice is made once per process and setting.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from functools import lru_cache

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger("govshare.pdf")

ENV = "GOVSHARE_PDF_FONT"
# (file, font of the collection): Debian's TrueType CJK fonts, the first found is used
KNOWN: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
)
FALLBACK = "STSong-Light"  # an Adobe CJK font the reader provides; not embedded
INSTALL_HINT = "apt-get install fonts-wqy-microhei (or set GOVSHARE_PDF_FONT to a TrueType font)"


@dataclass(frozen=True)
class PdfFont:
    """The font registered with reportlab under ``name``."""

    name: str
    path: str | None  # the embedded file; None for the reader-supplied fallback
    embedded: bool


def _parse(setting: str) -> tuple[str, int]:
    path, _, index = setting.partition("#")
    return path, int(index) if index.strip().isdigit() else 0


def _register(path: str, index: int) -> PdfFont | None:
    """Register the TrueType font at ``path`` (font ``index`` of a collection), or None if the
    file is missing or not a TrueType-outline font reportlab can embed."""
    if not os.path.isfile(path):
        return None
    name = f"GovshareCJK-{os.path.basename(path)}-{index}"
    try:
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    except Exception as exc:  # reportlab raises TTFError and others for unusable files
        log.warning("PDF font %s (font %d) cannot be embedded: %s", path, index, exc)
        return None
    return PdfFont(name, path, True)


@lru_cache(maxsize=4)
def _font(setting: str) -> PdfFont:
    candidates = list(KNOWN)
    if setting:
        candidates.insert(0, _parse(setting))
    for path, index in candidates:
        font = _register(path, index)
        if font is not None:
            return font
        if setting and (path, index) == _parse(setting):
            log.warning("%s=%s: no usable TrueType font there", ENV, setting)
    log.warning(
        "No TrueType CJK font found (%s): PDF documents use %s, which is not embedded and "
        "shows only in readers that supply it. Install one: %s",
        ", ".join(p for p, _ in KNOWN),
        FALLBACK,
        INSTALL_HINT,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
    return PdfFont(FALLBACK, None, False)


def pdf_font() -> PdfFont:
    """The CJK font for PDF documents (``GOVSHARE_PDF_FONT``, else the first known font found,
    else the non-embedded fallback), registered with reportlab."""
    return _font(os.environ.get(ENV, "").strip())
