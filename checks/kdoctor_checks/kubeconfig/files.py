"""The kubeconfig files: found, parsed, well-formed, and private when they hold credentials."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kdoctor.api import (
    KUBECONFIG,
    MATERIAL,
    Check,
    Context,
    LoadedKubeconfig,
    Mode,
    Result,
    files_summary,
    shadowed_definitions,
)
from kdoctor_checks.kubeconfig.common import join_names


def _chmod_hint(paths: Sequence[str]) -> str:
    return "; ".join(f"`chmod 600 {p}`" for p in paths)


class Found(Check):
    """Finds the kubeconfig the way kubectl does.

    Looks at `--kubeconfig PATH`, else every entry of `KUBECONFIG` (separated by the OS path
    separator; kubectl silently ignores entries that do not exist), else `~/.kube/config`.

    - pass: at least one file exists; the details list them in merge order. `KUBECONFIG` entries that do
      not exist are named in a note: kubectl skips them without a word and works from the rest (when a
      typo there hides the context you want, kubeconfig.context fails with that evidence).
    - fail: no file at all. kubectl then falls back to `http://localhost:8080` and prints "The connection
      to the server localhost:8080 was refused". In a pod, use `kdoctor run --in-cluster` instead.
    """

    id = "kubeconfig.found"
    title = "A kubeconfig file is found"
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        details = ctx.details
        details.update(
            {
                "source": loaded.source,
                "files": [f.path for f in loaded.files],
                "ignored": list(loaded.ignored),
            }
        )
        in_pod = bool(ctx.env.get("KUBERNETES_SERVICE_HOST"))
        pod_hint = (
            " You are inside a pod (KUBERNETES_SERVICE_HOST is set): to check the pod's own access, run "
            "`kdoctor run --in-cluster`."
            if in_pod
            else ""
        )
        if loaded.source == "--kubeconfig":
            path = loaded.files[0].path if loaded.files else ctx.options.kubeconfig or ""
            if loaded.files and loaded.files[0].error is not None and loaded.files[0].error.kind == "missing":
                return Result.fail(
                    f"--kubeconfig {path} does not exist",
                    hint=f"Check the path; kubectl fails the same way (stat {path}: no such file or directory).",
                )
            return Result.ok(f"using {path} (from --kubeconfig)")
        if loaded.source == "KUBECONFIG":
            if not loaded.files:
                return Result.fail(
                    f"none of the KUBECONFIG entries exist: {join_names(list(loaded.ignored))}",
                    hint="kubectl ignores missing entries and falls back to localhost:8080, which refuses the "
                    "connection. Fix KUBECONFIG (`echo $KUBECONFIG`) to point at your kubeconfig files."
                    + pod_hint,
                )
            summary = f"using {len(loaded.files)} file(s) from KUBECONFIG: {join_names([f.path for f in loaded.files])}"
            if loaded.ignored:
                # kubectl skips them without a word and works from the rest: a note, not a warning.
                # (If the context wanted lives in a missing file, kubeconfig.context fails with evidence.)
                return Result.ok(
                    summary
                    + f"; note: entries that do not exist are skipped, as kubectl skips them silently: "
                    f"{join_names(list(loaded.ignored))}",
                )
            return Result.ok(summary)
        default = str(ctx.environment.home / ".kube" / "config")
        if not loaded.files:
            return Result.fail(
                f"no kubeconfig: KUBECONFIG is not set and {default} does not exist "
                "(kubectl falls back to localhost:8080 and reports 'connection refused')",
                hint="Pass --kubeconfig PATH, set KUBECONFIG, or create ~/.kube/config (your provider's CLI "
                "writes one, e.g. `aws eks update-kubeconfig`, `gcloud container clusters get-credentials`)."
                + pod_hint,
            )
        return Result.ok(f"using {default}")


class Parse(Check):
    """Every kubeconfig file can be read and parsed as YAML, safely.

    kubectl refuses the whole configuration when any file fails to load, even one that does not hold
    the context in use. kdoctor reads files with a size cap of its own (32 MiB, far above the 10 MB
    kubeconfigs of large multi-cluster fleets, which load as kubectl loads them; kubectl has no cap),
    refuses alias bombs and deep nesting, and never executes YAML tags (`!!python/...` is an error,
    not code).

    - fail: a file is missing (--kubeconfig), a directory, unreadable, too big, binary, not UTF-8, or
      not valid YAML (with file:line:column).
    - warn: a key given twice in one mapping (kubectl silently keeps the last value), an empty file
      (kubectl treats it as no configuration), or several YAML documents (kubectl reads only the first).
    - note (in the summary): a context, cluster or user name that a later KUBECONFIG file defines
      again; kubectl silently uses the first file's definition, so edits to the later one have no
      effect. The note names both files (details.shadowed).
    """

    id = "kubeconfig.parse"
    title = "Every kubeconfig file parses as YAML"
    depends_on = ("kubeconfig.found",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        details = ctx.details
        details.update({"files": files_summary(loaded.files)})
        errors = []
        for f in loaded.files:
            if f.error is None:
                continue
            where = f"{f.path}:{f.error.location}" if f.error.location else f.path
            errors.append(f"{where}: {f.error.message}")
        if errors:
            too_large = any(f.error is not None and f.error.kind == "too-large" for f in loaded.files)
            return Result.fail(
                "; ".join(errors),
                hint="The size limit is kdoctor's, not kubectl's (kubectl may well load this file): check that "
                "the file is the kubeconfig you meant, or point kdoctor at a smaller one (`kubectl config view "
                "--minify --flatten > small.yaml`)."
                if too_large
                else "Fix or remove the file: kubectl refuses every command while one kubeconfig file "
                "fails to load (error loading config file ...).",
            )
        notes = []
        duplicates = []
        for f in loaded.files:
            for dup in f.duplicate_keys:
                duplicates.append(
                    {"file": f.path, "key": dup.key, "line": dup.line, "first_line": dup.first_line}
                )
                notes.append(
                    f"{f.path}:{dup.line}:{dup.column}: key {dup.key!r} repeats line {dup.first_line} "
                    "(kubectl keeps the last value)"
                )
            if f.empty:
                notes.append(f"{f.path} is empty")
            if f.extra_documents:
                notes.append(f"{f.path} holds several YAML documents; kubectl reads only the first")
        if duplicates:
            details["duplicate_keys"] = duplicates
        shadow_note = _shadow_note(loaded, details)
        if notes:
            fixes = []
            if duplicates or any(f.extra_documents for f in loaded.files):
                fixes.append("Remove the repeated keys / extra documents so the file says one thing.")
            if any(f.empty for f in loaded.files):
                fixes.append(
                    "An empty file adds nothing: remove it from KUBECONFIG (or --kubeconfig), or write a "
                    "kubeconfig into it (your provider's CLI does, e.g. `aws eks update-kubeconfig`, "
                    "`gcloud container clusters get-credentials`)."
                )
            return Result.warn("; ".join(notes) + shadow_note, hint=" ".join(fixes))
        return Result.ok(f"{len(loaded.files)} file(s) parsed{shadow_note}")


class Structure(Check):
    """Every kubeconfig file has the shape kubectl's decoder insists on.

    - fail: the document is not a mapping; `kind` is not `Config` or `apiVersion` not `v1`; a value has
      the wrong type (a string where a list belongs, `insecure-skip-tls-verify: "yes"`, an unquoted `y`
      which YAML 1.1 reads as a boolean); a `*-data` field is not valid base64; a name defined twice
      in one list (kubectl: "duplicate name in list"). Any of these makes kubectl refuse every command.
    - warn: fields kubectl does not know (usually a typo such as `certificate-authority_data`) and
      entries without a name — kubectl silently ignores them.
    """

    id = "kubeconfig.structure"
    title = "Every kubeconfig file has the structure kubectl expects"
    depends_on = ("kubeconfig.parse",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        problems = [p for f in loaded.files for p in f.problems]
        details = ctx.details
        details.update(
            {
                "problems": [
                    {"file": p.file, "where": p.where, "message": p.message, "fatal": p.fatal}
                    for p in problems
                ]
            }
        )
        fatal = [p for p in problems if p.fatal]
        if fatal:
            return Result.fail(
                "; ".join(str(p) for p in fatal[:5])
                + (f" (and {len(fatal) - 5} more)" if len(fatal) > 5 else ""),
                hint="Fix these fields: kubectl refuses to load the file (error loading config file ...). "
                "`kubectl config view` shows the same error once fixed files load.",
            )
        if problems:
            return Result.warn(
                "; ".join(str(p) for p in problems[:5])
                + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""),
                hint="Check the spelling of these fields: kubectl ignores fields it does not know.",
            )
        return Result.ok("every file has the expected structure")


def _shadow_note(loaded: LoadedKubeconfig, details: dict[str, Any]) -> str:
    """Names that a later KUBECONFIG file defines again: kubectl silently uses the first (kdoctor.shadowing)."""
    shadows = shadowed_definitions([f for f in loaded.files if f.loaded])
    if not shadows:
        return ""
    details["shadowed"] = [s.to_dict() for s in shadows]
    shown = "; ".join(s.words() for s in shadows[:5])
    more = f" (and {len(shadows) - 5} more)" if len(shadows) > 5 else ""
    return f"; note: {shown}{more}"


class Permissions(Check):
    """Files holding secrets are readable only by their owner.

    Looks at every kubeconfig file that holds a token, password, private key, auth-provider token or
    exec env, and at the selected user's tokenFile and client-key file.
    - warn: such a file is readable by group or others; the hint gives the `chmod 600` that fixes it.
    """

    id = "kubeconfig.permissions"
    title = "Files holding credentials are private"
    depends_on = ("kubeconfig.found",)
    modes = (Mode.KUBECONFIG,)

    async def run(self, ctx: Context) -> Result:
        loaded = await ctx.probe(KUBECONFIG)
        material = await ctx.probe(MATERIAL)
        exposed: list[tuple[str, str, int]] = []
        for f in loaded.files:
            if f.holds_secrets and f.mode is not None and f.mode & 0o044:
                exposed.append((f.path, "kubeconfig with credentials", f.mode))
        for blob in (material.token_file, material.client_key):
            if blob is not None and blob.path and blob.mode is not None and blob.mode & 0o044:
                exposed.append((blob.path, blob.setting, blob.mode))
        details = ctx.details
        details.update({"exposed": [{"path": p, "what": w, "mode": f"{m:04o}"} for p, w, m in exposed]})
        if exposed:
            return Result.warn(
                "; ".join(f"{p} ({w}) has mode {m:04o}, readable by {_who(m)}" for p, w, m in exposed),
                hint="Make them private: " + _chmod_hint(list(dict.fromkeys(p for p, _, _ in exposed))) + ".",
            )
        return Result.ok("files holding credentials are readable only by their owner")


def _who(mode: int) -> str:
    who = []
    if mode & 0o040:
        who.append("group")
    if mode & 0o004:
        who.append("others")
    return " and ".join(who)
