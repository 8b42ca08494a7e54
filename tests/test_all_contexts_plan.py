"""--all-contexts: which targets are network-bound and which run a credential plugin (bounded apart)."""

from __future__ import annotations

from pathlib import Path

from kdoctor.app import PLUGIN_TARGET_CONCURRENCY, TARGET_CONCURRENCY, _plan, _target_limit
from kdoctor.context import Environment, Options

CONFIG = """apiVersion: v1
kind: Config
clusters:
- {name: c, cluster: {server: "https://127.0.0.1:1"}}
users:
- {name: token, user: {token: not-a-real-token-0001}}
- name: plugin
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/true, interactiveMode: Never}
- name: provider
  user:
    auth-provider: {name: oidc}
contexts:
- {name: a-token, context: {cluster: c, user: token}}
- {name: b-exec, context: {cluster: c, user: plugin}}
- {name: c-provider, context: {cluster: c, user: provider}}
- {name: d-missing-user, context: {cluster: c, user: nobody}}
"""


def test_plugin_targets_are_told_apart_from_network_bound_ones(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.write_text(CONFIG)
    options = Options(kubeconfig=str(config), all_contexts=True, in_cluster=False)
    targets, plugins = _plan(options, Environment(env={}, home=tmp_path))
    assert [t.context for t in targets] == ["a-token", "b-exec", "c-provider", "d-missing-user"]
    assert plugins == {"b-exec", "c-provider"}


def test_network_bound_targets_run_far_more_at_once_than_plugin_ones() -> None:
    assert PLUGIN_TARGET_CONCURRENCY <= 8
    assert _target_limit() >= 8 * PLUGIN_TARGET_CONCURRENCY or _target_limit() < TARGET_CONCURRENCY
