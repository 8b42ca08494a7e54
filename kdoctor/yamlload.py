"""Bounded, safe YAML loading for untrusted kubeconfig files.

`load_yaml_file` never raises and never executes anything: a `!!python/...` tag is an error, a file
over the size cap is refused after a stat and a bounded read, an alias bomb is refused after counting
its expansion (without building it), and nesting deeper than any kubeconfig needs is refused before
the composer's recursion could exhaust the stack. Every failure is an `YamlError` with a kind, a
message and, where the parser knows it, a 1-based line and column.

Scalars resolve the way kubectl's YAML library (go-yaml v2) resolves them where that matters for
kubeconfigs: `y`/`n` are booleans (so `current-context: y` is not a string for kubectl either), and
timestamps stay strings (kubectl converts YAML to JSON, where a timestamp is a string).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_NODES",
    "DuplicateKey",
    "YamlDocument",
    "YamlError",
    "YamlResult",
    "load_yaml_bytes",
    "load_yaml_file",
]

#: kdoctor's own memory guard, not kubectl's (kubectl reads any size): multi-cluster fleets have
#: valid kubeconfigs of 10 MB with thousands of contexts (about 120 MiB RSS to load), so the cap is
#: far above that.
MAX_BYTES = 32 * 1024 * 1024
_LIMIT_WORDS = (
    f"kdoctor's {MAX_BYTES // (1024 * 1024)} MiB limit (a memory guard of kdoctor's; kubectl has none)"
)
#: Nodes after alias expansion. A legitimate 5 MiB document has far fewer; a billion-laughs has 10^9.
MAX_NODES = 1_000_000
#: A kubeconfig nests about six levels (users[].user.exec.env[].value); 64 is generous.
MAX_DEPTH = 64


@dataclass(frozen=True)
class YamlError:
    """Why a file could not be turned into a document.

    kind: missing | not-a-file | is-a-directory | permission | io | too-large | binary | encoding |
    syntax | unsafe-tag | bad-tag | alias-bomb | recursive-alias | too-deep
    """

    kind: str
    message: str
    line: int | None = None
    column: int | None = None

    @property
    def location(self) -> str:
        """`line:column` (or `line`), empty when unknown."""
        if self.line is None:
            return ""
        return f"{self.line}:{self.column}" if self.column is not None else str(self.line)


@dataclass(frozen=True)
class DuplicateKey:
    """A mapping key given twice; kubectl silently keeps the last value."""

    key: str
    line: int
    column: int
    first_line: int


@dataclass(frozen=True)
class YamlDocument:
    """A parsed document (`data` is None for an empty file) and what was odd about it."""

    data: Any
    size: int
    duplicate_keys: tuple[DuplicateKey, ...] = ()
    extra_documents: bool = False  # kubectl reads only the first document

    @property
    def empty(self) -> bool:
        return self.data is None


YamlResult = YamlDocument | YamlError


class _Refused(Exception):
    """Internal: the composer or constructor gave up on purpose."""

    def __init__(self, kind: str, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.mark = mark


def _note_duplicates(node: Node, out: list[DuplicateKey]) -> None:
    if not isinstance(node, MappingNode):
        return  # `!!map "123"`: the constructor reports the mismatch
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in seen:
            out.append(DuplicateKey(key, line, key_node.start_mark.column + 1, seen[key]))
        seen[key] = line


class _PyLoader(yaml.SafeLoader):
    """Pure-Python SafeLoader with a depth guard in the composer and duplicate-key tracking."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self.duplicates: list[DuplicateKey] = []

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise _Refused(
                    "too-deep", f"nesting deeper than {MAX_DEPTH} levels", getattr(event, "start_mark", None)
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        _note_duplicates(node, self.duplicates)
        return super().construct_mapping(node, deep=deep)

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        return _construct_checked(self, node, deep)


class _CLoader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """libyaml's parser and composer (ten times faster) with duplicate-key tracking.

    libyaml's composer recurses in C, so `load_yaml_bytes` runs a depth scan over the parser's
    events before composing with it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: list[DuplicateKey] = []

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        _note_duplicates(node, self.duplicates)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        return _construct_checked(self, node, deep)


_TAG_KIND = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "a boolean",
    "tag:yaml.org,2002:null": "null",
    "tag:yaml.org,2002:binary": "base64 binary data",
    "tag:yaml.org,2002:str": "a string",
    "tag:yaml.org,2002:map": "a mapping",
    "tag:yaml.org,2002:omap": "an ordered mapping",
    "tag:yaml.org,2002:pairs": "a list of pairs",
    "tag:yaml.org,2002:set": "a set",
    "tag:yaml.org,2002:seq": "a list",
}
_SCALAR_KIND = {ScalarNode: "the scalar", SequenceNode: "a list", MappingNode: "a mapping"}


def _construct_checked(loader: Any, node: Node, deep: bool) -> Any:
    """Construct one node; a value that does not fit its tag is a `bad-tag` refusal, not a crash.

    PyYAML's constructors raise ValueError/KeyError/TypeError for `!!int "abc"`, `!!bool "maybe"`,
    `!!map "123"` and the like; go-yaml (kubectl) refuses those files too ("cannot decode !!str
    `abc` as a !!int").
    """
    try:
        return yaml.SafeLoader.construct_object(loader, node, deep=deep)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as exc:
        tag = str(node.tag)
        short = "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag
        what = _TAG_KIND.get(tag, f"a {short} value")
        got = f"{_describe_node(node)}" if isinstance(node, ScalarNode) else _SCALAR_KIND[type(node)]
        raise _Refused(
            "bad-tag",
            f"{short} {got} is not {what} (kubectl refuses the file: cannot decode it as {short})",
            node.start_mark,
        ) from exc


def _describe_node(node: ScalarNode) -> str:
    text = str(node.value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _construct_int(loader: Any, node: Node) -> Any:
    """Integers like go-yaml v2: one that cannot be an int64 nor a float64 stays a string.

    That is what kubectl does with a 5,000-digit number (it keeps the text); Python would refuse to
    convert it (the 4,300-digit limit) or make a number no field can hold.
    """
    text = str(loader.construct_scalar(node))
    digits = text.lstrip("+-").replace("_", "")
    if len(digits) > 400:  # > float64's range: go-yaml keeps the text
        if _INT_TEXT.match(text):
            return text
        raise ValueError(text)
    value = yaml.SafeLoader.construct_yaml_int(loader, node)  # type: ignore[arg-type]
    if not -(2**63) <= value < 2**64 and not digits.isdigit():
        # 0x/0o/0b/sexagesimal beyond uint64: go-yaml's ParseInt, ParseUint and ParseFloat all fail
        return text
    return value


_INT_TEXT = re.compile(
    r"^[-+]?(?:0b[0-1_]+|0o?[0-7_]+|[0-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)$"
)


def _construct_unknown(loader: Any, node: Node) -> Any:
    """A local or foreign tag (`!custom`, `!<tag:example.com,2000:x>`): go-yaml ignores it and
    reads the value as if untagged; `!!python/...` never gets here (refused as unsafe)."""
    if isinstance(node, MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


def _construct_unknown_or_unsafe(loader: Any, node: Node) -> Any:
    tag = str(node.tag)
    if tag.startswith("tag:yaml.org,2002:"):
        # `!!python/...` and other global tags PyYAML's safe loader does not know: never constructed.
        raise yaml.constructor.ConstructorError(
            None, None, f"could not determine a constructor for the tag '{tag}'", node.start_mark
        )
    return _construct_unknown(loader, node)


def _construct_timestamp_as_text(loader: yaml.SafeLoader, node: Node) -> Any:
    return loader.construct_scalar(node)  # type: ignore[arg-type]


def _construct_go_bool(loader: yaml.SafeLoader, node: Node) -> Any:
    value = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if value in ("y", "Y"):
        return True
    if value in ("n", "N"):
        return False
    return yaml.SafeLoader.construct_yaml_bool(loader, node)  # type: ignore[arg-type]


for _loader in (_PyLoader, _CLoader):
    _loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
    _loader.add_constructor(None, _construct_unknown_or_unsafe)
    _loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp_as_text)
    _loader.add_constructor("tag:yaml.org,2002:bool", _construct_go_bool)
    # go-yaml v2 (kubectl) also reads y/Y/n/N as booleans; copy the table so SafeLoader is untouched.
    _loader.yaml_implicit_resolvers = {k: list(v) for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    _loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))


def _check_depth(text: str) -> bool:
    """Refuse nesting deeper than MAX_DEPTH by walking libyaml's events (no nodes are built).

    Returns whether the document has an alias: without one, no alias bomb is possible and the
    expansion count (a walk over every node) is not needed, which keeps a 10 MB kubeconfig fast.
    """
    depth = 0
    aliases = False
    for event in yaml.parse(text, Loader=yaml.CSafeLoader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                raise _Refused("too-deep", f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases = True
    return aliases


def _expanded_size(root: Node) -> int:
    """Nodes the document would have with every alias expanded, computed without expanding.

    Aliases make the node graph a DAG (or a cycle, which `_Refused` reports); sizes are memoised per node.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    # Iterative post-order walk: an explicit stack, since recursion depth is what we are guarding.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            total = 1
            for child in _children(node):
                total += sizes[id(child)]
                if total > MAX_NODES:
                    raise _Refused(
                        "alias-bomb",
                        f"aliases expand to more than {MAX_NODES:,} nodes (a 'billion laughs' document)",
                        node.start_mark,
                    )
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _Refused("recursive-alias", "an alias refers to the node that contains it", node.start_mark)
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            child_key = id(child)
            if child_key in on_path:
                raise _Refused(
                    "recursive-alias", "an alias refers to the node that contains it", child.start_mark
                )
            if child_key not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _mark_position(mark: Any) -> tuple[int | None, int | None]:
    if mark is None:
        return None, None
    return int(mark.line) + 1, int(mark.column) + 1


def _line_col_of_offset(data: bytes, offset: int) -> tuple[int, int]:
    head = data[:offset]
    line = head.count(b"\n") + 1
    return line, offset - (head.rfind(b"\n") + 1) + 1


def load_yaml_bytes(data: bytes, *, fast: bool | None = None) -> YamlResult:
    """Parse `data` (the whole file) safely; see the module docstring for the guards.

    `fast` picks libyaml (default when PyYAML has it) or the pure-Python parser; both give the same
    results, libyaml in a tenth of the time.
    """
    if len(data) > MAX_BYTES:
        return YamlError("too-large", f"over {_LIMIT_WORDS}")
    nul = data.find(b"\x00")
    if nul != -1:
        line, col = _line_col_of_offset(data, nul)
        return YamlError("binary", "binary data (a NUL byte), not YAML text", line, col)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, col = _line_col_of_offset(data, exc.start)
        return YamlError("encoding", f"not valid UTF-8 (byte 0x{data[exc.start]:02x})", line, col)
    fast = bool(yaml.__with_libyaml__) if fast is None else fast and bool(yaml.__with_libyaml__)
    loader: _PyLoader | _CLoader = _CLoader(text) if fast else _PyLoader(text)
    try:
        try:
            aliases = _check_depth(text) if fast else True
            node = loader.get_node() if loader.check_node() else None
            if node is None:
                return YamlDocument(data=None, size=len(data))
            if aliases:
                _expanded_size(node)
            value = loader.construct_document(node)
            extra = loader.check_node()
        finally:
            loader.dispose()
    except _Refused as exc:
        at_line, at_col = _mark_position(exc.mark)
        return YamlError(exc.kind, exc.message, at_line, at_col)
    except yaml.constructor.ConstructorError as exc:
        at_line, at_col = _mark_position(exc.problem_mark)
        tag = _tag_in(str(exc.problem or ""))
        if tag is not None:
            return YamlError(
                "unsafe-tag", f"tag {tag} is not allowed (tags are never executed)", at_line, at_col
            )
        return YamlError("syntax", str(exc.problem or exc), at_line, at_col)
    except yaml.MarkedYAMLError as exc:
        at_line, at_col = _mark_position(exc.problem_mark or exc.context_mark)
        if "nesting depth" in str(exc.problem):
            # libyaml's own guard (1000 levels) can trip while scanning, before the event walk sees 64.
            return YamlError("too-deep", f"nesting deeper than {MAX_DEPTH} levels", at_line, at_col)
        return YamlError("syntax", str(exc.problem or exc.context or "invalid YAML"), at_line, at_col)
    except yaml.reader.ReaderError as exc:
        return YamlError("encoding", f"character not allowed in YAML ({exc.reason})")
    except yaml.YAMLError as exc:
        return YamlError("syntax", str(exc).splitlines()[0] if str(exc) else "invalid YAML")
    except RecursionError:
        return YamlError("too-deep", "nesting too deep to parse")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError) as exc:
        # A constructor that PyYAML runs lazily (after construct_object returned) met a value that
        # does not fit its tag; _construct_checked names the node in every other case.
        return YamlError("bad-tag", f"a tagged value does not fit its tag ({type(exc).__name__})")
    duplicates = tuple(loader.duplicates)
    return YamlDocument(data=value, size=len(data), duplicate_keys=duplicates, extra_documents=bool(extra))


_TAG = re.compile(r"tag '([^']*)'")


def _tag_in(problem: str) -> str | None:
    match = _TAG.search(problem)
    if match is None:
        return None
    tag = match.group(1)
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def load_yaml_file(path: str | os.PathLike[str], max_bytes: int = MAX_BYTES) -> YamlResult:
    """Read and parse one file; refuses big files after a stat, reading at most `max_bytes` + 1 bytes."""
    p = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO without a writer must not hang the run.
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return YamlError("missing", "no such file")
    except IsADirectoryError:
        return YamlError("is-a-directory", "is a directory, not a file")
    except NotADirectoryError:
        return YamlError("missing", "a parent of the path is a file, not a directory")
    except PermissionError:
        return YamlError("permission", "permission denied")
    except OSError as exc:
        return YamlError("io", exc.strerror or str(exc))
    except ValueError:
        # Only an API caller can get here (no argv or environment holds a NUL byte).
        return YamlError("missing", "the path contains a NUL byte, which no file name can hold")
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return YamlError("is-a-directory", "is a directory, not a file")
        if stat.S_ISFIFO(info.st_mode) or stat.S_ISSOCK(info.st_mode):
            return YamlError("not-a-file", "not a regular file (a pipe or socket)")
        if stat.S_ISREG(info.st_mode) and info.st_size > max_bytes:
            return YamlError("too-large", f"{info.st_size:,} bytes, over {_limit_words(max_bytes)}")
        chunks: list[bytes] = []
        remaining = max_bytes + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        data = b"".join(chunks)
    except IsADirectoryError:
        return YamlError("is-a-directory", "is a directory, not a file")
    except PermissionError:
        return YamlError("permission", "permission denied")
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            return YamlError("is-a-directory", "is a directory, not a file")
        return YamlError("io", exc.strerror or str(exc))
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        return YamlError("too-large", f"over {_limit_words(max_bytes)}")
    return load_yaml_bytes(data)


def _limit_words(max_bytes: int) -> str:
    return _LIMIT_WORDS if max_bytes == MAX_BYTES else f"the {max_bytes:,}-byte limit"
