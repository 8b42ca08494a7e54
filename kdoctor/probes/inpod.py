"""The cheap facts about running in a pod: the variable names client-go reads and `detect`.

Kept apart from `kdoctor.incluster` (the service-account reader and its probes) so that deciding
the run's mode, and naming things in check titles, costs no import of the in-cluster machinery on a
laptop. `kdoctor.incluster` and `kdoctor.probes.clusterdns` re-export these names. The resolver
limits the dns checks judge resolv.conf by are here for the same reason: a family that names them
at import does not load the DNS probes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kdoctor.context import Environment, Options

__all__ = [
    "HOST_VAR",
    "KUBELET_NDOTS",
    "MAX_NAMESERVERS",
    "MUSL_MAX_LINE",
    "OLD_GLIBC_MAX_SEARCH",
    "OLD_GLIBC_MAX_SEARCH_CHARS",
    "PORT_HTTPS_VAR",
    "PORT_VAR",
    "SERVICE_NAME",
    "detect",
]

HOST_VAR = "KUBERNETES_SERVICE_HOST"
PORT_VAR = "KUBERNETES_SERVICE_PORT"
#: The kubelet also sets the port by name ("https"); client-go ignores it, but a mismatch is telling.
PORT_HTTPS_VAR = "KUBERNETES_SERVICE_PORT_HTTPS"
#: The apiserver's Service as a pod names it through its DNS search path.
SERVICE_NAME = "kubernetes.default.svc"

#: glibc MAXNS and musl MAXNS: later nameserver lines are ignored.
MAX_NAMESERVERS = 3
#: glibc before 2.26 (MAXDNSRCH and the size of its search buffer).
OLD_GLIBC_MAX_SEARCH = 6
OLD_GLIBC_MAX_SEARCH_CHARS = 256
#: musl reads lines into a 256-byte buffer and skips any line that does not fit whole.
MUSL_MAX_LINE = 254
#: What kubelet writes into a ClusterFirst pod.
KUBELET_NDOTS = 5


def detect(options: Options, environment: Environment) -> bool:
    """Whether this run checks the in-pod path: forced by --in-cluster/--no-in-cluster, else auto.

    Auto means what client-go's InClusterConfig needs to start: KUBERNETES_SERVICE_HOST set and the
    service-account directory present.
    """
    if options.in_cluster is not None:
        return options.in_cluster
    return bool(environment.env.get(HOST_VAR)) and Path(options.serviceaccount_dir).is_dir()
