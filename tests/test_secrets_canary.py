"""Canary secrets in every place a kubeconfig or environment can hold one; none may reach any output.

One kubeconfig holds a context per credential kind, all pointed at the real emulator, so a single
`--all-contexts` run exercises every family with every secret: the tokens are accepted, the exec
plugin runs and chatters on stderr, the client key is used. Each output format, the `--report`
file and `--debug` stderr are searched for every canary.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from kdoctor.emulator import Emulator
from kdoctor.emulator.scenarios import UserInfo
from tests.clirun import kdoctor
from tests.reportvalidation import assert_valid_report

CANARY_TOKEN = "canary-token-7f3a9c1e5b2d4f60"
CANARY_FILE_TOKEN = "canary-tokenfile-1b2c3d4e5f607182"
CANARY_EXEC_TOKEN = "canary-exec-token-99aa88bb77cc66dd"
CANARY_EXEC_ENV = "canary-exec-env-value-0c1d2e3f4a5b"
CANARY_PASSWORD = "canary-password-5e6f7a8b9c0d1e2f"
CANARY_OIDC_ID = "canary-oidc-id-token-3344556677889900"
CANARY_OIDC_REFRESH = "canary-oidc-refresh-aabbccddeeff0011"
CANARY_OIDC_SECRET = "canary-oidc-client-secret-2233445566"
CANARY_PROXY_PASSWORD = "canary-proxy-password-8899aabbccdd"
CANARY_EKS_SIGNATURE = "ca7a11e5eca7a11e5eca7a11e5e0123456789abcdef"
CANARY_EKS_KEY = "ASIACANARYKEY0123456"
CANARY_OIDC_JWT_SIGNATURE = "Y2FuYXJ5LW9pZGMtand0LXNpZ25hdHVyZQ"


def _eks_token() -> str:
    """An EKS token (k8s-aws-v1. + a presigned STS URL) whose signature and key id are canaries."""
    import datetime as dt

    from tests.test_cloudcreds import eks_token

    return eks_token(dt.datetime.now(dt.timezone.utc), key=CANARY_EKS_KEY, signature=CANARY_EKS_SIGNATURE)


def _oidc_jwt() -> str:
    """A valid-looking OIDC id-token (kdoctor sends it, as kubectl does) with a canary signature."""
    import time

    def part(data: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"iss": "https://127.0.0.1:1/", "aud": "kdoctor", "sub": "jane", "exp": int(time.time()) + 3600}
    return f"{part({'alg': 'RS256'})}.{part(claims)}.{CANARY_OIDC_JWT_SIGNATURE}"


def _exec_plugin(tmp_path: Path) -> Path:
    plugin = tmp_path / "canary-plugin"
    plugin.write_text(
        f"""#!{sys.executable}
import json, os, sys
sys.stderr.write("refreshing: env=%s token={CANARY_EXEC_TOKEN}\\nAuthorization: Bearer {CANARY_EXEC_TOKEN}\\n"
                 % os.environ.get("CANARY_ENV", ""))
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                  "status": {{"token": "{CANARY_EXEC_TOKEN}"}}}}))
"""
    )
    plugin.chmod(0o755)
    return plugin


def _kubeconfig(tmp_path: Path, emu: Emulator) -> tuple[Path, list[str]]:
    cert_pem, key_pem = emu.mint_client_cert("canary-cert-user", ("canaries",))
    token_file = tmp_path / "token"
    token_file.write_text(CANARY_FILE_TOKEN + "\n")
    token_file.chmod(0o644)  # group/world readable on purpose: the permissions finding must not quote it
    plugin = _exec_plugin(tmp_path)
    eks_token, oidc_jwt = _eks_token(), _oidc_jwt()
    ca_data = base64.b64encode(emu.ca_pem).decode()
    key_data = base64.b64encode(key_pem).decode()
    users = {
        "token": {"token": CANARY_TOKEN},
        "tokenfile": {"tokenFile": str(token_file)},
        "basic": {"username": "canary", "password": CANARY_PASSWORD},
        "cert": {
            "client-certificate-data": base64.b64encode(cert_pem).decode(),
            "client-key-data": key_data,
        },
        "exec": {
            "exec": {
                "apiVersion": "client.authentication.k8s.io/v1",
                "command": str(plugin),
                "interactiveMode": "Never",
                "env": [{"name": "CANARY_ENV", "value": CANARY_EXEC_ENV}],
            }
        },
        "oidc": {
            "auth-provider": {
                "name": "oidc",
                "config": {
                    "idp-issuer-url": "https://127.0.0.1:1/",
                    "client-id": "kdoctor",
                    "client-secret": CANARY_OIDC_SECRET,
                    "id-token": CANARY_OIDC_ID,
                    "refresh-token": CANARY_OIDC_REFRESH,
                },
            }
        },
        "eks": {"token": eks_token},
        "oidc-jwt": {
            "auth-provider": {
                "name": "oidc",
                "config": {
                    "idp-issuer-url": "https://127.0.0.1:1/",
                    "client-id": "kdoctor",
                    "id-token": oidc_jwt,
                    "refresh-token": CANARY_OIDC_REFRESH,
                },
            }
        },
        # Two methods at once: the kubeconfig family fails it, and must not quote either secret.
        "double": {"token": CANARY_TOKEN, "username": "canary", "password": CANARY_PASSWORD},
    }
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "token",
        "clusters": [
            {"name": "emu", "cluster": {"server": emu.url, "certificate-authority-data": ca_data}},
        ],
        "contexts": [{"name": n, "context": {"cluster": "emu", "user": n}} for n in users],
        "users": [{"name": n, "user": u} for n, u in users.items()],
    }
    path = tmp_path / "config"
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML; kubectl reads it too
    path.chmod(0o644)
    key_lines = [line for line in key_pem.decode().splitlines() if line and not line.startswith("-----")]
    canaries = [
        CANARY_TOKEN,
        CANARY_FILE_TOKEN,
        CANARY_EXEC_TOKEN,
        CANARY_EXEC_ENV,
        CANARY_PASSWORD,
        CANARY_OIDC_ID,
        CANARY_OIDC_REFRESH,
        CANARY_OIDC_SECRET,
        CANARY_PROXY_PASSWORD,
        CANARY_EKS_SIGNATURE,
        CANARY_EKS_KEY,
        CANARY_OIDC_JWT_SIGNATURE,
        eks_token,
        oidc_jwt,
        key_data,
        *key_lines,
    ]
    return path, canaries


@pytest.mark.parametrize("fmt", ["json", "text", "rich", "junit", "markdown"])
def test_no_canary_in_any_output(tmp_path: Path, emulator: object, fmt: str) -> None:
    tokens = {
        CANARY_TOKEN: UserInfo("canary-token-user", ("canaries",)),
        CANARY_FILE_TOKEN: UserInfo("canary-file-user", ("canaries",)),
        CANARY_EXEC_TOKEN: UserInfo("canary-exec-user", ("canaries",)),
    }
    emu = emulator("healthy", tokens=tokens)  # type: ignore[operator]
    config, canaries = _kubeconfig(tmp_path, emu)
    report = tmp_path / "report.json"
    proxy = f"http://user:{CANARY_PROXY_PASSWORD}@127.0.0.1:9"
    done = kdoctor(
        "run",
        "--all-contexts",
        "--kubeconfig",
        str(config),
        "-o",
        fmt,
        "--report",
        str(report),
        "--debug",
        "--timeout",
        "3",
        home=tmp_path,
        env={"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "example.invalid"},
    )
    doc = json.loads(report.read_text())
    assert_valid_report(doc)
    assert {t["context"] for t in doc["targets"]} == {
        "token",
        "tokenfile",
        "basic",
        "cert",
        "exec",
        "oidc",
        "eks",
        "oidc-jwt",
        "double",
    }
    by_context = {t["context"]: t for t in doc["targets"]}
    # The credentials were really used: the identity check saw each user.
    identity = {
        c: next((r for r in t["results"] if r["id"] == "auth.identity"), None) for c, t in by_context.items()
    }
    assert identity["token"] is not None and "canary-token-user" in identity["token"]["summary"]
    assert identity["exec"] is not None and "canary-exec-user" in identity["exec"]["summary"]
    assert identity["cert"] is not None and "canary-cert-user" in identity["cert"]["summary"]
    # The EKS token and the OIDC id-token were read (and sent), not skipped.
    token_results = {
        c: next((r for r in t["results"] if r["id"] == "auth.token"), None) for c, t in by_context.items()
    }
    assert token_results["eks"] is not None and token_results["eks"]["summary"].startswith(
        "EKS token for STS"
    )
    assert (
        token_results["oidc-jwt"] is not None and "audience kdoctor" in token_results["oidc-jwt"]["summary"]
    )
    assert done.code in (1, 0), done.stderr  # findings, never an internal error
    outputs = {"stdout": done.stdout, "stderr": done.stderr, "report": report.read_text()}
    for where, text in outputs.items():
        for canary in canaries:
            assert canary not in text, f"a canary secret leaked into {where} ({fmt})"
    # Tokens may be identified by fingerprint only.
    assert "sha256:" in outputs["report"]


def _run_one_cluster(
    tmp_path: Path, fmt: str, cluster: dict[str, str], user: str, env: dict[str, str] | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """A run over a kubeconfig of one cluster (nothing listens on port 9) whose context names
    `user`, with a canary token user beside: its outputs by name and the parsed report."""
    config = tmp_path / "config"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": user}}],
                "current-context": "c",
                "users": [{"name": "u", "user": {"token": CANARY_TOKEN}}],
            }
        )
    )
    report = tmp_path / "report.json"
    done = kdoctor(
        "run",
        "--kubeconfig",
        str(config),
        "-o",
        fmt,
        "--report",
        str(report),
        "--debug",
        "--timeout",
        "1",
        home=tmp_path,
        env=env,
    )
    assert done.code == 1, done.stderr
    text = report.read_text()
    return {"stdout": done.stdout, "stderr": done.stderr, "report": text}, json.loads(text)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_no_proxy_password_leaks_from_a_context_whose_user_is_missing(tmp_path: Path, fmt: str) -> None:
    # Found by the fuzz campaign (seed 7, case 6268): the proxy-url's password was registered only
    # by the proxy decision, which a context naming a missing user never reaches, while the
    # report's `config` view of the target showed the proxy-url as written.
    cluster = {
        "server": "https://127.0.0.1:9",
        "proxy-url": f"http://user:{CANARY_PROXY_PASSWORD}@127.0.0.1:9",
    }
    proxy = f"http://user:{CANARY_PASSWORD}@127.0.0.1:9"
    outputs, doc = _run_one_cluster(tmp_path, fmt, cluster, "nobody-by-this-name", {"HTTPS_PROXY": proxy})
    assert doc["targets"][0]["config"]["clusters"][0]["cluster"]["proxy-url"].endswith("@127.0.0.1:9")
    for where, text in outputs.items():
        for canary in (CANARY_PROXY_PASSWORD, CANARY_PASSWORD, CANARY_TOKEN):
            assert canary not in text, f"{canary} leaked into {where} ({fmt})"


@pytest.mark.parametrize("fmt", ["json", "text", "markdown"])
def test_no_password_leaks_from_a_server_url(tmp_path: Path, fmt: str) -> None:
    # A server URL may carry user:password (Go's HTTP client sends it as basic auth). Nothing
    # registered it, and the target's header printed the server as written.
    outputs, doc = _run_one_cluster(
        tmp_path, fmt, {"server": f"https://user:{CANARY_PASSWORD}@127.0.0.1:9"}, "u"
    )
    assert doc["targets"][0]["server"].endswith("@127.0.0.1:9")
    for where, text in outputs.items():
        for canary in (CANARY_PASSWORD, CANARY_TOKEN):
            assert canary not in text, f"{canary} leaked into {where} ({fmt})"
