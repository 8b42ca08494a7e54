"""The Markdown report, for pasting into a ticket: summary tables, then each non-passing check."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kdoctor.core import Status
from kdoctor.render.common import MARKS, clean, counts_text, format_ms, target_counts
from kdoctor.report import CheckResult, Report, TargetReport

# Backslash-escaping every character Markdown could read as syntax keeps a summary literal.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def md_text(text: str) -> str:
    """`text` as literal Markdown inline text; newlines become hard line breaks."""
    escaped = _MD_SPECIAL.sub(r"\\\1", clean(text))
    return escaped.replace("\n", "  \n")


def md_cell(text: str) -> str:
    """`text` as the content of a table cell: escaped, on one line."""
    return _MD_SPECIAL.sub(r"\\\1", clean(text)).replace("\n", "<br>")


def md_code(text: str, *, in_table: bool = False) -> str:
    """`text` as an inline code span whose fence no backtick inside can close."""
    text = clean(text, newlines=False)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") or not text.strip() else text
    code = f"{fence}{padded}{fence}"
    # GFM splits table cells on | before it looks at code spans, so even there it must be escaped.
    return code.replace("|", "\\|") if in_table else code


def _fenced_json(details: Mapping[str, Any]) -> str:
    body = clean(json.dumps(dict(details), indent=2, ensure_ascii=False, default=str))
    longest = max((len(run) for run in re.findall(r"`{3,}", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}json\n{body}\n{fence}"


def _status(status: Status) -> str:
    return f"{MARKS[status]} {status.value}"


def _target_facts(target: TargetReport) -> str:
    facts = [
        ("context", target.context),
        ("cluster", target.cluster),
        ("user", target.user),
        ("server", target.server),
        ("mode", target.mode),
    ]
    shown = [f"{name} {md_code(value)}" for name, value in facts if value]
    return " · ".join([*shown, f"status {_status(target.status)}"])


def _check_section(result: CheckResult) -> list[str]:
    lines = [f"#### {_status(result.status)}: {md_code(result.id)}", ""]
    if result.title:
        lines += [f"*{md_text(result.title)}*", ""]
    lines += [f"**Summary:** {md_text(result.summary)}", ""]
    if result.hint.strip():
        lines += [f"**Hint:** {md_text(result.hint)}", ""]
    if result.details:
        lines += ["**Details:**", "", _fenced_json(result.details), ""]
    return lines


def _has_section(result: CheckResult) -> bool:
    # A skip that only names the dependency that stopped it says all it has in its table row.
    if result.status is Status.SKIP:
        return bool(result.hint.strip() or result.details)
    return result.status is not Status.PASS


def _target_section(target: TargetReport, heading: bool) -> list[str]:
    lines: list[str] = []
    if heading:
        lines += [f"### Target {md_code(target.label)}", ""]
    lines += [_target_facts(target), ""]
    if not target.results:
        return [*lines, "No checks ran.", ""]
    lines += ["| check | status | summary |", "| --- | --- | --- |"]
    for result in target.results:
        lines.append(
            f"| {md_code(result.id, in_table=True)} | {_status(result.status)} | {md_cell(result.summary)} |"
        )
    lines.append("")
    for result in target.results:
        if _has_section(result):
            lines += _check_section(result)
    if target.config:
        lines += ["**Configuration used (secrets redacted):**", "", _fenced_json(target.config), ""]
    return lines


def _targets_table(report: Report) -> list[str]:
    lines = [
        "| target | server | status | pass | warn | fail | skip | error |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for target in report.targets:
        counts = target_counts(target)
        cells = [
            md_code(target.label, in_table=True),
            md_code(target.server, in_table=True) if target.server else "-",
            _status(target.status),
            *(str(counts[key]) for key in ("pass", "warn", "fail", "skip", "error")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]


def render_markdown(report: Report) -> str:
    """The report as GitHub-flavoured Markdown."""
    lines = [
        f"## kdoctor report: {_status(report.status)}",
        "",
        f"- kdoctor version: {md_code(report.kdoctor_version)}",
        f"- started: {md_code(report.started_at)}",
        f"- duration: {format_ms(report.duration_ms)}",
        f"- result: {counts_text(report.summary)}",
        "",
    ]
    several = len(report.targets) > 1
    if several:
        lines += _targets_table(report)
    for target in report.targets:
        lines += _target_section(target, heading=several)
    if report.plugin_errors:
        lines += ["### Plugins that failed to load", ""]
        lines += [f"- {md_code(name)}: {md_text(error)}" for name, error in report.plugin_errors.items()]
        lines.append("")
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n"
