"""The Rich renderer and the live progress spinner, rendered to in-memory consoles."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from kdoctor.api import Status
from kdoctor.observer import NullObserver, RunObserver
from kdoctor.render import render
from kdoctor.render.live import LiveProgress, NullProgress
from kdoctor.render.rich_render import render_rich
from kdoctor.render.text import render_text
from kdoctor.report import CheckResult
from tests.reportvalidation import assert_golden, multi_report, single_report

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _console(*, terminal: bool, color: bool, width: int = 100) -> Console:
    return Console(
        file=io.StringIO(),
        width=width,
        force_terminal=terminal,
        color_system="standard" if color else None,
        legacy_windows=False,
        _environ={},
    )


def _rendered(report_name: str, *, terminal: bool, color: bool, width: int = 100) -> str:
    report = {"single": single_report, "multi": multi_report}[report_name]()
    console = _console(terminal=terminal, color=color, width=width)
    render_rich(report, console, verbose=True)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


@pytest.mark.parametrize("report_name", ["single", "multi"])
def test_golden_colour(report_name: str) -> None:
    out = _rendered(report_name, terminal=True, color=True)
    assert_golden(f"rich_{report_name}_color.ansi", out)


@pytest.mark.parametrize("report_name", ["single", "multi"])
@pytest.mark.parametrize("terminal", [True, False])
def test_without_colour_rich_prints_exactly_the_text_report(report_name: str, terminal: bool) -> None:
    out = _rendered(report_name, terminal=terminal, color=False)
    assert_golden(f"rich_{report_name}_plain.txt", out)
    report = {"single": single_report, "multi": multi_report}[report_name]()
    assert out == render_text(report, verbose=True, width=100)


def test_colours_follow_the_status() -> None:
    out = _rendered("single", terminal=True, color=True)
    # Stripping the escapes leaves the text report: colour is the only difference.
    assert ANSI.sub("", out) == render_text(single_report(), verbose=True, width=100)
    assert "\x1b[32m✓\x1b[0m kubeconfig.file" in out
    assert "\x1b[33m!\x1b[0m \x1b[33mkubeconfig.permissions\x1b[0m" in out
    assert "\x1b[1;31m✗\x1b[0m \x1b[31mtls.chain\x1b[0m" in out
    assert "\x1b[2m○\x1b[0m \x1b[2mtls.hostname\x1b[0m" in out
    assert "\x1b[1;35m‼\x1b[0m \x1b[35mauth.exec\x1b[0m" in out
    # The escape sequence inside a summary is shown as text, never emitted.
    assert "\x1b[31mred" not in out


@pytest.mark.parametrize("width", [40, 64, 80, 120])
def test_follows_the_console_width(width: int) -> None:
    out = _rendered("multi", terminal=False, color=False, width=width)
    assert out == render_text(multi_report(), verbose=True, width=width)
    assert max(len(line) for line in out.splitlines()) <= width


def test_render_rich_on_a_plain_stream_has_no_escapes_and_width_100(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "COLUMNS", "NO_COLOR"):
        monkeypatch.delenv(name, raising=False)
    out = io.StringIO()
    render(single_report(), "rich", out)
    assert out.getvalue() == render_text(single_report(), width=100)
    narrow = io.StringIO()
    render(single_report(), "rich", narrow, width=60)
    assert narrow.getvalue() == render_text(single_report(), width=60)


def test_render_rich_on_an_ascii_stream() -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="replace")
    render(single_report(), "rich", stream, width=100)
    stream.flush()
    assert "  x tls.chain " in raw.getvalue().decode("ascii")


# --- live progress -----------------------------------------------------------------------------


def _result(check_id: str) -> CheckResult:
    return CheckResult(check_id, "t", Status.PASS, "ok")


def test_observers_satisfy_the_protocol() -> None:
    assert isinstance(LiveProgress(), RunObserver)
    assert isinstance(NullProgress(), RunObserver)
    assert NullProgress is NullObserver
    with NullProgress() as progress:
        progress.started("prod", "tls.chain")
        progress.finished("prod", _result("tls.chain"))


def test_status_line_names_the_running_checks() -> None:
    progress = LiveProgress(total=7)
    assert progress.status_line() == "0/7 done · starting checks"
    for check_id in ("tls.chain", "auth.whoami", "dns.server", "proxy.path", "apiserver.readyz", "auth.exec"):
        progress.started("prod", check_id)
    progress.finished("prod", _result("tls.chain"))
    assert progress.status_line() == (
        "1/7 done · running: auth.whoami, dns.server, proxy.path, apiserver.readyz +1"
    )
    progress.started("staging", "tls.chain")
    line = progress.status_line()
    # With several targets the target is named too.
    assert "auth.whoami (prod)" in line
    assert line.endswith("+2")
    for check_id in ("a.b", "a.c", "a.d", "a.e", "a.f", "a.g", "a.h"):
        progress.finished("staging", _result(check_id))
    assert progress.status_line().startswith("8 done · running: ")


def test_live_spinner_draws_on_a_terminal_and_is_transient() -> None:
    console = _console(terminal=True, color=False, width=100)
    with LiveProgress(console, total=2, refresh_per_second=50) as progress:
        progress.started("prod", "tls.chain")
        progress.started("prod", "auth.whoami")
        console.print(progress)  # one frame, as the refresh thread would draw it
        progress.finished("prod", _result("tls.chain"))
        console.print(progress)
    assert isinstance(console.file, io.StringIO)
    out = console.file.getvalue()
    assert "0/2 done · running: tls.chain, auth.whoami" in out
    assert "1/2 done · running: auth.whoami" in out
    # Transient: the cursor comes back and the last thing written erases the spinner line.
    tail = out[out.rindex("\x1b[?25h") :]
    assert tail.endswith("\x1b[2K")
    assert "done" not in tail


def test_live_spinner_stays_silent_off_a_terminal() -> None:
    stream = io.StringIO()
    with LiveProgress(stream=stream, total=1) as progress:
        progress.started("prod", "tls.chain")
        progress.finished("prod", _result("tls.chain"))
    assert stream.getvalue() == ""
