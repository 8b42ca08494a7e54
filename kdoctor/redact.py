"""The one place that knows what is secret.

Two layers: a `Secret` type whose str()/repr() never shows the value, used wherever a credential is
held; and a per-run `SecretRegistry` of every secret value seen, applied to the finished report and
to debug output so that a value which slipped into an error message is still scrubbed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

REDACTED = "<redacted>"

#: Kubeconfig keys whose values are secrets wherever they appear (users[].user, auth-provider config).
SECRET_KEYS = frozenset(
    {
        "token",
        "password",
        "client-key-data",
        "access-token",
        "refresh-token",
        "id-token",
        "client-secret",
        "idp-certificate-authority-data",
        "authorization",
        "proxy-authorization",
        "clientKeyData",
    }
)

#: Kubeconfig keys whose URL may carry user:password (Go's HTTP client sends a server URL's as basic auth).
_URL_KEYS = frozenset({"server", "proxy-url"})

# Short values would scrub innocent text ("a", "true"); such values are not plausible secrets.
_MIN_SCRUB_LEN = 4
#: Printable ASCII runs long enough to be part of a credential rather than of ordinary text.
_PRINTABLE_RUN = re.compile(r"[!-~]{8,}")
#: Up to this many secrets, scrubbing tries each one in turn; beyond, it looks them up by prefix.
_LINEAR_SCRUB_MAX = 64
#: Scrubbed texts remembered per registry state, and the longest text remembered (see `scrub`).
_MEMO_MAX = 100_000
_MEMO_TEXT_MAX = 4096
# Not before a command-line flag: "set-credentials basic --token=…" names a user called basic.
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+(?!--)[A-Za-z0-9._~+/=-]+")
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)


def fingerprint(value: str | bytes) -> str:
    """A short, non-reversible identifier for a secret: "sha256:" + 8 hex digits."""
    data = value.encode() if isinstance(value, str) else value
    return "sha256:" + hashlib.sha256(data).hexdigest()[:8]


class Secret:
    """A credential. Shows as its fingerprint; `reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._value)

    def __str__(self) -> str:
        return f"<secret {self.fingerprint}>"

    __repr__ = __str__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


class SecretRegistry:
    """Every secret value this run has seen, so any text can be scrubbed of them."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        # Built on first scrub after a change: the values longest first, and an index by their
        # first _MIN_SCRUB_LEN characters, so that a kubeconfig with thousands of users (thousands
        # of secrets) scrubs a report in one pass per string instead of one per secret.
        self._ordered: list[str] | None = None
        self._by_prefix: dict[str, list[str]] = {}
        #: text -> scrubbed text, valid for the secrets indexed now (cleared with the index).
        self._memo: dict[str, str] = {}

    def add(self, value: str | bytes | Secret | None) -> None:
        if value is None:
            return
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        for candidate in {value, value.strip()}:
            if len(candidate) >= _MIN_SCRUB_LEN and candidate not in self._values:
                self._values.add(candidate)
                self._ordered = None
        if not value.isprintable() or not value.isascii():
            # An error message may quote such a value escaped (b'Bearer \x00\xef\xbf\xbdtoken'):
            # its printable ASCII runs are secret too.
            for run in _PRINTABLE_RUN.findall(value):
                if run not in self._values:
                    self._values.add(run)
                    self._ordered = None

    def merge(self, other: SecretRegistry) -> None:
        if not other._values <= self._values:
            self._values |= other._values
            self._ordered = None

    def _index(self) -> list[str]:
        if self._ordered is None:
            self._ordered = sorted(self._values, key=len, reverse=True)
            self._by_prefix = {}
            self._memo = {}
            for value in self._ordered:
                self._by_prefix.setdefault(value[:_MIN_SCRUB_LEN], []).append(value)
        return self._ordered

    def __contains__(self, value: str) -> bool:
        return value in self._values

    def scrub(self, text: str) -> str:
        """`text` with every known secret, bearer credential and private key block replaced."""
        # Longest first so a secret containing another is replaced whole.
        ordered = self._index()
        # A report repeats most of its texts (every key of every details mapping, check ids, file
        # names, the same summary for each of 200 contexts): each is scrubbed once per registry state.
        done = self._memo.get(text)
        if done is not None:
            return done
        scrubbed = self._scrub(text, ordered)
        if len(text) <= _MEMO_TEXT_MAX and len(self._memo) < _MEMO_MAX:
            self._memo[text] = scrubbed
        return scrubbed

    def _scrub(self, text: str, ordered: list[str]) -> str:
        if len(ordered) > _LINEAR_SCRUB_MAX and len(text) >= _MIN_SCRUB_LEN:
            # Many secrets: only those whose first characters occur in the text can be in it.
            found: set[str] = set()
            for i in range(len(text) - _MIN_SCRUB_LEN + 1):
                for value in self._by_prefix.get(text[i : i + _MIN_SCRUB_LEN], ()):
                    if text.startswith(value, i):
                        found.add(value)
            ordered = [v for v in ordered if v in found] if found else []
        for value in ordered:
            if value in text:
                text = text.replace(value, REDACTED)
        text = _PEM_KEY.sub(REDACTED, text)
        return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)

    def scrub_data(self, data: Any) -> Any:
        """A deep copy of JSON-like `data` with every string scrubbed."""
        if isinstance(data, str):
            return self.scrub(data)
        if isinstance(data, Mapping):
            return {self.scrub(str(k)): self.scrub_data(v) for k, v in data.items()}
        if isinstance(data, (list, tuple)):
            return [self.scrub_data(v) for v in data]
        if isinstance(data, Secret):
            return str(data)
        return data


def proxy_url_secrets(url: str | None) -> list[str]:
    """The credentials in a proxy URL (raw and percent-decoded), for the secret registry.

    The password, and user:password as written; a user name alone only when there is no password
    (then it is the credential, e.g. an API key). A plain user name is not secret enough to scrub
    from every text of the report.
    """
    if not url or "://" not in url:
        return []
    rest = url.partition("://")[2]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" not in authority:
        return []
    userinfo = authority.rpartition("@")[0]
    user, colon, password = userinfo.partition(":")
    found = {userinfo, unquote(userinfo), password, unquote(password)} if colon else {user, unquote(user)}
    return sorted(v for v in found if v)


def redact_config(data: Any, registry: SecretRegistry | None = None) -> Any:
    """A kubeconfig fragment with every secret replaced by its fingerprint.

    Secret keys anywhere, and every exec `env[].value` (plugins take credentials through env).
    Found secrets are added to `registry` when one is given, with the credentials in a `server` or
    `proxy-url` (left as written: the registry scrubs them from every output).
    """
    if isinstance(data, Mapping):
        out: dict[str, Any] = {}
        for key, value in data.items():
            skey = str(key)
            if skey.lower() in SECRET_KEYS or skey in SECRET_KEYS:
                out[skey] = _redacted_value(value, registry)
            elif skey == "env" and isinstance(value, list):
                out[skey] = [_redact_env_entry(e, registry) for e in value]
            elif skey in _URL_KEYS and isinstance(value, str):
                # Kept as written (the report's scrub turns a password in it into a fingerprint), but
                # its credentials are known from the load on: a context whose user is missing never
                # reaches the proxy decision that would otherwise register them (fuzz seed 7), and
                # nothing else registers a server URL's.
                if registry is not None:
                    for secret in proxy_url_secrets(value):
                        registry.add(secret)
                out[skey] = value
            else:
                out[skey] = redact_config(value, registry)
        return out
    if isinstance(data, list):
        return [redact_config(v, registry) for v in data]
    return data


def _redact_env_entry(entry: Any, registry: SecretRegistry | None) -> Any:
    if isinstance(entry, Mapping):
        return {
            str(k): (_redacted_value(v, registry) if k == "value" else redact_config(v, registry))
            for k, v in entry.items()
        }
    return redact_config(entry, registry)


def _redacted_value(value: Any, registry: SecretRegistry | None) -> str:
    if value is None or value == "":
        return ""
    text = value if isinstance(value, str) else str(value)
    if registry is not None:
        registry.add(text)
    return f"{REDACTED} ({fingerprint(text)})"
