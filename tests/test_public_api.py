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


def _type_checking_imports() -> dict[str, tuple[str, str]]:
    """The facade's `if TYPE_CHECKING:` imports: exported name -> (module, attribute)."""
    tree = ast.parse((ROOT / "kdoctor" / "api.py").read_text())
    found: dict[str, tuple[str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                for alias in stmt.names:
                    found[alias.asname or alias.name] = (stmt.module, alias.name)
    return found


def test_the_lazy_map_what_mypy_sees_and_all_agree() -> None:
    """Three lists name the exports (for mypy, for the lazy import, for `import *`): one name
    missing from one of them would be an export that mypy or a plugin cannot see."""
    seen_by_mypy = _type_checking_imports()
    assert seen_by_mypy == kdoctor.api._WHERE
    assert sorted(seen_by_mypy) == sorted(kdoctor.api.__all__)
    assert len(set(kdoctor.api.__all__)) == len(kdoctor.api.__all__)


def test_every_exported_name_is_its_homes_object() -> None:
    import importlib

    for name, (module, attribute) in kdoctor.api._WHERE.items():
        assert getattr(kdoctor.api, name) is getattr(importlib.import_module(module), attribute), name


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = kdoctor.api.no_such_name  # type: ignore[attr-defined]
    with pytest.raises(ImportError):
        from kdoctor.api import no_such_name  # type: ignore[attr-defined]  # noqa: F401


def _modules_after(code: str) -> set[str]:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return set(out.stdout.split())


def test_the_facade_imports_only_what_a_family_names() -> None:
    """The kubeconfig family needs no probe of the network, the pod or the apiserver; the families
    of a kubeconfig run load no in-pod DNS model, no exec-plugin runner and no HTTP client."""
    kubeconfig_only = _modules_after("import kdoctor_checks.kubeconfig")
    heavy = {
        "kdoctor.probes.clusterdns",
        "kdoctor.probes.api",
        "kdoctor.probes.path",
        "kdoctor.probes.identity",
        "kdoctor.incluster",
        "kdoctor.execplugin",
        "httpx",
        "dns",
        "cryptography.x509",
    }
    assert kubeconfig_only & heavy == set()
    every_family = _modules_after("from kdoctor.registry import load_registry\nload_registry()")
    assert every_family & {"kdoctor.probes.clusterdns", "kdoctor.execplugin", "httpx", "dns"} == set()
