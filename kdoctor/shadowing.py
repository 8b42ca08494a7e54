"""Names defined in more than one KUBECONFIG file: which definition kubectl uses. Pure.

kubectl merges the files of KUBECONFIG in order and the first file that defines a context, cluster
or user name wins; later definitions of that name are ignored without a word (client-go's
loading rules, mergo with "first wins"). A user who edits the second file sees no effect.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Shadow", "shadowed_definitions"]


class _File(Protocol):
    @property
    def path(self) -> str: ...
    @property
    def clusters(self) -> tuple[str, ...]: ...
    @property
    def contexts(self) -> tuple[str, ...]: ...
    @property
    def users(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Shadow:
    section: str  # "context", "cluster", "user"
    name: str
    used: str  # the file whose definition kubectl uses
    ignored: str  # a later file whose definition is ignored

    def words(self) -> str:
        return (
            f"{self.section} {self.name!r} in {self.ignored} is ignored: kubectl uses the one in {self.used}"
        )

    def to_dict(self) -> dict[str, str]:
        return {"section": self.section, "name": self.name, "used": self.used, "ignored": self.ignored}


def shadowed_definitions(files: Sequence[_File]) -> list[Shadow]:
    """Every later definition of a name an earlier file already defines, in file order."""
    out: list[Shadow] = []
    for section, attribute in (("context", "contexts"), ("cluster", "clusters"), ("user", "users")):
        first: dict[str, str] = {}
        for f in files:
            for name in getattr(f, attribute):
                if name in first:
                    if first[name] != f.path:
                        out.append(Shadow(section, name, first[name], f.path))
                else:
                    first[name] = f.path
    return out
