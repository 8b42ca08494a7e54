"""The text renderer: golden files, wrapping at the width, safe text, glyph fallback."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap

import pytest

from kdoctor.api import Status
from kdoctor.render import FORMATS, render, resolve_width
from kdoctor.render.common import (
    ASCII_GLYPHS,
    cell_len,
    clean,
    counts_text,
    format_ms,
    glyphs_for,
    timings_text,
    wrap,
)
from kdoctor.render.text import render_text
from kdoctor.report import CheckResult, Report, TargetReport
from tests.reportvalidation import assert_golden, empty_report, multi_report, single_report

ANSI = re.compile(r"\x1b")


def test_golden_single_target() -> None:
    assert_golden("text_single.txt", render_text(single_report(), verbose=True, width=100))


def test_golden_several_targets() -> None:
    assert_golden("text_multi.txt", render_text(multi_report(), verbose=True, width=100))


def test_golden_narrow() -> None:
    # At 60 columns the summaries no longer fit beside the ids and move under them.
    assert_golden("text_narrow60.txt", render_text(single_report(), verbose=True, width=60))


def test_golden_empty() -> None:
    assert_golden("text_empty.txt", render_text(empty_report(), verbose=True, width=100))


@pytest.mark.parametrize("width", [40, 55, 72, 80, 100, 132, 200])
def test_no_line_exceeds_width(width: int) -> None:
    for report in (single_report(), multi_report()):
        for line in render_text(report, verbose=True, width=width).splitlines():
            assert cell_len(line) <= width, (width, line)


def test_long_names_never_overflow() -> None:
    arn = "arn:aws:eks:eu-west-1:123456789012:cluster/" + "very-long-cluster-name-" * 3
    long_id = "plugin-family." + "x" * 50
    results = [
        CheckResult(long_id, "t", Status.FAIL, "a summary " * 12, hint="a hint " * 15),
        CheckResult("tls.chain", "t", Status.PASS, "ok"),
    ]
    target = TargetReport(arn, arn, arn, "https://" + "h" * 90 + ":6443", "kubeconfig", results)
    report = Report("0.1.0", "2026-11-30T12:00:00Z", 1.0, [target, target], plugin_errors={arn: arn})
    for width in (40, 60, 100):
        out = render_text(report, verbose=True, width=width)
        assert max(cell_len(line) for line in out.splitlines()) <= width, width
        # Each target's result line, and the targets table (or list) names it as the broken link.
        assert "".join(out.split()).count("x" * 50) >= 2


def test_content_of_the_single_report() -> None:
    out = render_text(single_report(), verbose=True, width=100)
    assert not ANSI.search(out)
    lines = out.splitlines()
    # One line per check, marked by status, grouped under family headings in declared order.
    assert "  ✓ kubeconfig.file         found /home/zoë/.kube/config (1 file, 3 contexts)" in lines
    assert any(line.startswith("  ✗ tls.chain ") for line in lines)
    assert any(line.startswith("  ○ tls.hostname ") for line in lines)
    assert any(line.startswith("  ! proxy.path ") for line in lines)
    assert any(line.startswith("  ‼ auth.exec ") for line in lines)
    headings = [line for line in lines if line in ("kubeconfig", "proxy", "tls", "auth", "dns", "apiserver")]
    assert headings == ["kubeconfig", "proxy", "tls", "auth", "dns", "apiserver"]
    # Hints under non-passing checks, wrapped with a hanging indent.
    chain = out.index("✗ tls.chain")
    assert out.index("hint: The chain is not from the cluster CA", chain) > chain
    assert "\n                                  in the path." in out
    # Timings, compactly.
    assert "timing: dns 1.2 ms · connect 0.4 ms · tls 13 ms · first byte 1.23 s" in out
    # The terminal escape from the server is shown, not executed.
    assert "plugin wrote \\x1b[31mred\\x1b[0m to stdout\\x0d and exited" in out
    assert "‼ plugin acme failed to load: ModuleNotFoundError: No module named 'acme_checks'" in lines
    count = lines.index("✗ fail: 4 passed, 2 warnings, 1 failed, 3 skipped, 1 error in 84 ms")
    # The report ends with the answer: the broken link and its fix, then the check kdoctor could not finish.
    assert lines[count + 1].startswith("✗ broken link: tls.chain — x509: certificate signed by unknown")
    assert "→ fix: The chain is not" in out[out.index("✗ broken link") :]
    assert lines[-2] == "‼ kdoctor could not finish auth.exec: a bug in kdoctor (--debug shows the traceback)"
    # A family that did not load is named last: "every link works" must never hide unchecked links.
    assert lines[-1] == "‼ not checked: the check family acme did not load (see above)"


def test_hint_of_a_passing_check_is_not_shown() -> None:
    result = CheckResult(
        "tls.expiry", "t", Status.PASS, "valid for 300 days", hint="renew with kubeadm certs renew"
    )
    report = Report(
        "0.1.0", "2026-11-30T12:00:00Z", 1.0, [TargetReport("c", "c", "u", None, "kubeconfig", [result])]
    )
    out = render_text(report, verbose=True)
    assert "valid for 300 days" in out
    assert "hint" not in out
    assert "renew" not in out


def test_several_targets_get_a_summary_table() -> None:
    out = render_text(multi_report(), verbose=True, width=100)
    assert "  context     status  broken link  fix" in out
    assert (
        "  prod        ✗ fail  tls.chain    The chain is not from the cluster CA: a TLS-intercepting proxy i…"
        in out
    )
    assert "  staging|eu  ✓ pass  -            every link works (2 checks)" in out
    single = render_text(single_report(), verbose=True, width=100)
    assert "broken link  fix" not in single


def test_summary_table_truncates_a_long_fix() -> None:
    hint = "Renew the serving certificate of " + "very-long-load-balancer-name." * 6 + " and restart."
    targets = [
        TargetReport(
            name,
            name,
            "u",
            "https://10.0.0.1",
            "kubeconfig",
            [CheckResult("tls.expiry", "t", Status.FAIL, "x", hint)],
        )
        for name in ("a", "b")
    ]
    report = Report("0.1.0", "2026-11-30T12:00:00Z", 3.0, targets)
    out = render_text(report, verbose=True, width=72)
    rows = [line for line in out.splitlines() if line.startswith(("  a  ", "  b  "))]
    assert len(rows) == 2
    assert all("…" in row and cell_len(row) <= 72 for row in rows)
    assert rows[0].startswith("  a        ✗ fail  tls.expiry   Renew the serving certificate of very-l")
    # Too narrow for columns: one wrapped entry per target instead.
    narrow = render_text(report, verbose=True, width=45).splitlines()
    entry = narrow.index("  ✗ fail a: tls.expiry — Renew the serving")
    assert narrow[entry + 1] == "    certificate of"


def test_empty_summary_falls_back_to_the_title() -> None:
    result = CheckResult("dns.search", "Search domains resolve", Status.WARN, "")
    report = Report(
        "0.1.0", "2026-11-30T12:00:00Z", 1.0, [TargetReport("c", "c", "u", None, "kubeconfig", [result])]
    )
    assert "! dns.search  Search domains resolve" in render_text(report, verbose=True)


def test_wrap_cuts_long_words_and_counts_wide_characters() -> None:
    assert wrap("a " + "x" * 25, 10) == ["a", "xxxxxxxxxx", "xxxxxxxxxx", "xxxxx"]
    assert wrap("one two three", 7, 5) == ["one two", "three"]
    assert wrap("first\n\nthird", 20) == ["first", "", "third"]
    assert wrap("", 10) == [""]
    assert wrap("サーバーは正常です", 6) == ["サーバ", "ーは正", "常です"]
    assert cell_len("サーバー") == 8
    assert cell_len("zoë") == 3
    assert cell_len("e\u0301") == 1


def test_clean_escapes_what_a_terminal_would_obey() -> None:
    assert clean("plain ünïcödé 日本") == "plain ünïcödé 日本"
    assert clean("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert clean("line1\r\nline2\rX") == "line1\nline2\\x0dX"
    assert clean("a\nb", newlines=False) == "a b"
    assert clean("tab\there") == "tab here"
    assert clean("\u202eevil") == "\\u202eevil"
    assert clean("\x9b31m") == "\\x9b31m"
    assert clean("bad\udcffname") == "bad\\udcffname"


def test_durations_and_counts() -> None:
    assert format_ms(0.44) == "0.4 ms"
    assert format_ms(84.2) == "84 ms"
    assert format_ms(1234.5) == "1.23 s"
    assert format_ms(float("nan")) == "? ms"
    assert counts_text({"pass": 1, "warn": 1, "fail": 0, "skip": 2, "error": 0}) == (
        "1 passed, 1 warning, 0 failed, 2 skipped, 0 errors"
    )


def test_timings_tolerate_odd_details() -> None:
    assert timings_text({}) is None
    assert timings_text({"timings_ms": "fast"}) is None
    assert timings_text({"timings_ms": {"dns": None, "connect": True, "tls": float("inf")}}) is None
    assert timings_text({"timings_ms": {"first_byte": 20, "dns": 2, "proxy_connect": 3.5}}) == (
        "dns 2.0 ms · first byte 20 ms · proxy connect 3.5 ms"
    )


def test_ascii_stream_gets_ascii_marks_and_no_crash() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    render(single_report(), "text", stream, width=100, verbose=True)
    stream.flush()
    out = raw.getvalue().decode("ascii")
    assert "  x tls.chain " in out
    assert "  E auth.exec " in out
    assert "  - tls.hostname " in out
    assert "x fail: 4 passed, 2 warnings, 1 failed, 3 skipped, 1 error in 84 ms" in out.splitlines()
    assert "x broken link: tls.chain - x509: certificate signed" in out
    assert out.splitlines()[-2].startswith("E kdoctor could not finish auth.exec")
    # Text the stream cannot carry degrades to "?" instead of aborting the report.
    assert "/home/zo?/.kube/config" in out
    assert glyphs_for("latin-1") is ASCII_GLYPHS


def test_render_dispatch() -> None:
    assert FORMATS == ("rich", "text", "json", "junit", "markdown")
    out = io.StringIO()
    render(single_report(), "text", out)
    assert out.getvalue() == render_text(single_report(), width=100)
    with pytest.raises(ValueError, match="unknown output format 'yaml'"):
        render(single_report(), "yaml", io.StringIO())
    assert resolve_width(io.StringIO()) == 100
    assert resolve_width(io.StringIO(), 20) == 40


def test_text_json_junit_markdown_do_not_import_rich() -> None:
    code = textwrap.dedent(
        """
        import io, sys
        from kdoctor.render import render
        from tests.reportvalidation import multi_report
        for fmt in ("text", "json", "junit", "markdown"):
            render(multi_report(), fmt, io.StringIO())
        assert "rich" not in sys.modules, sorted(m for m in sys.modules if m.startswith("rich"))
        import kdoctor.render.live, kdoctor.observer
        assert "rich" not in sys.modules
        render(multi_report(), "rich", io.StringIO())
        assert "rich" in sys.modules
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_a_terminal_that_reports_no_width_gets_80_columns() -> None:
    # A fresh pseudo-terminal reports 0x0, as serial consoles and some CI runners do.
    import os

    from rich.console import Console

    master, slave = os.openpty()
    try:
        with os.fdopen(slave, "w", encoding="utf-8", closefd=False) as tty:
            assert tty.isatty() and os.get_terminal_size(slave).columns == 0
            assert resolve_width(tty) == 80
            assert Console(file=tty).width == 80
    finally:
        os.close(slave)
        os.close(master)
