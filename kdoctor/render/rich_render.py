"""The Rich report: the same lines as the text renderer, coloured by status.

Named so that it does not shadow the `rich` library; imported only when ``-o rich`` is chosen.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.style import Style
from rich.text import Text

from kdoctor.render.common import DEFAULT_WIDTH, MIN_WIDTH, TERMINAL_FALLBACK_WIDTH, glyphs_for, report_lines
from kdoctor.report import Report

#: Semantic style names of the layout → Rich styles.
STYLES: dict[str, Style] = {
    "pass": Style(color="green"),
    "warn": Style(color="yellow"),
    "fail": Style(color="red", bold=True),
    "skip": Style(dim=True),
    "error": Style(color="magenta", bold=True),
    "warn-id": Style(color="yellow"),
    "fail-id": Style(color="red"),
    "skip-id": Style(dim=True),
    "error-id": Style(color="magenta"),
    "target": Style(bold=True, underline=True),
    "family": Style(bold=True),
    "hint": Style(color="cyan"),
    "dim": Style(dim=True),
    "plugin": Style(color="magenta"),
    "counts": Style(bold=True),
    "headline": Style(bold=True),
}


def render_rich(report: Report, console: Console, *, verbose: bool = False) -> None:
    """Print the report on `console`, laid out for its width."""
    glyphs = glyphs_for(console.encoding)
    for line in report_lines(report, console.width, glyphs, verbose=verbose):
        text = Text(no_wrap=True, end="\n")
        for span in line:
            text.append(span.text, STYLES.get(span.style))
        text.rstrip()
        # The layout has wrapped already; Rich must neither re-wrap nor crop.
        console.print(text, soft_wrap=True, highlight=False)


def write_rich(report: Report, out: TextIO, *, width: int | None = None, verbose: bool = False) -> None:
    """Print the report on `out` through a Console of our own; colour follows the stream.

    Rich decides colour itself (a TTY, ``NO_COLOR``, ``TERM=dumb``); on a non-terminal stream
    the width defaults to 100 columns.
    """
    console = Console(file=out, highlight=False, emoji=False, markup=False)
    if width is None and not console.is_terminal:
        width = DEFAULT_WIDTH
    if width is None and console.is_terminal and console.size.width <= 0:
        width = TERMINAL_FALLBACK_WIDTH
    if width is not None:
        console.width = max(width, MIN_WIDTH)
    render_rich(report, console, verbose=verbose)
