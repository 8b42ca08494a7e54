"""How checks judge the answers a stalled target leaves them (kdoctor.probes.api, the target's time):
a request cut short says how long it waited, a request never sent is never reported as a failure.

The answers are the session's own shapes (tests/test_probes_api.py shows a real session producing
them against the emulator); the judging is tested here without a network, as the checks see it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kdoctor_checks.apiserver import LivezCheck
from kdoctor_checks.auth import IdentityCheck

from kdoctor.api import Check, Mode, Probe, Status
from kdoctor.context import Context, Environment, Options, Target
from kdoctor.core import Result, run_check
from kdoctor.keys import IDENTITY_REVIEW, LIVEZ, READYZ
from kdoctor.probes.api import ApiResponse, close_session
from kdoctor.probes.identity import REVIEW_PATHS, IdentityReview
from kdoctor.probes.path import status_words

FIRST = "GET /api/v1/namespaces/default/endpoints/kubernetes"
WHY = f"the target's time ran out: {FIRST} got no answer within 1s"
NOT_SENT = ApiResponse("GET", "/livez?verbose", error_kind="not-sent", error=f"not sent: {WHY}", cut_by=FIRST)
CUT = ApiResponse(
    "GET",
    "/livez?verbose",
    error_kind="read-timeout",
    error=f"no response headers within 0.42s: {WHY}",
    cut_by=FIRST,
)
HEALTHY = ApiResponse("GET", "/livez?verbose", 200, "OK", body=b"livez check passed")


def _ctx(tmp_path: Path) -> Context:
    config = tmp_path / "config"
    config.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                # Nothing listens here and nothing connects: the answers are provided.
                "clusters": [
                    {
                        "name": "c",
                        "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": True},
                    }
                ],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "c",
                "users": [{"name": "u", "user": {"token": "stall-verdict-token"}}],
            }
        )
    )
    return Context(
        options=Options(kubeconfig=str(config), timeout=1.0),
        environment=Environment(env={"PATH": "/usr/bin:/bin"}, home=tmp_path),
        target=Target(Mode.KUBECONFIG),
    )


def _run(ctx: Context, check: Check, answers: Sequence[tuple[Probe[Any], object]]) -> Result:
    async def main() -> Result:
        for key, value in answers:
            ctx.provide(key, value)
        try:
            return await run_check(check, ctx)
        finally:
            await close_session(ctx)

    return asyncio.run(main())


def test_a_health_request_that_was_not_sent_is_not_examined(tmp_path: Path) -> None:
    result = _run(_ctx(tmp_path), LivezCheck(), [(LIVEZ, NOT_SENT)])
    assert result.status is Status.SKIP, result
    assert result.summary == f"not examined: not sent: {WHY}"


def test_a_health_request_cut_short_says_how_long_it_waited(tmp_path: Path) -> None:
    result = _run(_ctx(tmp_path), LivezCheck(), [(LIVEZ, CUT)])
    assert result.status is Status.FAIL
    # Not "within 1s": it had 0.42 s, and the stall that ended the target's time is named.
    assert "within 1s (" not in result.summary
    assert f"no response headers came (no response headers within 0.42s: {WHY})" in result.summary


def test_a_review_that_was_not_sent_is_not_reported_as_refused(tmp_path: Path) -> None:
    api_version, path = REVIEW_PATHS[0]
    review = IdentityReview(
        api_version, ApiResponse("POST", path, error_kind="not-sent", error=f"not sent: {WHY}", cut_by=FIRST)
    )
    # A healthy apiserver: the cause is the stall elsewhere, said as such, not a failure of the credential.
    result = _run(
        _ctx(tmp_path), IdentityCheck(), [(IDENTITY_REVIEW, review), (LIVEZ, HEALTHY), (READYZ, HEALTHY)]
    )
    assert result.status is Status.SKIP, result
    assert result.summary == f"not examined: the SelfSubjectReview was not sent: {WHY}"


def test_status_words_of_a_request_not_sent() -> None:
    assert status_words(NOT_SENT) == f"not sent: {WHY}"
    assert status_words(CUT).startswith("no answer (read-timeout: no response headers within 0.42s")
