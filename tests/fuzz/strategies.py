"""Hypothesis strategies for hostile kubeconfigs: the ways real files go wrong and an attacker's.

A strategy draws a `Case`: a tree of kubeconfig documents (plain Python values plus the markers
below for what plain values cannot say: YAML tags, raw scalars, duplicated keys, certificate
material, paths into the case's own directory) and the KUBECONFIG list that names them.
`tests/fuzz/harness.py` turns a case into files on disk and runs kdoctor on it.

Markers keep the drawn case independent of the machine (the emulator's port, the temp dir), so a
seed and a case number name the same case on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

#: Secrets planted in every credential location; none may appear in any output.
CANARY_TOKEN = "kdoctor-canary-token-7f3a9c"
CANARY_PASSWORD = "kdoctor-canary-password-51be2e"
CANARY_EXEC_TOKEN = "kdoctor-canary-exec-0d94aa"
CANARY_ENV = "kdoctor-canary-env-6c1f08"
CANARY_PROVIDER = "kdoctor-canary-provider-93e7d1"
CANARIES = (CANARY_TOKEN, CANARY_PASSWORD, CANARY_EXEC_TOKEN, CANARY_ENV, CANARY_PROVIDER)


# --- markers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """A plain YAML scalar written exactly as given (`0xffff`, `~`, `y`, `.nan`, 5,000 digits)."""

    text: str


@dataclass(frozen=True)
class Tagged:
    """A tagged node: `!!int "abc"`, `!!python/object:os.system`, `!custom {}`."""

    tag: str
    value: Any


@dataclass(frozen=True)
class Pairs:
    """A mapping written key by key, so a key can be given twice (kubectl keeps the last)."""

    items: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Blob:
    """Base64 text of certificate/key material made at materialisation time (see harness.BLOBS)."""

    kind: str


@dataclass(frozen=True)
class Path_:
    """A path the harness makes: a file in the case dir with some content, a FIFO, /dev/zero..."""

    kind: str


@dataclass(frozen=True)
class Url:
    """A server or proxy URL built around a loopback listener (`emu`: the emulator, `closed`: nothing)."""

    template: str  # "{emu}" / "{closed}" / "{hang}" are replaced by host:port


@dataclass(frozen=True)
class Script:
    """An exec credential plugin the harness writes (see harness.SCRIPTS): prints a token, garbage, hangs..."""

    kind: str


@dataclass
class Case:
    #: file name in the case dir → a document tree, or a structural marker (`Path_`-like kinds)
    files: dict[str, Any]
    #: how each file is written: "yaml" (block when possible), "flow", "json"
    formats: dict[str, str]
    #: the KUBECONFIG entries: file names, or `Path_` markers (FIFO, /dev/zero, a directory, ...)
    kubeconfig: list[Any]
    use_flag: bool  # --kubeconfig (first entry only) instead of KUBECONFIG
    context: str | None
    all_contexts: bool
    env: dict[str, str] = field(default_factory=dict)


# --- hostile values ----------------------------------------------------------------------------

HUGE_INT = Raw("9" * 5000)
TAGS = (
    "!!int",
    "!!bool",
    "!!str",
    "!!float",
    "!!null",
    "!!binary",
    "!!timestamp",
    "!!omap",
    "!!pairs",
    "!!set",
    "!!map",
    "!!seq",
    "!!python/object/apply:os.system",
    "!!python/name:os.system",
    "!!python/tuple",
    "!!python/bytes",
    "!custom",
    "!",
    "!<tag:example.com,2000:app/foo>",
)

odd_text = st.sampled_from(
    [
        "",
        " ",
        "\t",
        "\u200f",
        "\u202e",
        "\ufeff",
        "😀",
        "a\nb",
        "=",
        "a=b",
        "..",
        "/",
        "%00",
        "\x1b[31mred",
        "x" * 5000,
        "null",
        "~",
        "y",
        "no",
        "0x1f",
        "1e400",
        "-0",
        "{}",
        "[]",
        "&a",
        "*a",
        "!!str",
        "http://127.0.0.1:1",
    ]
)

raw_scalars = st.sampled_from(
    [
        Raw("~"),
        Raw("y"),
        Raw("N"),
        Raw("yes"),
        Raw("0xffffffffffffffffffffffffffffffff"),
        Raw("0o777"),
        Raw("1_000"),
        Raw(".nan"),
        Raw("-.inf"),
        Raw("1e400"),
        Raw("2001-12-14t21:59:43.10-05:00"),
        Raw("2002-12-14"),
        Raw("-" + "9" * 4400),
        HUGE_INT,
    ]
)


def scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.sampled_from([2**64, -(2**63) - 1, 10**400]),
        st.floats(allow_nan=True, allow_infinity=True),
        odd_text,
        st.text(max_size=20),
        raw_scalars,
    )


def tagged(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Tagged]:
    return st.builds(Tagged, st.sampled_from(TAGS), inner)


def wrong(depth: int = 2) -> st.SearchStrategy[Any]:
    """Any value of any type: what a field of the wrong type holds."""
    base = st.one_of(scalars(), tagged(st.one_of(odd_text, st.just("abc"), st.just("123"), st.just("maybe"))))
    if depth <= 0:
        return base
    inner = wrong(depth - 1)
    return st.one_of(
        base,
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=8), inner, max_size=3),
        st.builds(
            Pairs, st.lists(st.tuples(st.sampled_from(["a", "name", "a"]), inner), max_size=3).map(tuple)
        ),
        tagged(st.lists(inner, max_size=2)),
        tagged(st.dictionaries(st.text(max_size=4), inner, max_size=2)),
    )


BLOB_KINDS = (
    "ca-pem",
    "ca-der",
    "ca-pem-bom",
    "ca-pem-utf16",
    "ca-pem-crlf",
    "ca-pem-padded",
    "garbage",
    "huge-garbage",
    "key-pem",
    "empty",
    "not-base64",
    "base64-whitespace",
    "base64-urlsafe",
    "two-certs-one-broken",
    "client-cert",
    "client-key",
    "client-key-der",
    "client-key-encrypted",
    "client-cert-other-key",
    "pem-truncated",
    "pem-wrong-label",
)
cert_data = st.sampled_from(BLOB_KINDS).map(Blob)

PATH_KINDS = (
    "ca-file",
    "ca-der-file",
    "garbage-file",
    "empty-file",
    "missing",
    "nul",
    "directory",
    "self",
    "dev-zero",
    "dev-null",
    "fifo",
    "symlink-loop",
    "unreadable",
    "proc-mem",
    "long",
    "relative-up",
    "client-cert-file",
    "client-key-file",
    "token-file",
    "token-file-huge",
    "token-file-binary",
    "big-file",
)
paths = st.sampled_from(PATH_KINDS).map(Path_)

URL_TEMPLATES = (
    "https://{emu}",
    "https://{emu}",
    "https://{emu}/",
    "https://{closed}",
    "https://{hang}",
    "\thttps://{emu}",
    " https://{emu}",
    "https://{emu} ",
    "https://{emu}#frag",
    "https://{emu}?q=1",
    "https://{emu}/prefix/path",
    "https://\u200f{emu}",
    "https://{emu}\u202e",
    "https://[::1]]:1",
    "https://[::1",
    "https://[::1]:99999",
    "https://127.0.0.1:-1",
    "https://127.0.0.1:0",
    "https://127.0.0.1:port",
    "https://user:" + CANARY_PASSWORD + "@{emu}",
    "https://%31%32%37.0.0.1:1",
    "http://{emu}",
    "https://",
    "https:///",
    "https://:443",
    "//{emu}",
    "{emu}",
    "127.0.0.1",
    "ftp://{emu}",
    "unix:///var/run/k8s.sock",
    "https://made-up.invalid:6443",
    "https://xn--.invalid",
    "https://" + "a" * 300 + ".example",
    "https://{emu}\nHost: evil",
    "https://{emu}\r\n",
    "https://0x7f.1:1",
    "https://[fe80::1%25lo]:1",
    "https://localhost:{closed_port}",
    "https://kdoctor-loopback-alias:{closed_port}",
)
urls = st.sampled_from(URL_TEMPLATES).map(Url)
PROXY_TEMPLATES = (
    "http://{closed}",
    "http://{hang}",
    "socks5://{closed}",
    "socks5h://{hang}",
    "socks4://{closed}",
    "http://user:" + CANARY_PASSWORD + "@{closed}",
    "https://{closed}",
    "ftp://{closed}",
    "",
    " http://{closed}",
    "http://[::1",
    "{closed}",
)
proxy_urls = st.sampled_from(PROXY_TEMPLATES).map(Url)

SCRIPT_KINDS = (
    "token",
    "token-v1",
    "garbage",
    "empty",
    "huge",
    "exit-1",
    "hang",
    "hang-child",
    "expired",
    "cert",
    "wrong-kind",
    "status-wrong-types",
    "stderr-secret",
    "big-stderr",
)


def exec_commands() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(SCRIPT_KINDS).map(Script),
        st.sampled_from(["kdoctor-no-such-plugin", "./no-such-plugin", "/nonexistent/plugin", "", " "]),
        st.sampled_from([Path_("directory"), Path_("dev-null"), Path_("garbage-file")]),
        wrong(0),
    )


def maybe(value: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any], p_hostile: float = 0.3) -> Any:
    """Mostly a well-formed value, sometimes a hostile one."""
    return st.one_of(value, hostile) if p_hostile else value


def exec_stanzas() -> st.SearchStrategy[Any]:
    env_entry = st.one_of(
        st.fixed_dictionaries({"name": st.just("KDOCTOR_ENV"), "value": st.just(CANARY_ENV)}),
        st.fixed_dictionaries(
            {"name": st.sampled_from(["A=B", "", "=", "X\x00Y", "PATH"]), "value": odd_text}
        ),
        st.fixed_dictionaries({"name": wrong(1), "value": wrong(1)}),
        st.fixed_dictionaries({"value": st.just(CANARY_ENV)}),
        wrong(1),
    )
    return st.fixed_dictionaries(
        {
            "command": exec_commands(),
            "apiVersion": st.sampled_from(
                [
                    "client.authentication.k8s.io/v1",
                    "client.authentication.k8s.io/v1beta1",
                    "client.authentication.k8s.io/v1alpha1",
                    " client.authentication.k8s.io/v1",
                    "client.authentication.k8s.io/v1 ",
                    "client.authentication .k8s.io/v1",
                    "",
                    "v1",
                ]
            )
            | wrong(1),
        },
        optional={
            "args": st.lists(st.one_of(st.just("--flag"), st.just("a\x00b"), odd_text, wrong(1)), max_size=4)
            | wrong(1),
            "env": st.lists(env_entry, max_size=3) | wrong(1) | st.none(),
            "interactiveMode": st.sampled_from(["Never", "IfAvailable", "Always", "never", ""]) | wrong(1),
            "provideClusterInfo": st.booleans() | wrong(1),
            "installHint": odd_text | wrong(1),
        },
    )


def cluster_bodies() -> st.SearchStrategy[Any]:
    return st.fixed_dictionaries(
        {"server": urls | wrong(1)},
        optional={
            "certificate-authority-data": st.one_of(cert_data, cert_data, wrong(1)),
            "certificate-authority": st.one_of(paths, wrong(1)),
            "insecure-skip-tls-verify": st.booleans() | wrong(1),
            "tls-server-name": st.sampled_from(["127.0.0.1", "localhost", "", "\u200flocalhost", "a" * 300])
            | wrong(1),
            "proxy-url": proxy_urls | wrong(1),
            "disable-compression": st.booleans() | wrong(1),
            "extensions": wrong(2),
        },
    )


def user_bodies() -> st.SearchStrategy[Any]:
    token = st.one_of(
        st.just(CANARY_TOKEN),
        st.just(CANARY_TOKEN + "\n"),
        st.just(" " + CANARY_TOKEN),
        st.just("Bearer " + CANARY_TOKEN),
        st.just(CANARY_TOKEN + "\x00"),
        st.just(CANARY_TOKEN + "é"),
        st.lists(st.just(CANARY_TOKEN), max_size=2),
        st.fixed_dictionaries({"a": st.just(CANARY_TOKEN)}),
        st.just(Tagged("!!binary", CANARY_TOKEN)),
        st.just(Tagged("!custom", CANARY_TOKEN)),
        wrong(0),
    )
    provider = st.fixed_dictionaries(
        {"name": st.sampled_from(["oidc", "gcp", "azure", "", "custom"]) | wrong(0)},
        optional={
            "config": st.fixed_dictionaries(
                {},
                optional={
                    "id-token": st.just(CANARY_PROVIDER),
                    "refresh-token": st.just(CANARY_PROVIDER),
                    "client-secret": st.just(CANARY_PROVIDER)
                    | st.fixed_dictionaries({"x": st.just(CANARY_PROVIDER)}),
                    "access-token": st.just(CANARY_PROVIDER),
                    "idp-issuer-url": urls,
                },
            )
            | wrong(1)
        },
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "token": token,
            "tokenFile": paths | wrong(0),
            "client-certificate-data": st.one_of(cert_data, wrong(1)),
            "client-key-data": st.one_of(cert_data, wrong(1)),
            "client-certificate": st.one_of(paths, wrong(0)),
            "client-key": st.one_of(paths, wrong(0)),
            "username": odd_text | wrong(0),
            "password": st.just(CANARY_PASSWORD) | st.lists(st.just(CANARY_PASSWORD), max_size=1) | wrong(0),
            "exec": exec_stanzas() | wrong(1),
            "auth-provider": provider | wrong(1),
            "as": odd_text | wrong(0),
            "as-groups": st.lists(odd_text, max_size=2) | wrong(1),
            "as-user-extra": wrong(2),
        },
    )


NAMES = st.sampled_from(["emu", "emu", "other", "", " ", "a/b", "ctx\u200f", "x" * 300]) | wrong(0)


@st.composite
def named(draw: st.DrawFn, inner: str, body: st.SearchStrategy[Any]) -> Any:
    entry: Any = {"name": draw(NAMES), inner: draw(body)}
    shape = draw(st.integers(0, 9))
    if shape == 0:
        entry = draw(wrong(1))
    elif shape == 1:
        entry.pop("name")
    elif shape == 2:
        entry[inner] = draw(wrong(1))
    elif shape == 3:
        entry = Pairs(((("name", "emu")), ("name", draw(NAMES)), (inner, entry[inner])))
    return entry


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    """A working kubeconfig for the emulator with a few fields made hostile: the cases that get
    past the loader and reach the checks that read certificates, run plugins and connect."""

    def pick(good: Any, bad: st.SearchStrategy[Any], odds: int = 8) -> Any:
        return good if draw(st.integers(0, 9)) < odds else draw(bad)

    cluster: dict[str, Any] = {
        "server": pick(Url("https://{emu}"), urls | wrong(1)),
        "certificate-authority-data": pick(Blob("ca-pem"), cert_data | wrong(1)),
    }
    extras = {
        "certificate-authority": paths | wrong(0),
        "insecure-skip-tls-verify": st.booleans() | wrong(0),
        "tls-server-name": st.sampled_from(["127.0.0.1", "localhost", "", "\u200flocalhost"]) | wrong(0),
        "proxy-url": proxy_urls | wrong(1),
    }
    for key, strategy in extras.items():
        if draw(st.integers(0, 9)) == 0:
            cluster[key] = draw(strategy)
    kind = draw(
        st.sampled_from(["token", "token", "cert", "exec", "exec", "basic", "provider", "token-file", "none"])
    )
    user: dict[str, Any] = {}
    if kind == "token":
        user["token"] = pick(CANARY_TOKEN, user_bodies().map(lambda u: u.get("token", None)), 7)
    elif kind == "cert":
        user["client-certificate-data"] = pick(Blob("client-cert"), cert_data | wrong(1), 7)
        user["client-key-data"] = pick(Blob("client-key"), cert_data | wrong(1), 7)
        if draw(st.integers(0, 4)) == 0:
            user["client-certificate"] = draw(paths)
            user["client-key"] = draw(paths)
    elif kind == "exec":
        good = {
            "command": Script("token"),
            "apiVersion": "client.authentication.k8s.io/v1",
            "interactiveMode": "Never",
        }
        user["exec"] = pick(good, exec_stanzas(), 3)
    elif kind == "basic":
        user["username"] = pick("admin", odd_text | wrong(0))
        user["password"] = pick(CANARY_PASSWORD, wrong(0))
    elif kind == "provider":
        user["auth-provider"] = draw(user_bodies().map(lambda u: u.get("auth-provider", {"name": "oidc"})))
    elif kind == "token-file":
        user["tokenFile"] = draw(paths)
    if draw(st.integers(0, 5)) == 0:
        user.update(draw(user_bodies()))
    context: dict[str, Any] = {"cluster": pick("emu", NAMES, 9), "user": pick("emu", NAMES, 9)}
    if draw(st.integers(0, 5)) == 0:
        context["namespace"] = draw(odd_text | wrong(0))
    doc: dict[str, Any] = {
        "apiVersion": pick("v1", st.sampled_from(["", "v2"]) | wrong(0), 9),
        "kind": pick("Config", st.sampled_from(["config", "Pod"]) | wrong(0), 9),
        "clusters": [{"name": "emu", "cluster": cluster}],
        "contexts": [{"name": "emu", "context": context}],
        "users": [{"name": "emu", "user": user}],
        "current-context": pick("emu", NAMES, 9),
    }
    if draw(st.integers(0, 9)) == 0:
        # one entry of a section replaced or duplicated with a hostile twin
        section = draw(st.sampled_from(["clusters", "contexts", "users"]))
        inner = section[:-1]
        extra = draw(
            named(inner, {"clusters": cluster_bodies(), "users": user_bodies()}.get(section, st.just({})))
        )
        doc[section] = draw(st.sampled_from([[extra], [*doc[section], extra], [extra, *doc[section]]]))
    if draw(st.integers(0, 9)) == 0:
        key = draw(st.sampled_from(sorted(doc)))
        return Pairs((*doc.items(), (key, draw(wrong(1)))))
    return doc


@st.composite
def documents(draw: st.DrawFn) -> Any:
    """Mostly a working kubeconfig with hostile fields; sometimes hostile through and through."""
    if draw(st.integers(0, 9)) < 7:
        return draw(mutated())
    return draw(chaotic())


@st.composite
def chaotic(draw: st.DrawFn) -> Any:
    """A kubeconfig document: a sane skeleton with hostile values in any of its fields."""
    doc: dict[str, Any] = {
        "apiVersion": draw(st.sampled_from(["v1", "v1", "", "v2"]) | wrong(0)),
        "kind": draw(st.sampled_from(["Config", "Config", "config", "Pod"]) | wrong(0)),
        "clusters": draw(st.lists(named("cluster", cluster_bodies()), min_size=0, max_size=3) | wrong(1)),
        "users": draw(st.lists(named("user", user_bodies()), min_size=0, max_size=3) | wrong(1)),
        "contexts": draw(
            st.lists(
                named(
                    "context",
                    st.fixed_dictionaries(
                        {"cluster": NAMES, "user": NAMES},
                        optional={"namespace": odd_text | wrong(0), "extensions": wrong(2)},
                    ),
                ),
                max_size=3,
            )
            | wrong(1)
        ),
        "current-context": draw(NAMES),
    }
    if draw(st.booleans()):
        doc["preferences"] = draw(wrong(2))
    if draw(st.integers(0, 5)) == 0:
        doc["extensions"] = draw(wrong(2))
    drop = draw(st.lists(st.sampled_from(sorted(doc)), max_size=2))
    for key in drop:
        doc.pop(key, None)
    shape = draw(st.integers(0, 19))
    if shape == 0:
        return draw(wrong(2))  # not a mapping at all
    if shape == 1:
        # duplicated top-level keys: kubectl keeps the last
        items = list(doc.items())
        dup = draw(st.sampled_from(items)) if items else ("clusters", [])
        return Pairs((*items, (dup[0], draw(wrong(1)))))
    if shape == 2:
        return Tagged(draw(st.sampled_from(TAGS)), doc)
    return doc


STRUCTURAL = (
    "alias-bomb",
    "recursive-alias",
    "deep-flow",
    "deep-block",
    "big-50mb",
    "big-5mb-valid",
    "nul-bytes",
    "utf16",
    "bom",
    "latin1",
    "multi-doc",
    "garbage",
    "empty",
    "only-comment",
    "tabs",
    "python-object",
    "json-big-ints",
    "unclosed",
    "anchor-merge",
    "very-long-line",
    "many-keys",
)
SPECIAL_FILES = (
    "fifo",
    "dev-zero",
    "directory",
    "unreadable",
    "symlink-loop",
    "missing",
    "dev-null",
    "proc-mem",
    "nul",
)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_files = draw(st.sampled_from([1, 1, 1, 1, 1, 1, 2, 2, 3]))
    files: dict[str, Any] = {}
    formats: dict[str, str] = {}
    entries: list[Any] = []
    for i in range(n_files):
        name = f"config-{i}"
        kind = draw(st.integers(0, 19))
        if kind < 17:
            files[name] = draw(documents())
            formats[name] = draw(st.sampled_from(["yaml", "yaml", "flow", "json"]))
        elif kind < 19:
            files[name] = ("structural", draw(st.sampled_from(STRUCTURAL)))
            formats[name] = "raw"
        else:
            entries.append(Path_(draw(st.sampled_from(SPECIAL_FILES))))
            continue
        entries.append(name)
    if draw(st.integers(0, 19)) == 0:
        # many files in KUBECONFIG, mostly missing (kubectl ignores those) plus duplicates
        entries = [*entries, *[f"missing-{i}" for i in range(draw(st.integers(50, 400)))], *entries]
    if not entries:
        entries = ["config-none"]
    env: dict[str, str] = {}
    if draw(st.integers(0, 4)) == 0:
        env["HTTPS_PROXY"] = draw(
            st.sampled_from(["http://{closed}", "http://{hang}", "", "::::", "socks5://{closed}"])
        )
        if draw(st.booleans()):
            env["NO_PROXY"] = draw(st.sampled_from(["*", "127.0.0.0/8", "", ",,,", "[::1]", "0.0.0.0/0"]))
    return Case(
        files=files,
        formats=formats,
        kubeconfig=entries,
        use_flag=draw(st.integers(0, 3)) == 0,
        context=draw(st.sampled_from([None] * 12 + ["emu", "other", "", "missing", "\u200f"])),
        all_contexts=draw(st.integers(0, 5)) == 0,
        env=env,
    )
