"""Renderers: pure functions of a `kdoctor.report.Report`, one per output format.

Only this package knows glyphs and colours, and only the ``rich`` format imports Rich.
"""

from __future__ import annotations

import codecs
import contextlib
import os
from typing import TextIO

from kdoctor.report import Report

__all__ = ["FORMATS", "render", "resolve_width"]

FORMATS = ("rich", "text", "json", "junit", "markdown")


def resolve_width(out: TextIO, width: int | None = None) -> int:
    """`width` if given, else the terminal's width when `out` is one, else 100 columns."""
    # lazy: the text layout (kdoctor.render.common) is for the formats that wrap, not for -o json
    from kdoctor.render.common import DEFAULT_WIDTH, MIN_WIDTH, TERMINAL_FALLBACK_WIDTH

    if width is not None:
        return max(width, MIN_WIDTH)
    try:
        if out.isatty():
            columns = os.get_terminal_size(out.fileno()).columns
            # A terminal that reports no width (a serial console, some CI runners) gets 80 columns.
            return max(columns, MIN_WIDTH) if columns > 0 else TERMINAL_FALLBACK_WIDTH
    except (AttributeError, OSError, ValueError):
        pass
    return DEFAULT_WIDTH


def _encoding(out: TextIO) -> str | None:
    encoding = getattr(out, "encoding", None)
    return encoding if isinstance(encoding, str) and encoding else None


def _is_utf(encoding: str | None) -> bool:
    if encoding is None:
        return True
    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def _write(out: TextIO, text: str, errors: str) -> None:
    """Write `text` so that the stream's encoding cannot raise halfway through the report."""
    encoding = _encoding(out)
    if not _is_utf(encoding):
        assert encoding is not None
        with contextlib.suppress(LookupError):
            text = text.encode(encoding, errors).decode(encoding)
    out.write(text)


def render(report: Report, fmt: str, out: TextIO, *, width: int | None = None, verbose: bool = False) -> None:
    """Write `report` to `out` in format `fmt` (one of `FORMATS`).

    `width` is the wrapping width for ``rich`` and ``text`` (default: the terminal's, or 100
    when `out` is not a terminal). `verbose` shows every check in ``rich`` and ``text`` (the
    default is compact); the other formats are documents and always hold everything. Raises
    ValueError for an unknown format.
    """
    if fmt == "rich":
        from kdoctor.render.rich_render import write_rich

        write_rich(report, out, width=width, verbose=verbose)
    elif fmt == "text":
        from kdoctor.render.common import glyphs_for
        from kdoctor.render.text import render_text

        glyphs = glyphs_for(_encoding(out))
        _write(
            out,
            render_text(report, width=resolve_width(out, width), glyphs=glyphs, verbose=verbose),
            "replace",
        )
    elif fmt == "json":
        from kdoctor.render.json_render import render_json

        # \u escapes keep the document lossless on a stream that cannot encode the text itself.
        out.write(render_json(report, ascii_only=not _is_utf(_encoding(out))))
    elif fmt == "junit":
        from kdoctor.render.junit import render_junit

        text = render_junit(report)
        if not _is_utf(_encoding(out)):
            # Character references keep the document true to its UTF-8 declaration.
            text = text.encode("ascii", "xmlcharrefreplace").decode("ascii")
        out.write(text)
    elif fmt == "markdown":
        from kdoctor.render.markdown import render_markdown

        _write(out, render_markdown(report), "replace")
    else:
        raise ValueError(f"unknown output format {fmt!r}; expected one of {', '.join(FORMATS)}")
