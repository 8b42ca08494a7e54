"""The fast path for `kdoctor run` parses exactly what typer parses, and hands typer everything else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import typer.main

from kdoctor.cli import app
from kdoctor.fastpath import parse_run
from tests.clirun import kdoctor

ACCEPTED = [
    [],
    ["-o", "json"],
    ["--output=text", "--kubeconfig", "/x/config", "--context", "prod"],
    ["--kubeconfig=", "--context=a=b"],
    ["--check", "tls", "--check=auth.whoami", "--skip", "dns", "--timeout", "2"],
    ["--timeout=0.1", "--fail-on", "warn", "--no-exec", "--debug", "--all-contexts"],
    ["--in-cluster", "--no-in-cluster", "--serviceaccount-dir", "/sa", "--resolv-conf", "/r", "-v"],
    ["--verbose", "--check", "dns"],
    ["--client", "python", "--client=kubectl"],
    ["--report", "/tmp/r.json", "-o", "rich", "-o", "markdown", "--timeout", "300"],
    ["--kubeconfig", "--debug"],  # click takes the next word as the value, whatever it looks like
]
REFUSED = [
    ["--help"],
    ["-ojson"],
    ["-o=json"],
    ["-o", "yaml"],
    ["--fail-on", "error"],
    ["--client", "go"],
    ["--timeout", "0"],
    ["--timeout", "nan"],
    ["--timeout", "five"],
    ["--timeout", "301"],
    ["--kubeconfig"],
    ["--", "-o", "json"],
    ["extra"],
    ["--bogus"],
    ["--debug=yes"],
]


def typer_params(argv: list[str]) -> dict[str, Any]:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    command = group.commands["run"]
    with command.make_context("run", list(argv)) as ctx:
        return dict(ctx.params)


def fast_params(argv: list[str]) -> dict[str, Any]:
    values = parse_run(argv)
    assert values is not None
    defaults = typer_params([])
    merged = {**defaults, **values}
    for name in ("check", "skip"):
        merged[name] = tuple(merged[name] or ()) or None
    return merged


@pytest.mark.parametrize("argv", ACCEPTED, ids=" ".join)
def test_accepted_flags_parse_as_typer_parses_them(argv: list[str]) -> None:
    expected = typer_params(argv)
    for name in ("check", "skip"):
        expected[name] = tuple(expected[name] or ()) or None
    assert fast_params(argv) == expected


@pytest.mark.parametrize("argv", REFUSED, ids=" ".join)
def test_anything_unusual_goes_to_typer(argv: list[str]) -> None:
    assert parse_run(argv) is None


def test_typer_still_reports_bad_flags(tmp_path: Path) -> None:
    done = kdoctor("run", "-o", "yaml", home=tmp_path)
    assert done.code == 2
    assert "Invalid value for '-o' / '--output'" in done.stderr
    done = kdoctor("run", "--timeout", "0", home=tmp_path)
    assert done.code == 2 and "--timeout" in done.stderr
    done = kdoctor("run", "--help", home=tmp_path)
    assert done.code == 0 and "--all-contexts" in done.stdout
