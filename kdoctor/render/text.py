"""The plain-text report: the Rich layout without colour, for pipes, CI logs and NO_COLOR."""

from __future__ import annotations

from kdoctor.render.common import DEFAULT_WIDTH, UNICODE_GLYPHS, Glyphs, report_lines
from kdoctor.report import Report


def render_text(
    report: Report, *, width: int = DEFAULT_WIDTH, glyphs: Glyphs = UNICODE_GLYPHS, verbose: bool = False
) -> str:
    """Findings in full with their hints, quiet families folded (every check with `verbose`), a count
    line, then the headline: the broken link and its fix."""
    lines = report_lines(report, width, glyphs, verbose=verbose)
    return "".join("".join(span.text for span in line).rstrip() + "\n" for line in lines)
