"""The emulator answers like the real kube-apiserver to the requests kdoctor (and `kdoctor demo`) make.

The same request, with the same kind of credential, goes to the session's real apiserver and to an
emulator configured with the same users (an admin in system:masters, a user with no bindings, a token
neither knows, no credential). Status codes, content types, the JSON fields kdoctor reads, Status error
bodies, /readyz?verbose lines and the self-review answers must match; a difference that is deliberate
is listed in DELIBERATE with the reason.
"""

from __future__ import annotations

import json
import re
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest

from kdoctor.emulator import Emulator, UserInfo
from tests.realcluster.cluster import ADMIN_USER, NOBODY_USER, RealCluster

WRONG_TOKEN = "parity-unknown-token-" + "7" * 20
ACCEPT = "application/json, */*"  # what kdoctor's session sends (kdoctor/probes/api.py)
SSR_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SSR = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes
    date: str = ""

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def media_type(self) -> str:
        return self.content_type.split(";")[0].strip()


@dataclass(frozen=True)
class Side:
    url: str
    ssl: ssl.SSLContext
    tokens: dict[str, str | None]  # "admin" / "nobody" / "wrong" / "none" -> bearer token

    def ask(self, method: str, path: str, who: str, body: dict[str, Any] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", ACCEPT)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        token = self.tokens[who]
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=10, context=self.ssl) as answer:
                headers = answer.headers
                return Answer(
                    int(answer.status),
                    headers.get("Content-Type", ""),
                    bytes(answer.read()),
                    headers.get("Date", ""),
                )
        except urllib.error.HTTPError as exc:
            headers = exc.headers
            return Answer(
                int(exc.code), headers.get("Content-Type", ""), bytes(exc.read()), headers.get("Date", "")
            )


@dataclass(frozen=True)
class Pair:
    real: Side
    emulator: Side

    def ask(
        self, method: str, path: str, who: str, body: dict[str, Any] | None = None
    ) -> tuple[Answer, Answer]:
        return self.real.ask(method, path, who, body), self.emulator.ask(method, path, who, body)


@pytest.fixture(scope="module")
def pair(real_cluster: RealCluster) -> Iterator[Pair]:
    api = Emulator(
        "healthy",
        tokens={
            real_cluster.tokens.admin: UserInfo(ADMIN_USER, ("system:masters",), uid="uid-admin"),
            real_cluster.tokens.nobody: UserInfo(NOBODY_USER, (), uid="uid-nobody"),
        },
    )
    api.start()
    try:
        real_ctx = ssl.create_default_context(cafile=str(real_cluster.pki.files["ca.crt"]))
        emu_ctx = api.client_ssl_context()
        names = {"admin": real_cluster.tokens.admin, "nobody": real_cluster.tokens.nobody,
                 "wrong": WRONG_TOKEN, "none": None}  # fmt: skip
        yield Pair(Side(real_cluster.a.url, real_ctx, names), Side(api.url, emu_ctx, names))
    finally:
        api.stop()


def _same_status(real: Answer, emu: Answer, what: str) -> None:
    assert (real.status, real.content_type) == (emu.status, emu.content_type), (
        f"{what}: real {real.status} {real.content_type} {real.body[:300]!r} / "
        f"emulator {emu.status} {emu.content_type} {emu.body[:300]!r}"
    )


def _status_fields(answer: Answer) -> dict[str, Any]:
    """The metav1.Status fields kdoctor reads (and shows): kind, status, reason, code, message."""
    body = answer.json
    return {k: body.get(k) for k in ("kind", "apiVersion", "status", "reason", "code", "message")}


# --- public endpoints ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["none", "admin"])
def test_version(pair: Pair, who: str) -> None:
    real, emu = pair.ask("GET", "/version", who)
    _same_status(real, emu, "/version")
    # the fields apiserver.version and the skew checks read
    fields = ("major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
              "compiler", "platform")  # fmt: skip
    for field in fields:
        assert isinstance(real.json.get(field), str), (field, real.json)
        assert isinstance(emu.json.get(field), str), (field, emu.json)
    assert re.fullmatch(r"v\d+\.\d+\.\d+", real.json["gitVersion"])


@pytest.mark.parametrize("path", ["/version", "/readyz?verbose", SSR_PATH])
def test_date_header(pair: Pair, path: str) -> None:
    """apiserver.clock and the TLS validity checks read the Date header: same format on both."""
    from email.utils import parsedate_to_datetime

    body = SSR if path == SSR_PATH else None
    method = "POST" if body else "GET"
    real, emu = pair.ask(method, path, "admin", body)
    for answer in (real, emu):
        assert answer.date.endswith(" GMT") and parsedate_to_datetime(answer.date).tzinfo is not None, answer
    assert abs((parsedate_to_datetime(real.date) - parsedate_to_datetime(emu.date)).total_seconds()) < 30


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_health_short(pair: Pair, path: str) -> None:
    real, emu = pair.ask("GET", path, "none")
    _same_status(real, emu, path)
    assert real.body == emu.body == b"ok"


# The post-start hooks and checks a v1.37 apiserver lists that the emulator (which plays v1.31 by
# default) does not: the emulator models the checks kdoctor's verdicts name, not every hook.
DELIBERATE_HEALTH_EXTRAS = "names in the real listing the emulator does not model"


@pytest.mark.parametrize("kind", ["livez", "readyz", "healthz"])
def test_health_verbose(pair: Pair, kind: str) -> None:
    real, emu = pair.ask("GET", f"/{kind}?verbose", "none")
    _same_status(real, emu, f"/{kind}?verbose")
    line = re.compile(r"^\[\+\](\S+) ok$")
    real_lines = real.body.decode().splitlines()
    emu_lines = emu.body.decode().splitlines()
    assert real_lines[-1] == emu_lines[-1] == f"{kind} check passed"
    real_names = [m.group(1) for m in map(line.match, real_lines[:-1]) if m]
    emu_names = [m.group(1) for m in map(line.match, emu_lines[:-1]) if m]
    assert len(real_names) == len(real_lines) - 1, real_lines  # every line has the [+]name ok shape
    assert len(emu_names) == len(emu_lines) - 1, emu_lines
    # every check the emulator names is a real one, in the real order
    missing = [n for n in emu_names if n not in real_names]
    assert not missing, f"emulator lists checks the real {kind} does not: {missing}"
    assert emu_names == [n for n in real_names if n in emu_names]
    print(f"{kind}: {DELIBERATE_HEALTH_EXTRAS}: {[n for n in real_names if n not in emu_names]}")


def test_unknown_health_check_is_404(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/readyz/no-such-check", "none")
    _same_status(real, emu, "/readyz/no-such-check")


# --- discovery ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "none"])
def test_api_versions(pair: Pair, who: str) -> None:
    real, emu = pair.ask("GET", "/api", who)
    _same_status(real, emu, "/api")
    if real.status >= 400:  # anonymous: discovery is for system:authenticated only
        assert _status_fields(real) == _status_fields(emu)
        return
    for answer in (real, emu):
        body = answer.json
        assert body["kind"] == "APIVersions" and body["versions"] == ["v1"]
        (entry,) = body["serverAddressByClientCIDRs"]
        assert entry["clientCIDR"] == "0.0.0.0/0" and re.fullmatch(r"[\d.]+:\d+", entry["serverAddress"])


def test_api_groups(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/apis", "admin")
    _same_status(real, emu, "/apis")
    assert real.json["kind"] == emu.json["kind"] == "APIGroupList"
    real_groups = {g["name"] for g in real.json["groups"]}
    emu_groups = {g["name"] for g in emu.json["groups"]}
    assert emu_groups <= real_groups, emu_groups - real_groups


# --- credentials ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "nobody", "none"])
def test_self_subject_review(pair: Pair, who: str) -> None:
    real, emu = pair.ask("POST", SSR_PATH, who, SSR)
    _same_status(real, emu, f"SelfSubjectReview as {who}")
    if real.status >= 400:  # anonymous: system:basic-user is bound to system:authenticated only
        assert _status_fields(real) == _status_fields(emu)
        return
    real_info = real.json["status"]["userInfo"]
    emu_info = emu.json["status"]["userInfo"]
    assert real.json["kind"] == emu.json["kind"] == "SelfSubjectReview"
    assert real_info["username"] == emu_info["username"]
    assert sorted(real_info.get("groups", [])) == sorted(emu_info.get("groups", []))
    assert real_info.get("uid", "") == emu_info.get("uid", "")


def test_wrong_token_status_body(pair: Pair) -> None:
    real, emu = pair.ask("POST", SSR_PATH, "wrong", SSR)
    _same_status(real, emu, "SelfSubjectReview with an unknown token")
    assert real.status == 401
    assert _status_fields(real) == _status_fields(emu)


def test_wrong_token_on_a_read(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/api/v1/namespaces/default/pods", "wrong")
    _same_status(real, emu, "GET pods with an unknown token")
    assert _status_fields(real) == _status_fields(emu)


# --- RBAC -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/namespaces/default/pods",
        "/api/v1/namespaces/default/endpoints/kubernetes",
        "/api/v1/namespaces/default/services/kubernetes",
        "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector="
        + quote("apiserver.kubernetes.io/identity=kube-apiserver", safe=""),
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector="
        + quote("kubernetes.io/service-name=kubernetes", safe=""),
    ],
)
def test_forbidden_read_status_body(pair: Pair, path: str) -> None:
    real, emu = pair.ask("GET", path, "nobody")
    _same_status(real, emu, f"GET {path} as a user without bindings")
    assert real.status == 403
    assert _status_fields(real) == _status_fields(emu)
    assert real.json.get("details") == emu.json.get("details")


def test_anonymous_read_is_forbidden_as_system_anonymous(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/api/v1/namespaces/default/pods", "none")
    _same_status(real, emu, "GET pods anonymously")
    assert _status_fields(real) == _status_fields(emu)


@pytest.mark.parametrize(("who", "verb", "resource"), [("admin", "list", "pods"), ("nobody", "list", "pods"),
                                                        ("nobody", "create", "selfsubjectreviews")])  # fmt: skip
def test_self_subject_access_review(pair: Pair, who: str, verb: str, resource: str) -> None:
    group = "authentication.k8s.io" if resource == "selfsubjectreviews" else ""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectAccessReview",
        "spec": {
            "resourceAttributes": {"namespace": "default", "verb": verb, "resource": resource, "group": group}
        },
    }
    real, emu = pair.ask("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", who, review)
    _same_status(real, emu, f"SelfSubjectAccessReview {who} {verb} {resource}")
    assert real.json["status"]["allowed"] == emu.json["status"]["allowed"]
    assert bool(real.json["status"].get("denied")) == bool(emu.json["status"].get("denied"))


@pytest.mark.parametrize("who", ["admin", "nobody"])
def test_self_subject_rules_review(pair: Pair, who: str) -> None:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview",
              "spec": {"namespace": "default"}}  # fmt: skip
    real, emu = pair.ask("POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", who, review)
    _same_status(real, emu, f"SelfSubjectRulesReview as {who}")

    def rules(answer: Answer) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        for r in answer.json["status"]["resourceRules"]:
            for group in r.get("apiGroups") or [""]:
                for resource in r.get("resources") or []:
                    for verb in r["verbs"]:
                        found.add((verb, group, resource))
        return found

    assert rules(real) == rules(emu), rules(real) ^ rules(emu)
    assert bool(real.json["status"].get("incomplete")) == bool(emu.json["status"].get("incomplete"))


def test_not_found_status_body(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/api/v1/namespaces/default/services/no-such-service", "admin")
    _same_status(real, emu, "GET a missing service")
    assert _status_fields(real) == _status_fields(emu)
    assert real.json.get("details") == emu.json.get("details")


# --- what proxy.path reads as an admin --------------------------------------------------------------------


def test_endpoints_fields(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/api/v1/namespaces/default/endpoints/kubernetes", "admin")
    _same_status(real, emu, "GET endpoints/kubernetes")
    for answer in (real, emu):
        (subset,) = answer.json["subsets"]
        assert all(isinstance(a["ip"], str) for a in subset["addresses"])
        (port,) = subset["ports"]
        assert port["name"] == "https" and isinstance(port["port"], int) and port["protocol"] == "TCP"
        assert answer.json["metadata"]["name"] == "kubernetes"


def test_endpointslices_fields(pair: Pair) -> None:
    path = "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=" + quote(
        "kubernetes.io/service-name=kubernetes", safe=""
    )
    real, emu = pair.ask("GET", path, "admin")
    _same_status(real, emu, "GET endpointslices")
    for answer in (real, emu):
        assert answer.json["kind"] == "EndpointSliceList"
        (item,) = answer.json["items"]
        assert item["addressType"] == "IPv4"
        assert all(isinstance(a, str) for e in item["endpoints"] for a in e["addresses"])
        assert item["ports"][0]["name"] == "https" and isinstance(item["ports"][0]["port"], int)


def test_identity_leases_fields(pair: Pair) -> None:
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?labelSelector=" + quote(
        "apiserver.kubernetes.io/identity=kube-apiserver", safe=""
    )
    real, emu = pair.ask("GET", path, "admin")
    _same_status(real, emu, "GET identity leases")
    for answer in (real, emu):
        assert answer.json["kind"] == "LeaseList"
        assert answer.json["items"], answer.json
        for item in answer.json["items"]:
            assert item["metadata"]["name"].startswith("apiserver-")
            assert item["metadata"]["labels"]["apiserver.kubernetes.io/identity"] == "kube-apiserver"
            spec = item["spec"]
            assert isinstance(spec["holderIdentity"], str) and isinstance(spec["leaseDurationSeconds"], int)
            assert isinstance(spec["renewTime"], str)


def test_kubernetes_service_fields(pair: Pair) -> None:
    real, emu = pair.ask("GET", "/api/v1/namespaces/default/services/kubernetes", "admin")
    _same_status(real, emu, "GET services/kubernetes")
    for answer in (real, emu):
        spec = answer.json["spec"]
        assert isinstance(spec["clusterIP"], str) and spec["type"] == "ClusterIP"
        (port,) = spec["ports"]
        assert (port["name"], port["port"], port["protocol"]) == ("https", 443, "TCP")
        assert isinstance(port["targetPort"], int)
        assert answer.json["metadata"]["labels"] == {"component": "apiserver", "provider": "kubernetes"}


# --- the demo's credential scenarios --------------------------------------------------------------------


def test_unauthorized_scenario_answers_like_an_unknown_token(pair: Pair) -> None:
    """`kdoctor demo unauthorized` refuses every credential: the body must be the real 401's."""
    real = pair.real.ask("POST", SSR_PATH, "wrong", SSR)
    with Emulator("unauthorized") as api:
        side = Side(api.url, api.client_ssl_context(), {"admin": api.admin_token})
        emu = side.ask("POST", SSR_PATH, "admin", SSR)
    _same_status(real, emu, "401 from the unauthorized scenario")
    assert _status_fields(real) == _status_fields(emu)


def test_service_account_token_claims(real_cluster: RealCluster, pair: Pair) -> None:
    """auth.token reads a bound token's claims: the emulator's tokens must have the real shape."""
    from kdoctor.emulator.pki import jwt_claims_unverified

    minted = real_cluster.kubectl_run(
        "create", "token", "kdoctor", "-n", "kdoctor", kubeconfig=real_cluster.admin_kubeconfig()
    )
    assert minted.returncode == 0, minted.stderr
    real = jwt_claims_unverified(minted.stdout.strip())
    with Emulator("healthy") as api:
        emu = jwt_claims_unverified(api.mint_sa_token("kdoctor", "kdoctor"))
    assert set(real) == set(emu), set(real) ^ set(emu)
    assert set(real["kubernetes.io"]) == set(emu["kubernetes.io"])
    assert set(real["kubernetes.io"]["serviceaccount"]) == set(emu["kubernetes.io"]["serviceaccount"])
    assert real["iss"] == emu["iss"] and real["aud"] == emu["aud"]
    assert real["sub"] == emu["sub"] == "system:serviceaccount:kdoctor:kdoctor"


def test_forbidden_reviews_scenario_answers_like_rbac(pair: Pair) -> None:
    """`kdoctor demo forbidden-reviews`: the 403 for a SelfSubjectReview reads like the real RBAC denial
    (the real one is asked anonymously: system:basic-user is bound to authenticated users only)."""
    real = pair.real.ask("POST", SSR_PATH, "none", SSR)
    with Emulator("forbidden-reviews") as api:
        side = Side(api.url, api.client_ssl_context(), {"admin": api.admin_token})
        emu = side.ask("POST", SSR_PATH, "admin", SSR)
        emu_user = api.tokens[api.admin_token].username
    _same_status(real, emu, "403 from the forbidden-reviews scenario")
    real_fields = _status_fields(real)
    emu_fields = _status_fields(emu)
    emu_fields["message"] = str(emu_fields["message"]).replace(f'"{emu_user}"', '"system:anonymous"')
    assert real_fields == emu_fields
    assert real.json.get("details") == emu.json.get("details")
