"""The engine: registry, selection, runner semantics, exit codes."""

from __future__ import annotations

import asyncio
import time
from importlib import metadata
from pathlib import Path

import pytest

from kdoctor.api import Mode, Status
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.exit_codes import ExitCode, exit_code_for
from kdoctor.registry import Registry, load_registry, select
from kdoctor.runner import run_target
from tests.lab import sample_checks


def ep(name: str, attr: str) -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value=f"tests.lab.sample_checks:{attr}", group="kdoctor.checks")


def registry(*attrs: str) -> Registry:
    return load_registry([ep(a.lower(), a) for a in attrs])


def context(tmp_path: Path, mode: Mode = Mode.KUBECONFIG, timeout: float = 5.0) -> Context:
    return Context(
        options=Options(timeout=timeout),
        environment=Environment(env={}, home=tmp_path),
        target=Target(mode),
    )


def run(ctx: Context, reg: Registry, **kw: object) -> dict[str, tuple[Status, str]]:
    sample_checks.GATE.clear()
    out = asyncio.run(run_target(ctx, select(reg, [], []), **kw))  # type: ignore[arg-type]
    return {r.id: (r.status, r.summary) for r in out.results}


def test_dependency_order_skip_propagation_and_crash_capture(tmp_path: Path) -> None:
    results = run(context(tmp_path), registry("CHECKS"))
    assert results["sample.first"] == (Status.PASS, "value 42")
    assert results["sample.broken"] == (Status.FAIL, "it broke")
    assert results["sample.after-broken"] == (Status.SKIP, "skipped: sample.broken failed")
    status, summary = results["sample.crashes"]
    assert status is Status.ERROR
    assert summary == "check crashed: RuntimeError: boom at line one"
    assert results["sample.waits"][0] is Status.PASS  # only possible if run concurrently with sample.sets
    # Not applicable on a laptop: left out, and its dependent still runs.
    assert "sample.pod-only" not in results
    assert results["sample.after-pod-only"] == (Status.PASS, "ran")
    assert "sample.opt-in" not in results


def test_results_in_declared_order(tmp_path: Path) -> None:
    reg = registry("CHECKS")
    sample_checks.GATE.clear()
    out = asyncio.run(run_target(context(tmp_path), select(reg, [], [])))
    declared = [c.id for c in reg.checks if c.id not in ("sample.pod-only", "sample.opt-in")]
    assert [r.id for r in out.results] == declared
    assert "RuntimeError" in out.tracebacks["sample.crashes"]


def test_not_applicable_shown_when_asked(tmp_path: Path) -> None:
    results = run(context(tmp_path), registry("CHECKS"), show_not_applicable=True)
    assert results["sample.pod-only"] == (Status.SKIP, "not applicable: only in a pod")
    results = run(context(tmp_path, Mode.IN_CLUSTER), registry("CHECKS"))
    assert results["sample.pod-only"] == (Status.PASS, "in a pod")


def test_probe_is_computed_once_per_target(tmp_path: Path) -> None:
    sample_checks.CALLS.clear()
    run(context(tmp_path), registry("CHECKS"))
    assert sample_checks.CALLS["shared"] == 1
    run(context(tmp_path), registry("CHECKS"))
    assert sample_checks.CALLS["shared"] == 2  # a new target computes it again


def test_hanging_check_is_bounded(tmp_path: Path) -> None:
    # budget = 4 * timeout + 2 = 2.4 s
    results = run(context(tmp_path, timeout=0.1), registry("SLOW"))
    status, summary = results["sample.hangs"]
    assert status is Status.ERROR
    assert "did not finish within 2.4s" in summary


def test_time_the_process_could_not_run_does_not_count_against_the_bound(tmp_path: Path) -> None:
    # budget 2.4 s. sample.starved holds the loop for 3 s (what a starved machine or a large
    # kubeconfig parse looks like) and then passes: its verdict stands, it is not an `error`.
    # sample.starves-then-hangs is held 1 s, then waits forever: the bound still ends it, after
    # its 2.4 s of waiting (measured, with room for the blocked second and a slow machine).
    started = time.monotonic()
    results = run(context(tmp_path, timeout=0.1), registry("STARVED"))
    elapsed = time.monotonic() - started
    assert results["sample.starved"] == (Status.PASS, "parsed in the end")
    status, summary = results["sample.starves-then-hangs"]
    assert status is Status.ERROR and "did not finish within 2.4s" in summary
    assert 3.0 < elapsed < 3.0 + 2.4 + 5.0


def test_broken_plugin_is_named_and_left_out() -> None:
    eps = [
        ep("good", "CHECKS"),
        metadata.EntryPoint(name="missing", value="no_such_module_kdoctor:CHECKS", group="kdoctor.checks"),
        ep("bad", "NOT_A_CHECK"),
    ]
    reg = load_registry(eps)
    assert "sample.first" in reg.ids
    assert set(reg.errors) == {
        "missing (no_such_module_kdoctor:CHECKS)",
        "bad (tests.lab.sample_checks:NOT_A_CHECK)",
    }
    assert "ModuleNotFoundError" in reg.errors["missing (no_such_module_kdoctor:CHECKS)"]


def test_duplicate_ids_rejected() -> None:
    reg = load_registry([ep("one", "CHECKS"), ep("two", "CHECKS")])
    assert len(reg.errors) == 1 and "duplicate check id" in next(iter(reg.errors.values()))


def test_select_by_id_family_and_opt_in() -> None:
    reg = registry("CHECKS")
    assert [c.id for c in select(reg, ["sample.first"], [])] == ["sample.first"]
    assert "sample.opt-in" not in [c.id for c in select(reg, ["sample"], [])]
    assert "sample.opt-in" in [c.id for c in select(reg, ["sample", "sample.opt-in"], [])]
    assert "sample.broken" not in [c.id for c in select(reg, [], ["sample.broken"])]
    with pytest.raises(ValueError):
        select(reg, ["nope"], [])
    with pytest.raises(ValueError):
        select(reg, [], ["sample.nope"])


@pytest.mark.parametrize(
    ("statuses", "fail_on", "code"),
    [
        ([Status.PASS, Status.SKIP], "fail", ExitCode.OK),
        ([Status.PASS, Status.WARN], "fail", ExitCode.OK),
        ([Status.PASS, Status.WARN], "warn", ExitCode.FINDINGS),
        ([Status.FAIL, Status.WARN], "fail", ExitCode.FINDINGS),
        ([Status.FAIL, Status.ERROR], "fail", ExitCode.INTERNAL),
    ],
)
def test_exit_codes(statuses: list[Status], fail_on: str, code: ExitCode) -> None:
    assert exit_code_for(statuses, fail_on) is code


def test_every_builtin_check_is_documented_and_ordered_along_the_access_path() -> None:
    reg = load_registry()
    builtin = [c for c in reg.checks if c.origin == "kdoctor"]
    assert not reg.errors
    assert {c.family for c in builtin} == {
        "kubeconfig",
        "apiserver",
        "tls",
        "auth",
        "incluster",
        "dns",
        "proxy",
    }
    for entry in builtin:
        doc = entry.doc
        assert doc != entry.title and "\n\n" in doc, f"{entry.id}: `kdoctor explain` needs more than a title"
        for dep in entry.depends_on:
            assert reg.get(dep) is not None, f"{entry.id} depends on unknown {dep}"
    families = reg.families()
    # The report reads like the access path: kubeconfig before the network, TLS before credentials.
    assert (
        families.index("kubeconfig")
        < families.index("apiserver")
        < families.index("tls")
        < families.index("auth")
    )
    assert families.index("kubeconfig") < families.index("incluster") < families.index("dns")


def test_a_plugin_dependency_cycle_is_refused_at_load_naming_its_checks() -> None:
    reg = load_registry([ep("good", "CHECKS"), ep("cycle", "CYCLE"), ep("after", "AFTER_CYCLE")])
    error = reg.errors["cycle (tests.lab.sample_checks:CYCLE)"]
    assert "dependency cycle" in error and "cycle.a" in error and "cycle.b" in error
    assert not {"cycle.a", "cycle.b"} & set(reg.ids)
    # Its dependent in another family now names a check nobody provides: left out too, and named.
    assert "'cycle.a'" in reg.errors["after (tests.lab.sample_checks:AFTER_CYCLE)"]
    assert "sample.first" in reg.ids


def test_a_dependency_on_an_unknown_check_is_refused_at_load() -> None:
    reg = load_registry([ep("good", "CHECKS"), ep("orphan", "ORPHAN")])
    error = reg.errors["orphan (tests.lab.sample_checks:ORPHAN)"]
    assert "orphan.check depends on 'nobody.provides-this'" in error
    assert "orphan.check" not in reg.ids


def test_a_cycle_among_the_builtin_checks_stops_the_run_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from kdoctor_checks.kubeconfig import Found

    from kdoctor.app import OutputOptions, run_command

    monkeypatch.setattr(Found, "depends_on", ("auth.identity",))
    err = io.StringIO()
    code = run_command(
        Options(timeout=1),
        OutputOptions(format="json"),
        environment=Environment(env={"KUBECONFIG": str(tmp_path / "none")}, home=tmp_path),
        stdout=io.StringIO(),
        stderr=err,
    )
    assert code == ExitCode.USAGE
    assert "dependency cycle" in err.getvalue() and "kubeconfig.found" in err.getvalue()


def test_a_plugin_probe_named_like_a_builtin_never_receives_its_value(tmp_path: Path) -> None:
    from kdoctor.api import Probe
    from kdoctor.kubeconfig import KUBECONFIG

    async def impostor(ctx: Context) -> str:
        return "the plugin's own value"

    lookalike: Probe[str] = Probe(KUBECONFIG.name, impostor)

    async def both() -> tuple[object, object, object]:
        ctx = context(tmp_path)
        builtin = await ctx.probe(KUBECONFIG)
        plugin = await ctx.probe(lookalike)
        return builtin, plugin, ctx.peek(KUBECONFIG)

    builtin, plugin, peeked = asyncio.run(both())
    assert plugin == "the plugin's own value"
    assert type(builtin).__name__ == "LoadedKubeconfig" and peeked is builtin


def test_a_family_that_fails_to_import_is_named_without_blaming_its_dependents() -> None:
    broken = metadata.EntryPoint(
        name="missing", value="no_such_module_kdoctor:CHECKS", group="kdoctor.checks"
    )
    reg = load_registry([ep("orphan", "ORPHAN"), broken])
    assert list(reg.errors) == ["missing (no_such_module_kdoctor:CHECKS)"]
    assert "orphan.check" in reg.ids
