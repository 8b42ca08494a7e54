"""The JSON report: exactly `Report.to_json_dict()` (the versioned contract), pretty-printed."""

from __future__ import annotations

import json
from typing import Any

from kdoctor.report import Report


def _fallback(value: Any) -> Any:
    # A third-party check may put a Path or a set in its details; print it rather than lose the run.
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value, key=str) if isinstance(value, (set, frozenset)) else list(value)
    return str(value)


def render_json(report: Report, *, ascii_only: bool = False) -> str:
    """The report as a JSON document plus a trailing newline.

    `ascii_only` escapes non-ASCII characters, for streams that cannot encode them; the parsed
    document is the same.
    """
    document = report.to_json_dict()
    text = json.dumps(document, indent=2, ensure_ascii=ascii_only, default=_fallback) + "\n"
    if not ascii_only:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            # A lone surrogate (an undecodable file name) cannot be written as UTF-8; escaped it can.
            text = json.dumps(document, indent=2, ensure_ascii=True, default=_fallback) + "\n"
    return text
