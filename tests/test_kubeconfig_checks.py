"""The kubeconfig.* checks against the fixture catalogue and focused cases, through the real runner."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from kdoctor.api import Mode
from tests.clirun import kdoctor
from tests.fixtures.kubeconfigs.factory import (
    GOOD_TOKEN,
    PKI,
    Fixture,
    b64,
    catalogue,
    issue,
    kubeconfig,
    make_pki,
    tls_apiserver,
    write,
)
from tests.fixtures.kubeconfigs.harness import Outcome, run_kubeconfig_checks
from tests.reportvalidation import assert_valid_report

SERVER = "https://127.0.0.1:6443"


@pytest.fixture(scope="module")
def pki() -> PKI:
    return make_pki()


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory, pki: PKI) -> Iterator[dict[str, Fixture]]:
    root = tmp_path_factory.mktemp("kubeconfigs")
    with tls_apiserver(pki, root / "server") as server:
        yield {f.name: f for f in catalogue(root / "fixtures", pki, server)}


def _names() -> list[str]:
    # The catalogue is built per module; its names are stable, so build it once on a dummy server URL.
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return [f.name for f in catalogue(Path(tmp), make_pki(), SERVER)]


FIXTURE_NAMES = _names()


def run_fixture(fixture: Fixture, home: Path) -> Outcome:
    return run_kubeconfig_checks(
        home, env={"KUBECONFIG": fixture.kubeconfig_env, **fixture.env}, context=fixture.context
    )


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_catalogue(name: str, fixtures: dict[str, Fixture], tmp_path: Path) -> None:
    fixture = fixtures[name]
    outcome = run_fixture(fixture, tmp_path)
    got = {check_id: outcome.status(check_id) for check_id in fixture.expect}
    assert got == fixture.expect, {k: outcome.results[k].summary for k in fixture.expect}
    assert "error" not in outcome.statuses().values()
    for result in outcome.results.values():
        text = json.dumps(result.to_json_dict())
        assert GOOD_TOKEN not in text
        assert "fixture-password-77" not in text
        assert "exec-env-canary-value" not in text
        assert "PRIVATE KEY" not in text


def test_healthy_details_name_the_files_that_defined_context_cluster_user(
    fixtures: dict[str, Fixture], tmp_path: Path
) -> None:
    fixture = fixtures["multi-file"]
    outcome = run_fixture(fixture, tmp_path)
    a, _missing, b, c = (str(p) for p in fixture.files)
    context = outcome.results["kubeconfig.context"]
    assert context.details["context_file"] == a
    assert context.details["cluster_file"] == b  # not c.yaml's shadowed c1
    assert context.details["user_file"] == c
    assert f"({a})" in context.summary and f"({b})" in context.summary and f"({c})" in context.summary
    for check_id in ("kubeconfig.server", "kubeconfig.ca", "kubeconfig.credentials"):
        assert outcome.results[check_id].details["cluster_file"] == b
    assert outcome.results["kubeconfig.server"].details["server"].startswith("https://127.0.0.1:")
    python = outcome.results["kubeconfig.python-client"]
    assert "'main'" in python.summary and "'other'" in python.summary and str(c) in python.summary


def test_no_kubeconfig_fails_and_mentions_in_cluster_mode_in_a_pod(tmp_path: Path) -> None:
    outcome = run_kubeconfig_checks(tmp_path)
    found = outcome.results["kubeconfig.found"]
    assert found.status.value == "fail"
    assert str(tmp_path / ".kube" / "config") in found.summary and "localhost:8080" in found.summary
    assert "--in-cluster" not in found.hint
    assert outcome.status("kubeconfig.context") == "skip"
    in_pod = run_kubeconfig_checks(tmp_path, env={"KUBERNETES_SERVICE_HOST": "10.96.0.1"})
    assert "kdoctor run --in-cluster" in in_pod.results["kubeconfig.found"].hint


def test_missing_explicit_kubeconfig(tmp_path: Path) -> None:
    outcome = run_kubeconfig_checks(tmp_path, kubeconfig=str(tmp_path / "nope"))
    assert outcome.status("kubeconfig.found") == "fail"
    assert "does not exist" in outcome.results["kubeconfig.found"].summary


def test_checks_do_not_apply_in_cluster(tmp_path: Path) -> None:
    outcome = run_kubeconfig_checks(tmp_path, mode=Mode.IN_CLUSTER)
    assert set(outcome.statuses().values()) == {"skip"}
    assert "in-cluster" in outcome.results["kubeconfig.found"].summary


def test_missing_context_hint_lists_contexts_and_the_command(tmp_path: Path) -> None:
    doc = kubeconfig(server=SERVER, current="ghost")
    doc["contexts"].append({"name": "staging", "context": {"cluster": "c1", "user": "u1"}})
    path = write(tmp_path / "config", doc)
    outcome = run_kubeconfig_checks(tmp_path, kubeconfig=str(path))
    result = outcome.results["kubeconfig.context"]
    assert result.status.value == "fail"
    assert "'ghost'" in result.summary and f"current-context in {path}" in result.summary
    assert "main, staging" in result.hint and "`kubectl config use-context main`" in result.hint
    for dependent in ("kubeconfig.server", "kubeconfig.ca", "kubeconfig.credentials", "kubeconfig.exec"):
        assert outcome.status(dependent) == "skip"
    by_flag = run_kubeconfig_checks(tmp_path, kubeconfig=str(path), context="staging")
    assert by_flag.status("kubeconfig.context") == "pass"


def test_empty_file_names_the_real_cause(tmp_path: Path) -> None:
    path = write(tmp_path / "config", "")
    outcome = run_kubeconfig_checks(tmp_path, kubeconfig=str(path))
    result = outcome.results["kubeconfig.context"]
    assert result.status.value == "fail"
    assert f"{path} is empty" in result.summary and "localhost:8080" in result.hint


def test_missing_server_names_localhost_8080(tmp_path: Path) -> None:
    path = write(tmp_path / "config", kubeconfig(server=None, user={"token": "abcd1234"}))
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.server"]
    assert result.status.value == "fail"
    assert "has no server" in result.summary and "localhost:8080" in result.summary
    assert "kubectl config set-cluster c1 --server=https://HOST:PORT" in result.hint


@pytest.mark.parametrize(
    ("server", "status", "words"),
    [
        ("http://10.0.0.1:8080", "fail", "unencrypted"),
        ("http://127.0.0.1:8001", "pass", "127.0.0.1"),
        ("ftp://10.0.0.1", "fail", "scheme 'ftp'"),
        ("https://10.0.0.1:99999", "fail", "not a valid URL"),
        ("https://", "fail", "no host"),
        ("https://kube.example:6443/k8s/clusters/c-1", "pass", "port 6443"),
        ("https://10.0.0.1", "pass", "port 443"),
    ],
)
def test_server_url_forms(tmp_path: Path, server: str, status: str, words: str) -> None:
    path = write(tmp_path / "config", kubeconfig(server=server, user={"token": "abcd1234"}))
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.server"]
    assert result.status.value == status, result.summary
    assert words in result.summary


def test_ca_variants(tmp_path: Path, pki: PKI) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    soon = issue("soon-ca", ca=True, not_after=now + dt.timedelta(days=7))
    cases = {
        "non-ca": (pki.leaf_not_ca.cert_pem, "warn", "not a CA"),
        "soon": (soon.cert_pem, "warn", "expires in"),
        "ok": (pki.ca.cert_pem, "pass", "CN=kdoctor-fixture-ca"),
        "der": (pki.ca.cert.public_bytes(Encoding.DER), "fail", "not PEM"),
    }
    for name, (data, status, words) in cases.items():
        path = write(
            tmp_path / name / "config",
            kubeconfig(
                server=SERVER, cluster={"certificate-authority-data": b64(data)}, user={"token": "abcd1234"}
            ),
        )
        result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.ca"]
        assert (name, result.status.value) == (name, status), result.summary
        assert words in result.summary


def test_insecure_warning_says_why(fixtures: dict[str, Fixture], tmp_path: Path) -> None:
    result = run_fixture(fixtures["healthy-insecure"], tmp_path).results["kubeconfig.ca"]
    assert "man-in-the-middle" in result.summary


def test_tls_server_name(tmp_path: Path) -> None:
    for value, status in (("kubernetes", "pass"), ("https://kubernetes:443", "fail")):
        path = write(
            tmp_path / "config",
            kubeconfig(server=SERVER, cluster={"tls-server-name": value}, user={"token": "abcd1234"}),
        )
        result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.tls"]
        assert result.status.value == status, result.summary


def test_proxy_url_password_is_not_shown(tmp_path: Path) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(server=SERVER, cluster={"proxy-url": "socks5://bob:proxy-canary-pw@127.0.0.1:1080"}),
    )
    outcome = run_kubeconfig_checks(tmp_path, kubeconfig=str(path))
    result = outcome.results["kubeconfig.proxy-url"]
    assert result.status.value == "pass"
    assert "proxy-canary-pw" not in json.dumps(result.to_json_dict())
    assert "socks5://bob:<redacted>@127.0.0.1:1080" in result.summary
    assert outcome.ctx.secrets.scrub("proxy-canary-pw") == "<redacted>"


@pytest.mark.parametrize(
    ("provider", "status", "words"),
    [
        ("gcp", "fail", "gke-gcloud-auth-plugin"),
        ("azure", "fail", "kubelogin"),
        ("oidc", "warn", "kubelogin"),
        ("keystone", "fail", "does not know"),
    ],
)
def test_auth_providers(tmp_path: Path, provider: str, status: str, words: str) -> None:
    path = write(
        tmp_path / "config",
        kubeconfig(
            server=SERVER,
            user={"auth-provider": {"name": provider, "config": {"id-token": "idtok-canary-1"}}},
        ),
    )
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.credentials"]
    assert result.status.value == status
    assert words in result.summary + result.hint
    assert "idtok-canary-1" not in json.dumps(result.to_json_dict())


def test_exec_not_found_quotes_install_hint(fixtures: dict[str, Fixture], tmp_path: Path) -> None:
    result = run_fixture(fixtures["exec-command-missing"], tmp_path).results["kubeconfig.exec"]
    assert "kdoctor-no-such-plugin not found on PATH" in result.summary
    assert "install kdoctor-no-such-plugin from your provider" in result.hint


def test_exec_relative_command_resolves_against_the_kubeconfig(tmp_path: Path) -> None:
    plugin = write(tmp_path / "kc" / "bin" / "plugin", "#!/bin/sh\n", mode=0o755)
    exec_ = {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": "./bin/plugin"}
    path = write(tmp_path / "kc" / "config", kubeconfig(server=SERVER, user={"exec": exec_}))
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.exec"]
    assert result.status.value == "pass"
    assert os.path.samefile(result.details["resolved_command"], plugin)
    plugin.chmod(0o644)
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.exec"]
    assert result.status.value == "fail" and "not executable" in result.summary


def test_client_cert_summary_shows_issuer(fixtures: dict[str, Fixture], tmp_path: Path) -> None:
    result = run_fixture(fixtures["healthy-files"], tmp_path).results["kubeconfig.client-cert"]
    assert "CN=admin" in result.summary and "issuer CN=kdoctor-fixture-ca" in result.summary
    expired = run_fixture(fixtures["expired-client-cert"], tmp_path).results["kubeconfig.client-cert"]
    assert "expired on" in expired.summary


def test_encrypted_client_key(tmp_path: Path, pki: PKI) -> None:
    from cryptography.hazmat.primitives import serialization

    encrypted = pki.client.key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    user = {"client-certificate-data": b64(pki.client.cert_pem), "client-key-data": b64(encrypted)}
    path = write(tmp_path / "config", kubeconfig(server=SERVER, user=user))
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.client-cert"]
    assert result.status.value == "fail" and "passphrase" in result.summary


def test_permissions_hint_is_the_exact_chmod(tmp_path: Path, pki: PKI) -> None:
    write(tmp_path / "client.key", pki.client.key_pem, mode=0o640)
    write(tmp_path / "client.crt", pki.client.cert_pem, mode=0o644)
    path = write(
        tmp_path / "config",
        kubeconfig(
            server=SERVER,
            user={"client-certificate": "client.crt", "client-key": "client.key", "token": "t0ken-canary"},
        ),
        mode=0o604,
    )
    result = run_kubeconfig_checks(tmp_path, kubeconfig=str(path)).results["kubeconfig.permissions"]
    assert result.status.value == "warn"
    assert f"`chmod 600 {path}`" in result.hint
    assert f"`chmod 600 {tmp_path / 'client.key'}`" in result.hint
    assert "client.crt" not in result.hint  # a certificate is public
    assert "readable by others" in result.summary and "readable by group" in result.summary


def test_python_client_notes_loopback_proxy(fixtures: dict[str, Fixture], tmp_path: Path) -> None:
    fixture = fixtures["healthy-token"]
    env = {"KUBECONFIG": fixture.kubeconfig_env, "HTTPS_PROXY": "http://127.0.0.1:3128"}
    # judging for kubectl (the default), the Python client's other path is a note in a pass
    noted = run_kubeconfig_checks(tmp_path, env=env).results["kubeconfig.python-client"]
    assert noted.status.value == "pass" and "note, the official Python client differs" in noted.summary
    assert "HTTPS_PROXY" in noted.summary and "--client python" in noted.summary
    # judging for the Python tool, it is a finding with the Python fix
    result = run_kubeconfig_checks(tmp_path, env=env, client="python").results["kubeconfig.python-client"]
    assert result.status.value == "warn"
    assert "HTTPS_PROXY" in result.summary and "NO_PROXY" in result.hint


def test_kdoctor_run_end_to_end(fixtures: dict[str, Fixture], tmp_path: Path) -> None:
    broken = kdoctor(
        "run",
        "-o",
        "json",
        "--check",
        "kubeconfig",
        "--kubeconfig",
        str(fixtures["missing-context"].files[0]),
        home=tmp_path,
    )
    assert broken.code == 1, broken.stderr
    assert_valid_report(broken.json)
    target = broken.json["targets"][0]
    statuses = {r["id"]: r["status"] for r in target["results"]}
    assert statuses["kubeconfig.context"] == "fail"
    healthy = kdoctor(
        "run",
        "-o",
        "json",
        "--check",
        "kubeconfig",
        "--kubeconfig",
        str(fixtures["healthy-token"].files[0]),
        home=tmp_path,
    )
    assert healthy.code == 0, healthy.stdout
    assert_valid_report(healthy.json)
    assert GOOD_TOKEN not in healthy.stdout
    assert healthy.json["targets"][0]["context"] == "main"


def test_shipped_example_shows_real_findings_without_a_network(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parent.parent / "examples" / "broken.kubeconfig"
    result = kdoctor(
        "run",
        "-o",
        "json",
        "--all-contexts",
        "--check",
        "kubeconfig",
        "--kubeconfig",
        str(example),
        home=tmp_path,
    )
    assert result.code == 1, result.stderr
    assert_valid_report(result.json)
    failed = {
        t["context"]: sorted(r["id"] for r in t["results"] if r["status"] == "fail")
        for t in result.json["targets"]
    }
    assert failed == {
        "staging": ["kubeconfig.ca", "kubeconfig.client-cert", "kubeconfig.server"],
        "legacy": ["kubeconfig.credentials"],
        "old-laptop": ["kubeconfig.context"],
    }
    assert "PRIVATE KEY" not in result.stdout


@pytest.mark.parametrize(
    ("no_proxy", "status"),
    [("", "warn"), ("example.com", "warn"), ("127.0.0.1", "pass"), ("127.0.0.0/8", "pass"), ("*", "pass")],
)
def test_python_client_proxy_note_follows_its_no_proxy_rules(
    fixtures: dict[str, Fixture], tmp_path: Path, no_proxy: str, status: str
) -> None:
    env = {"KUBECONFIG": fixtures["healthy-token"].kubeconfig_env, "https_proxy": "http://127.0.0.1:3128"}
    if no_proxy:
        env["NO_PROXY"] = no_proxy
    result = run_kubeconfig_checks(tmp_path, env=env, client="python").results["kubeconfig.python-client"]
    assert result.status.value == status, result.summary


def test_python_client_notes_an_empty_file_in_KUBECONFIG(
    fixtures: dict[str, Fixture], tmp_path: Path
) -> None:
    empty = write(tmp_path / "empty.yaml", "")
    env = {"KUBECONFIG": f"{fixtures['healthy-token'].kubeconfig_env}{os.pathsep}{empty}"}
    outcome = run_kubeconfig_checks(tmp_path, env=env, client="python")
    assert outcome.status("kubeconfig.context") == "pass"
    result = outcome.results["kubeconfig.python-client"]
    assert result.status.value == "warn" and f"{empty} is empty" in result.summary


def test_hints_fit_the_finding_and_the_flags_the_user_gave(tmp_path: Path) -> None:
    """An empty file gets an empty-file hint; use-context only for the current context, else --context."""
    import asyncio

    from kdoctor_checks.kubeconfig import ContextSelected, Parse

    from kdoctor.api import Check, Result, Status
    from kdoctor.context import Context, Environment, Options, Target

    empty = tmp_path / "empty"
    empty.write_text("")
    config = tmp_path / "config"
    config.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: gone\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443'}}]\n"
        "users: [{name: u, user: {token: abcd}}]\n"
        "contexts: [{name: dev, context: {cluster: c, user: u}}]\n"
    )

    def run(check: type[Check], context: str | None) -> Result:
        env = {"PATH": os.environ.get("PATH", os.defpath), "KUBECONFIG": f"{config}:{empty}"}
        ctx = Context(
            options=Options(context=context),
            environment=Environment(env=env, home=tmp_path),
            target=Target(Mode.KUBECONFIG, context=context),
        )

        async def go() -> Result:
            try:
                return await check().run(ctx)
            finally:
                ctx.cancel_probes()

        return asyncio.run(go())

    parse = run(Parse, None)
    assert parse.status is Status.WARN and f"{empty} is empty" in parse.summary
    assert "repeated keys" not in parse.hint and "An empty file adds nothing" in parse.hint
    current = run(ContextSelected, None)
    assert current.status is Status.FAIL and "`kubectl config use-context dev`" in current.hint
    named = run(ContextSelected, "prod")
    assert named.status is Status.FAIL and "`--context dev`" in named.hint and "use-context" not in named.hint
