"""The session's real cluster (etcd + kube-apiserver built by tests/realcluster/build.sh).

Started once per test session, on first use: an apiserver costs seconds to start. Without the binaries
the tests fail under CI=true; locally they are left out, and one line at the end says how to build them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.lab.tools import in_ci, plain_kubectl
from tests.realcluster.cluster import (
    BUILD_COMMAND,
    SCENARIO_LOG,
    RealCluster,
    bin_dir,
    binaries_present,
    require_binaries,
    start_cluster,
)

_HERE = Path(__file__).resolve().parent
_LEFT_OUT: list[int] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if in_ci() or binaries_present():
        return
    mine = [item for item in items if _HERE in Path(str(item.path)).parents]
    if mine:
        _LEFT_OUT.append(len(mine))
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCENARIO_LOG:
        terminalreporter.section("real cluster: kubectl's words | kdoctor's failing check")
        for name, kubectl_words, doctor in SCENARIO_LOG:
            terminalreporter.write_line(
                f"{name}\n    kubectl: {kubectl_words[:300]}\n    kdoctor: {doctor[:300]}"
            )
    if _LEFT_OUT:
        terminalreporter.write_line(
            f"real-cluster tests skipped ({_LEFT_OUT[0]}): no kube-apiserver/etcd in {bin_dir()}; "
            f"build them with `{BUILD_COMMAND}` (README: real-cluster tests)"
        )


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    bins = require_binaries()
    cluster = start_cluster(tmp_path_factory.mktemp("realcluster"), bins, plain_kubectl())
    try:
        yield cluster
    finally:
        cluster.stop()
