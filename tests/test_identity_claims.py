"""The identity a credential claims beside the one the apiserver reports (kdoctor.identity); 403 anonymous."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from kdoctor.api import Status
from kdoctor.emulator.scenarios import UserInfo
from kdoctor.identity import ClaimedIdentity, anonymous_403_words, identity_note
from tests.test_apiserver_checks import run_checks
from tests.test_cloudcreds import eks_token

if TYPE_CHECKING:
    from tests.lab.emulator_fixtures import EmulatorFactory

pytest_plugins = ("tests.lab.emulator_fixtures",)


@pytest.mark.parametrize(
    ("claimed", "username", "groups", "extra", "note"),
    [
        (ClaimedIdentity("jane", ("devs",), "client certificate"), "jane", ["devs"], {}, ""),
        (
            ClaimedIdentity("jane", ("devs", "ops"), "client certificate"),
            "jane",
            ["devs"],
            {},
            "; the client certificate also claims groups ops, which the server did not grant",
        ),
        (
            ClaimedIdentity("jane@example.com", (), "token's JWT subject"),
            "oidc:jane@example.com",
            [],
            {},
            "; the token's JWT subject claims jane@example.com, the server maps it to oidc:jane@example.com "
            "(bind RBAC to the server's name)",
        ),
        (
            ClaimedIdentity(None, (), "EKS token"),
            "dev",
            [],
            {"arn": ["arn:aws:iam::111122223333:role/dev"]},
            "; the EKS token maps ARN arn:aws:iam::111122223333:role/dev to dev",
        ),
        (ClaimedIdentity(None, (), "EKS token"), "dev", [], {}, ""),
        (None, "jane", [], {}, ""),
    ],
)
def test_identity_note(
    claimed: ClaimedIdentity | None, username: str, groups: list[str], extra: dict[str, list[str]], note: str
) -> None:
    assert identity_note(claimed, username, groups, extra) == note


def test_anonymous_403_says_which() -> None:
    assert "was not presented" in anonymous_403_words("client-certificate", True)[0]
    assert "--client-ca-file" in anonymous_403_words("exec-client-certificate", True)[1]
    assert "drops the Authorization header" in anonymous_403_words("token", True)[0]
    assert anonymous_403_words("token", False)[0] == "the credential was not sent"


def test_eks_identity_beside_the_servers(emulator: EmulatorFactory, tmp_path: Path) -> None:
    token = eks_token(datetime.now(timezone.utc) - timedelta(minutes=1))
    arn = "arn:aws:sts::111122223333:assumed-role/dev/jane"
    user = UserInfo("dev-user", ("system:authenticated",), extra={"arn": (arn,)})
    api = emulator("healthy", tokens={token: user})
    identity = run_checks(api.write_kubeconfig(tmp_path / "config", token=token), tmp_path)["auth.identity"]
    assert identity.status is Status.PASS, identity.summary
    assert f"the EKS token maps ARN {arn} to dev-user" in identity.summary
    assert identity.details["claimed_identity"]["source"] == "EKS token"


def test_service_account_token_claims_what_the_server_reports(
    emulator: EmulatorFactory, tmp_path: Path
) -> None:
    api = emulator("healthy")
    token = api.mint_sa_token("ci", "deployer")
    identity = run_checks(api.write_kubeconfig(tmp_path / "config", token=token), tmp_path)["auth.identity"]
    assert identity.status is Status.PASS
    assert identity.details["claimed_identity"]["username"] == "system:serviceaccount:ci:deployer"
    assert "claims" not in identity.summary  # the same name: nothing to add
