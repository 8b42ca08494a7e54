"""Check discovery: every family, built-in or third-party, comes from the `kdoctor.checks` entry points."""

from __future__ import annotations

import graphlib
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib.machinery import PathFinder
from typing import Any, Protocol

from kdoctor.core import Check

ENTRY_POINT_GROUP = "kdoctor.checks"
_ID = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9][a-z0-9.-]*$")


@dataclass(frozen=True)
class RegisteredCheck:
    """A check and where it came from."""

    check: Check
    origin: str  # the distribution that provides it ("kdoctor" for built-ins)
    entry_point: str

    @property
    def id(self) -> str:
        return self.check.id

    @property
    def family(self) -> str:
        return self.check.id.split(".", 1)[0]

    @property
    def title(self) -> str:
        return self.check.title

    @property
    def depends_on(self) -> tuple[str, ...]:
        return tuple(self.check.depends_on)

    @property
    def doc(self) -> str:

        return inspect.getdoc(type(self.check)) or self.check.title


@dataclass(frozen=True)
class Registry:
    """Every loaded check, in report order, and the plugins that failed to load."""

    checks: Sequence[RegisteredCheck]
    #: entry point name → why it could not be loaded
    errors: dict[str, str] = field(default_factory=dict)

    def get(self, check_id: str) -> RegisteredCheck | None:
        return next((c for c in self.checks if c.id == check_id), None)

    @property
    def ids(self) -> list[str]:
        return [c.id for c in self.checks]

    def families(self) -> list[str]:
        return list(dict.fromkeys(c.family for c in self.checks))


class PluginError(Exception):
    pass


class DependencyError(PluginError):
    """A built-in check names a dependency that cannot be run (a cycle, an unknown id): a bug in
    kdoctor itself, so the run stops (exit 2) instead of leaving the built-ins out."""


class _Dist(Protocol):
    @property
    def name(self) -> str: ...


class EntryPointLike(Protocol):
    """What the registry needs of an entry point: importlib.metadata.EntryPoint, or `_EntryPoint`."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def module(self) -> str: ...
    @property
    def dist(self) -> _Dist | None: ...
    def load(self) -> Any: ...


@dataclass
class _Distribution:
    """An installed distribution, by the path of its metadata directory."""

    path: str
    _name: str | None = None

    @property
    def name(self) -> str:
        """The `Name:` of the distribution's metadata, as importlib.metadata reports it."""
        if self._name is None:
            self._name = _metadata_name(self.path)
        return self._name


@dataclass
class _EntryPoint:
    """One `kdoctor.checks` entry point of an installed distribution."""

    name: str
    value: str
    dist: _Distribution | None

    @property
    def module(self) -> str:
        return self.value.partition(":")[0].strip()

    def load(self) -> Any:
        """As importlib.metadata.EntryPoint.load: import the module, then follow the attribute path."""
        module_name, _, rest = self.value.partition(":")
        obj: Any = importlib.import_module(module_name.strip())
        attrs = rest.partition("[")[0].strip()
        for attr in filter(None, attrs.split(".")):
            obj = getattr(obj, attr)
        return obj


def discover(group: str = ENTRY_POINT_GROUP) -> list[EntryPointLike]:
    """The entry points of `group` in every installed distribution, as importlib.metadata finds them.

    importlib.metadata costs ~10 ms to import and scan for a command that runs in ~100 ms; this
    reads the same files (each distribution's entry_points.txt along sys.path, the first
    distribution of a name winning) with os.scandir. Anything it does not handle the same way
    (a zip or egg on sys.path, a custom distribution finder) takes importlib.metadata's path.
    """
    found = _scan(group)
    if found is None:
        from importlib import metadata  # lazy: the fallback, ~10 ms to import

        return list(metadata.entry_points(group=group))
    return found


def _scan(group: str) -> list[EntryPointLike] | None:
    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return None
    seen: set[str] = set()
    out: list[EntryPointLike] = []
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except NotADirectoryError:
            return None  # a zip archive on sys.path
        except OSError:
            continue
        if root.lower().endswith(".egg"):
            return None
        infos: dict[str, list[str]] = {}
        for child in children:
            low = child.lower()
            if low.endswith((".dist-info", ".egg-info")):
                name = low.rpartition(".")[0].partition("-")[0]
                infos.setdefault(_normalize(name), []).append(os.path.join(root, child))
        for normalized, paths in infos.items():
            for path in paths:
                if normalized in seen:
                    break
                seen.add(normalized)
                out.extend(_read_entry_points(path, group))
    return out


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def _read_entry_points(path: str, group: str) -> list[EntryPointLike]:
    try:
        with open(os.path.join(path, "entry_points.txt"), encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return []
    dist = _Distribution(path)
    section = None
    out: list[EntryPointLike] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        if section == group:
            name, _, value = line.partition("=")
            out.append(_EntryPoint(name.strip(), value.strip(), dist))
    return out


def _metadata_name(path: str) -> str:
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, filename), encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        break  # end of the headers
                    key, _, value = line.partition(":")
                    if key.lower() == "name":
                        return value.strip()
        except OSError:
            continue
    return "unknown"


def load_registry(
    entry_points: Iterable[EntryPointLike] | None = None, *, only: Sequence[str] = ()
) -> Registry:
    """Load every check family; a family that fails to import or validate is named and left out.

    `only` (the --check names) lets a run import just the families it needs, when every name's
    family is also the name of an entry point (the convention built-ins follow); otherwise all
    families load, so an unknown name is still reported against the full list of ids.
    """
    entry_points = all_entry_points = discover() if entry_points is None else list(entry_points)
    wanted = {name.split(".", 1)[0] for name in only}
    if wanted and wanted <= {ep.name for ep in entry_points}:
        entry_points = [ep for ep in entry_points if ep.name in wanted]
    complete = len(entry_points) == len(all_entry_points)
    errors: dict[str, str] = {}
    seen: set[str] = set()
    ordered: list[tuple[int, str, list[RegisteredCheck]]] = []
    labels: dict[str, str] = {}
    for ep in sorted(entry_points, key=lambda e: e.name):
        origin = ep.dist.name if ep.dist is not None else "unknown"
        try:
            loaded = _instantiate(ep.load())
            for check in loaded:
                _validate(check, seen)
        except Exception as exc:  # a broken plugin must never stop the run
            errors[f"{ep.name} ({ep.value})"] = f"{type(exc).__name__}: {exc}"
            continue
        family: list[RegisteredCheck] = []
        for check in loaded:
            seen.add(check.id)
            family.append(RegisteredCheck(check=check, origin=origin, entry_point=ep.name))
        ordered.append((_position(ep), ep.name, family))
        labels[ep.name] = f"{ep.name} ({ep.value})"
    # A family that failed to import is already named in `errors`; checks depending on it are not
    # "naming an unknown check", so the unknown-dependency rule needs every family loaded.
    ordered = _runnable(ordered, labels, errors, complete=complete and not errors)
    checks = [c for _, _, family in sorted(ordered, key=lambda f: (f[0], f[1])) for c in family]
    return Registry(checks=checks, errors=errors)


def _runnable(
    families: list[tuple[int, str, list[RegisteredCheck]]],
    labels: dict[str, str],
    errors: dict[str, str],
    *,
    complete: bool,
) -> list[tuple[int, str, list[RegisteredCheck]]]:
    """The families whose dependencies can be run: no cycle, and (when every family was loaded)
    no `depends_on` naming an unknown check. A plugin family that breaks either is named in
    `errors` and left out (which may orphan another family's dependency: repeat until stable); a
    built-in one raises DependencyError. A cycle would otherwise leave the runner waiting forever.
    """
    kept = list(families)
    while True:
        owner = {c.id: name for _, name, family in kept for c in family}
        problems: dict[str, list[str]] = {}
        for _, name, family in kept:
            for check in family:
                unknown = [d for d in check.depends_on if d not in owner]
                if unknown and complete:
                    problems.setdefault(name, []).append(
                        f"{check.id} depends on {', '.join(repr(d) for d in unknown)}, which no loaded "
                        "check provides"
                    )
        sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
        for _, _, family in kept:
            for check in family:
                sorter.add(check.id, *(d for d in check.depends_on if d in owner))
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = list(exc.args[1])
            message = "dependency cycle: " + " -> ".join(cycle)
            for check_id in dict.fromkeys(cycle):
                problems.setdefault(owner[check_id], []).append(message)
        if not problems:
            return kept
        builtin = {
            name
            for _, name, family in kept
            if name in problems and any(c.origin == BUILTIN_ORIGIN for c in family)
        }
        if builtin:
            raise DependencyError("; ".join(dict.fromkeys(m for n in sorted(builtin) for m in problems[n])))
        for name, messages in problems.items():
            errors[labels.get(name, name)] = "PluginError: " + "; ".join(dict.fromkeys(messages))
        kept = [f for f in kept if f[1] not in problems]


#: The distribution of the built-in families.
BUILTIN_ORIGIN = "kdoctor"


#: Where a family without an ORDER goes: after the built-in access path.
DEFAULT_POSITION = 100


def _position(ep: EntryPointLike) -> int:
    """The family module's `ORDER` (its place along the access path in the report), else 100.

    Built-ins use 10 (kubeconfig) to 70 (auth); the engine holds no list of families.
    """
    module = sys.modules.get(ep.module)
    position = getattr(module, "ORDER", DEFAULT_POSITION)
    return position if isinstance(position, int) else DEFAULT_POSITION


def _instantiate(obj: Any) -> list[Check]:
    items = obj if isinstance(obj, (list, tuple)) else [obj]
    out: list[Check] = []
    for item in items:
        if isinstance(item, type) and issubclass(item, Check):
            out.append(item())
        elif isinstance(item, Check):
            out.append(item)
        else:
            raise PluginError(f"{item!r} is not a kdoctor.api.Check subclass")
    return out


def _validate(check: Check, seen: set[str]) -> None:
    check_id = getattr(check, "id", None)
    if not isinstance(check_id, str) or not _ID.match(check_id):
        raise PluginError(f"{type(check).__name__}: id {check_id!r} is not of the form family.name")
    if check_id in seen:
        raise PluginError(f"duplicate check id {check_id!r}")
    if not isinstance(getattr(check, "title", None), str):
        raise PluginError(f"{check_id}: no title")
    deps = getattr(check, "depends_on", ())
    if not isinstance(deps, tuple) or not all(isinstance(d, str) for d in deps):
        raise PluginError(f"{check_id}: depends_on must be a tuple of ids")


def select(registry: Registry, include: Sequence[str], exclude: Sequence[str]) -> list[RegisteredCheck]:
    """The checks named by --check/--skip (ids or family prefixes). Unknown names raise ValueError.

    Opt-in checks run only when --check names their id.
    """
    for name in (*include, *exclude):
        if not _matches_any(name, registry.ids):
            raise ValueError(name)
    chosen = []
    for check in registry.checks:
        named = any(_matches(name, check.id) for name in include)
        if include and not named:
            continue
        if check.check.opt_in and check.id not in include:
            continue
        if any(_matches(name, check.id) for name in exclude):
            continue
        chosen.append(check)
    return chosen


def closest_ids(registry: Registry, name: str, limit: int = 3) -> list[str]:
    """The check ids and families that look most like a mistyped `name` (difflib's ratio)."""
    # lazy: on the start-up path, needed only when a check id is mistyped
    import difflib

    return difflib.get_close_matches(name, [*registry.families(), *registry.ids], n=limit, cutoff=0.8)


def _matches(name: str, check_id: str) -> bool:
    return check_id == name or check_id.startswith(name + ".") or check_id.split(".", 1)[0] == name


def _matches_any(name: str, ids: Sequence[str]) -> bool:
    return any(_matches(name, i) for i in ids)
