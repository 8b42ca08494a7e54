"""What the renderers share: marks, terminal-safe text, cell-width wrapping, counts and durations.

It also lays out the line-per-check report as styled spans, so the text and the Rich renderers
print the same content and differ only in colour. Nothing here imports Rich.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from kdoctor.core import Status
from kdoctor.report import STATUSES, CheckResult, Report, TargetReport

MARKS: Mapping[Status, str] = {
    Status.PASS: "✓",
    Status.WARN: "!",
    Status.FAIL: "✗",
    Status.SKIP: "○",
    Status.ERROR: "‼",
}
#: For output streams whose encoding cannot carry the marks (a latin-1 or ASCII locale).
ASCII_MARKS: Mapping[Status, str] = {
    Status.PASS: "+",
    Status.WARN: "!",
    Status.FAIL: "x",
    Status.SKIP: "-",
    Status.ERROR: "E",
}

DEFAULT_WIDTH = 100
TERMINAL_FALLBACK_WIDTH = 80
MIN_WIDTH = 40
#: Known phases of `details["timings_ms"]`, in the order a request lives through them.
TIMING_PHASES = (("dns", "dns"), ("connect", "connect"), ("tls", "tls"), ("first_byte", "first byte"))

_ID_COLUMN_MAX = 28
_MIN_SUMMARY_WIDTH = 40
# Right-to-left overrides and isolates can make a summary display text other than what it holds.
_BIDI_CONTROLS = frozenset([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


@dataclass(frozen=True)
class Glyphs:
    """The non-ASCII characters a renderer prints, swapped for ASCII when the stream needs it."""

    marks: Mapping[Status, str]
    sep: str
    ellipsis: str
    arrow: str = "→"
    dash: str = "—"


UNICODE_GLYPHS = Glyphs(MARKS, "·", "…")
ASCII_GLYPHS = Glyphs(ASCII_MARKS, "|", "...", "->", "-")


def glyphs_for(encoding: str | None) -> Glyphs:
    """Unicode glyphs unless `encoding` (a stream's) cannot encode them."""
    if not encoding:
        return UNICODE_GLYPHS
    g = UNICODE_GLYPHS
    sample = "".join(MARKS.values()) + g.sep + g.ellipsis + g.arrow + g.dash
    try:
        sample.encode(encoding)
    except (UnicodeError, LookupError):
        return ASCII_GLYPHS
    return UNICODE_GLYPHS


def clean(text: str, *, newlines: bool = True) -> str:
    """Make untrusted text safe for a terminal or an XML/Markdown document.

    Control characters (an ANSI escape in a server's error body), bidi overrides and lone
    surrogates (undecodable file names) become visible escapes such as ``\\x1b``; tabs become
    spaces; newlines stay unless `newlines` is False.
    """
    if text.isprintable():
        return text
    text = text.replace("\r\n", "\n")
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch == "\n":
            out.append("\n" if newlines else " ")
        elif ch == "\t":
            out.append(" ")
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(f"\\x{code:02x}")
        elif code in _BIDI_CONTROLS or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


@lru_cache(maxsize=4096)
def _char_cells(ch: str) -> int:
    if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def cell_len(text: str) -> int:
    """Terminal cells `text` takes (wide CJK characters take two, combining marks none)."""
    if text.isascii():
        return len(text)
    return sum(_char_cells(ch) for ch in text)


def _cut(word: str, width: int) -> tuple[str, str]:
    """Split `word` after at most `width` cells, always taking at least one character."""
    used = 0
    for index, ch in enumerate(word):
        cells = _char_cells(ch)
        if used + cells > width and index > 0:
            return word[:index], word[index:]
        used += cells
    return word, ""


def wrap(text: str, first: int, rest: int | None = None) -> list[str]:
    """Break `text` into lines of at most `first` cells, then `rest` cells.

    Newlines in `text` are kept as line breaks, runs of spaces collapse, and a word longer than
    a line (a URL, a base64 blob) is cut rather than allowed to overflow.
    """
    rest = first if rest is None else rest
    width = max(first, 1)
    lines: list[str] = []
    for paragraph in text.rstrip().split("\n"):
        current = ""
        used = 0
        for word in paragraph.split():
            cells = cell_len(word)
            if current and used + 1 + cells <= width:
                current += " " + word
                used += 1 + cells
                continue
            if current:
                lines.append(current)
                width = max(rest, 1)
            while cells > width:
                head, word = _cut(word, width)
                lines.append(head)
                width = max(rest, 1)
                cells = cell_len(word)
            current, used = word, cells
        lines.append(current)
        width = max(rest, 1)
    return lines


def format_ms(ms: float) -> str:
    """A duration for people: ``0.4 ms``, ``84 ms``, ``1.25 s``."""
    if not math.isfinite(ms) or ms < 0:
        return "? ms"
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.2f} s"


def _finite_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def timings_text(details: Mapping[str, Any], sep: str = "·", *, glue: str = " ") -> str | None:
    """``dns 1.2 ms · connect 0.4 ms · tls 3.1 ms · first byte 12 ms`` from ``details["timings_ms"]``.

    `glue` joins the words inside one phase, so a wrapper can keep each phase on one line.
    """
    raw = details.get("timings_ms") if isinstance(details, Mapping) else None
    if not isinstance(raw, Mapping):
        return None
    known = [key for key, _ in TIMING_PHASES]
    labels = dict(TIMING_PHASES)
    extra = sorted(str(key) for key in raw if key not in labels)
    parts: list[str] = []
    for key in [*known, *extra]:
        number = _finite_number(raw.get(key))
        if number is not None:
            label = labels.get(key) or clean(str(key), newlines=False).replace("_", " ")
            parts.append(f"{label} {format_ms(number)}".replace(" ", glue))
    return f" {sep} ".join(parts) or None


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def counts_text(summary: Mapping[str, int]) -> str:
    """``12 passed, 1 warning, 1 failed, 3 skipped, 0 errors``."""
    return ", ".join(
        [
            f"{summary.get('pass', 0)} passed",
            _plural(summary.get("warn", 0), "warning"),
            f"{summary.get('fail', 0)} failed",
            f"{summary.get('skip', 0)} skipped",
            _plural(summary.get("error", 0), "error"),
        ]
    )


def target_counts(target: TargetReport) -> dict[str, int]:
    """Results of one target per status value (every status present)."""
    counts = {status.value: 0 for status in STATUSES}
    for result in target.results:
        counts[result.status.value] += 1
    return counts


def by_family(results: Iterable[CheckResult]) -> list[tuple[str, list[CheckResult]]]:
    """Results grouped by id family, families in order of first appearance, results in order."""
    groups: dict[str, list[CheckResult]] = {}
    for result in results:
        groups.setdefault(result.family, []).append(result)
    return list(groups.items())


def target_facts(target: TargetReport) -> list[str]:
    """``cluster prod``, ``user admin``, the server and the mode, for a target's heading."""
    facts = []
    if target.cluster:
        facts.append(f"cluster {target.cluster}")
    if target.user:
        facts.append(f"user {target.user}")
    facts.append(f"server {target.server}" if target.server else "no server")
    if target.label != target.mode:
        facts.append(target.mode)
    return [clean(fact, newlines=False) for fact in facts]


# --- the line-per-check layout shared by the text and Rich renderers ---------------------------


@dataclass(frozen=True)
class Span:
    """A piece of a line with a semantic style name (a Status value, "target", "family", "dim", ...)."""

    text: str
    style: str = ""


Line = tuple[Span, ...]


def _prefix_cells(prefix: Sequence[Span]) -> int:
    return sum(cell_len(span.text) for span in prefix)


_GLUE = "\x00"  # a space that wrapping must not break at; clean() never lets one through


def _wrapped(prefix: Sequence[Span], text: str, style: str, width: int, indent: int) -> list[Line]:
    """`prefix` then `text` wrapped to `width`, continuation lines indented by `indent` cells."""
    rest = max(width - indent, 10)
    first = width - _prefix_cells(prefix)
    lines: list[Line] = []
    if first < 10:
        # No room beside the prefix: the text starts on the next line.
        lines.append(tuple(prefix))
        pieces = wrap(text, rest)
        start = 0
    else:
        pieces = wrap(text, first, rest)
        lines.append((*prefix, Span(pieces[0].replace(_GLUE, " "), style)))
        start = 1
    lines.extend((Span(" " * indent), Span(piece.replace(_GLUE, " "), style)) for piece in pieces[start:])
    return lines


def _long_prefix(lead: Sequence[Span], label: str, style: str, width: int) -> tuple[list[Line], list[Span]]:
    """Lines for a label too long for one line, and the prefix (with its last piece) to go on with."""
    room = max(width - _prefix_cells(lead), 10)
    *pieces, last = wrap(label, room)
    lines: list[Line] = []
    for index, piece in enumerate(pieces):
        lead_spans = lead if index == 0 else [Span(" " * _prefix_cells(lead))]
        lines.append((*lead_spans, Span(piece, style)))
    lead_spans = lead if not pieces else [Span(" " * _prefix_cells(lead))]
    return lines, [*lead_spans, Span(last, style)]


def _result_lines(result: CheckResult, id_column: int, width: int, glyphs: Glyphs) -> list[Line]:
    status = result.status
    mark = Span(glyphs.marks[status], status.value)
    check_id = clean(result.id, newlines=False)
    summary = clean(result.summary or result.title)
    id_style = "id" if status is Status.PASS else f"{status.value}-id"
    column = 4 + id_column + 2
    if width - column < _MIN_SUMMARY_WIDTH:
        # Too narrow for two columns: the summary goes under the id.
        column = 6
        lines = _wrapped([Span("  "), mark, Span(" ")], check_id, id_style, width, 4)
        lines.extend(_wrapped([Span(" " * column)], summary, "", width, column))
    else:
        pad = " " * max(id_column - cell_len(check_id), 0)
        prefix = [Span("  "), mark, Span(" "), Span(check_id, id_style), Span(pad + "  ")]
        lines = _wrapped(prefix, summary, "", width, column)
    indent = Span(" " * column)
    if status is not Status.PASS and result.hint.strip():
        lines.extend(_wrapped([indent, Span("hint: ", "hint")], clean(result.hint), "", width, column + 6))
    timings = timings_text(result.details, glyphs.sep, glue=_GLUE)
    if timings:
        lines.extend(_wrapped([indent, Span("timing: ", "dim")], timings, "dim", width, column + 8))
    return lines


def _target_heading(target: TargetReport, width: int, glyphs: Glyphs) -> list[Line]:
    facts = f" {glyphs.sep} ".join(target_facts(target))
    lines, prefix = _long_prefix([], clean(target.label, newlines=False), "target", width)
    lines += _wrapped([*prefix, Span(f" {glyphs.sep} ", "dim")], facts, "dim", width, 2)
    if not target.results:
        lines.append((Span("  no checks ran", "dim"),))
    return lines


def _verbose_lines(target: TargetReport, width: int, glyphs: Glyphs) -> list[Line]:
    """Every check on its own line(s), grouped by family: what -v shows."""
    lines: list[Line] = []
    id_column = min(max((cell_len(r.id) for r in target.results), default=0), _ID_COLUMN_MAX)
    for family, results in by_family(target.results):
        lines.append(())
        lines.append((Span(clean(family, newlines=False), "family"),))
        for result in results:
            lines.extend(_result_lines(result, id_column, width, glyphs))
    return lines


_FINDINGS = (Status.FAIL, Status.WARN, Status.ERROR)


def _checks(count: int) -> str:
    return _plural(count, "check")


def _quiet_parts(target: TargetReport, results: Sequence[CheckResult]) -> list[tuple[str, str]]:
    """(text, style) for what compact mode folds into counts: passes and skips of one family."""
    passed = sum(1 for r in results if r.status is Status.PASS)
    blocked: dict[str, int] = {}
    not_applicable = 0
    for result in results:
        if result.status is not Status.SKIP:
            continue
        cause = target.skip_cause(result)
        if cause is None:
            not_applicable += 1
        else:
            blocked[cause] = blocked.get(cause, 0) + 1
    parts: list[tuple[str, str]] = []
    if passed:
        parts.append((_checks(passed), "pass"))
    for cause, count in blocked.items():
        words = f"{count} not run" if parts else f"{_checks(count)} not run"
        status = target.status_of(cause)
        if status is Status.WARN:
            parts.append((f"{words}: would repeat {clean(cause, newlines=False)}", "skip"))
            continue
        verb = "errored" if status is Status.ERROR else "failed"
        parts.append((f"{words}: {clean(cause, newlines=False)} {verb}", "skip"))
    if not_applicable:
        parts.append((f"{not_applicable} not applicable", "dim"))
    return parts


def _compact_lines(target: TargetReport, width: int, glyphs: Glyphs) -> list[Line]:
    """Quiet families on one line each; failing and warning checks in full (the default)."""
    groups = by_family(target.results)
    column = min(max((cell_len(family) for family, _ in groups), default=0), _ID_COLUMN_MAX)
    lines: list[Line] = []
    findings = [r for r in target.results if r.status in _FINDINGS]
    id_column = min(max((cell_len(r.id) for r in findings), default=0), _ID_COLUMN_MAX)
    sep = f" {glyphs.sep} "
    for family, results in groups:
        name = clean(family, newlines=False)
        shown = [r for r in results if r.status in _FINDINGS]
        parts = _quiet_parts(target, results)
        if not shown:
            status = Status.PASS if any(r.status is Status.PASS for r in results) else Status.SKIP
            pad = " " * max(column - cell_len(name), 0)
            prefix = [
                Span(glyphs.marks[status], status.value),
                Span(" "),
                Span(name, "family"),
                Span(pad + "  "),
            ]
            lines.extend(_wrapped(prefix, sep.join(text for text, _ in parts), "dim", width, column + 4))
            continue
        worst = max((r.status for r in shown), key=lambda st: (st.severity, st is Status.ERROR))
        lines.append(())
        lines.append((Span(glyphs.marks[worst], worst.value), Span(" "), Span(name, "family")))
        for result in shown:
            lines.extend(_result_lines(result, id_column, width, glyphs))
        for text, style in parts:
            mark = {"pass": Status.PASS}.get(style, Status.SKIP)
            if style == "pass":
                count = int(text.split()[0])
                text = f"{count} other {'check passes' if count == 1 else 'checks pass'}"
            lines.extend(
                _wrapped([Span("  "), Span(glyphs.marks[mark], mark.value), Span(" ")], text, "dim", width, 4)
            )
        lines.append(())
    # No blank line twice in a row, none at the end.
    out: list[Line] = []
    for line in lines:
        if line == () and (not out or out[-1] == ()):
            continue
        out.append(line)
    while out and out[-1] == ():
        out.pop()
    return [(), *out]


def headline(target: TargetReport, glyphs: Glyphs = UNICODE_GLYPHS) -> tuple[Status, str]:
    """The one line that answers the question: the broken link and its fix, or that every link works."""
    root = target.root_cause
    errors = [r for r in target.results if r.status is Status.ERROR]
    warnings = [r for r in target.results if r.status is Status.WARN]
    if root is not None:
        text = f"broken link: {root.id} {glyphs.dash} {root.summary}"
        if root.hint.strip():
            text += f" {glyphs.arrow} fix: {root.hint}"
        return Status.FAIL, clean(text, newlines=False)
    if errors:
        ids = ", ".join(r.id for r in errors)
        return Status.ERROR, clean(
            f"kdoctor could not finish {ids}: a bug in kdoctor, not a broken link of the cluster "
            f"(--debug shows the traceback)",
            newlines=False,
        )
    if not target.results:
        return Status.SKIP, "no checks ran"
    passed = sum(1 for r in target.results if r.status is Status.PASS)
    if warnings:
        ids = ", ".join(r.id for r in warnings)
        return Status.WARN, clean(
            f"every link works ({_checks(passed)}), with {_plural(len(warnings), 'warning')}: {ids}",
            newlines=False,
        )
    return Status.PASS, f"every link works ({_checks(passed)})"


def _headline_lines(target: TargetReport, width: int, glyphs: Glyphs) -> list[Line]:
    status, text = headline(target, glyphs)
    lines = _wrapped([Span(glyphs.marks[status], status.value), Span(" ")], text, "headline", width, 2)
    errors = [r.id for r in target.results if r.status is Status.ERROR]
    if target.root_cause is not None and errors:
        text = f"kdoctor could not finish {', '.join(errors)}: a bug in kdoctor (--debug shows the traceback)"
        mark = [Span(glyphs.marks[Status.ERROR], "error"), Span(" ")]
        lines += _wrapped(mark, clean(text, newlines=False), "", width, 2)
    return lines


def _truncate(text: str, cells: int, ellipsis: str) -> str:
    if cell_len(text) <= cells:
        return text
    keep = max(cells - cell_len(ellipsis), 1)
    head, _ = _cut(text, keep)
    return head + ellipsis


def first_sentence(text: str) -> str:
    """The first sentence of a hint, for a one-line fix (a command in backticks is never cut)."""
    text = " ".join(text.split())
    in_code = False
    for index, ch in enumerate(text):
        if ch == "`":
            in_code = not in_code
        elif ch == "." and not in_code and (index + 1 == len(text) or text[index + 1] == " "):
            return text[: index + 1]
    return text


def _row_cells(target: TargetReport, glyphs: Glyphs) -> tuple[str, str, str]:
    """(status, broken link, fix) of one target for the targets table."""
    status = target.status
    root = target.root_cause
    if root is not None:
        return f"{glyphs.marks[status]} {status.value}", root.id, first_sentence(root.hint) or root.summary
    return f"{glyphs.marks[status]} {status.value}", "-", headline(target, glyphs)[1]


def _targets_list(report: Report, width: int, glyphs: Glyphs) -> list[Line]:
    """The targets table as wrapped lines, for widths too narrow for its columns."""
    lines: list[Line] = []
    for target in report.targets:
        status_text, link, fix = _row_cells(target, glyphs)
        status = target.status
        lead = [Span("  "), Span(status_text, status.value), Span(" ")]
        label_lines, prefix = _long_prefix(lead, clean(target.label, newlines=False), "target", width - 2)
        lines.extend(label_lines)
        prefix.append(Span(": "))
        text = fix if link == "-" else f"{link} {glyphs.dash} {fix}"
        lines.extend(_wrapped(prefix, clean(text, newlines=False), "", width, 4))
    return lines


def targets_table(report: Report, width: int, glyphs: Glyphs) -> list[Line]:
    """One row per target: context, status, broken link and the one-line fix, fitted to `width`."""
    header = ["context", "status", "broken link", "fix"]
    rows: list[tuple[list[str], Status]] = []
    for target in report.targets:
        status_text, link, fix = _row_cells(target, glyphs)
        cells = [clean(target.label, newlines=False), status_text, clean(link, newlines=False)]
        rows.append(([*cells, clean(fix, newlines=False)], target.status))
    widths = [max(cell_len(cells[i]) for cells in [header, *(r for r, _ in rows)]) for i in range(3)]
    widths[0] = min(widths[0], 24)
    widths[2] = min(widths[2], _ID_COLUMN_MAX)
    gap = 2
    fix_width = width - 2 - sum(widths) - gap * 3
    if fix_width < 20:
        return _targets_list(report, width, glyphs)

    def row_line(cells: list[str], styles: list[str]) -> Line:
        spans: list[Span] = [Span("  ")]
        for index, (cell, style) in enumerate(zip(cells, styles, strict=True)):
            column = widths[index] if index < 3 else fix_width
            text = _truncate(cell, column, glyphs.ellipsis)
            spans.append(Span(text, style))
            if index < 3:
                spans.append(Span(" " * (column - cell_len(text) + gap)))
        return tuple(spans)

    lines: list[Line] = [row_line(header, ["dim"] * 4)]
    for cells, status in rows:
        link_style = "fail-id" if status is Status.FAIL and cells[2] != "-" else ""
        lines.append(row_line(cells, ["", status.value, link_style, ""]))
    return lines


def report_lines(
    report: Report, width: int, glyphs: Glyphs = UNICODE_GLYPHS, *, verbose: bool = False
) -> list[Line]:
    """The whole report as styled lines no wider than `width` cells.

    Compact (the default): a family whose checks all pass is one line, failing and warning
    checks are shown in full, skipped ones are counted per family with what stopped them; with
    several targets only the failing ones are detailed. `verbose`: every check, every target.
    Either way a single target ends with its headline, several with the targets table.
    """
    width = max(width, MIN_WIDTH)
    lines: list[Line] = []
    several = len(report.targets) > 1
    if not report.targets:
        lines.append((Span("no targets were checked", "dim"),))
    shown = [t for t in report.targets if verbose or not several or t.status is Status.FAIL]
    for index, target in enumerate(shown):
        if index:
            lines.append(())
        lines.extend(_target_heading(target, width, glyphs))
        body = _verbose_lines if verbose else _compact_lines
        lines.extend(body(target, width, glyphs))
    if report.plugin_errors:
        lines.append(())
        for name, error in report.plugin_errors.items():
            prefix = [Span(glyphs.marks[Status.ERROR], "error"), Span(" ")]
            text = f"plugin {clean(name, newlines=False)} failed to load: {clean(error)}"
            lines.extend(_wrapped(prefix, text, "plugin", width, 2))
    lines.append(())
    status = report.status
    prefix = [Span(f"{glyphs.marks[status]} {status.value}", status.value), Span(": ")]
    text = f"{counts_text(report.summary)} in {format_ms(report.duration_ms)}"
    lines.extend(_wrapped(prefix, text, "counts", width, 2))
    if several:
        lines.append(())
        lines.extend(targets_table(report, width, glyphs))
    else:
        for target in report.targets:
            lines.extend(_headline_lines(target, width, glyphs))
    not_loaded = not_loaded_text(report)
    if not_loaded:
        text = f"{not_loaded} (see above)"
        lines.extend(_wrapped([Span(glyphs.marks[Status.ERROR], "error"), Span(" ")], text, "", width, 2))
    return lines


def not_loaded_text(report: Report) -> str:
    """What no check looked at because its family failed to load ("" when every family loaded).

    Every renderer's answer-first part says it: "every link works" must not hide links nobody checked.
    """
    if not report.plugin_errors:
        return ""
    names = [clean(name.split(" ", 1)[0], newlines=False) for name in report.plugin_errors]
    family = "check family" if len(names) == 1 else "check families"
    return f"not checked: the {family} {', '.join(names)} did not load"
