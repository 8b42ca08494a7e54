"""The Markdown report, for pasting into a ticket: summary tables, then each non-passing check."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from kdoctor.core import Status
from kdoctor.render.common import (
    MARKS,
    clean,
    counts_text,
    format_ms,
    headline,
    not_loaded_text,
    target_counts,
)
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


def md_prose(text: str) -> str:
    """Prose whose `backticked` commands render as code spans, everything else literal.

    Text with an unbalanced backtick is all literal: a lone backtick must not swallow the rest.
    """
    pieces = text.split("`")
    if len(pieces) % 2 == 0:
        return md_text(text)
    out = []
    for index, piece in enumerate(pieces):
        if index % 2:
            out.append(md_code(piece) if piece else "")
        else:
            out.append(md_text(piece))
    return "".join(out)


#: What identifies a certificate in a ticket; the rest (keys, SANs, serials, PEM) is left out.
_CERT_FIELDS = ("subject", "issuer", "sha256", "not_before", "not_after")


def _trim_certificates(value: Any) -> Any:
    """`value` with every certificate summary cut to subject, issuer, fingerprint and dates."""
    if isinstance(value, Mapping):
        if "subject" in value and "issuer" in value:
            return {key: value[key] for key in _CERT_FIELDS if key in value}
        return {
            key: _trim_certificates(item)
            for key, item in value.items()
            if not (isinstance(item, str) and "-----BEGIN" in item)
        }
    if isinstance(value, (list, tuple)):
        return [_trim_certificates(item) for item in value]
    return value


def _fenced_json(details: Mapping[str, Any]) -> str:
    body = clean(json.dumps(_trim_certificates(dict(details)), indent=2, ensure_ascii=False, default=str))
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
        lines += [f"**Hint:** {md_prose(result.hint)}", ""]
    if result.details:
        lines += ["**Details:**", "", _fenced_json(result.details), ""]
    return lines


def _has_section(result: CheckResult) -> bool:
    # A skipped check says all it has in its table row.
    return result.status not in (Status.PASS, Status.SKIP)


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


def _root_cause_section(report: Report) -> list[str]:
    """The answer first: each target's broken link and its fix, or that every link works."""
    lines = ["### Root cause", ""]
    several = len(report.targets) > 1
    for target in report.targets:
        lead = f"{md_code(target.label)}: " if several else ""
        root = target.root_cause
        if root is None:
            status, text = headline(target)
            lines += [
                f"- {lead}{MARKS[status]} {md_text(text)}" if several else f"{MARKS[status]} {md_text(text)}"
            ]
            continue
        entry = f"{MARKS[Status.FAIL]} broken link {md_code(root.id)}: {md_text(root.summary)}"
        fix = f"**Fix:** {md_prose(root.hint)}" if root.hint.strip() else ""
        if several:
            lines.append(f"- {lead}{entry}" + (f"  \n  {fix}" if fix else ""))
        else:
            lines += [entry, "", fix] if fix else [entry]
    not_loaded = not_loaded_text(report)
    if not_loaded:
        lines += ["", f"{MARKS[Status.ERROR]} {md_text(not_loaded)} (see *Plugins that failed to load*)"]
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
    if report.targets:
        lines += _root_cause_section(report)
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
