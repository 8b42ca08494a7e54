"""Turn a drawn `Case` into files, run kdoctor on it, and check the invariants.

Two ways to run a case:
- in-process (`run_in_process`): kdoctor's own entry (`kdoctor.app.run_command`, what the CLI calls)
  with a fresh environment; ~20x faster than a process, so most cases run this way;
- subprocess (`run_subprocess`): `python -m kdoctor` under the netguard, for what only a process
  shows: the exit code as the shell sees it, a traceback on stderr, the peak RSS.

Invariants on every case (`check_outcome`): exit 0 or 1; exactly one JSON report on stdout, valid
against the shipped schema, equal to the --report file; no `error` status; no traceback; no
canary secret in any output; done within CASE_LIMIT seconds; every file of the case unchanged;
(subprocess) peak RSS under RSS_LIMIT_MIB. Network beyond loopback is refused by the netguard
(tests/lab/netguard), which is installed in this process by tests/conftest.py / bench/fuzz.py and
in every subprocess through PYTHONPATH.

A failing case is moved to the failures directory with its outputs and a README naming the seed,
the case number and the commands that replay it.
"""

from __future__ import annotations

# ruff: noqa: UP031  (the YAML templates are full of braces; %-formatting keeps them readable)
import base64
import contextlib
import faulthandler
import hashlib
import io
import itertools
import json
import math
import os
import resource
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from tests.fuzz import strategies as S
from tests.reportvalidation import schema_errors

REPO = Path(__file__).resolve().parents[2]
NETGUARD = REPO / "tests" / "lab" / "netguard"
RSSWRAP = Path(__file__).with_name("rsswrap.py")
#: Each case's --timeout: short, so that hangs (which must end at it) keep the campaign fast.
CASE_TIMEOUT = 1.0
#: An in-process case that has no verdict after this long has hung the harness's own process: the
#: watchdog names the case, dumps every thread's stack and ends the campaign (a hang must be loud).
WATCHDOG_SECONDS = 60.0
CASE_LIMIT = 10.0
RSS_LIMIT_MIB = 200
#: In-process, the peak RSS is the whole test process's; a case may not grow it by more than this.
IN_PROCESS_GROWTH_MIB = 150


# --- loopback peers ----------------------------------------------------------------------------


class HangListener:
    """Accepts TCP connections and never answers (holds each for a minute, then drops it)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.held: list[tuple[float, socket.socket]] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True, name="fuzz-hang")
        self.thread.start()

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.sock.getsockname()[1]

    def _loop(self) -> None:
        self.sock.settimeout(0.5)
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                self.held.append((time.monotonic(), conn))
            cutoff = time.monotonic() - 60
            while self.held and self.held[0][0] < cutoff:
                self.held.pop(0)[1].close()

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        self.sock.close()
        for _, conn in self.held:
            conn.close()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Peers:
    """What cases point at: the apiserver emulator, a port that refuses, a listener that hangs."""

    emu: str
    ca_pem: bytes
    client_cert: tuple[bytes, bytes]
    other_key_pem: bytes
    hang: HangListener
    closed_port: int
    _stop: Callable[[], None] = lambda: None

    @classmethod
    @contextlib.contextmanager
    def start(cls) -> Iterator[Peers]:
        from kdoctor.emulator import Emulator
        from kdoctor.emulator.pki import key_pem, new_key

        emulator = Emulator("healthy").start()
        hang = HangListener()
        try:
            yield cls(
                emu=f"{emulator.host}:{emulator.port}",
                ca_pem=emulator.ca_pem,
                client_cert=emulator.mint_client_cert(),
                other_key_pem=key_pem(new_key()),
                hang=hang,
                closed_port=closed_port(),
            )
        finally:
            hang.close()
            emulator.stop()


# --- materialising a case ----------------------------------------------------------------------


def _pem_to_der(pem: bytes) -> bytes:
    body = b"".join(line for line in pem.splitlines() if line and not line.startswith(b"-----"))
    return base64.b64decode(body)


def blob_bytes(kind: str, peers: Peers) -> bytes:
    ca = peers.ca_pem
    cert, key = peers.client_cert
    table: dict[str, Callable[[], bytes]] = {
        "ca-pem": lambda: ca,
        "ca-der": lambda: _pem_to_der(ca),
        "ca-pem-bom": lambda: b"\xef\xbb\xbf" + ca,
        "ca-pem-utf16": lambda: ca.decode().encode("utf-16"),
        "ca-pem-crlf": lambda: ca.replace(b"\n", b"\r\n"),
        "ca-pem-padded": lambda: b"\n\n   \n" + ca + b"\n\x00\x00==== \n",
        "garbage": lambda: bytes(range(256)) * 3,
        "huge-garbage": lambda: b"\xa5\x5a" * (3 * 1024 * 1024),
        "key-pem": lambda: key,
        "empty": lambda: b"",
        "two-certs-one-broken": lambda: ca + ca.replace(b"A", b"*", 5),
        "client-cert": lambda: cert,
        "client-key": lambda: key,
        "client-key-der": lambda: _pem_to_der(key),
        "client-key-encrypted": lambda: key.replace(b"PRIVATE KEY", b"ENCRYPTED PRIVATE KEY"),
        "client-cert-other-key": lambda: peers.other_key_pem,
        "pem-truncated": lambda: ca[: len(ca) // 2],
        "pem-wrong-label": lambda: ca.replace(b"CERTIFICATE", b"X509 CRL"),
    }
    return table.get(kind, lambda: b"")()


def blob_text(kind: str, peers: Peers) -> str:
    if kind == "not-base64":
        return "this is not base64 at all!"
    data = blob_bytes(kind, peers)
    if kind == "base64-whitespace":
        text = base64.b64encode(peers.ca_pem).decode()
        return "\n".join(text[i : i + 64] for i in range(0, len(text), 64))
    if kind == "base64-urlsafe":
        return base64.urlsafe_b64encode(b"\xfb\xff" + peers.ca_pem).decode().rstrip("=")
    return base64.b64encode(data).decode()


SCRIPTS: dict[str, str] = {
    "token": 'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\' "$TOKEN"',
    "token-v1": 'printf \'{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2999-01-01T00:00:00Z"}}\' "$TOKEN"',
    "garbage": "head -c 3000 /dev/urandom",
    "empty": "true",
    "huge": "head -c 20000000 /dev/zero",
    "exit-1": 'echo "failed with $TOKEN" >&2; exit 1',
    "hang": "exec sleep 30",
    "hang-child": "sleep 30 & printf '{}'; wait",
    "expired": 'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s","expirationTimestamp":"2001-01-01T00:00:00Z"}}\' "$TOKEN"',
    "cert": 'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x","clientKeyData":"%s"}}\' "$TOKEN"',
    "wrong-kind": 'printf \'{"apiVersion":"v1","kind":"Secret","status":{"token":"%s"}}\' "$TOKEN"',
    "status-wrong-types": 'printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":["%s"],"expirationTimestamp":12}}\' "$TOKEN"',
    "stderr-secret": 'echo "token=$TOKEN" >&2; printf \'{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}\' "$TOKEN"',
    "big-stderr": "head -c 5000000 /dev/zero | tr '\\0' 'e' >&2; exit 2",
}


class Materialiser:
    def __init__(self, case_dir: Path, peers: Peers) -> None:
        self.dir = case_dir
        self.peers = peers
        self.counter = itertools.count()
        self.self_path = str(case_dir / "config-0")

    def fresh(self, stem: str) -> Path:
        return self.dir / f"{stem}-{next(self.counter)}"

    def path(self, kind: str) -> str:
        p = self.fresh(kind)
        peers = self.peers
        if kind == "ca-file":
            p.write_bytes(peers.ca_pem)
        elif kind == "ca-der-file":
            p.write_bytes(_pem_to_der(peers.ca_pem))
        elif kind == "garbage-file":
            p.write_bytes(bytes(range(256)))
        elif kind == "empty-file":
            p.write_bytes(b"")
        elif kind == "missing":
            pass
        elif kind == "nul":
            return str(p) + "\x00.crt"
        elif kind == "directory":
            p.mkdir()
        elif kind == "self":
            return self.self_path
        elif kind == "dev-zero":
            return "/dev/zero"
        elif kind == "dev-null":
            return "/dev/null"
        elif kind == "fifo":
            os.mkfifo(p)
        elif kind == "symlink-loop":
            os.symlink(p.name + "-b", p)
            os.symlink(p.name, str(p) + "-b")
        elif kind == "unreadable":
            p.write_bytes(peers.ca_pem)
            p.chmod(0)
        elif kind == "proc-mem":
            return "/proc/self/mem"
        elif kind == "long":
            return str(self.dir / ("x" * 5000))
        elif kind == "relative-up":
            return "../../../../../../../../etc/hostname"
        elif kind == "client-cert-file":
            p.write_bytes(peers.client_cert[0])
        elif kind == "client-key-file":
            p.write_bytes(peers.client_cert[1])
        elif kind == "token-file":
            p.write_text(S.CANARY_TOKEN + "\n")
        elif kind == "token-file-huge":
            p.write_bytes(S.CANARY_TOKEN.encode() * 400_000)
        elif kind == "token-file-binary":
            p.write_bytes(b"\x00\xff" + S.CANARY_TOKEN.encode() + b"\xfe")
        elif kind == "big-file":
            with open(p, "wb") as fh:
                fh.truncate(60 * 1024 * 1024)  # sparse: costs nothing to make
        return str(p)

    def url(self, template: str) -> str:
        return template.format(
            emu=self.peers.emu,
            closed=f"127.0.0.1:{self.peers.closed_port}",
            hang=self.peers.hang.address,
            closed_port=self.peers.closed_port,
        )

    def script(self, kind: str) -> str:
        p = self.fresh("plugin")
        body = SCRIPTS.get(kind, "true")
        p.write_text(f"#!/bin/sh\nTOKEN={S.CANARY_EXEC_TOKEN}\n{body}\n")
        p.chmod(0o755)
        return str(p)

    def resolve(self, node: Any) -> Any:
        """Markers that need the machine (paths, ports, certificates) → plain values."""
        if isinstance(node, S.Blob):
            return blob_text(node.kind, self.peers)
        if isinstance(node, S.Path_):
            return self.path(node.kind)
        if isinstance(node, S.Url):
            return self.url(node.template)
        if isinstance(node, S.Script):
            return self.script(node.kind)
        if isinstance(node, S.Tagged):
            return S.Tagged(node.tag, self.resolve(node.value))
        if isinstance(node, S.Pairs):
            return S.Pairs(tuple((k, self.resolve(v)) for k, v in node.items))
        if isinstance(node, dict):
            return {k: self.resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.resolve(v) for v in node]
        return node


def _plain(node: Any) -> bool:
    """True when yaml.safe_dump can write the node (no markers, no float oddities)."""
    if isinstance(node, (S.Raw, S.Tagged, S.Pairs)):
        return False
    if isinstance(node, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in node.items())
    if isinstance(node, list):
        return all(_plain(v) for v in node)
    if isinstance(node, int) and not isinstance(node, bool):
        return abs(node) < 10**300
    return node is None or isinstance(node, (str, bool, float))


def emit(node: Any, *, json_mode: bool = False) -> str:
    """Flow-style YAML (a superset of JSON); in json_mode tags are dropped and raw scalars quoted
    unless they are JSON numbers."""
    if isinstance(node, S.Tagged):
        inner = emit(node.value, json_mode=json_mode)
        return inner if json_mode else f"{node.tag} {inner}"
    if isinstance(node, S.Raw):
        if json_mode:
            text = node.text
            return text if text.lstrip("-").isdigit() else json.dumps(text)
        return node.text
    if isinstance(node, S.Pairs):
        inner = ", ".join(f"{json.dumps(str(k))}: {emit(v, json_mode=json_mode)}" for k, v in node.items)
        return "{" + inner + "}"
    if isinstance(node, dict):
        inner = ", ".join(f"{json.dumps(str(k))}: {emit(v, json_mode=json_mode)}" for k, v in node.items())
        return "{" + inner + "}"
    if isinstance(node, list):
        return "[" + ", ".join(emit(v, json_mode=json_mode) for v in node) + "]"
    if node is None:
        return "null"
    if isinstance(node, bool):
        return "true" if node else "false"
    if isinstance(node, int):
        with contextlib.suppress(ValueError):
            return str(node)
        return "9" * 5000
    if isinstance(node, float):
        if math.isnan(node):
            return '"NaN"' if json_mode else ".nan"
        if math.isinf(node):
            return (
                ('"Infinity"' if json_mode else ".inf")
                if node > 0
                else ('"-Infinity"' if json_mode else "-.inf")
            )
        return repr(node)
    return json.dumps(str(node))


def structural(kind: str, m: Materialiser) -> bytes:
    emu = f"https://{m.peers.emu}"
    ok = (
        "apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n    server: %s\n"
        "contexts:\n- name: emu\n  context: {cluster: emu, user: emu}\ncurrent-context: emu\n"
        "users:\n- name: emu\n  user: {token: %s}\n" % (emu, S.CANARY_TOKEN)
    )
    if kind == "alias-bomb":
        lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        for i in range(1, 10):
            prev = f"*a{i - 1}"
            lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
        return ("\n".join(lines) + "\nclusters: *a9\n").encode()
    if kind == "recursive-alias":
        return b"clusters: &a [*a]\n"
    if kind == "deep-flow":
        return b"clusters: " + b"[" * 20000 + b"]" * 20000 + b"\n"
    if kind == "deep-block":
        return "".join(" " * i + "a:\n" for i in range(300)).encode()
    if kind == "big-50mb":
        return b""  # written sparse by the caller
    if kind == "big-5mb-valid":
        pad = "# " + "x" * 98 + "\n"
        return (ok + pad * (4 * 1024 * 1024 // len(pad))).encode()
    if kind == "nul-bytes":
        return ok.encode().replace(b"kind", b"ki\x00nd")
    if kind == "utf16":
        return ok.encode("utf-16")
    if kind == "bom":
        return b"\xef\xbb\xbf" + ok.encode()
    if kind == "latin1":
        return ok.replace("emu", "\xe9mu").encode("latin-1")
    if kind == "multi-doc":
        return (ok + "---\n" + ok.replace("emu", "second")).encode()
    if kind == "garbage":
        return bytes(range(1, 256)) * 20
    if kind == "empty":
        return b""
    if kind == "only-comment":
        return b"# nothing here\n"
    if kind == "tabs":
        return ok.replace("  ", "\t").encode()
    if kind == "python-object":
        return (ok + "preferences: !!python/object/apply:os.system ['touch /tmp/kdoctor-pwned']\n").encode()
    if kind == "json-big-ints":
        doc = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "emu", "cluster": {"server": emu}}],
        }
        text = json.dumps(doc)
        return text.replace('"v1"', "1" + "0" * 4999).replace('"Config"', "1e99999").encode()
    if kind == "unclosed":
        return b'clusters: [{"name": "emu", cluster: {server: "' + emu.encode() + b'"'
    if kind == "anchor-merge":
        return (
            "base: &b {server: %s, insecure-skip-tls-verify: true}\nclusters:\n- name: emu\n  cluster: {<<: *b, <<: *b}\n"
            "contexts: [{name: emu, context: {cluster: emu, user: emu}}]\ncurrent-context: emu\n"
            "users: [{name: emu, user: {<<: [*b, *b], token: %s}}]\n" % (emu, S.CANARY_TOKEN)
        ).encode()
    if kind == "very-long-line":
        return (ok + "preferences: {x: '" + "y" * 3_000_000 + "'}\n").encode()
    if kind == "many-keys":
        clusters = "".join(f"- name: c{i}\n  cluster: {{server: {emu}}}\n" for i in range(20000))
        return (ok + "extra:\n" + clusters).encode()
    return ok.encode()


@dataclass
class Prepared:
    dir: Path
    kubeconfig: list[str]
    flag: str | None
    env: dict[str, str]
    digests: dict[str, str]


def materialise(case: S.Case, case_dir: Path, peers: Peers) -> Prepared:
    case_dir.mkdir(parents=True)
    m = Materialiser(case_dir, peers)
    names: dict[str, str] = {}
    for name, node in case.files.items():
        path = case_dir / name
        names[name] = str(path)
        if isinstance(node, tuple) and node[:1] == ("structural",):
            if node[1] == "big-50mb":
                with open(path, "wb") as fh:
                    fh.write(b"apiVersion: v1\nclusters: []\n# ")
                    fh.truncate(50 * 1024 * 1024)
            else:
                path.write_bytes(structural(node[1], m))
            continue
        doc = m.resolve(node)
        fmt = case.formats.get(name, "yaml")
        if fmt == "yaml" and _plain(doc):
            text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1 << 20)
        else:
            text = emit(doc, json_mode=fmt == "json") + "\n"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    entries: list[str] = []
    for entry in case.kubeconfig:
        if isinstance(entry, S.Path_):
            entries.append(m.path(entry.kind))
        elif entry in names:
            entries.append(names[entry])
        else:
            entries.append(str(case_dir / entry))
    env = {k: m.url(v) for k, v in case.env.items()}
    flag = entries[0] if case.use_flag else None
    return Prepared(case_dir, entries, flag, env, digest_tree(case_dir))


def digest_tree(root: Path) -> dict[str, str]:
    """sha256 (or link target) of every regular file and symlink under root, without following links."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            info = os.lstat(p)
            if stat.S_ISLNK(info.st_mode):
                out[p] = "link:" + os.readlink(p)
            elif stat.S_ISREG(info.st_mode):
                if info.st_size > 20 * 1024 * 1024:
                    out[p] = f"size:{info.st_size}:{info.st_mtime_ns}:{stat.S_IMODE(info.st_mode)}"
                    continue
                h = hashlib.sha256()
                with open(p, "rb") as fh:
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        h.update(chunk)
                out[p] = h.hexdigest() + f":{stat.S_IMODE(info.st_mode)}"
            else:
                out[p] = f"mode:{info.st_mode:o}"
    return out


# --- running -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    report_file: str
    seconds: float
    rss_mib: float | None = None  # subprocess: the child's peak; in-process: growth of ours
    problems: list[str] = field(default_factory=list)


def _argv(p: Prepared, report: Path, case: S.Case) -> list[str]:
    args = ["run", "-o", "json", "--report", str(report), "--timeout", str(CASE_TIMEOUT), "--no-in-cluster"]
    if p.flag is not None:
        args += ["--kubeconfig", p.flag]
    if case.context is not None:
        args += ["--context", case.context]
    if case.all_contexts:
        args.append("--all-contexts")
    return args


def _env(p: Prepared) -> dict[str, str]:
    env = {"HOME": str(p.dir), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env["KUBECONFIG"] = os.pathsep.join(p.kubeconfig)
    env.update(p.env)
    return env


_REGISTRY: Any = None


def run_in_process(case: S.Case, p: Prepared) -> Outcome:
    from kdoctor.app import OutputOptions, run_command
    from kdoctor.context import Environment, Options
    from kdoctor.registry import load_registry

    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    report = p.dir / "report.json"
    options = Options(
        kubeconfig=p.flag,
        context=case.context,
        all_contexts=case.all_contexts,
        in_cluster=False,
        timeout=CASE_TIMEOUT,
    )
    environment = Environment(env=_env(p), home=p.dir)
    out, err = io.StringIO(), io.StringIO()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = run_command(
                options,
                OutputOptions(format="json", report_file=str(report)),
                environment=environment,
                stdout=out,
                stderr=err,
                registry=_REGISTRY,
            )
        except BaseException as exc:  # the invariant is that this never happens
            import traceback

            err.write("Traceback (escaped run_command):\n" + traceback.format_exc())
            code = -1
            if isinstance(exc, KeyboardInterrupt):
                raise
    seconds = time.perf_counter() - started
    growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    return Outcome(code, out.getvalue(), err.getvalue(), _read(report), seconds, growth)


def run_subprocess(case: S.Case, p: Prepared) -> Outcome:
    report = p.dir / "report.json"
    peak_file = p.dir / ".peak"
    env = _env(p)
    env["PYTHONPATH"] = os.pathsep.join([str(NETGUARD), str(REPO)])
    started = time.perf_counter()
    with open(p.dir / ".stdout", "w+b") as out, open(p.dir / ".stderr", "w+b") as err:
        proc = subprocess.Popen(
            [sys.executable, str(RSSWRAP), str(peak_file), "-m", "kdoctor", *_argv(p, report, case)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=p.dir,
        )
        deadline = started + CASE_LIMIT + 5
        status = 0
        while True:
            pid, status = os.waitpid(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status = os.waitpid(proc.pid, 0)
                break
            time.sleep(0.01)
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not reap it again
        seconds = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    (p.dir / ".stdout").unlink()
    (p.dir / ".stderr").unlink()
    peak = _read(peak_file)
    # No fallback to the child's rusage: Linux counts the forking parent's size in it (see rsswrap).
    rss = int(peak) / 1024 if peak.strip().isdigit() else None
    return Outcome(proc.returncode, stdout, stderr, _read(report), seconds, rss)


def _read(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return ""
    path.unlink()
    return text


def check_outcome(o: Outcome, p: Prepared, *, subprocess_run: bool) -> list[str]:
    problems: list[str] = []
    if o.code not in (0, 1):
        problems.append(f"exit code {o.code}, not 0 or 1")
    for name, text in (("stdout", o.stdout), ("stderr", o.stderr), ("--report", o.report_file)):
        if "Traceback (most recent call last)" in text or "Traceback (escaped" in text:
            problems.append(f"traceback on {name}")
        for canary in S.CANARIES:
            if canary in text:
                problems.append(f"canary {canary} in {name}")
    doc: Any = None
    try:
        doc = json.loads(o.stdout)
    except ValueError as exc:
        problems.append(f"stdout is not one JSON document: {exc}")
    if doc is not None:
        errors = schema_errors(doc)
        if errors:
            problems.append("report breaks the schema: " + "; ".join(errors[:3]))
        else:
            errored = [
                f"{r['id']}: {r['summary'][:200]}"
                for t in doc["targets"]
                for r in t["results"]
                if r["status"] == "error"
            ]
            if errored:
                problems.append("status error: " + " | ".join(errored))
        if o.report_file and json.loads(o.report_file).get("targets") != doc.get("targets"):
            problems.append("--report differs from stdout")
    if not o.report_file:
        problems.append("no --report file written")
    if o.seconds > CASE_LIMIT:
        problems.append(f"took {o.seconds:.1f}s (limit {CASE_LIMIT:g}s)")
    if o.rss_mib is not None:
        limit = RSS_LIMIT_MIB if subprocess_run else IN_PROCESS_GROWTH_MIB
        if o.rss_mib > limit:
            what = "peak RSS" if subprocess_run else "RSS growth in-process"
            problems.append(f"{what} {o.rss_mib:.0f} MiB (limit {limit} MiB)")
    after = digest_tree(p.dir)
    changed = [k for k, v in p.digests.items() if after.get(k) != v]
    if changed:
        problems.append("files changed: " + ", ".join(os.path.basename(c) for c in changed[:5]))
    if os.path.exists("/tmp/kdoctor-pwned"):
        problems.append("a !!python tag was executed")
    return problems


# --- campaigns ---------------------------------------------------------------------------------


@dataclass
class Failure:
    seed: int
    number: int
    problems: list[str]
    reproducer: Path


@dataclass
class Stats:
    cases: int = 0
    seconds: float = 0.0
    slowest: tuple[float, int] = (0.0, -1)
    highest_rss: tuple[float, int] = (0.0, -1)
    failures: list[Failure] = field(default_factory=list)
    interrupted: bool = False


def _cleanup(path: Path) -> None:
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:
            with contextlib.suppress(OSError):
                os.chmod(os.path.join(dirpath, d), 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _relocate(root: Path, old: str, new: str) -> None:
    """Rewrite the case's own paths inside its files after moving it (kubeconfigs name each other)."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            p = os.path.join(dirpath, name)
            info = os.lstat(p)
            if not stat.S_ISREG(info.st_mode) or info.st_size > 20 * 1024 * 1024:
                continue
            with contextlib.suppress(OSError):
                data = Path(p).read_bytes()
                if old.encode() in data:
                    Path(p).write_bytes(data.replace(old.encode(), new.encode()))


def _hung(seed: int, number: int, campaign_size: int) -> None:
    sys.stderr.write(
        f"FUZZ WATCHDOG seed={seed} case={number}: no verdict within {WATCHDOG_SECONDS:g}s; replay: "
        f"python bench/fuzz.py --n {campaign_size} --seed {seed} --case {number}\n"
    )
    faulthandler.dump_traceback(all_threads=True)
    sys.stderr.flush()
    os._exit(3)


def run_case(
    case: S.Case,
    number: int,
    seed: int,
    work: Path,
    failures_dir: Path,
    peers: Peers,
    *,
    subprocess_run: bool,
    campaign_size: int = 0,
) -> tuple[Outcome, Failure | None]:
    case_dir = work / f"case-{number}"
    if case_dir.exists():
        _cleanup(case_dir)
    prepared = materialise(case, case_dir, peers)
    if any("\x00" in k for k in prepared.kubeconfig) or "\x00" in "".join(prepared.env.values()):
        subprocess_run = False  # no process can be given an environment holding a NUL byte
    watchdog = threading.Timer(WATCHDOG_SECONDS, _hung, (seed, number, campaign_size))
    watchdog.daemon = True
    watchdog.start()
    try:
        outcome = (run_subprocess if subprocess_run else run_in_process)(case, prepared)
        problems = check_outcome(outcome, prepared, subprocess_run=subprocess_run)
    except Exception as exc:  # a harness bug must not end a 10,000-case campaign
        import traceback

        outcome = Outcome(-1, "", traceback.format_exc(), "", 0.0)
        problems = [f"harness error: {type(exc).__name__}: {exc}"]
    finally:
        watchdog.cancel()
    if not problems:
        _cleanup(case_dir)
        return outcome, None
    target = failures_dir / f"seed-{seed}-case-{number}"
    if target.exists():
        _cleanup(target)
    failures_dir.mkdir(parents=True, exist_ok=True)
    shutil.move(str(case_dir), str(target))
    _relocate(target, str(case_dir), str(target))
    prepared.kubeconfig = [k.replace(str(case_dir), str(target)) for k in prepared.kubeconfig]
    prepared.dir = target
    if prepared.flag is not None:
        prepared.flag = prepared.flag.replace(str(case_dir), str(target))
    mode = "--subprocess " if subprocess_run else ""
    (target / "README.txt").write_text(
        f"kdoctor fuzz failure: seed {seed}, case {number}\n"
        f"problems:\n"
        + "".join(f"  - {x}\n" for x in problems)
        + "\n"
        f"replay the case (regenerates it, needs the same Hypothesis version):\n"
        f"  python bench/fuzz.py --n {campaign_size} --seed {seed} --case {number} {mode}\n"
        f"or run kdoctor on the files here (the loopback ports in them are gone by now):\n"
        f"  KUBECONFIG={os.pathsep.join(prepared.kubeconfig)} "
        f"python -m kdoctor {' '.join(_argv(prepared, target / 'report.json', case))}\n\n"
        f"case: {case!r}\n"[:200_000]
    )
    (target / "stdout.txt").write_text(outcome.stdout[:1_000_000])
    (target / "stderr.txt").write_text(outcome.stderr[:1_000_000])
    failure = Failure(seed, number, problems, target)
    print(f"FUZZ FAILURE seed={seed} case={number}: {problems} (reproducer: {target})", file=sys.stderr)
    return outcome, failure


def campaign(
    n: int,
    seed: int,
    work: Path,
    failures_dir: Path,
    *,
    subprocess_every: int = 0,
    only: int | None = None,
    force_subprocess: bool = False,
    progress: Callable[[Stats], None] | None = None,
) -> Stats:
    """Draw `n` cases from `seed` and run each; every `subprocess_every`-th case runs as a process.

    `only`: draw cases up to that number and run just that one (replay).
    """
    stats = Stats()
    counter = itertools.count()
    started = time.perf_counter()
    with Peers.start() as peers:

        @settings(
            # Always n: Hypothesis shapes its draws by the number of examples it may make, so a
            # replay must ask for as many as the campaign did (it runs only case `only`).
            max_examples=n,
            database=None,
            phases=[Phase.generate],
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=False,
            print_blob=False,
        )
        @hypothesis_seed(seed)
        @given(S.cases())
        def body(case: S.Case) -> None:
            number = next(counter)
            if only is not None and number != only:
                return
            as_process = force_subprocess or bool(subprocess_every and number % subprocess_every == 0)
            outcome, failure = run_case(
                case, number, seed, work, failures_dir, peers, subprocess_run=as_process, campaign_size=n
            )
            stats.cases += 1
            if outcome.seconds > stats.slowest[0]:
                stats.slowest = (outcome.seconds, number)
            if as_process and outcome.rss_mib is not None and outcome.rss_mib > stats.highest_rss[0]:
                stats.highest_rss = (outcome.rss_mib, number)
            if failure is not None:
                stats.failures.append(failure)
            if progress is not None:
                progress(stats)

        try:
            body()
        except KeyboardInterrupt:
            # bench/fuzz.py turns SIGINT/SIGTERM into this: report the cases run so far.
            stats.interrupted = True
    stats.seconds = time.perf_counter() - started
    return stats
