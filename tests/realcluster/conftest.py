"""The session's real cluster (etcd + kube-apiserver built by tests/realcluster/build.sh).

Started once per test session, on first use: an apiserver costs seconds to start. Without the binaries
the tests skip locally (one line says how to build them) and fail under CI=true.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.lab.tools import plain_kubectl
from tests.realcluster.cluster import RealCluster, require_binaries, start_cluster


@pytest.fixture(scope="session")
def real_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealCluster]:
    bins = require_binaries()
    cluster = start_cluster(tmp_path_factory.mktemp("realcluster"), bins, plain_kubectl())
    try:
        yield cluster
    finally:
        cluster.stop()
