"""Run `kdoctor ARGS...` in this process, as its console script would, and write where the time went.

    python bench/_phases.py OUT.json SPAWN_MONOTONIC -- ARGS...

Only for bench/budget: instruments the real entry point (kdoctor.__main__.main) from outside,
without changing it. Marks are time.monotonic() (CLOCK_MONOTONIC: the same clock in the parent,
which passes the moment it spawned this process and takes the moment it reaped it). Import time is
measured per top-level import (an import made while no other is running), so nothing is counted
twice, and charged to the phase it happened in.
"""

from __future__ import annotations

import time

T_MAIN = time.monotonic()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

OUT = sys.argv[1]
SPAWNED = float(sys.argv[2])
ARGS = sys.argv[sys.argv.index("--") + 1 :]

marks: dict[str, float] = {"spawn": SPAWNED, "main": T_MAIN}
imports: list[tuple[str, float, float]] = []  # (module, start, end) of top-level imports
render_time = [0.0]
_depth = [0]


class _Timing:
    """A meta-path finder that times the loading of each module found by the finders after it."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is None:
                continue
            loader = spec.loader
            # Per-module loader instances only (source, bytecode, extension): wrapping a shared
            # class-level importer (builtins, frozen) would wrap it for every later module too.
            if loader is not None and not isinstance(loader, type) and hasattr(loader, "exec_module"):
                original = loader.exec_module

                def exec_module(module: Any, original: Any = original, name: str = name) -> None:
                    _depth[0] += 1
                    started = time.monotonic()
                    try:
                        original(module)
                    finally:
                        _depth[0] -= 1
                        if _depth[0] == 0:
                            imports.append((name, started, time.monotonic()))
                        _instrument(name, module)

                loader.exec_module = exec_module  # type: ignore[method-assign]
            return spec
        return None


def _instrument(name: str, module: Any) -> None:
    """Wrap the engine's phases once their module is loaded."""
    if name == "kdoctor.app":
        run_command, load_registry, collect = module.run_command, module.load_registry, module.collect

        def timed_run_command(*a: Any, **kw: Any) -> Any:
            marks["run_command"] = time.monotonic()
            try:
                return run_command(*a, **kw)
            finally:
                marks["run_command_end"] = time.monotonic()

        def timed_load_registry(*a: Any, **kw: Any) -> Any:
            started = time.monotonic()
            try:
                return load_registry(*a, **kw)
            finally:
                marks.setdefault("registry", started)
                marks.setdefault("registry_end", time.monotonic())

        async def timed_collect(*a: Any, **kw: Any) -> Any:
            marks["collect"] = time.monotonic()
            try:
                return await collect(*a, **kw)
            finally:
                marks["collect_end"] = time.monotonic()

        module.run_command, module.load_registry, module.collect = (
            timed_run_command,
            timed_load_registry,
            timed_collect,
        )
    elif name == "kdoctor.render":
        render = module.render

        def timed_render(*a: Any, **kw: Any) -> Any:
            started = time.monotonic()
            try:
                return render(*a, **kw)
            finally:
                render_time[0] += time.monotonic() - started

        module.render = timed_render


def _write() -> None:
    with open(OUT, "w", encoding="utf-8") as fh:
        json.dump({"marks": marks, "imports": imports, "render": render_time[0]}, fh)


sys.meta_path.insert(0, _Timing())
_real_exit = os._exit


def _exit(code: int) -> None:
    marks["exit"] = time.monotonic()
    _write()
    _real_exit(code)


os._exit = _exit  # type: ignore[assignment]
sys.argv = ["kdoctor", *ARGS]
try:
    from kdoctor.__main__ import main

    main()
finally:
    # Without os._exit (an older kdoctor) the interpreter's own teardown follows.
    marks["exit"] = time.monotonic()
    _write()
