"""deploy/: the manifests parse, use kdoctor's in-cluster defaults, and grant exactly the RBAC kdoctor uses.

The RBAC test replays `kdoctor run --in-cluster -o json` (the manifests' command) against the
apiserver emulator, which enforces the rules of deploy/rbac.yaml for the pod's service account, then
maps every request made with the pod's token to its RBAC attributes and checks it against the rules,
both ways: nothing kdoctor does is denied, nothing the rules grant goes unused.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from kdoctor.context import DEFAULT_RESOLV_CONF, DEFAULT_SERVICEACCOUNT_DIR
from tests.clirun import REPO
from tests.lab.dnsserver import DNSServer
from tests.lab.emulator_fixtures import EmulatorFactory, emulator
from tests.lab.pod import SERVICE_FQDN, make_pod
from tests.reportvalidation import assert_valid_report

__all__ = ["emulator"]

DEPLOY = REPO / "deploy"
NAMESPACE = "kdoctor"
SERVICE_ACCOUNT = "kdoctor"
SA_USER = f"system:serviceaccount:{NAMESPACE}:{SERVICE_ACCOUNT}"
RUN_ARGS = ["run", "--in-cluster", "-o", "json"]
IMAGE_PLACEHOLDER = "REGISTRY/kdoctor:0.1.0"


def load(name: str) -> list[dict[str, Any]]:
    with (DEPLOY / name).open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    for name in ("job.yaml", "daemonset.yaml"):
        (doc,) = load(name)
        yield doc["kind"], doc


def pod_spec(workload: Mapping[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def command_line(container: Mapping[str, Any]) -> list[str]:
    """The argv the container runs, with a `sh -c` script split into words."""
    argv = [*container.get("command", []), *container.get("args", [])]
    if argv[:2] == ["/bin/sh", "-c"]:
        return shlex.split(argv[2].replace(";", " ; "))
    return argv


# --- the manifests -------------------------------------------------------------------------------


def test_manifests_parse_and_have_the_expected_objects() -> None:
    kinds = [(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]) for d in load("rbac.yaml")]
    assert ("ServiceAccount", NAMESPACE, SERVICE_ACCOUNT) in kinds
    assert ("ClusterRole", None, "kdoctor") in kinds and ("ClusterRoleBinding", None, "kdoctor") in kinds
    assert dict(workloads()).keys() == {"Job", "DaemonSet"}
    for doc in load("rbac.yaml"):
        assert "rules" not in doc or all(
            set(r) <= {"apiGroups", "resources", "resourceNames", "verbs", "nonResourceURLs"}
            for r in doc["rules"]
        )


def test_workloads_run_kdoctor_in_cluster_with_the_default_paths() -> None:
    assert DEFAULT_SERVICEACCOUNT_DIR == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert DEFAULT_RESOLV_CONF == "/etc/resolv.conf"
    for kind, workload in workloads():
        assert workload["metadata"]["namespace"] == NAMESPACE
        spec = pod_spec(workload)
        assert spec["serviceAccountName"] == SERVICE_ACCOUNT
        # The kubelet mounts the token and writes resolv.conf only under these settings.
        assert spec["automountServiceAccountToken"] is True
        assert spec.get("dnsPolicy", "ClusterFirst") == "ClusterFirst"
        assert not spec.get("hostNetwork", False)
        (container,) = spec["containers"]
        assert container["image"] == IMAGE_PLACEHOLDER
        argv = command_line(container)
        start = argv.index("kdoctor")
        assert argv[start + 1 : start + 1 + len(RUN_ARGS)] == RUN_ARGS, (kind, argv)
        # Nothing moves kdoctor off the paths the kubelet uses.
        assert not {"--serviceaccount-dir", "--resolv-conf", "--no-in-cluster"} & set(argv)
        for mount in container.get("volumeMounts", []):
            assert not mount["mountPath"].startswith((DEFAULT_SERVICEACCOUNT_DIR, DEFAULT_RESOLV_CONF))
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
    daemonset = dict(workloads())["DaemonSet"]
    assert {"operator": "Exists"} in pod_spec(daemonset)["tolerations"]  # every node, tainted ones too
    assert pod_spec(dict(workloads())["Job"])["restartPolicy"] == "Never"


def test_dockerfile_installs_the_wheel_and_readme_says_untested() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "pip install" in dockerfile and ".whl" in dockerfile
    assert 'ENTRYPOINT ["kdoctor"]' in dockerfile
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    assert "untested here" in readme and IMAGE_PLACEHOLDER in readme


# --- RBAC: the rules, an evaluator, and the attributes of a request -------------------------------


@dataclass(frozen=True)
class Grant:
    """One RBAC rule as bound to the service account: namespace None = cluster-wide."""

    namespace: str | None
    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...]
    urls: tuple[str, ...]


@dataclass(frozen=True)
class Attributes:
    """What the RBAC authorizer sees of a request (the apiserver's RequestInfo)."""

    verb: str
    path: str
    resource_request: bool
    api_group: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""


def grants_for_service_account() -> list[Grant]:
    docs = load("rbac.yaml")
    roles = {
        (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d for d in docs if "rules" in d
    }
    grants: list[Grant] = []
    for binding in docs:
        if binding["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        subjects = binding["subjects"]
        if not any(
            s == {"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": NAMESPACE} for s in subjects
        ):
            continue
        scope = binding["metadata"].get("namespace") if binding["kind"] == "RoleBinding" else None
        ref = binding["roleRef"]
        role = roles[(ref["kind"], scope if ref["kind"] == "Role" else None, ref["name"])]
        for rule in role["rules"]:
            grants.append(
                Grant(
                    namespace=scope,
                    api_groups=tuple(rule.get("apiGroups", ())),
                    resources=tuple(rule.get("resources", ())),
                    verbs=tuple(rule["verbs"]),
                    resource_names=tuple(rule.get("resourceNames", ())),
                    urls=tuple(rule.get("nonResourceURLs", ())),
                )
            )
    return grants


def attributes(method: str, path: str, query: str = "") -> Attributes:
    segments = [unquote(s) for s in path.strip("/").split("/") if s]
    verb_of_method = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
    if segments[:1] == ["api"] and len(segments) >= 3:
        group, rest = "", segments[2:]
    elif segments[:1] == ["apis"] and len(segments) >= 4:
        group, rest = segments[1], segments[3:]
    else:
        return Attributes(verb=method.lower(), path=path, resource_request=False)
    namespace = ""
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    resource = rest[0] + (f"/{rest[2]}" if len(rest) >= 3 else "")
    name = rest[1] if len(rest) >= 2 else ""
    if method == "GET":
        verb = "watch" if "watch=true" in query or "watch=1" in query else ("get" if name else "list")
    else:
        verb = verb_of_method.get(method, method.lower())
    return Attributes(verb, path, True, group, namespace, resource, name)


def allows(grant: Grant, attrs: Attributes) -> bool:
    if attrs.verb not in grant.verbs and "*" not in grant.verbs:
        return False
    if not attrs.resource_request:
        return grant.namespace is None and any(
            u == attrs.path or (u.endswith("*") and attrs.path.startswith(u[:-1])) for u in grant.urls
        )
    if grant.namespace is not None and grant.namespace != attrs.namespace:
        return False
    return (
        (attrs.api_group in grant.api_groups or "*" in grant.api_groups)
        and (attrs.resource in grant.resources or "*" in grant.resources)
        and (not grant.resource_names or attrs.name in grant.resource_names)
    )


def expand(grant: Grant) -> Iterator[Grant]:
    """Each single permission a rule grants (one group, resource, verb and name)."""
    if grant.urls:
        for url in grant.urls:
            for verb in grant.verbs:
                yield Grant(None, (), (), (verb,), (), (url,))
        return
    for group in grant.api_groups:
        for resource in grant.resources:
            for verb in grant.verbs:
                for name in grant.resource_names or ("",):
                    yield Grant(grant.namespace, (group,), (resource,), (verb,), (name,) if name else (), ())


def test_rbac_evaluator_follows_rbac_semantics() -> None:
    cluster = Grant(None, ("authentication.k8s.io",), ("selfsubjectreviews",), ("create",), (), ())
    named = Grant("default", ("",), ("endpoints",), ("get",), ("kubernetes",), ())
    assert allows(cluster, attributes("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews"))
    assert allows(named, attributes("GET", "/api/v1/namespaces/default/endpoints/kubernetes"))
    assert not allows(named, attributes("GET", "/api/v1/namespaces/default/endpoints/other"))
    assert not allows(named, attributes("GET", "/api/v1/namespaces/default/endpoints"))  # list ≠ get
    assert not allows(named, attributes("GET", "/api/v1/namespaces/kube-system/endpoints/kubernetes"))
    assert (
        attributes("GET", "/api/v1/namespaces/default/services/https:web:443/proxy/x").resource
        == "services/proxy"
    )
    assert attributes("GET", "/version").resource_request is False


# --- the replay ----------------------------------------------------------------------------------


def emulator_rules() -> dict[str, tuple[Any, ...]]:
    """deploy/rbac.yaml as the emulator's rules for the service account."""
    from kdoctor.emulator.scenarios import NonResourceRule, Rule

    rules: list[Any] = []
    for grant in grants_for_service_account():
        if grant.urls:
            rules.append(NonResourceRule(grant.verbs, grant.urls))
        else:
            rules.append(
                Rule(
                    grant.verbs,
                    grant.api_groups,
                    grant.resources,
                    resource_names=grant.resource_names,
                    namespaces=None if grant.namespace is None else (grant.namespace,),
                )
            )
    return {SA_USER: tuple(rules)}


def test_rbac_covers_exactly_the_requests_of_an_in_cluster_run(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy", rules=emulator_rules())
    with DNSServer(records={SERVICE_FQDN: [("A", "127.0.0.1")]}) as dns:
        pod = make_pod(api, dns, tmp_path, namespace=NAMESPACE, service_account=SERVICE_ACCOUNT)
        result = pod.run(*RUN_ARGS)
    token = pod.token
    assert result.code in (0, 1), result.stderr
    assert token not in result.stdout + result.stderr
    report = result.json
    assert_valid_report(report)
    (target,) = report["targets"]
    assert target["mode"] == "in-cluster" and target["user"] == SA_USER
    statuses = {r["id"]: r["status"] for r in target["results"]}
    assert all(
        statuses[c] == "pass"
        for c in ("incluster.env", "incluster.token", "incluster.ca", "incluster.namespace")
    )
    assert statuses["dns.service"] == "pass" and statuses["dns.matches-service-host"] == "pass"
    assert "error" not in statuses.values(), json.dumps(target["results"], indent=1)

    made_as_sa = [r for r in api.requests if r.user == SA_USER]
    assert made_as_sa, "kdoctor made no request with the pod's token"
    anonymous = [r for r in api.requests if r.user != SA_USER]
    # Requests without the token may only read what every client may (system:public-info-viewer).
    assert {r.path for r in anonymous} <= {"/version", "/livez", "/readyz", "/healthz", "/version/"}, (
        anonymous
    )
    assert not [r for r in made_as_sa if r.status == 403], [
        (r.method, r.path) for r in made_as_sa if r.status == 403
    ]

    grants = grants_for_service_account()
    requested = [attributes(r.method, r.path, r.query) for r in made_as_sa]
    uncovered = [a for a in requested if not any(allows(g, a) for g in grants)]
    assert not uncovered, f"requests deploy/rbac.yaml does not allow: {uncovered}"
    unused = [g for grant in grants for g in expand(grant) if not any(allows(g, a) for a in requested)]
    assert not unused, f"deploy/rbac.yaml grants what kdoctor never uses: {unused}"
