"""One expiry threshold for every certificate, and one judgement: auth.credential once warned at 7 days
where kubeconfig.client-cert warned at 30, so a certificate 20 days from its end got two verdicts;
now the kubeconfig's certificate is judged by kubeconfig.client-cert alone."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from kdoctor_checks.auth import CredentialCheck

from kdoctor.access import Credentials
from kdoctor.api import EXPIRY_WARNING, Status, expires_soon
from kdoctor.emulator.pki import make_ca, make_client_cert
from kdoctor.redact import Secret
from tests.fixtures.kubeconfigs.factory import b64, kubeconfig, write
from tests.fixtures.kubeconfigs.harness import run_kubeconfig_checks
from tests.plugins.authlab import (
    V1,
    access_with,
    exec_credential_body,
    exec_spec,
    make_ctx,
    run_check,
    write_plugin,
)

NOW = datetime(2026, 12, 6, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("left", "soon"),
    [(timedelta(days=-1), False), (timedelta(0), True), (timedelta(days=20), True), (EXPIRY_WARNING, True)],
)
def test_expires_soon(left: timedelta, soon: bool) -> None:
    assert expires_soon(NOW + left, NOW) is soon
    assert not expires_soon(NOW + EXPIRY_WARNING + timedelta(seconds=1), NOW)


def test_the_client_certificate_gets_one_verdict(tmp_path: Path) -> None:
    """The kubeconfig's certificate 20 days from its end: kubeconfig.client-cert warns, auth.credential
    shows it and points there; the same certificate from an exec plugin is auth.credential's to judge,
    with the same threshold."""
    now = datetime.now(timezone.utc)
    ca = make_ca("test-ca")
    cert = make_client_cert(
        ca, "jane", not_before=now - timedelta(days=1), not_after=now + timedelta(days=20)
    )
    creds = Credentials(client_cert_pem=cert.cert_pem, client_key_pem=Secret(cert.key_pem.decode()))
    auth = run_check(CredentialCheck, make_ctx(tmp_path), access_with(creds))
    user = {"client-certificate-data": b64(cert.cert_pem), "client-key-data": b64(cert.key_pem)}
    config = write(tmp_path / "config", kubeconfig(server="https://127.0.0.1:6443", user=user))
    kubeconfig_verdict = run_kubeconfig_checks(tmp_path, kubeconfig=str(config)).results[
        "kubeconfig.client-cert"
    ]
    assert kubeconfig_verdict.status is Status.WARN
    assert auth.status is Status.PASS and auth.summary.endswith("(validity: kubeconfig.client-cert)")

    plugin = write_plugin(
        tmp_path, "kd-cert", exec_credential_body(V1, cert_pem=cert.cert_pem, key_pem=cert.key_pem)
    )
    from_plugin = run_check(
        CredentialCheck, make_ctx(tmp_path), access_with(Credentials(exec=exec_spec(plugin)))
    )
    assert from_plugin.status is Status.WARN and "exec plugin's certificate" in from_plugin.summary
