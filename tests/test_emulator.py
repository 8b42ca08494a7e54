"""The apiserver emulator proves each of its faults to real clients: stdlib ssl, httpx and kubectl."""

from __future__ import annotations

import email.utils
import io
import json
import select
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from kdoctor.emulator import Emulator, Rule, list_scenarios
from kdoctor.emulator.messages import request_info
from kdoctor.emulator.pki import ServiceAccountKeys, jwt_claims_unverified
from tests.lab.tools import plain_kubectl

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)

SSR_V1 = "/apis/authentication.k8s.io/v1/selfsubjectreviews"
SSAR = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
SSRR = "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews"
SSR_BODY = {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"}
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}


def client(api: Emulator, *, cert: tuple[bytes, bytes] | None = None) -> httpx.Client:
    return httpx.Client(base_url=api.url, verify=api.client_ssl_context(cert), trust_env=False, timeout=5)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def whoami(http: httpx.Client, token: str | None = None) -> httpx.Response:
    return http.post(SSR_V1, json=SSR_BODY, headers=bearer(token) if token else {})


def handshake(api: Emulator, context: ssl.SSLContext, timeout: float = 2.0) -> list[bytes]:
    """TLS handshake against the emulator; the DER certificates the server sent."""
    with (
        socket.create_connection((api.host, api.port), timeout=timeout) as raw,
        context.wrap_socket(raw, server_hostname=api.host) as tls,
    ):
        public = getattr(tls, "get_unverified_chain", None)  # Python 3.13+: DER bytes
        if public is not None:
            return list(public())
        sslobj: Any = tls._sslobj  # type: ignore[attr-defined]
        return [c.public_bytes(ssl._ssl.ENCODING_DER) for c in sslobj.get_unverified_chain()]  # type: ignore[attr-defined]


def unverified_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


# --- start-up, transport --------------------------------------------------------------------------


def test_every_scenario_starts_fast_and_stops_promptly() -> None:
    Emulator("healthy").start().stop()  # warm the imports
    for name, description in list_scenarios():
        assert description.endswith(".")
        # The best of two, so a busy machine does not fail the test; one start is what is measured.
        started = 10.0
        for _ in range(2):
            began = time.perf_counter()
            Emulator(name).start().stop()
            started = min(started, time.perf_counter() - began)
        api = Emulator(name).start()
        # cn-only names the listener by name: a CN can only match a host name.
        assert api.url == f"https://{api.config.url_host or '127.0.0.1'}:{api.port}"
        began = time.perf_counter()
        api.stop()
        assert started < 0.5, f"{name} took {started:.3f}s to start"
        assert time.perf_counter() - began < 1.0


def test_healthy_version_discovery_and_headers(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with client(api) as http:
        version = http.get("/version")
        assert version.status_code == 200
        assert version.headers["content-type"] == "application/json"
        assert version.headers["audit-id"]
        body = version.json()
        assert body["gitVersion"].startswith("v1.31.") and body["major"] == "1" and body["minor"] == "31"
        assert body["platform"] == "linux/amd64" and body["goVersion"].startswith("go1.")
        apis = http.get("/api", headers=bearer(api.admin_token)).json()
        assert apis["kind"] == "APIVersions" and apis["versions"] == ["v1"]
        assert apis["serverAddressByClientCIDRs"] == [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{api.port}"}
        ]
        groups = http.get("/apis", headers=bearer(api.admin_token)).json()
        names = {g["name"] for g in groups["groups"]}
        assert groups["kind"] == "APIGroupList"
        assert {"authentication.k8s.io", "authorization.k8s.io", "coordination.k8s.io"} <= names
        date = email.utils.parsedate_to_datetime(version.headers["date"]).timestamp()
        assert abs(date - time.time()) < 5


def test_keep_alive_serves_several_requests_on_one_connection(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with client(api) as http:
        for path in ("/version", "/livez", "/readyz", "/healthz"):
            assert http.get(path).status_code == 200
        assert whoami(http, api.admin_token).status_code == 201
    requests = api.requests
    assert [r.path for r in requests] == ["/version", "/livez", "/readyz", "/healthz", SSR_V1]
    assert len({r.connection_id for r in requests}) == 1
    assert len(api.connections) == 1 and api.connections[0].requests == 5
    assert requests[-1].header("Authorization") == f"Bearer {api.admin_token}"
    assert requests[-1].user == "kubernetes-admin" and requests[-1].status == 201


def test_clock_skew_moves_the_date_header(emulator: EmulatorFactory) -> None:
    api = emulator("clock-skew")
    with client(api) as http:
        date = email.utils.parsedate_to_datetime(http.get("/version").headers["date"]).timestamp()
    assert 590 < date - time.time() < 610


# --- health ---------------------------------------------------------------------------------------


def test_health_endpoints_verbose_and_not_ready(emulator: EmulatorFactory) -> None:
    healthy, broken = emulator("healthy"), emulator("not-ready")
    with client(healthy) as http:
        assert http.get("/readyz").text == "ok"
        verbose = http.get("/readyz?verbose").text.splitlines()
        assert verbose[0] == "[+]ping ok" and "[+]etcd ok" in verbose
        assert verbose[-1] == "readyz check passed"
        assert http.get("/livez?verbose").text.splitlines()[-1] == "livez check passed"
        admin = bearer(healthy.admin_token)
        assert http.get("/readyz/etcd", headers=admin).text == "ok"
        # system:public-info-viewer names /readyz itself, not its sub-checks.
        assert http.get("/readyz/etcd").status_code == 403
    with client(broken) as http:
        for kind in ("readyz", "livez", "healthz"):
            for query in ("", "?verbose"):
                response = http.get(f"/{kind}{query}")
                assert response.status_code == 500
                assert response.headers["content-type"] == "text/plain; charset=utf-8"
                lines = response.text.splitlines()
                assert "[-]etcd failed: reason withheld" in lines
                assert lines[-1] == f"{kind} check failed"
        # as on a real apiserver without etcd, excluding etcd alone leaves etcd-readiness failing
        assert http.get("/readyz?verbose&exclude=etcd").status_code == 500
        excluded = http.get("/readyz?verbose&exclude=etcd&exclude=etcd-readiness")
        assert excluded.status_code == 200 and "[+]etcd excluded: ok" in excluded.text
        assert http.get("/readyz/etcd", headers=bearer(broken.admin_token)).status_code == 500


# --- TLS faults -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scenario", "message"),
    [
        ("unknown-ca", "unable to get local issuer certificate"),
        ("ca-rotated", "unable to get local issuer certificate"),
        ("self-signed", "self-signed certificate"),
        ("expired", "certificate has expired"),
        ("not-yet-valid", "certificate is not yet valid"),
        ("san-mismatch", "IP address mismatch"),
        ("missing-intermediate", "unable to get local issuer certificate"),
    ],
)
def test_tls_faults_fail_verification_against_the_cluster_ca(
    emulator: EmulatorFactory, scenario: str, message: str
) -> None:
    api = emulator(scenario)
    with pytest.raises(ssl.SSLCertVerificationError) as failure:
        handshake(api, api.client_ssl_context())
    assert message in str(failure.value.verify_message)
    with pytest.raises(httpx.ConnectError), client(api) as http:
        http.get("/version", headers=bearer(api.admin_token))
    assert api.requests == []  # nothing, and no credential, was ever sent


def test_tls_fault_certificates_have_the_right_shape(emulator: EmulatorFactory) -> None:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    def leaf(api: Emulator) -> x509.Certificate:
        return x509.load_der_x509_certificate(handshake(api, unverified_context())[0])

    ca = x509.load_pem_x509_certificate(emulator("healthy").ca_pem)
    assert ca.subject.rfc4514_string() == "CN=kubernetes"
    unknown = emulator("unknown-ca")
    assert leaf(unknown).issuer.rfc4514_string() == "CN=other-cluster-ca"
    rotated = emulator("ca-rotated")
    rotated_leaf = leaf(rotated)
    rotated_ca = x509.load_pem_x509_certificate(rotated.ca_pem)
    assert rotated_leaf.issuer == rotated_ca.subject
    with pytest.raises(InvalidSignature):  # same name, different key
        rotated_leaf.verify_directly_issued_by(rotated_ca)
    self_signed = leaf(emulator("self-signed"))
    assert self_signed.issuer == self_signed.subject
    sans = (
        leaf(emulator("san-mismatch")).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    )
    assert "localhost" not in sans.get_values_for_type(x509.DNSName)
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["10.96.0.1"]
    soon = leaf(emulator("expiring-soon"))
    days_left = (soon.not_valid_after_utc.timestamp() - time.time()) / 86400
    assert 9 < days_left <= 10


def test_expiring_soon_still_verifies(emulator: EmulatorFactory) -> None:
    api = emulator("expiring-soon")
    with client(api) as http:
        assert http.get("/version").status_code == 200


def test_chain_healthy_sends_only_the_leaf_like_kube_apiserver(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    assert len(handshake(api, api.client_ssl_context())) == 1


def test_missing_intermediate_sends_one_certificate(emulator: EmulatorFactory) -> None:
    api = emulator("missing-intermediate")
    chain = handshake(api, unverified_context())
    assert len(chain) == 1
    assert api.intermediate is not None
    # With the intermediate supplied by the client, the same chain verifies: only it was missing.
    context = ssl.create_default_context(cadata=(api.ca_pem + api.intermediate.cert_pem).decode())
    assert len(handshake(api, context)) == 1


def test_intermediate_option_sends_the_full_chain(emulator: EmulatorFactory) -> None:
    api = emulator("healthy", intermediate=True)
    chain = handshake(api, api.client_ssl_context())
    assert len(chain) == 2


# --- listener faults --------------------------------------------------------------------------------


def test_hang_accepts_tcp_but_never_speaks_tls(emulator: EmulatorFactory) -> None:
    api = emulator("hang")
    began = time.perf_counter()
    with pytest.raises((TimeoutError, socket.timeout)):
        handshake(api, api.client_ssl_context(), timeout=0.5)
    assert time.perf_counter() - began < 2.0
    assert len(api.connections) == 1 and not api.connections[0].tls
    # A client still hanging must not delay stop().
    raw = socket.create_connection((api.host, api.port), timeout=2)
    try:
        began = time.perf_counter()
        api.stop()
        assert time.perf_counter() - began < 1.5
    finally:
        raw.close()


def test_slow_headers_completes_tls_but_never_answers(emulator: EmulatorFactory) -> None:
    api = emulator("slow-headers")
    began = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout), client(api) as http:
        http.get("/version", timeout=0.5)
    assert time.perf_counter() - began < 2.0
    assert [r.path for r in api.requests] == ["/version"]
    began = time.perf_counter()
    api.stop()
    assert time.perf_counter() - began < 1.5


def test_html_scenario_is_an_https_server_that_is_not_an_apiserver(emulator: EmulatorFactory) -> None:
    api = emulator("html")
    with client(api) as http:
        for path in ("/version", "/api", "/readyz"):
            response = http.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/html")
            assert response.text.startswith("<!DOCTYPE html>")
            with pytest.raises(json.JSONDecodeError):
                response.json()
        assert "audit-id" not in http.get("/version").headers


# --- authentication -----------------------------------------------------------------------------------


def test_unauthorized_scenario_refuses_every_credential(emulator: EmulatorFactory) -> None:
    api = emulator("unauthorized")
    cert = api.mint_client_cert("alice", ("devs",))
    with client(api) as http:
        for token in (api.admin_token, api.mint_sa_token()):
            response = whoami(http, token)
            assert response.status_code == 401
            assert response.json() == UNAUTHORIZED
    with client(api, cert=cert) as http:
        assert whoami(http).json() == UNAUTHORIZED


def test_bad_tokens_and_basic_auth_are_401(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with client(api) as http:
        assert whoami(http, "not-a-token").json() == UNAUTHORIZED
        basic = http.post(SSR_V1, json=SSR_BODY, auth=("admin", "secret"))
        assert basic.status_code == 401 and basic.json() == UNAUTHORIZED
        # Even the public endpoints reject a bad credential, like the real authentication filter.
        assert http.get("/version", headers=bearer("nope")).status_code == 401


def test_anonymous_requests(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with client(api) as http:
        for path in ("/version", "/livez", "/readyz", "/healthz"):
            assert http.get(path).status_code == 200
        forbidden = http.get("/api").json()
        assert forbidden["code"] == 403 and forbidden["reason"] == "Forbidden"
        assert forbidden["message"] == 'forbidden: User "system:anonymous" cannot get path "/api"'
        endpoints = http.get("/api/v1/namespaces/default/endpoints/kubernetes").json()
        assert endpoints["message"] == (
            'endpoints "kubernetes" is forbidden: User "system:anonymous" cannot get resource "endpoints" '
            'in API group "" in the namespace "default"'
        )
        assert endpoints["details"] == {"name": "kubernetes", "kind": "endpoints"}
    strict = emulator("healthy", anonymous=False)
    with client(strict) as http:
        assert http.get("/version").json() == UNAUTHORIZED


def test_forbidden_reviews_is_403_with_the_rbac_message(emulator: EmulatorFactory) -> None:
    api = emulator("forbidden-reviews")
    with client(api) as http:
        response = whoami(http, api.admin_token)
        assert response.status_code == 403
        assert response.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'selfsubjectreviews.authentication.k8s.io is forbidden: User "kubernetes-admin" cannot '
            'create resource "selfsubjectreviews" in API group "authentication.k8s.io" at the cluster scope',
            "reason": "Forbidden",
            "details": {"group": "authentication.k8s.io", "kind": "selfsubjectreviews"},
            "code": 403,
        }
        assert (
            http.post(
                SSRR, json={"spec": {"namespace": "default"}}, headers=bearer(api.admin_token)
            ).status_code
            == 403
        )
        assert http.get("/version", headers=bearer(api.admin_token)).status_code == 200


def test_service_account_tokens(emulator: EmulatorFactory) -> None:
    api = emulator("healthy", revoked_service_accounts=frozenset({"ci/deleted"}))
    token = api.mint_sa_token("monitoring", "prober", pod="prober-7d9f", node="node-1")
    claims = jwt_claims_unverified(token)
    assert claims["sub"] == "system:serviceaccount:monitoring:prober"
    assert claims["iss"] == "https://kubernetes.default.svc.cluster.local"
    assert claims["kubernetes.io"]["pod"]["name"] == "prober-7d9f"
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    with client(api) as http:
        info = whoami(http, token).json()["status"]["userInfo"]
        assert info["username"] == "system:serviceaccount:monitoring:prober"
        assert info["groups"] == [
            "system:serviceaccounts",
            "system:serviceaccounts:monitoring",
            "system:authenticated",
        ]
        assert info["extra"]["authentication.kubernetes.io/pod-name"] == ["prober-7d9f"]
        legacy = whoami(http, api.mint_sa_token("ci", "builder", legacy=True))
        assert legacy.json()["status"]["userInfo"]["username"] == "system:serviceaccount:ci:builder"
        rejected = {
            "expired": api.mint_sa_token(expires_in=-3600, issued_at=time.time() - 7200),
            "not yet valid": api.mint_sa_token(not_before=time.time() + 3600),
            "wrong audience": api.mint_sa_token(audiences=["https://other.example"]),
            "wrong issuer": api.mint_sa_token(issuer="https://other-cluster.example"),
            "another cluster's key": api.mint_sa_token(keys=ServiceAccountKeys()),
            "revoked": api.mint_sa_token("ci", "deleted"),
        }
        for why, bad in rejected.items():
            assert whoami(http, bad).json() == UNAUTHORIZED, why


def test_client_certificate_identity(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with client(api, cert=api.mint_client_cert("alice", ("devs", "ops"))) as http:
        info = whoami(http).json()["status"]["userInfo"]
        assert info["username"] == "alice"
        assert info["groups"] == ["devs", "ops", "system:authenticated"]
        assert info["extra"]["authentication.kubernetes.io/credential-id"][0].startswith("X509SHA256=")
        # The certificate wins over a token, as in kube-apiserver's authenticator order.
        assert whoami(http, api.admin_token).json()["status"]["userInfo"]["username"] == "alice"
    assert api.requests[0].client_cert_subject == "CN=alice,O=ops,O=devs"
    with client(api, cert=api.mint_client_cert("mallory", foreign=True)) as http:
        assert whoami(http).json() == UNAUTHORIZED
    with client(api, cert=api.mint_client_cert("old", expired=True)) as http:
        assert whoami(http).json() == UNAUTHORIZED


def test_access_and_rules_reviews(emulator: EmulatorFactory) -> None:
    api = emulator("healthy", rules={"group:ops": (Rule(("get",), ("apps",), ("deployments",)),)})
    review = {"spec": {"resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"}}}
    elsewhere = {
        "spec": {"resourceAttributes": {"namespace": "kube-system", "verb": "list", "resource": "pods"}}
    }
    with client(api) as http:
        admin = http.post(SSAR, json=review, headers=bearer(api.admin_token))
        assert admin.status_code == 201 and admin.json()["status"]["allowed"] is True
        assert "system:masters" in admin.json()["status"]["reason"]
        jane = bearer(api.limited_token)
        assert http.post(SSAR, json=review, headers=jane).json()["status"] == {"allowed": True}
        assert http.post(SSAR, json=elsewhere, headers=jane).json()["status"] == {"allowed": False}
        rules = http.post(SSRR, json={"spec": {"namespace": "default"}}, headers=jane).json()
        assert rules["kind"] == "SelfSubjectRulesReview" and rules["status"]["incomplete"] is False
        resources = [r["resources"] for r in rules["status"]["resourceRules"]]
        assert ["pods", "services", "configmaps"] in resources
        assert ["selfsubjectreviews"] in resources
        assert any("/version" in r["nonResourceURLs"] for r in rules["status"]["nonResourceRules"])
        other_ns = http.post(SSRR, json={"spec": {"namespace": "kube-system"}}, headers=jane).json()
        assert ["pods", "services", "configmaps"] not in [
            r["resources"] for r in other_ns["status"]["resourceRules"]
        ]
        admin_rules = http.post(
            SSRR, json={"spec": {"namespace": "x"}}, headers=bearer(api.admin_token)
        ).json()
        assert {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]} in admin_rules["status"][
            "resourceRules"
        ]
        # RBAC is enforced on the resources themselves, with the apiserver's message.
        leases = http.get("/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", headers=jane).json()
        assert leases["message"] == (
            'leases.coordination.k8s.io is forbidden: User "jane" cannot list resource "leases" in API group '
            '"coordination.k8s.io" in the namespace "kube-system"'
        )


def test_request_info_matches_the_apiserver() -> None:
    info = request_info("GET", "/api/v1/namespaces/ns/services/https:web:8443/proxy/healthz")
    assert (info.verb, info.resource, info.subresource, info.name, info.namespace) == (
        "get",
        "services",
        "proxy",
        "https:web:8443",
        "ns",
    )
    assert info.parts == ("healthz",)
    assert request_info("GET", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases").verb == "list"
    assert not request_info("GET", "/apis/apps/v1").resource_request
    assert request_info("POST", SSR_V1).verb == "create"


# --- cluster topology: endpoints, leases, services, proxy ----------------------------------------


def test_endpoints_slices_and_leases(emulator: EmulatorFactory) -> None:
    first = emulator("healthy")
    second = emulator("healthy", ca=first.ca, identity="apiserver-b", peer_identities=("apiserver-a",))
    assert first.identity != second.identity
    admin = bearer(first.admin_token)
    with client(first) as http:
        endpoints = http.get("/api/v1/namespaces/default/endpoints/kubernetes", headers=admin).json()
        assert endpoints["kind"] == "Endpoints"
        assert endpoints["subsets"] == [
            {
                "addresses": [{"ip": "127.0.0.1"}],
                "ports": [{"name": "https", "port": first.port, "protocol": "TCP"}],
            }
        ]
        slice_ = http.get(
            "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes", headers=admin
        )
        assert slice_.json()["endpoints"] == [{"addresses": ["127.0.0.1"], "conditions": {"ready": True}}]
        assert slice_.json()["ports"][0]["port"] == first.port
        leases = http.get(
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
            params={"labelSelector": "apiserver.kubernetes.io/identity=kube-apiserver"},
            headers=admin,
        ).json()
        assert leases["kind"] == "LeaseList"
        assert [lease["metadata"]["name"] for lease in leases["items"]] == [first.identity]
        assert leases["items"][0]["spec"]["holderIdentity"].startswith(first.identity + "_")
        none = http.get(
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases",
            params={"labelSelector": "apiserver.kubernetes.io/identity=other"},
            headers=admin,
        ).json()
        assert none["items"] == []
    # The second shares the CA (one cluster, two apiservers) but not the serving certificate.
    with client(second) as http:
        leases = http.get(
            "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", headers=bearer(second.admin_token)
        ).json()
        assert [lease["metadata"]["name"] for lease in leases["items"]] == ["apiserver-b", "apiserver-a"]
    assert first.serving.sha256 != second.serving.sha256
    configured = emulator("healthy", endpoint_addresses=("10.0.0.5", "10.0.0.6"), endpoint_port=6443)
    with client(configured) as http:
        eps = http.get(
            "/api/v1/namespaces/default/endpoints/kubernetes", headers=bearer(configured.admin_token)
        ).json()
        assert eps["subsets"][0]["addresses"] == [{"ip": "10.0.0.5"}, {"ip": "10.0.0.6"}]
        assert eps["subsets"][0]["ports"][0]["port"] == 6443


def test_cluster_services_and_the_proxy_verb(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    admin = bearer(api.admin_token)
    with client(api) as http:
        listed = http.get(
            "/api/v1/services", params={"labelSelector": "kubernetes.io/cluster-service=true"}, headers=admin
        ).json()
        assert listed["kind"] == "ServiceList"
        names = [(s["metadata"]["namespace"], s["metadata"]["name"]) for s in listed["items"]]
        assert names == [("kube-system", "kube-dns"), ("kube-system", "metrics-server")]
        base = "/api/v1/namespaces/kube-system/services"
        ok = http.get(f"{base}/https:metrics-server:/proxy/healthz", headers=admin)
        assert ok.status_code == 200 and ok.text == "ok"
        metrics = http.get(f"{base}/kube-dns:metrics/proxy/metrics", headers=admin)
        assert metrics.status_code == 200 and "coredns_build_info" in metrics.text
        down = http.get(f"{base}/kube-dns:dns/proxy/", headers=admin).json()
        assert down["code"] == 503 and down["reason"] == "ServiceUnavailable"
        assert down["message"].startswith("error trying to reach service: dial tcp 10.96.0.10:53")
        missing = http.get(f"{base}/nope/proxy/", headers=admin).json()
        assert missing["code"] == 404 and missing["message"] == 'services "nope" not found'
        # The virtual-cluster pattern: an apiserver behind the proxy verb.
        inner = http.get(
            "/api/v1/namespaces/vcluster/services/https:my-vcluster:443/proxy/version", headers=admin
        )
        assert inner.json()["gitVersion"] == "v1.31.4"
        denied = http.get(f"{base}/metrics-server/proxy/", headers=bearer(api.limited_token)).json()
        assert denied["message"] == (
            'services "metrics-server" is forbidden: User "jane" cannot get resource "services/proxy" '
            'in API group "" in the namespace "kube-system"'
        )


def test_unknown_paths_are_404_like_the_apiserver(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    admin = bearer(api.admin_token)
    with client(api) as http:
        plain = http.get("/nothing-here", headers=admin)
        assert plain.status_code == 404 and plain.text == "404 page not found\n"
        status = http.get("/api/v1/widgets", headers=admin).json()
        assert status["reason"] == "NotFound" and status["code"] == 404
        named = http.get("/api/v1/namespaces/default/endpoints/other", headers=admin).json()
        assert named["message"] == 'endpoints "other" not found'


# --- kubeconfig, service-account dir, command line ----------------------------------------------


def test_write_kubeconfig_variants(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    for kind in ("token", "cert", "basic", "exec", "none"):
        path = api.write_kubeconfig(
            tmp_path / f"config-{kind}", user=kind, context_name="lab", namespace="team"
        )
        assert path.stat().st_mode & 0o077 == 0
        config = yaml.safe_load(path.read_text())
        assert config["current-context"] == "lab"
        assert config["clusters"][0]["cluster"]["server"] == api.url
        assert config["contexts"][0]["context"]["namespace"] == "team"
        user = config["users"][0]["user"]
        expected = {
            "token": {"token"},
            "cert": {"client-certificate-data", "client-key-data"},
            "basic": {"username", "password"},
            "exec": {"exec"},
            "none": set(),
        }[kind]
        assert set(user) == expected
    exec_config = yaml.safe_load((tmp_path / "config-exec").read_text())["users"][0]["user"]["exec"]
    credential = subprocess.run(
        [exec_config["command"], *exec_config["args"]], capture_output=True, text=True, timeout=10, check=True
    )
    assert json.loads(credential.stdout)["status"]["token"] == api.admin_token


def test_serviceaccount_dir(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    directory = api.serviceaccount_dir(tmp_path / "sa", namespace="team")
    assert (directory / "namespace").read_text() == "team"
    assert (directory / "ca.crt").read_bytes() == api.ca_pem
    token = (directory / "token").read_text()
    with client(api) as http:
        assert (
            whoami(http, token).json()["status"]["userInfo"]["username"]
            == "system:serviceaccount:team:default"
        )


def test_module_entry_point_serves_and_writes_a_kubeconfig(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kdoctor.emulator",
            "--scenario",
            "not-ready",
            "--kubeconfig",
            str(kubeconfig),
            "--seconds",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("not-ready: ")
    assert lines[1].startswith("url https://127.0.0.1:")
    assert yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"] == lines[1][4:]


# --- the demo -----------------------------------------------------------------------------------------


def test_demo_runs_the_doctor_against_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    from kdoctor import demo

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    assert set(demo.demo_environment(Path("/tmp/x"))) <= {"PATH", "HOME", "NO_COLOR"}
    assert demo.list_scenarios()[0][0] == "healthy"
    stdout, stderr = io.StringIO(), io.StringIO()
    code = demo.run_demo("healthy", output="json", stdout=stdout, stderr=stderr, timeout=2)
    report = json.loads(stdout.getvalue())
    assert report["schema"] == "kdoctor.dev/report/v1"
    assert code == 0, report
    assert report["targets"][0]["server"].startswith("https://127.0.0.1:")
    assert "scenario 'healthy'" in stderr.getvalue()


def test_demo_of_unknown_ca_fails_the_chain() -> None:
    from kdoctor import demo

    stdout = io.StringIO()
    code = demo.run_demo("unknown-ca", output="json", stdout=stdout, stderr=io.StringIO(), timeout=2)
    results = {r["id"]: r for r in json.loads(stdout.getvalue())["targets"][0]["results"]}
    if "tls.chain" not in results:
        pytest.skip("the tls family is not registered yet")
    assert results["tls.chain"]["status"] == "fail"
    assert code == 1


def test_demo_of_a_hang_ends_within_the_timeout() -> None:
    from kdoctor import demo

    began = time.perf_counter()
    stdout, stderr = io.StringIO(), io.StringIO()
    code = demo.run_demo("hang", output="json", stdout=stdout, stderr=stderr, timeout=1)
    assert time.perf_counter() - began < 10
    assert code in (0, 1)
    json.loads(stdout.getvalue())


def test_demo_rejects_an_unknown_scenario() -> None:
    from kdoctor import demo

    stderr = io.StringIO()
    assert demo.run_demo("nope", output=None, stdout=io.StringIO(), stderr=stderr, timeout=1) == 2
    assert "unknown scenario" in stderr.getvalue()


# --- the real kubectl -----------------------------------------------------------------------------


def kubectl(kubeconfig: Path, *args: str, timeout: str = "5s") -> subprocess.CompletedProcess[str]:
    binary = plain_kubectl()
    return subprocess.run(
        [binary, *args, "--kubeconfig", str(kubeconfig), "--request-timeout", timeout],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(kubeconfig.parent)},
    )


def kubectl_has_whoami() -> bool:
    done = subprocess.run(
        [plain_kubectl(), "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=30
    )
    minor = json.loads(done.stdout)["clientVersion"]["minor"].rstrip("+")
    return int(minor) >= 28


def test_kubectl_version_and_whoami_on_healthy(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "config")
    done = kubectl(config, "version", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["serverVersion"]["gitVersion"] == "v1.31.4"
    assert [(r.method, r.path) for r in api.requests] == [("GET", "/version")]
    if not kubectl_has_whoami():
        return
    for kind, username, groups in (
        ("token", "kubernetes-admin", ["system:masters", "system:authenticated"]),
        ("exec", "kubernetes-admin", ["system:masters", "system:authenticated"]),
        ("cert", "kubernetes-admin", ["system:masters", "system:authenticated"]),
    ):
        config = api.write_kubeconfig(tmp_path / f"config-{kind}", user=kind)
        done = kubectl(config, "auth", "whoami", "-o", "json")
        assert done.returncode == 0, done.stderr
        info = json.loads(done.stdout)["status"]["userInfo"]
        assert (info["username"], info["groups"]) == (username, groups), kind
    sa = api.write_kubeconfig(tmp_path / "config-sa", token=api.mint_sa_token("apps", "deployer"))
    done = kubectl(sa, "auth", "whoami", "-o", "json")
    assert json.loads(done.stdout)["status"]["userInfo"]["username"] == "system:serviceaccount:apps:deployer"
    assert api.requests[-1].client_cert_subject is None


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [
        ("unknown-ca", "certificate signed by unknown authority"),
        (
            "ca-rotated",
            'crypto/rsa: verification error" while trying to verify candidate authority certificate "kubernetes"',
        ),
        ("self-signed", "certificate signed by unknown authority"),
        ("missing-intermediate", "certificate signed by unknown authority"),
        ("expired", "certificate has expired or is not yet valid: current time"),
        ("not-yet-valid", "certificate has expired or is not yet valid: current time"),
        ("san-mismatch", "certificate is valid for 10.96.0.1, not 127.0.0.1"),
        ("unauthorized", "You must be logged in to the server"),
        ("html", "invalid character '<' looking for beginning of value"),
    ],
)
def test_kubectl_names_each_fault(
    emulator: EmulatorFactory, tmp_path: Path, scenario: str, expected: str
) -> None:
    api = emulator(scenario)
    done = kubectl(api.write_kubeconfig(tmp_path / "config"), "version", "-o", "json")
    assert done.returncode != 0
    assert expected in done.stderr
    if scenario not in ("unauthorized", "html"):
        assert api.requests == []  # kubectl never sent its token to a server it could not verify


def test_kubectl_whoami_faults(emulator: EmulatorFactory, tmp_path: Path) -> None:
    if not kubectl_has_whoami():
        pytest.skip("this kubectl has no `auth whoami` (needs 1.28+)")
    unauthorized = emulator("unauthorized")
    done = kubectl(unauthorized.write_kubeconfig(tmp_path / "u"), "auth", "whoami", "-o", "json")
    assert done.returncode != 0 and "Unauthorized" in done.stderr
    forbidden = emulator("forbidden-reviews")
    done = kubectl(forbidden.write_kubeconfig(tmp_path / "f"), "auth", "whoami", "-o", "json")
    assert done.returncode != 0
    assert (
        "the selfsubjectreviews API is not enabled in the cluster or you do not have permission"
        in done.stderr
    )
    foreign = emulator("healthy")
    config = foreign.write_kubeconfig(
        tmp_path / "c", user="cert", client_cert=foreign.mint_client_cert(foreign=True)
    )
    done = kubectl(config, "auth", "whoami", "-o", "json")
    assert done.returncode != 0 and "Unauthorized" in done.stderr


def test_kubectl_times_out_on_hang_and_slow_headers(emulator: EmulatorFactory, tmp_path: Path) -> None:
    for scenario in ("hang", "slow-headers"):
        api = emulator(scenario)
        began = time.perf_counter()
        done = kubectl(api.write_kubeconfig(tmp_path / scenario), "version", "-o", "json", timeout="1s")
        assert done.returncode != 0
        assert time.perf_counter() - began < 10
        assert (
            "Unable to connect to the server" in done.stderr
            or "deadline" in done.stderr
            or "Timeout" in done.stderr
        )


def test_plain_http_on_the_tls_port_is_answered_like_go(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with httpx.Client(trust_env=False, timeout=5) as http:
        response = http.get(f"http://127.0.0.1:{api.port}/version", headers=bearer("canary-token"))
    assert response.status_code == 400
    assert response.text == "Client sent an HTTP request to an HTTPS server.\n"
    (record,) = api.requests
    assert (record.tls, record.path, record.status) == (False, "/version", 400)
    assert record.header("Authorization") == "Bearer canary-token"  # the log shows what leaked


def test_ipv6_loopback(emulator: EmulatorFactory) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        api = emulator("healthy", host="::1")
    except OSError:
        pytest.skip("::1 is not configured")
    assert api.url == f"https://[::1]:{api.port}"
    with httpx.Client(verify=api.client_ssl_context(), trust_env=False, timeout=5) as http:
        assert http.get(api.url + "/version").status_code == 200
        apis = http.get(api.url + "/api", headers=bearer(api.admin_token)).json()
    assert apis["serverAddressByClientCIDRs"][0]["serverAddress"] == f"[::1]:{api.port}"


def test_service_account_rbac_and_request_attributes(emulator: EmulatorFactory) -> None:
    reader = Rule(("get", "list"), ("coordination.k8s.io",), ("leases",), namespaces=("kube-system",))
    api = emulator("healthy", rules={"system:serviceaccount:kdoctor:kdoctor": (reader,)})
    allowed = api.mint_sa_token("kdoctor", "kdoctor")
    other = api.mint_sa_token("kdoctor", "other")
    path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
    with client(api) as http:
        assert http.get(path, headers=bearer(allowed)).status_code == 200
        assert http.get(path, headers=bearer(other)).status_code == 403
        assert (
            http.get("/api/v1/namespaces/default/endpoints/kubernetes", headers=bearer(allowed)).status_code
            == 403
        )
    first = api.requests[0].attributes
    assert (first.verb, first.api_group, first.resource, first.namespace) == (
        "list",
        "coordination.k8s.io",
        "leases",
        "kube-system",
    )


def test_kubectl_through_the_apiserver_proxy_and_cluster_info(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy")
    proxied = api.url + "/api/v1/namespaces/vcluster/services/https:my-vcluster:443/proxy"
    done = kubectl(api.write_kubeconfig(tmp_path / "vc", server=proxied), "version", "-o", "json")
    assert done.returncode == 0, done.stderr
    assert api.requests[-1].path == "/api/v1/namespaces/vcluster/services/https:my-vcluster:443/proxy/version"
    done = kubectl(api.write_kubeconfig(tmp_path / "kc"), "cluster-info")
    assert done.returncode == 0, done.stderr
    assert f"Kubernetes control plane is running at {api.url}" in done.stdout
    assert "CoreDNS is running at" in done.stdout and "Metrics-server is running at" in done.stdout
    assert "couldn't get resource list" not in done.stderr


def test_kubectl_speaks_plain_http_without_a_scheme(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    done = kubectl(
        api.write_kubeconfig(tmp_path / "kc", server=f"127.0.0.1:{api.port}"), "version", "-o", "json"
    )
    assert done.returncode != 0
    assert "the server rejected our request for an unknown reason" in done.stderr
    assert [r.tls for r in api.requests] == [False]


def test_kubectl_proxy_in_front_of_the_emulator(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "kc")
    with subprocess.Popen(
        [plain_kubectl(), "proxy", "--port", "0", "--kubeconfig", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    ) as proxy:
        try:
            assert proxy.stdout is not None
            ready, _, _ = select.select([proxy.stdout], [], [], 15)
            assert ready, "kubectl proxy did not start"
            line = proxy.stdout.readline()  # "Starting to serve on 127.0.0.1:PORT"
            port = int(line.strip().rsplit(":", 1)[1])
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=5) as http:
                # No credentials on this side: the proxy adds them.
                info = whoami(http).json()["status"]["userInfo"]
                assert info["username"] == "kubernetes-admin"
                assert http.get("/version").json()["gitVersion"] == "v1.31.4"
        finally:
            proxy.terminate()
            proxy.wait(timeout=10)
    assert api.requests[0].header("Authorization") == f"Bearer {api.admin_token}"


def test_kubectl_can_i_sends_protobuf_reviews(emulator: EmulatorFactory, tmp_path: Path) -> None:
    api = emulator("healthy")
    config = api.write_kubeconfig(tmp_path / "jane", token=api.limited_token)
    assert kubectl(config, "auth", "can-i", "list", "pods").stdout.strip() == "yes"
    assert kubectl(config, "auth", "can-i", "list", "pods", "-n", "kube-system").stdout.strip() == "no"
    review = next(r for r in api.requests if r.path.endswith("/selfsubjectaccessreviews"))
    assert review.header("Content-Type") == "application/vnd.kubernetes.protobuf"
    listing = kubectl(config, "auth", "can-i", "--list", "-n", "default")
    assert listing.returncode == 0, listing.stderr
    assert any(line.split()[:1] == ["pods"] for line in listing.stdout.splitlines())


def test_head_requests_get_headers_only(emulator: EmulatorFactory) -> None:
    api = emulator("healthy")
    with client(api) as http:
        head = http.head("/version")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) > 0
        assert http.get("/version").json()["major"] == "1"  # the connection is still in step


def test_replica_is_another_apiserver_of_the_same_cluster(emulator: EmulatorFactory) -> None:
    first = emulator("healthy", host="127.0.0.2")
    second = first.replica(host="127.0.0.3").start()
    try:
        assert second.port == first.port and second.ca_pem == first.ca_pem
        assert second.serving.sha256 != first.serving.sha256
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
        for api in (first, second):
            with client(api) as http:
                token = api.mint_sa_token() if api is second else first.mint_sa_token()
                assert whoami(http, token).status_code == 201  # one service-account key
                leases = http.get(path, headers=bearer(first.admin_token)).json()
                assert {lease["metadata"]["name"] for lease in leases["items"]} == {
                    first.identity,
                    second.identity,
                }
                endpoints = http.get(
                    "/api/v1/namespaces/default/endpoints/kubernetes", headers=bearer(first.admin_token)
                ).json()
                assert endpoints["subsets"][0]["addresses"] == [{"ip": "127.0.0.2"}, {"ip": "127.0.0.3"}]
                assert endpoints["subsets"][0]["ports"][0]["port"] == first.port
    finally:
        second.stop()
