"""The kube-apiserver's answers: authentication, RBAC-style authorization, and the endpoints.

Pure request → response logic, no sockets: `server.py` parses HTTP and calls `ApiServer.handle`.
By concern: `authn` (who the request is), `rbac` (may it), `messages` (request, response,
RequestInfo), `protobuf` (the review envelope kubectl sends); this module routes and answers.
JSON shapes, status codes and error messages follow kube-apiserver 1.31 (metav1.Status errors,
the `forbidden` message of the RBAC authorizer, the healthz text format).

Deliberate choices where the real server has several behaviours:
- Requests without credentials are `system:anonymous` (kube-apiserver's default `--anonymous-auth`):
  /version, /healthz, /livez, /readyz are allowed (system:public-info-viewer); everything else is
  403 Forbidden. With `anonymous=False` they are 401, like a cluster started with anonymous auth off.
- An `Authorization: Basic` header is refused with 401 (basic auth was removed in 1.19; clusters with
  anonymous auth off answer exactly that).
- A client certificate that does not chain to the cluster CA, or has expired, is 401 (what the x509
  authenticator does), unless a bearer token sent with it authenticates (the union authenticator
  tries the token next). Python's TLS stack cannot request a certificate without verifying its chain,
  so the listener accepts client certificates from the cluster CA and from the emulator's "foreign"
  CA (`Emulator.mint_client_cert(foreign=True)`), expired or not; a certificate from any other CA
  fails the TLS handshake instead of getting a 401.
- The proxy verb (`services/[https:]NAME[:PORT]/proxy/...`): a Service that does not exist is 404
  `services "NAME" not found`; one whose backend cannot be reached is 503 ServiceUnavailable
  "error trying to reach service: dial tcp ...", as the real apiserver answers each.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from kdoctor.emulator.authn import ANONYMOUS, Authentication
from kdoctor.emulator.discovery import aggregated_document, aggregated_version_requested, extension_discovery
from kdoctor.emulator.messages import Request, RequestInfo, Response, request_info, status_body
from kdoctor.emulator.protobuf import PROTOBUF_MAGIC, decode_review_protobuf
from kdoctor.emulator.rbac import Authorization, forbidden_message
from kdoctor.emulator.scenarios import (
    EmulatorConfig,
    Service,
    ServicePort,
    UserInfo,
)

if TYPE_CHECKING:
    from cryptography import x509

    from kdoctor.emulator.pki import ServiceAccountKeys

#: A subset of a real kube-apiserver's health checks, in the real listing's order (kept so by
#: tests/realcluster/test_emulator_parity.py against the pinned release).
HEALTH_CHECKS: dict[str, tuple[str, ...]] = {
    "livez": (
        "ping",
        "log",
        "etcd",
        "poststarthook/start-apiserver-admission-initializer",
        "poststarthook/generic-apiserver-start-informers",
        "poststarthook/priority-and-fairness-config-consumer",
        "poststarthook/start-apiextensions-informers",
        "poststarthook/crd-informer-synced",
        "poststarthook/start-system-namespaces-controller",
        "poststarthook/rbac/bootstrap-roles",
        "poststarthook/scheduling/bootstrap-system-priority-classes",
        "poststarthook/bootstrap-controller",
        "poststarthook/apiservice-registration-controller",
        "autoregister-completion",
    ),
    "readyz": (
        "ping",
        "log",
        "etcd",
        "etcd-readiness",
        "informer-sync",
        "poststarthook/start-apiserver-admission-initializer",
        "poststarthook/generic-apiserver-start-informers",
        "poststarthook/priority-and-fairness-config-consumer",
        "poststarthook/start-apiextensions-informers",
        "poststarthook/crd-informer-synced",
        "poststarthook/start-system-namespaces-controller",
        "poststarthook/rbac/bootstrap-roles",
        "poststarthook/scheduling/bootstrap-system-priority-classes",
        "poststarthook/bootstrap-controller",
        "poststarthook/apiservice-registration-controller",
        "autoregister-completion",
        "shutdown",
    ),
    "healthz": (
        "ping",
        "log",
        "etcd",
        "poststarthook/start-apiserver-admission-initializer",
        "poststarthook/generic-apiserver-start-informers",
        "poststarthook/rbac/bootstrap-roles",
        "poststarthook/bootstrap-controller",
        "autoregister-completion",
    ),
}

API_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("apiregistration.k8s.io", ("v1",)),
    ("apps", ("v1",)),
    ("events.k8s.io", ("v1",)),
    ("authentication.k8s.io", ("v1", "v1beta1")),
    ("authorization.k8s.io", ("v1",)),
    ("autoscaling", ("v2", "v1")),
    ("batch", ("v1",)),
    ("certificates.k8s.io", ("v1",)),
    ("networking.k8s.io", ("v1",)),
    ("policy", ("v1",)),
    ("rbac.authorization.k8s.io", ("v1",)),
    ("storage.k8s.io", ("v1",)),
    ("coordination.k8s.io", ("v1",)),
    ("discovery.k8s.io", ("v1",)),
)
_READ = ("get", "list", "watch")
_WRITE = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
#: (group, version, resource, kind, namespaced, verbs) served by discovery. Resources the emulator
#: does not model (pods, deployments, ...) list as empty, so kubectl resolves their names.
RESOURCES: tuple[tuple[str, str, str, str, bool, tuple[str, ...]], ...] = (
    ("", "v1", "namespaces", "Namespace", False, _WRITE),
    ("", "v1", "nodes", "Node", False, _WRITE),
    ("", "v1", "pods", "Pod", True, _WRITE),
    ("", "v1", "configmaps", "ConfigMap", True, _WRITE),
    ("", "v1", "secrets", "Secret", True, _WRITE),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, _WRITE),
    ("", "v1", "endpoints", "Endpoints", True, _WRITE),
    ("", "v1", "services", "Service", True, _WRITE),
    ("", "v1", "services/proxy", "ServiceProxyOptions", True, ("create", "delete", "get", "patch", "update")),
    ("apps", "v1", "deployments", "Deployment", True, _WRITE),
    ("apps", "v1", "daemonsets", "DaemonSet", True, _WRITE),
    ("apps", "v1", "statefulsets", "StatefulSet", True, _WRITE),
    ("batch", "v1", "jobs", "Job", True, _WRITE),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, ("create",)),
    ("authentication.k8s.io", "v1beta1", "selfsubjectreviews", "SelfSubjectReview", False, ("create",)),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, ("create",)),
    ("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, ("create",)),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, _WRITE),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, _WRITE),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, _WRITE),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, _WRITE),
    ("apiregistration.k8s.io", "v1", "apiservices", "APIService", False, _WRITE),
    # One resource for every advertised group-version: client-go reports an empty one as a
    # discovery failure ("received empty response for: autoscaling/v1").
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, _WRITE),
    ("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, _WRITE),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False, _WRITE),
    ("events.k8s.io", "v1", "events", "Event", True, _WRITE),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, _WRITE),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, _WRITE),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, _WRITE),
)
NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
CREATED = "2026-01-01T00:00:00Z"


def _json(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def _selector_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Equality-based label selectors: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated."""
    for raw in selector.split(","):
        term = raw.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = (p.strip() for p in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (p.strip() for p in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:].strip() in labels:
                return False
        elif term not in labels:
            return False
    return True


def _micro_time(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _uid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "kdoctor-emulator/" + seed))


class ApiServer(Authentication, Authorization):
    """Answers requests like kube-apiserver, from an `EmulatorConfig`."""

    def __init__(
        self,
        config: EmulatorConfig,
        *,
        tokens: Mapping[str, UserInfo],
        sa_keys: ServiceAccountKeys,
        cluster_ca: x509.Certificate,
        identity: str,
        port: int,
    ) -> None:
        self.config = config
        self.tokens = dict(tokens)
        self.sa_keys = sa_keys
        self.cluster_ca = cluster_ca
        self.identity = identity
        self.port = port
        self.started = time.time()

    # --- the request pipeline: authenticate, authorize, route ---------------------------------------

    def handle(self, request: Request) -> Response:
        if self.config.mode == "html":
            return Response(200, self.config.html_body, content_type="text/html; charset=utf-8")
        user = self.authenticate(request)
        if user is None:
            return self._status(status_body(401, "Unauthorized", "Unauthorized"))
        info = request_info(request.method, request.path)
        if not self.authorize(user, info)[0]:
            message, details = forbidden_message(user.username, info)
            response = self._status(status_body(403, "Forbidden", message, details))
        else:
            response = self.route(request, info, user)
        response.user = user.username
        if user is not ANONYMOUS:
            # Priority-and-fairness headers: a real apiserver sends them; proxies and LBs keep them.
            response.headers += [
                ("X-Kubernetes-Pf-Flowschema-Uid", _uid("flowschema/exempt")),
                ("X-Kubernetes-Pf-Prioritylevel-Uid", _uid("prioritylevel/exempt")),
            ]
        return response

    def unanswered(self, request: Request) -> bool:
        """Whether the request hangs: with `storage_down`, every request for a resource needs etcd."""
        return self.config.storage_down and request_info(request.method, request.path).resource_request

    # --- routing --------------------------------------------------------------------------------------

    def route(self, request: Request, info: RequestInfo, user: UserInfo) -> Response:
        path = request.path.rstrip("/") or "/"
        method = request.method
        if not info.resource_request:
            if method not in ("GET", "HEAD"):
                return self._plain_404()
            if path == "/version":
                return self._ok(self.version())
            if path in ("/api", "/apis"):
                aggregated = self._aggregated(request, path)
                if aggregated is not None:
                    return aggregated
            if path == "/api":
                return self._ok(self.api_versions())
            if path == "/apis":
                return self._ok(self.api_group_list())
            for kind in ("livez", "readyz", "healthz"):
                if path == f"/{kind}" or path.startswith(f"/{kind}/"):
                    return self.health(kind, path[len(kind) + 2 :], request.params)
            if path.startswith("/api/") or path.startswith("/apis/"):
                return self.discovery(path)
            return self._plain_404()
        return self.resource(request, info, user)

    def _aggregated(self, request: Request, path: str) -> Response | None:
        """Aggregated discovery when the client asks for it (and the emulator serves it)."""

        version = aggregated_version_requested(request.header("accept"))
        if version is None or not self.config.aggregated_discovery:
            return None
        body = aggregated_document(self.config, path, version, API_GROUPS, RESOURCES)
        content_type = f"application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"
        return Response(200, body, content_type, [("Vary", "Accept")])

    def resource(self, request: Request, info: RequestInfo, user: UserInfo) -> Response:
        key = (info.api_group, info.api_version, info.resource)
        if key == ("apiregistration.k8s.io", "v1", "apiservices") and info.verb in ("get", "list"):
            from kdoctor.emulator.discovery import apiservice_list

            items = apiservice_list(self.config)
            return self._get_or_list(
                info, "APIService", "APIServiceList", "apiregistration.k8s.io/v1", items, ""
            )
        if any(
            info.api_group == a.group and info.api_version == a.version for a in self.config.aggregated_apis
        ):
            answer = extension_discovery(self.config, request.path.rstrip("/"))
            if answer is not None and answer[0] == 503:
                return Response(answer[0], answer[1], answer[2])
        selector = (request.params.get("labelSelector") or [""])[0]
        if info.verb == "create" and not info.name:
            if key in (
                ("authentication.k8s.io", "v1", "selfsubjectreviews"),
                ("authentication.k8s.io", "v1beta1", "selfsubjectreviews"),
            ):
                return self._created(self.self_subject_review(user, info.api_version))
            if key == ("authorization.k8s.io", "v1", "selfsubjectaccessreviews"):
                return self._review(request, lambda spec: self.access_review(user, spec))
            if key == ("authorization.k8s.io", "v1", "selfsubjectrulesreviews"):
                return self._review(request, lambda spec: self.rules_review(user, spec))
        if info.resource == "services" and info.subresource == "proxy":
            return self.service_proxy(request, info, user)
        if info.verb not in ("get", "list"):
            return self._method_not_allowed(info)
        if key == ("", "v1", "namespaces"):
            if info.name:
                if info.name not in NAMESPACES:
                    return self._not_found(info)
                return self._ok({"kind": "Namespace", "apiVersion": "v1", **_namespace(info.name)})
            return self._ok(_list("NamespaceList", "v1", [_namespace(n) for n in NAMESPACES]))
        if key == ("", "v1", "endpoints"):
            items = [self.endpoints()] if info.namespace in ("", "default") else []
            return self._get_or_list(info, "Endpoints", "EndpointsList", "v1", items, selector)
        if key == ("discovery.k8s.io", "v1", "endpointslices"):
            items = [self.endpoint_slice()] if info.namespace in ("", "default") else []
            return self._get_or_list(
                info, "EndpointSlice", "EndpointSliceList", "discovery.k8s.io/v1", items, selector
            )
        if key == ("coordination.k8s.io", "v1", "leases"):
            items = self.leases() if info.namespace in ("", "kube-system") else []
            return self._get_or_list(info, "Lease", "LeaseList", "coordination.k8s.io/v1", items, selector)
        if key == ("", "v1", "services"):
            items = [
                _service_json(s)
                for s in self.config.services
                if not info.namespace or s.namespace == info.namespace
            ]
            return self._get_or_list(info, "Service", "ServiceList", "v1", items, selector)
        for group, version, name, kind, namespaced, _verbs in RESOURCES:
            if (group, version, name) == key and (namespaced or not info.namespace):
                api_version = f"{group}/{version}" if group else version
                return self._get_or_list(info, kind, kind + "List", api_version, [], selector)
        return self._status(
            status_body(404, "NotFound", "the server could not find the requested resource", {})
        )

    # --- endpoint bodies ------------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        major, minor = self.config.git_version.lstrip("v").split(".")[:2]
        return {
            "major": major,
            "minor": minor,
            "gitVersion": self.config.git_version,
            "gitCommit": self.config.git_commit,
            "gitTreeState": "clean",
            "buildDate": self.config.build_date,
            "goVersion": self.config.go_version,
            "compiler": "gc",
            "platform": self.config.platform,
        }

    def api_versions(self) -> dict[str, Any]:
        address = self.config.advertise_address or _host_port(self.config.host, self.port)
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}],
        }

    def api_group_list(self) -> dict[str, Any]:
        groups = []
        for name, versions in API_GROUPS:
            gvs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
            groups.append({"name": name, "versions": gvs, "preferredVersion": gvs[0]})
        for api in self.config.aggregated_apis:
            gv = {"groupVersion": api.group_version, "version": api.version}
            groups.append({"name": api.group, "versions": [gv], "preferredVersion": gv})
        return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}

    def discovery(self, path: str) -> Response:
        """APIResourceList for the group versions the emulator serves (enough for kubectl's discovery)."""

        extension = extension_discovery(self.config, path)
        if extension is not None:
            return Response(extension[0], extension[1], extension[2])
        resources: dict[str, list[tuple[str, str, bool, tuple[str, ...]]]] = {}
        for group, version, name, kind, namespaced, verbs in RESOURCES:
            prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
            resources.setdefault(prefix, []).append((name, kind, namespaced, verbs))
        group_version = path.split("/", 2)[2]
        advertised = {f"/apis/{g}/{v}" for g, versions in API_GROUPS for v in versions}
        if path in advertised and path not in resources:
            # Groups listed for realism whose resources the emulator does not serve.
            resources[path] = []
        if path not in resources:
            if path.startswith("/apis/") and path.count("/") == 2:
                name = path.split("/")[2]
                for group, versions in API_GROUPS:
                    if group == name:
                        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
                        return self._ok(
                            {
                                "kind": "APIGroup",
                                "apiVersion": "v1",
                                "name": group,
                                "versions": gvs,
                                "preferredVersion": gvs[0],
                            }
                        )
            return self._plain_404()
        return self._ok(
            {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": [
                    {"name": n, "singularName": "", "namespaced": ns, "kind": k, "verbs": list(verbs)}
                    for n, k, ns, verbs in resources[path]
                ],
            }
        )

    def health(self, kind: str, sub: str, params: Mapping[str, Sequence[str]]) -> Response:
        """/livez, /readyz, /healthz: "ok", the `?verbose` listing, or 500 naming the failed checks."""
        checks = HEALTH_CHECKS[kind]
        failing = set(self.config.failing_checks)
        headers = [("X-Content-Type-Options", "nosniff")]
        text = "text/plain; charset=utf-8"
        if sub:
            if sub not in checks:
                return self._plain_404()
            if sub in failing:
                return Response(500, b"internal server error: reason withheld\n", text, headers)
            return Response(200, b"ok", text, headers)
        excluded = {e for values in params.get("exclude", []) for e in values.split(",")}
        lines = []
        failed = False
        for name in checks:
            if name in excluded:
                lines.append(f"[+]{name} excluded: ok")
            elif name in failing:
                lines.append(f"[-]{name} failed: reason withheld")
                failed = True
            else:
                lines.append(f"[+]{name} ok")
        listing = "".join(line + "\n" for line in lines)
        if failed:
            # Like the real handler: the listing is always shown on failure, verbose or not.
            return Response(500, f"{listing}{kind} check failed\n".encode(), text, headers)
        if "verbose" in params:
            return Response(200, f"{listing}{kind} check passed\n".encode(), text, headers)
        return Response(200, b"ok", text, headers)

    def endpoint_addresses(self) -> tuple[list[str], int]:
        addresses = list(self.config.endpoint_addresses or (self.config.host,))
        return addresses, self.config.endpoint_port or self.port

    def endpoints(self) -> dict[str, Any]:
        addresses, port = self.endpoint_addresses()
        return {
            "metadata": _meta("kubernetes", "default", {"endpointslice.kubernetes.io/skip-mirror": "true"}),
            "subsets": [
                {
                    "addresses": [{"ip": a} for a in addresses],
                    "ports": [{"name": "https", "port": port, "protocol": "TCP"}],
                }
            ],
        }

    def endpoint_slice(self) -> dict[str, Any]:
        addresses, port = self.endpoint_addresses()
        family = "IPv6" if addresses and ":" in addresses[0] else "IPv4"
        return {
            "metadata": _meta("kubernetes", "default", {"kubernetes.io/service-name": "kubernetes"}),
            "addressType": family,
            "endpoints": [{"addresses": [a], "conditions": {"ready": True}} for a in addresses],
            "ports": [{"name": "https", "protocol": "TCP", "port": port}],
        }

    def leases(self) -> list[dict[str, Any]]:
        items = []
        for identity in (self.identity, *self.config.peer_identities):
            items.append(
                {
                    "metadata": _meta(
                        identity,
                        "kube-system",
                        {
                            "apiserver.kubernetes.io/identity": "kube-apiserver",
                            "kubernetes.io/hostname": f"control-plane-{identity[-5:]}",
                        },
                    ),
                    "spec": {
                        "holderIdentity": f"{identity}_{_uid(identity)}",
                        "leaseDurationSeconds": 3600,
                        "acquireTime": _micro_time(self.started),
                        "renewTime": _micro_time(time.time() + self.config.clock_offset),
                    },
                }
            )
        return items

    def self_subject_review(self, user: UserInfo, version: str) -> dict[str, Any]:
        info: dict[str, Any] = {"username": user.username}
        if user.uid:
            info["uid"] = user.uid
        info["groups"] = list(user.groups)
        if user.extra:
            info["extra"] = {k: list(v) for k, v in user.extra.items()}
        return {
            "kind": "SelfSubjectReview",
            "apiVersion": f"authentication.k8s.io/{version}",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": info},
        }

    def access_review(self, user: UserInfo, review: dict[str, Any]) -> dict[str, Any]:
        spec = review.get("spec") or {}
        attrs = spec.get("resourceAttributes")
        if isinstance(attrs, dict):
            info = RequestInfo(
                verb=str(attrs.get("verb", "")),
                path="",
                resource_request=True,
                api_group=str(attrs.get("group", "")),
                api_version=str(attrs.get("version", "")),
                namespace=str(attrs.get("namespace", "")),
                resource=str(attrs.get("resource", "")),
                subresource=str(attrs.get("subresource", "")),
                name=str(attrs.get("name", "")),
            )
        else:
            nr = spec.get("nonResourceAttributes") or {}
            info = RequestInfo(
                verb=str(nr.get("verb", "")), path=str(nr.get("path", "")), resource_request=False
            )
        allowed, reason = self.authorize(user, info)
        status: dict[str, Any] = {"allowed": allowed}
        if reason:
            status["reason"] = reason
        return {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }

    def rules_review(self, user: UserInfo, review: dict[str, Any]) -> dict[str, Any]:
        spec = review.get("spec") or {}
        namespace = str(spec.get("namespace") or "default")
        resource_rules, non_resource = self.rules_for(user, namespace)
        rr = []
        for rule in resource_rules:
            entry: dict[str, Any] = {
                "verbs": list(rule.verbs),
                "apiGroups": list(rule.api_groups),
                "resources": list(rule.resources),
            }
            if rule.resource_names:
                entry["resourceNames"] = list(rule.resource_names)
            rr.append(entry)
        return {
            "kind": "SelfSubjectRulesReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": {
                "resourceRules": rr,
                "nonResourceRules": [
                    {"verbs": list(n.verbs), "nonResourceURLs": list(n.urls)} for n in non_resource
                ],
                "incomplete": False,
            },
        }

    def service_proxy(self, request: Request, info: RequestInfo, user: UserInfo) -> Response:
        """The apiserver proxy verb: `services/[https:]NAME[:PORT]/proxy/...`."""
        spec = info.name
        scheme, name, port = "", spec, ""
        if spec.count(":") == 2:
            scheme, name, port = spec.split(":")
        elif ":" in spec:
            first, second = spec.split(":", 1)
            if first in ("http", "https"):
                scheme, name = first, second
            else:
                name, port = first, second
        service = next(
            (s for s in self.config.services if s.namespace == info.namespace and s.name == name), None
        )
        if service is None:
            return self._status(
                status_body(
                    404, "NotFound", f'services "{name}" not found', {"name": name, "kind": "services"}
                )
            )
        chosen: ServicePort | None = None
        for candidate in service.ports:
            if not port or port in (candidate.name, str(candidate.port)):
                chosen = candidate
                break
        if chosen is None:
            return self._status(
                status_body(
                    503,
                    "ServiceUnavailable",
                    f'no endpoints available for service "{spec}"',
                    {"name": spec, "kind": "services"},
                )
            )
        rest = "/" + "/".join(info.parts)
        if service.backend == "apiserver":
            inner_target = rest + (f"?{request.query}" if request.query else "")
            inner = Request(request.method, inner_target, request.headers, request.body, None)
            inner_info = request_info(inner.method, inner.path)
            if not self.authorize(user, inner_info)[0]:
                message, details = forbidden_message(user.username, inner_info)
                return self._status(status_body(403, "Forbidden", message, details))
            return self.route(inner, inner_info, user)
        if chosen.body is None:
            target = chosen.target_port or chosen.port
            return self._status(
                status_body(
                    503,
                    "ServiceUnavailable",
                    f"error trying to reach service: dial tcp {service.cluster_ip}:{target}: "
                    "connect: connection refused",
                )
            )
        del scheme  # accepted like the real proxy; the emulated backends answer either way
        return Response(200, chosen.body, chosen.content_type)

    # --- helpers --------------------------------------------------------------------------------------

    def _review(self, request: Request, compute: Callable[[dict[str, Any]], dict[str, Any]]) -> Response:
        try:
            if request.body.startswith(PROTOBUF_MAGIC):
                # kubectl's typed clients send protobuf; the answer may be JSON (their Accept allows it).
                review = decode_review_protobuf(request.body)
            else:
                review = json.loads(request.body or b"{}")
        except ValueError as exc:
            return self._status(status_body(400, "BadRequest", f"the object provided is unrecognized: {exc}"))
        if not isinstance(review, dict):
            return self._status(status_body(400, "BadRequest", "the object provided is unrecognized"))
        return self._created(compute(review))

    def _get_or_list(
        self,
        info: RequestInfo,
        kind: str,
        list_kind: str,
        api_version: str,
        items: list[dict[str, Any]],
        selector: str,
    ) -> Response:
        if info.name:
            for item in items:
                if item["metadata"]["name"] == info.name:
                    return self._ok({"kind": kind, "apiVersion": api_version, **item})
            return self._not_found(info)
        chosen = [i for i in items if _selector_matches(selector, i["metadata"].get("labels", {}))]
        return self._ok(_list(list_kind, api_version, chosen))

    def _ok(self, data: Any) -> Response:
        return Response(200, _json(data))

    def _created(self, data: Any) -> Response:
        return Response(201, _json(data))

    def _status(self, body: dict[str, Any]) -> Response:
        return Response(int(body["code"]), _json(body))

    def _not_found(self, info: RequestInfo) -> Response:
        qualified = info.resource + (f".{info.api_group}" if info.api_group else "")
        details = {"name": info.name}
        if info.api_group:
            details["group"] = info.api_group
        details["kind"] = info.resource
        return self._status(status_body(404, "NotFound", f'{qualified} "{info.name}" not found', details))

    def _method_not_allowed(self, info: RequestInfo) -> Response:
        return self._status(
            status_body(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
                {},
            )
        )

    def _plain_404(self) -> Response:
        return Response(
            404, b"404 page not found\n", "text/plain; charset=utf-8", [("X-Content-Type-Options", "nosniff")]
        )


def _meta(name: str, namespace: str | None, labels: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["uid"] = _uid(f"{namespace}/{name}")
    meta["resourceVersion"] = "1000"
    meta["creationTimestamp"] = CREATED
    if labels:
        meta["labels"] = dict(labels)
    return meta


def _namespace(name: str) -> dict[str, Any]:
    return {
        "metadata": _meta(name, None, {"kubernetes.io/metadata.name": name}),
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _list(kind: str, api_version: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "1000"}, "items": items}


def _service_json(service: Service) -> dict[str, Any]:
    ports = []
    for p in service.ports:
        ports.append(
            {"name": p.name, "protocol": p.protocol, "port": p.port, "targetPort": p.target_port or p.port}
        )
    return {
        "metadata": _meta(service.name, service.namespace, service.labels),
        "spec": {
            "ports": ports,
            "clusterIP": service.cluster_ip,
            "clusterIPs": [service.cluster_ip],
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "ipFamilies": ["IPv6" if ":" in service.cluster_ip else "IPv4"],
            "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster",
        },
        "status": {"loadBalancer": {}},
    }


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
