"""Authorization like the RBAC authorizer (default deny), and the 403 it words."""

from __future__ import annotations

from collections.abc import Sequence

from kdoctor.emulator.authn import ANONYMOUS
from kdoctor.emulator.messages import RequestInfo
from kdoctor.emulator.scenarios import (
    ADMIN_GROUP,
    BASIC_NON_RESOURCE_RULES,
    BASIC_RULES,
    PUBLIC_NON_RESOURCE_RULES,
    EmulatorConfig,
    NonResourceRule,
    Rule,
    UserInfo,
)

REVIEW_RESOURCES = frozenset({"selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"})


def forbidden_message(user: str, info: RequestInfo) -> tuple[str, dict[str, str]]:
    """The message and details of a 403, worded like the apiserver's `forbiddenMessage` + NewForbidden."""
    if not info.resource_request:
        return f'forbidden: User "{user}" cannot {info.verb} path "{info.path}"', {}
    resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
    if info.namespace and not (info.resource == "namespaces" and not info.subresource):
        scope = f'in the namespace "{info.namespace}"'
    else:
        scope = "at the cluster scope"
    reason = f'User "{user}" cannot {info.verb} resource "{resource}" in API group "{info.api_group}" {scope}'
    qualified = info.resource + (f".{info.api_group}" if info.api_group else "")
    details: dict[str, str] = {}
    if info.name:
        details["name"] = info.name
        message = f'{qualified} "{info.name}" is forbidden: {reason}'
    else:
        message = f"{qualified} is forbidden: {reason}"
    if info.api_group:
        details["group"] = info.api_group
    details["kind"] = info.resource
    return message, details


def _glob_match(pattern: str, path: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith("*"):
        return path.startswith(pattern[:-1])
    return path == pattern


class Authorization:
    """The RBAC authorizer over the scenario's rules (default deny)."""

    config: EmulatorConfig

    def rules_for(self, user: UserInfo, namespace: str | None) -> tuple[list[Rule], list[NonResourceRule]]:
        """The rules that apply to `user` (in `namespace`, or cluster-wide ones only when None)."""
        if user is ANONYMOUS:
            return [], list(PUBLIC_NON_RESOURCE_RULES)
        resource_rules: list[Rule] = []
        non_resource: list[NonResourceRule] = []
        if ADMIN_GROUP in user.groups:
            resource_rules.append(Rule(("*",), ("*",), ("*",)))
            non_resource.append(NonResourceRule(("*",), ("*",)))
        keys = [user.username, *(f"group:{g}" for g in user.groups)]
        for key in keys:
            for rule in self.config.rules.get(key, ()):
                if isinstance(rule, NonResourceRule):
                    non_resource.append(rule)
                elif rule.namespaces is None or (namespace is not None and namespace in rule.namespaces):
                    resource_rules.append(rule)
        resource_rules += BASIC_RULES
        non_resource += BASIC_NON_RESOURCE_RULES
        return resource_rules, non_resource

    def authorize(self, user: UserInfo, info: RequestInfo) -> tuple[bool, str]:
        """(allowed, reason) for `info`, like RBAC (default deny)."""
        if self.config.forbid_reviews and info.resource_request and info.resource in REVIEW_RESOURCES:
            return False, ""
        resource_rules, non_resource = self.rules_for(user, info.namespace or None)
        if not info.resource_request:
            for nr in non_resource:
                if _verb_ok(nr.verbs, info.verb) and any(_glob_match(u, info.path) for u in nr.urls):
                    return True, _allowed_reason(user)
            return False, ""
        resource = info.resource + (f"/{info.subresource}" if info.subresource else "")
        for rule in resource_rules:
            if (
                _verb_ok(rule.verbs, info.verb)
                and ("*" in rule.api_groups or info.api_group in rule.api_groups)
                and ("*" in rule.resources or resource in rule.resources)
                and (not rule.resource_names or info.name in rule.resource_names)
            ):
                return True, _allowed_reason(user)
        return False, ""


def _verb_ok(verbs: Sequence[str], verb: str) -> bool:
    return "*" in verbs or verb in verbs


def _allowed_reason(user: UserInfo) -> str:
    if ADMIN_GROUP in user.groups:
        return f'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "{ADMIN_GROUP}"'
    return ""
