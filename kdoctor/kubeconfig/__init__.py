"""The kubeconfig model: locate, load, validate and merge like kubectl (client-go), then select a context.

The package by concern: `model` (the facts), `load` (locate, load, merge, select), `validation`
(structure and values), `material` (reading CA, certificate, key and token files), `probes` (the
probe functions and the AccessSpec built from a selection).

Everything here gathers facts; the `kubeconfig.*` checks judge them. The rules copied from client-go
(`tools/clientcmd/loader.go`, `validation.go`):

- Locating: `--kubeconfig PATH` (must exist), else every entry of `KUBECONFIG` (split on the path
  separator, duplicates dropped, missing entries ignored), else `~/.kube/config`.
- Loading: a file that fails to parse, has the wrong `kind`/`apiVersion`, a value of the wrong type or
  a name defined twice in one list makes kubectl refuse the whole configuration.
- Merging: for clusters, contexts and users the first file that defines a name wins (the whole entry);
  `current-context` comes from the first file that sets it.
- Relative paths (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`, and an exec
  `command` that contains a path separator) resolve against the directory of the file that names them.
"""

from __future__ import annotations

from kdoctor.keys import KUBECONFIG, KUBECONFIG_ACCESS, MATERIAL, SELECTION
from kdoctor.kubeconfig.load import (
    list_contexts,
    load_kubeconfig,
    locate,
    resolve_path,
    select,
    selected_config,
)
from kdoctor.kubeconfig.material import MAX_MATERIAL_BYTES, gather_material, read_blob
from kdoctor.kubeconfig.model import (
    Blob,
    ClusterEntry,
    ContextEntry,
    ExecEntry,
    KubeconfigFile,
    LoadedKubeconfig,
    Material,
    Problem,
    Selection,
    UserEntry,
    effective_server,
    files_summary,
    has_tls_settings,
)
from kdoctor.kubeconfig.probes import PRELOADED, build_access
from kdoctor.kubeconfig.validation import (
    EXEC_API_VERSIONS,
    INTERACTIVE_MODES,
    decode_base64,
    describe,
    dns_name_problem,
    server_url_problem,
    validate_document,
)

__all__ = [
    "EXEC_API_VERSIONS",
    "INTERACTIVE_MODES",
    "KUBECONFIG",
    "KUBECONFIG_ACCESS",
    "MATERIAL",
    "MAX_MATERIAL_BYTES",
    "PRELOADED",
    "SELECTION",
    "Blob",
    "ClusterEntry",
    "ContextEntry",
    "ExecEntry",
    "KubeconfigFile",
    "LoadedKubeconfig",
    "Material",
    "Problem",
    "Selection",
    "UserEntry",
    "build_access",
    "decode_base64",
    "describe",
    "dns_name_problem",
    "effective_server",
    "files_summary",
    "gather_material",
    "has_tls_settings",
    "list_contexts",
    "load_kubeconfig",
    "locate",
    "read_blob",
    "resolve_path",
    "select",
    "selected_config",
    "server_url_problem",
    "validate_document",
]
