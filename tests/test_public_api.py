"""Checks, built-in and third-party alike, use the public API only: `kdoctor.api`, and nothing else of kdoctor."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import kdoctor.api

ROOT = Path(__file__).resolve().parents[1]
CHECK_SOURCES = sorted([*(ROOT / "checks").rglob("*.py"), *(ROOT / "examples").rglob("*.py")])


def _kdoctor_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        found += [m for m in modules if m == "kdoctor" or m.startswith("kdoctor.")]
    return found


@pytest.mark.parametrize("path", CHECK_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_checks_import_only_the_public_api(path: Path) -> None:
    assert [m for m in _kdoctor_imports(path) if m != "kdoctor.api"] == []


def test_there_are_sources_to_check() -> None:
    assert len(CHECK_SOURCES) >= 8


def test_every_exported_name_exists() -> None:
    missing = [name for name in kdoctor.api.__all__ if not hasattr(kdoctor.api, name)]
    assert missing == []


def test_the_engine_never_imports_the_facade() -> None:
    """The facade stands on top: an engine module importing it would make a circle."""
    engine = [p for p in (ROOT / "kdoctor").rglob("*.py") if p.name != "api.py" or p.parent.name != "kdoctor"]
    offenders = [str(p.relative_to(ROOT)) for p in engine if "kdoctor.api" in _kdoctor_imports(p)]
    assert offenders == []
