"""Once a TLS-intercepting proxy is identified, every hint says so: none advises adopting the interceptor's
names (tls-server-name, the server URL, the SANs), and none says "check HTTPS_PROXY" when no proxy is set
(the interception is then transparent). kubectl is asked first on the same kubeconfig.
"""

from __future__ import annotations

from pathlib import Path

from tests.clirun import kdoctor
from tests.lab.emulator_fixtures import EmulatorFactory, emulator  # noqa: F401
from tests.lab.proxies import TlsInterceptor
from tests.lab.tools import ask_kubectl
from tests.reportvalidation import assert_valid_report

INTERCEPTOR_NAME = "gateway.corp.example"


def test_a_transparent_interceptor_is_named_in_every_hint(tmp_path: Path, emulator: EmulatorFactory) -> None:  # noqa: F811
    api = emulator("healthy")
    with TlsInterceptor(
        tmp_path, ("127.0.0.1", api.port), dns_names=(INTERCEPTOR_NAME,), ip_addresses=()
    ) as interceptor:
        config = api.write_kubeconfig(tmp_path / "config", server=interceptor.url)
        kubectl = ask_kubectl(config, tmp_path)
        done = kdoctor("run", "--kubeconfig", str(config), "-o", "json", "--timeout", "3", home=tmp_path)
    assert kubectl.returncode != 0 and "x509" in kubectl.stderr, kubectl.stderr
    assert done.code == 1, done.stderr
    assert_valid_report(done.json)
    results = {r["id"]: r for r in done.json["targets"][0]["results"]}
    chain = results["tls.chain"]
    assert chain["status"] == "fail"
    assert "a TLS-intercepting proxy re-signs the connection, transparently" in chain["summary"]
    assert "the interception is transparent" in chain["hint"]
    assert [h["kind"] for h in results["proxy.path"]["details"]["hops"]] == ["tls-intercepting-proxy"]
    assert "transparent" in results["proxy.path"]["hint"]
    for check in ("tls.hostname", "tls.expiry", "tls.strength"):
        assert results[check]["status"] == "skip", results[check]
        assert "TLS-intercepting proxy's" in results[check]["summary"]
    for result in results.values():
        advice = result["hint"]
        assert INTERCEPTOR_NAME not in advice, (result["id"], advice)
        assert "tls-server-name" not in advice, (result["id"], advice)
        assert "certSANs" not in advice, (result["id"], advice)
        assert "check HTTPS_PROXY" not in advice, (result["id"], advice)
        assert "NO_PROXY" not in advice, (result["id"], advice)
