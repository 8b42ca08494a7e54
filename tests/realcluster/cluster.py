"""A real cluster on loopback: etcd and kube-apiserver built from their pinned Go modules (build.sh).

Everything is made in the test's directory: the PKI (with `kdoctor.emulator.pki`), the static token
file, the service-account key pair, the etcd data directory and each process's log. Processes run in
their own session (process group) and are stopped by that group's id: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml

from kdoctor.emulator.pki import (
    DEFAULT_SERVING_DNS,
    CertKey,
    ServiceAccountKeys,
    key_pem,
    make_ca,
    make_client_cert,
    make_serving_cert,
    write_pem,
)
from tests.lab.tools import missing

HERE = Path(__file__).resolve().parent
VERSIONS_FILE = HERE / "versions.env"
BUILD_COMMAND = "tests/realcluster/build.sh"

#: The name /etc/hosts maps to 127.0.0.1 (.ci/run adds it): client-go never proxies loopback IPs or
#: "localhost", so the proxy scenarios name the server by this alias.
LOOPBACK_ALIAS = "kdoctor-loopback-alias"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
SERVICE_CIDR = "10.0.0.0/24"
SERVICE_IP = "10.0.0.1"

START_TIMEOUT = 90.0  # an apiserver on 2 busy cores takes 5-20 s; a bound, not a wait
STOP_TIMEOUT = 10.0

# Static token users (--token-auth-file): their names say what RBAC grants them.
ADMIN_USER = "rc-admin"
LIMITED_USER = "rc-limited"  # bound to one narrow Role (get/list configmaps in namespace "kdoctor")
NOBODY_USER = "rc-nobody"  # authenticated, no binding at all
NAMESPACE = "kdoctor"


#: (scenario, kubectl's words, kdoctor's failing check and summary), filled by test_scenarios.py and
#: printed side by side at the end of the run (conftest.py).
SCENARIO_LOG: list[tuple[str, str, str]] = []


def versions() -> dict[str, str]:
    """The pinned versions (KUBERNETES_VERSION, STAGING_VERSION, ETCD_VERSION) from versions.env."""
    pinned: dict[str, str] = {}
    for line in VERSIONS_FILE.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pinned[key.strip()] = value.strip()
    return pinned


def bin_dir() -> Path:
    """Where build.sh puts the binaries for the pinned versions (same key as the script)."""
    pinned = versions()
    root = Path(os.environ.get("KDOCTOR_REALCLUSTER_CACHE") or Path.home() / ".cache" / "kdoctor-realcluster")
    return root / f"k8s-{pinned['KUBERNETES_VERSION']}-etcd-{pinned['ETCD_VERSION']}" / "bin"


def binaries_present() -> bool:
    directory = bin_dir()
    return all((directory / name).is_file() for name in ("kube-apiserver", "etcd", "BUILT"))


def require_binaries() -> Path:
    """The directory holding kube-apiserver and etcd; skips (locally) or fails (CI=true) without them."""
    directory = bin_dir()
    if not binaries_present():
        missing(f"real-cluster binaries ({directory}); build them with `{BUILD_COMMAND}`")
    return directory


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_port_on_all(hosts: Sequence[str]) -> int:
    """A port that is free on every one of `hosts` (two apiservers share a port, as in a real cluster)."""
    for _ in range(50):
        port = free_port(hosts[0])
        try:
            for host in hosts[1:]:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                    sock.bind((host, port))
        except OSError:
            continue
        return port
    raise RuntimeError(f"no port free on all of {hosts}")


UNSHARE = "/usr/bin/unshare"


def own_hostnames() -> bool:
    """Whether each apiserver can get a host name of its own (root, for `unshare --uts`)."""
    return os.geteuid() == 0 and Path(UNSHARE).is_file()


class Process:
    """A child in a session of its own, stopped by its process group."""

    def __init__(self, name: str, argv: Sequence[str], log: Path) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log
        self._log = log.open("ab")
        self.popen: subprocess.Popen[bytes] = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env={"PATH": "/usr/bin:/bin", "HOME": str(log.parent)},
        )

    @property
    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(STOP_TIMEOUT)
        self._log.close()

    def tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


# --- PKI ----------------------------------------------------------------------------------------------------


@dataclass
class ClusterPKI:
    """Everything a kubeadm-like cluster's PKI holds, made here; files under `dir`."""

    dir: Path
    ca: CertKey
    client_ca: CertKey
    other_ca: CertKey  # another cluster's CA, same name: a kubeconfig copied from elsewhere
    sa_keys: ServiceAccountKeys
    files: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def make(cls, directory: Path) -> ClusterPKI:
        directory.mkdir(parents=True, exist_ok=True)
        pki = cls(
            dir=directory,
            ca=make_ca("kubernetes"),
            client_ca=make_ca("kubernetes-client-ca"),
            other_ca=make_ca("kubernetes"),
            sa_keys=ServiceAccountKeys(),
        )
        pki.files["ca.crt"] = write_pem(directory / "ca.crt", pki.ca.cert_pem)
        pki.files["client-ca.crt"] = write_pem(directory / "client-ca.crt", pki.client_ca.cert_pem)
        pki.files["other-ca.crt"] = write_pem(directory / "other-ca.crt", pki.other_ca.cert_pem)
        pki.files["sa.key"] = write_pem(directory / "sa.key", key_pem(pki.sa_keys.private_key), private=True)
        pki.files["sa.pub"] = write_pem(directory / "sa.pub", pki.sa_keys.public_pem)
        return pki

    def serving(self, name: str, *, dns_names: Sequence[str], ips: Sequence[str]) -> tuple[Path, Path]:
        """A serving certificate signed by the cluster CA; (cert, key) paths."""
        leaf = make_serving_cert(self.ca, dns_names=dns_names, ip_addresses=ips)
        cert = write_pem(self.dir / f"{name}.crt", leaf.cert_pem)
        key = write_pem(self.dir / f"{name}.key", leaf.key_pem, private=True)
        return cert, key

    def client(
        self, name: str, user: str, groups: Sequence[str] = (), *, expired: bool = False
    ) -> tuple[Path, Path]:
        """A client certificate from the client CA (CN = user, O = groups); (cert, key) paths."""
        now = datetime.now(timezone.utc)
        window: dict[str, Any] = {}
        if expired:
            window = {"not_before": now - timedelta(days=30), "not_after": now - timedelta(days=1)}
        leaf = make_client_cert(self.client_ca, user, groups, **window)
        cert = write_pem(self.dir / f"{name}.crt", leaf.cert_pem)
        key = write_pem(self.dir / f"{name}.key", leaf.key_pem, private=True)
        return cert, key


def _serving_dns() -> list[str]:
    return [*DEFAULT_SERVING_DNS, LOOPBACK_ALIAS]


# --- processes ------------------------------------------------------------------------------------------


class Etcd:
    """A one-member etcd on loopback; restartable on the same data directory and ports."""

    def __init__(self, binary: Path, directory: Path) -> None:
        self.binary = binary
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.client_port = free_port()
        self.peer_port = free_port()
        self.started = False
        self.proc: Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def start(self) -> Etcd:
        """Start (or restart, on the same data and ports); a first start that lost its ports to
        another process meanwhile tries fresh ones."""
        for _attempt in range(3):
            try:
                return self._start_once()
            except RuntimeError as exc:
                if self.started or "address already in use" not in str(exc):
                    raise
                self.client_port, self.peer_port = free_port(), free_port()
        raise RuntimeError("etcd could not find free ports in 3 attempts")

    def _start_once(self) -> Etcd:
        peer = f"http://127.0.0.1:{self.peer_port}"
        argv = [
            str(self.binary),
            "--name=rc",
            f"--data-dir={self.dir / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=rc={peer}",
            "--unsafe-no-fsync",  # a test cluster: durability buys nothing, fsync costs seconds
            "--log-level=warn",
        ]
        self.proc = Process("etcd", argv, self.dir / "etcd.log")
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.proc.running:
                raise RuntimeError(f"etcd exited {self.proc.popen.returncode}:\n{self.proc.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as answer:
                    if json.loads(answer.read()).get("health") == "true":
                        self.started = True
                        return self
            except (OSError, ValueError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"etcd not healthy after {START_TIMEOUT:g}s:\n{self.proc.tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


@dataclass
class ApiServerSpec:
    name: str
    bind: str = "127.0.0.1"
    port: int = 0
    anonymous: bool = True
    serving_dns: Sequence[str] = ()
    serving_ips: Sequence[str] = ()
    etcd_prefix: str = "/registry"
    #: What the default/kubernetes endpoints will say. kube-apiserver refuses a loopback advertise
    #: address ("may not be in the loopback range"), so each gets one from TEST-NET-1 (RFC 5737), a
    #: documentation range that is never routed: it is written into the endpoints, nothing dials it.
    advertise: str = "192.0.2.10"


class ApiServer:
    """One kube-apiserver process with the cluster's PKI, token file and RBAC."""

    def __init__(self, binary: Path, pki: ClusterPKI, etcd: Etcd, tokens: Path, spec: ApiServerSpec) -> None:
        self.binary = binary
        self.pki = pki
        self.etcd = etcd
        self.spec = spec
        self.port = spec.port or free_port(spec.bind)
        self.dir = pki.dir.parent / spec.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tokens = tokens
        self.cert, self.key = pki.serving(
            f"{spec.name}-serving", dns_names=spec.serving_dns, ips=spec.serving_ips
        )
        self.proc: Process | None = None

    @property
    def url(self) -> str:
        return f"https://{self.spec.bind}:{self.port}"

    def argv(self) -> list[str]:
        p = self.pki.files
        return [
            str(self.binary),
            f"--etcd-servers={self.etcd.url}",
            f"--etcd-prefix={self.spec.etcd_prefix}",
            f"--bind-address={self.spec.bind}",
            f"--advertise-address={self.spec.advertise}",
            f"--secure-port={self.port}",
            f"--cert-dir={self.dir / 'certs'}",
            f"--tls-cert-file={self.cert}",
            f"--tls-private-key-file={self.key}",
            f"--client-ca-file={p['client-ca.crt']}",
            f"--token-auth-file={self.tokens}",
            "--authorization-mode=RBAC",
            f"--anonymous-auth={'true' if self.spec.anonymous else 'false'}",
            f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
            f"--service-account-key-file={p['sa.pub']}",
            f"--service-account-signing-key-file={p['sa.key']}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--v=1",
        ]

    def start(self, admin_token: str) -> ApiServer:
        argv = self.argv()
        if own_hostnames():
            # Each apiserver's identity Lease is named after a hash of its host name: two on one
            # host would share one Lease. A UTS namespace gives each its own name, as two
            # control-plane nodes have.
            argv = [UNSHARE, "--uts", "sh", "-c", 'hostname "$0" && exec "$@"', self.spec.name, *argv]
        self.proc = Process(self.spec.name, argv, self.dir / "kube-apiserver.log")
        self.wait_ready(admin_token)
        return self

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.pki.files["ca.crt"]))
        ctx.check_hostname = False  # the name-only variant is reached by IP here; the chain is still checked
        return ctx

    def get(self, path: str, token: str | None, timeout: float = 5) -> tuple[int, bytes]:
        """GET `path` with `token` (bearer), returning (status, body); never raises for HTTP errors."""
        request = urllib.request.Request(self.url + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context()) as answer:
                return int(answer.status), bytes(answer.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), bytes(exc.read())

    def get_full(self, path: str, token: str | None, timeout: float = 5) -> tuple[int, str, bytes]:
        """GET `path` with `token`: (status, Content-Type, body); never raises for HTTP errors."""
        request = urllib.request.Request(self.url + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=self.context()) as answer:
                return int(answer.status), answer.headers.get("Content-Type", ""), bytes(answer.read())
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.headers.get("Content-Type", ""), bytes(exc.read())

    def wait_ready(self, admin_token: str, timeout: float = START_TIMEOUT) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if not self.proc.running:
                raise RuntimeError(
                    f"{self.spec.name} exited {self.proc.popen.returncode}:\n{self.proc.tail()}"
                )
            try:
                code, body = self.get("/readyz", admin_token, timeout=3)
                if code == 200:
                    return
                last = f"{code} {body[:200]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.3)
        raise TimeoutError(f"{self.spec.name} not ready after {timeout:g}s ({last}):\n{self.proc.tail()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


# --- the cluster ---------------------------------------------------------------------------------------


@dataclass
class Tokens:
    admin: str
    limited: str
    nobody: str


RBAC_OBJECTS = f"""
apiVersion: v1
kind: Namespace
metadata: {{name: {NAMESPACE}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {{name: configmap-reader, namespace: {NAMESPACE}}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: limited-reads-configmaps, namespace: {NAMESPACE}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmap-reader}}
subjects:
- {{apiGroup: rbac.authorization.k8s.io, kind: User, name: {LIMITED_USER}}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: kdoctor, namespace: {NAMESPACE}}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {{name: kdoctor-sa-view, namespace: {NAMESPACE}}}
roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}}
subjects:
- {{kind: ServiceAccount, name: kdoctor, namespace: {NAMESPACE}}}
"""


@dataclass
class RealCluster:
    """etcd, the main apiserver `a` (anonymous on), its peer `b` on the same etcd (for the load
    balancer), and `strict` (anonymous off, a serving certificate valid only for kubernetes.default.svc,
    its own etcd prefix so that it is a separate cluster and not a third endpoint of the first)."""

    root: Path
    bins: Path
    pki: ClusterPKI
    tokens: Tokens
    token_file: Path
    etcd: Etcd
    a: ApiServer
    b: ApiServer
    strict: ApiServer
    kubectl: str
    started_s: float = 0.0

    @property
    def versions(self) -> dict[str, str]:
        return versions()

    def kubeconfig(
        self,
        path: Path,
        *,
        server: str | None = None,
        ca: Path | None = None,
        token: str | None = None,
        client_cert: tuple[Path, Path] | None = None,
        tls_server_name: str | None = None,
        proxy_url: str | None = None,
        namespace: str | None = None,
    ) -> Path:
        """A kubeconfig for one user of the cluster (files referenced by path, as kubeadm writes them)."""
        cluster: dict[str, Any] = {
            "server": server or self.a.url,
            "certificate-authority": str(ca or self.pki.files["ca.crt"]),
        }
        if tls_server_name:
            cluster["tls-server-name"] = tls_server_name
        if proxy_url:
            cluster["proxy-url"] = proxy_url
        user: dict[str, Any] = {}
        if token is not None:
            user["token"] = token
        if client_cert is not None:
            user["client-certificate"] = str(client_cert[0])
            user["client-key"] = str(client_cert[1])
        context: dict[str, Any] = {"cluster": "rc", "user": "rc-user"}
        if namespace:
            context["namespace"] = namespace
        document = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "rc", "cluster": cluster}],
            "users": [{"name": "rc-user", "user": user}],
            "contexts": [{"name": "rc", "context": context}],
            "current-context": "rc",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        path.chmod(0o600)
        return path

    def kubectl_run(
        self, *args: str, kubeconfig: Path, env: Mapping[str, str] | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        """kubectl with only this kubeconfig (HOME in the test tree, no proxy unless `env` sets one)."""
        base = {"PATH": "/usr/bin:/bin", "HOME": str(self.root / "home"), "KUBECONFIG": str(kubeconfig)}
        return subprocess.run(
            [self.kubectl, *args, "--request-timeout=10s"],
            env={**base, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    def admin_kubeconfig(self) -> Path:
        return self.kubeconfig(self.root / "admin.kubeconfig", token=self.tokens.admin)

    def stop(self) -> None:
        for server in (self.strict, self.b, self.a):
            server.stop()
        self.etcd.stop()


def start_cluster(root: Path, bins: Path, kubectl: str) -> RealCluster:
    """Start etcd and the three apiservers (in parallel: each start costs seconds) and apply RBAC."""
    import secrets
    from concurrent.futures import ThreadPoolExecutor

    started = time.monotonic()
    (root / "home").mkdir(parents=True, exist_ok=True)
    pki = ClusterPKI.make(root / "pki")
    tokens = Tokens(
        admin="rc-admin-" + secrets.token_hex(12),
        limited="rc-limited-" + secrets.token_hex(12),
        nobody="rc-nobody-" + secrets.token_hex(12),
    )
    token_file = root / "pki" / "tokens.csv"
    token_file.write_text(
        f'{tokens.admin},{ADMIN_USER},uid-admin,"system:masters"\n'
        f"{tokens.limited},{LIMITED_USER},uid-limited\n"
        f"{tokens.nobody},{NOBODY_USER},uid-nobody\n",
        encoding="utf-8",
    )
    token_file.chmod(0o600)
    etcd = Etcd(bins / "etcd", root / "etcd")
    # a and b share one port, like two control-plane nodes: the default/kubernetes endpoints then hold
    # both advertise addresses with that one port.
    shared = free_port_on_all(["127.0.0.1", "127.0.0.2"])
    everywhere_ips = ["127.0.0.1", "127.0.0.2", "::1", SERVICE_IP]
    a = ApiServer(
        bins / "kube-apiserver",
        pki,
        etcd,
        token_file,
        ApiServerSpec("apiserver-a", port=shared, serving_dns=_serving_dns(), serving_ips=everywhere_ips),
    )
    b = ApiServer(
        bins / "kube-apiserver",
        pki,
        etcd,
        token_file,
        ApiServerSpec(
            "apiserver-b",
            bind="127.0.0.2",
            advertise="192.0.2.11",
            port=shared,
            serving_dns=_serving_dns(),
            serving_ips=everywhere_ips,
        ),
    )
    strict = ApiServer(
        bins / "kube-apiserver",
        pki,
        etcd,
        token_file,
        ApiServerSpec(
            "apiserver-strict",
            anonymous=False,
            serving_dns=["kubernetes.default.svc"],
            serving_ips=[],
            etcd_prefix="/registry-strict",
            advertise="192.0.2.20",
        ),
    )
    etcd.start()
    cluster = RealCluster(root, bins, pki, tokens, token_file, etcd, a, b, strict, kubectl)
    try:
        with ThreadPoolExecutor(max_workers=3) as pool:
            for future in [pool.submit(s.start, tokens.admin) for s in (a, b, strict)]:
                future.result()
        manifest = root / "rbac.yaml"
        manifest.write_text(RBAC_OBJECTS, encoding="utf-8")
        applied = cluster.kubectl_run("apply", "-f", str(manifest), kubeconfig=cluster.admin_kubeconfig())
        if applied.returncode != 0:
            raise RuntimeError(f"kubectl apply failed: {applied.stderr}")
    except BaseException:
        cluster.stop()
        raise
    cluster.started_s = time.monotonic() - started
    return cluster
