"""Golden files of every renderer for a failing, a warning-only and a healthy target, and for
several targets (--all-contexts), compact and verbose: byte for byte at a pinned width of 100."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from kdoctor.render import render
from kdoctor.render.rich_render import render_rich
from tests.reportvalidation import assert_golden, assert_valid_report, kind_report

KINDS = ["failing", "warning", "healthy", "mixed"]
EXTENSIONS = {"text": "txt", "json": "json", "junit": "xml", "markdown": "md"}


def rendered(kind: str, fmt: str, *, verbose: bool) -> str:
    out = io.StringIO()
    render(kind_report(kind), fmt, out, width=100, verbose=verbose)
    return out.getvalue()


def rich_plain(kind: str, *, verbose: bool) -> str:
    console = Console(
        file=io.StringIO(),
        width=100,
        force_terminal=True,
        color_system=None,
        legacy_windows=False,
        _environ={},
    )
    render_rich(kind_report(kind), console, verbose=verbose)
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("verbose", [False, True], ids=["compact", "verbose"])
def test_text_and_rich_without_colour(kind: str, verbose: bool) -> None:
    text = rendered(kind, "text", verbose=verbose)
    assert_golden(f"report_{kind}_{'verbose' if verbose else 'compact'}.txt", text)
    assert rich_plain(kind, verbose=verbose) == text


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ["json", "junit", "markdown"])
def test_documents(kind: str, fmt: str) -> None:
    out = rendered(kind, fmt, verbose=False)
    assert_golden(f"report_{kind}.{EXTENSIONS[fmt]}", out)
    # -v changes how a person reads the report, never the documents.
    assert rendered(kind, fmt, verbose=True) == out
    if fmt == "json":
        assert_valid_report(json.loads(out))
