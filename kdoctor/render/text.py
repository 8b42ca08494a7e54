"""The plain-text report: the Rich layout without colour, for pipes, CI logs and NO_COLOR."""

from __future__ import annotations

from kdoctor.render.common import DEFAULT_WIDTH, UNICODE_GLYPHS, Glyphs, report_lines
from kdoctor.report import Report


def render_text(report: Report, *, width: int = DEFAULT_WIDTH, glyphs: Glyphs = UNICODE_GLYPHS) -> str:
    """One line per check grouped by family, hints under non-passing checks, a final count line."""
    lines = report_lines(report, width, glyphs)
    return "".join("".join(span.text for span in line).rstrip() + "\n" for line in lines)
