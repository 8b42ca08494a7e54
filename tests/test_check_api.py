"""The check API's mechanics: ctx.details, Unavailable → skip naming the root, modes, probe keys."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kdoctor import keys
from kdoctor.api import Check, Context, Environment, Mode, Options, Probe, Result, Status, Target, Unavailable
from kdoctor.registry import RegisteredCheck
from kdoctor.runner import run_target


async def _missing(ctx: Context) -> str:
    raise Unavailable("no server named", root="a.fails")


MISSING: Probe[str] = Probe("missing", _missing)


def _check(check_id: str, outcome: str, deps: tuple[str, ...] = (), modes: tuple[Mode, ...] = ()) -> Check:
    class C(Check):
        id = check_id
        title = check_id
        depends_on = deps

        async def run(self, ctx: Context) -> Result:
            ctx.details["seen"] = check_id
            if outcome == "crash":
                raise RuntimeError("boom")
            if outcome == "unavailable":
                await ctx.probe(MISSING)
            return Result.fail("bad", details={"own": 1}) if outcome == "fail" else Result.ok("good")

    if modes:
        C.modes = modes  # type: ignore[misc]
    return C()


def _run(tmp_path: Path, *checks: Check, mode: Mode = Mode.KUBECONFIG) -> dict[str, tuple[Status, str, dict]]:  # type: ignore[type-arg]
    ctx = Context(options=Options(), environment=Environment(env={}, home=tmp_path), target=Target(mode))
    run = asyncio.run(
        run_target(ctx, [RegisteredCheck(c, "test", "t") for c in checks], show_not_applicable=True)
    )
    return {r.id: (r.status, r.summary, dict(r.details)) for r in run.results}


def test_details_are_attached_to_whatever_the_check_returns_even_a_crash(tmp_path: Path) -> None:
    out = _run(tmp_path, _check("a.fails", "fail"), _check("b.crash", "crash"), _check("c.ok", "ok"))
    assert out["a.fails"] == (Status.FAIL, "bad", {"seen": "a.fails", "own": 1})
    assert out["b.crash"][0] is Status.ERROR and out["b.crash"][2] == {"seen": "b.crash"}
    assert out["c.ok"][2] == {"seen": "c.ok"}  # concurrent checks each have their own mapping


def test_unavailable_is_a_skip_and_dependents_name_the_root_not_the_neighbour(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        _check("a.fails", "fail"),
        _check("b.unavailable", "unavailable"),
        _check("c.next", "ok", ("b.unavailable",)),
        _check("d.after", "ok", ("c.next",)),
    )
    assert out["b.unavailable"][:2] == (Status.SKIP, "no server named (see a.fails)")
    assert out["c.next"][1] == "skipped: a.fails failed"
    assert out["d.after"][1] == "skipped: a.fails failed"


def test_a_chain_of_skips_names_the_failed_root(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        _check("a.root", "fail"),
        _check("b.mid", "ok", ("a.root",)),
        _check("c.end", "ok", ("b.mid",)),
    )
    assert out["b.mid"][1] == out["c.end"][1] == "skipped: a.root failed"


def test_modes_gate_a_check(tmp_path: Path) -> None:
    pod_only = _check("x.pod", "ok", modes=(Mode.IN_CLUSTER,))
    assert _run(tmp_path, pod_only)["x.pod"][:2] == (
        Status.SKIP,
        "not applicable: only in a pod (in-cluster mode)",
    )
    assert _run(tmp_path, pod_only, mode=Mode.IN_CLUSTER)["x.pod"][0] is Status.PASS


def test_modes_keep_a_check_s_own_reason(tmp_path: Path) -> None:
    class NotInPod(Check):
        id = "x.laptop"
        title = "x"
        modes = (Mode.KUBECONFIG,)
        not_for_mode = "in a pod, x.pod does this"

        async def run(self, ctx: Context) -> Result:
            return Result.ok("fine")

    out = _run(tmp_path, NotInPod(), mode=Mode.IN_CLUSTER)
    assert out["x.laptop"][:2] == (Status.SKIP, "not applicable: in a pod, x.pod does this")


def _slow(check_id: str, outcome: str, deps: tuple[str, ...] = ()) -> Check:
    class Slow(Check):
        id = check_id
        title = check_id
        depends_on = deps

        async def run(self, ctx: Context) -> Result:
            await asyncio.sleep(0.2)
            return Result.fail("bad") if outcome == "fail" else Result.ok("good")

    return Slow()


def test_an_unavailable_root_still_running_is_awaited_so_dependents_name_its_verdict(tmp_path: Path) -> None:
    out = _run(
        tmp_path,
        _slow("a.fails", "fail"),
        _check("b.unavailable", "unavailable"),
        _check("c.next", "ok", ("b.unavailable",)),
    )
    assert out["c.next"][1] == "skipped: a.fails failed"


def test_an_unavailable_root_that_passed_or_waits_on_the_raiser(tmp_path: Path) -> None:
    passed = _run(
        tmp_path,
        _slow("a.fails", "ok"),  # named as the root, yet it passed: no false verb, no crash
        _check("b.unavailable", "unavailable"),
        _check("c.next", "ok", ("b.unavailable",)),
    )
    assert passed["c.next"][1] == "skipped: a.fails reports the cause"
    # The root depends on the raiser: waiting for it would never end; the runner does not wait.
    cycle = _run(
        tmp_path,
        _slow("a.fails", "fail", ("b.unavailable",)),
        _check("b.unavailable", "unavailable"),
    )
    assert cycle["b.unavailable"][0] is Status.SKIP
    assert cycle["a.fails"][0] is Status.SKIP  # and the run ended


def test_probe_keys_are_identities_not_names(tmp_path: Path) -> None:
    async def one(ctx: Context) -> int:
        return 1

    async def two(ctx: Context) -> int:
        return 2

    first, second = Probe("same-name", one), Probe("same-name", two)
    ctx = Context(
        options=Options(), environment=Environment(env={}, home=tmp_path), target=Target(Mode.KUBECONFIG)
    )

    async def both() -> tuple[int, int]:
        return await ctx.probe(first), await ctx.probe(second)

    assert asyncio.run(both()) == (1, 2)


def test_a_key_resolves_its_implementation_on_first_await() -> None:
    assert isinstance(keys.VERSION, Probe)
    name = "kdoctor.probes.clusterdns"
    lazy: Probe[object] = Probe("lazy", f"{name}:_compute_resolv_conf")
    was_loaded = name in sys.modules
    assert lazy.compute.__module__ == name  # imported now, if it was not before
    assert was_loaded or name in sys.modules


def test_the_spinner_counts_only_the_checks_that_will_report(tmp_path: Path) -> None:
    from kdoctor.app import _reporting_total
    from kdoctor.registry import load_registry, select

    checks = select(load_registry(), [], [])
    options = Options(in_cluster=False)
    total = _reporting_total(options, Environment(env={}, home=tmp_path), checks)
    pod_only = [c.id for c in checks if c.check.modes == (Mode.IN_CLUSTER,)]
    assert pod_only and total == len(checks) - len(pod_only)
    assert _reporting_total(Options(all_contexts=True), Environment(env={}, home=tmp_path), checks) is None
