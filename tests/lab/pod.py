"""A pod's world on loopback: service-account files, resolv.conf and KUBERNETES_SERVICE_* for `kdoctor run --in-cluster`.

The apiserver is the package's emulator on 127.0.0.1, the cluster DNS a real DNS server
(tests/lab/dnsserver.py) that answers `kubernetes.default.svc.<domain>` with 127.0.0.1, so the
answer equals KUBERNETES_SERVICE_HOST as in a real pod.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kdoctor.emulator import Emulator
from tests.clirun import Completed, kdoctor
from tests.lab.dnsserver import DNSServer, write_resolv_conf

SERVICE_FQDN = "kubernetes.default.svc.cluster.local"


@dataclass
class Pod:
    sa_dir: Path
    resolv_conf: Path
    env: dict[str, str]
    token: str
    home: Path

    def run(self, *args: str, in_cluster_flags: bool = True, timeout: float = 90) -> Completed:
        """`kdoctor ARGS --serviceaccount-dir D --resolv-conf R` in a subprocess with the pod's env."""
        paths = ["--serviceaccount-dir", str(self.sa_dir), "--resolv-conf", str(self.resolv_conf)]
        return kdoctor(
            *args,
            *(paths if in_cluster_flags else ()),
            home=self.home,
            env=self.env,
            timeout=timeout,
        )


def make_pod(
    api: Emulator,
    dns: DNSServer,
    tmp_path: Path,
    *,
    namespace: str = "kdoctor",
    service_account: str = "kdoctor",
    token: str | None = None,
    search: Sequence[str] | None = None,
) -> Pod:
    token = token if token is not None else api.mint_sa_token(namespace, service_account, pod="kdoctor-x7k2p")
    sa_dir = api.serviceaccount_dir(tmp_path / "serviceaccount", token=token, namespace=namespace)
    if search is None:
        search = [f"{namespace}.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    resolv_conf = write_resolv_conf(tmp_path, [dns.address], search=search)
    env = {"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(api.port)}
    return Pod(sa_dir=sa_dir, resolv_conf=resolv_conf, env=env, token=token, home=tmp_path)
