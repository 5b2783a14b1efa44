"""App credentials go only where their owner allows: the confused-deputy check (docs/security.md).

The rotation function can read every app-credentials secret under the prefix; whoever creates a
connection cannot. Without this check a connection could name another platform's app credentials,
or (with ``oauth2``, whose endpoints come from the connection) a token URL of its own, and the
function would post a client secret its creator could never read. So an app-credentials secret
declares what it is for, and every path that resolves app credentials for a connection (rotation,
``check``, ``onboard``, the connect flow) calls :func:`verify_app_binding` before any network call::

    {"client_id": "...", "client_secret": "...",
     "provider": "oauth2",
     "allowed_url_prefixes": ["https://auth.example.com/oauth/"]}

- ``provider``: a provider name, or a list of them. A Meta app declared ``"meta"`` also serves
  ``meta_system_user`` connections (same app, same Graph host).
- ``allowed_url_prefixes`` (required for ``oauth2``): every ``*_url`` option of the connection
  (``token_url``, ``introspection_url``, ``authorize_url``...) must fall under one of them. URLs
  are compared parsed: same scheme, same host, same port, and the path under the prefix's path at a
  segment boundary. ``https://auth.example.com.evil.com/``, ``https://auth.example.com@evil.com/``
  and ``https://auth.example.com/oauth/../admin`` do not match ``https://auth.example.com/oauth/``;
  paths with dot segments (also ``..;``), ``;`` parameters, ``//``, or encoded (even double
  encoded, ``%252e``) dots, slashes or backslashes are refused outright, whatever the prefix.

App secrets written before the declaration existed keep working for the platform providers (their
hosts are fixed in code): the provider is taken from the connection and a warning says how to
declare it. For ``oauth2`` the declaration is required.

Pure: no AWS, no HTTP, no clock. Errors are :class:`ConfigError` naming both secrets; no message
carries a client secret, a token, or a URL's query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from token_refresher.errors import ConfigError
from token_refresher.http import is_loopback_host
from token_refresher.model import PROVIDER_NAMES, AppCredentials, TokenDocument

DECLARED_PROVIDER = "provider"
ALLOWED_URL_PREFIXES = "allowed_url_prefixes"
# Providers whose endpoints come from the connection secret: their app secrets must list URLs.
URL_PROVIDERS = frozenset({"oauth2"})
# A declared platform also covers these providers (same app, same fixed hosts).
COVERS = {"meta": ("meta", "meta_system_user")}
URL_OPTION_SUFFIX = "_url"
DOCS = "docs/providers/oauth2.md"
_DEFAULT_PORTS = {"https": 443, "http": 80}
# Encoded dot, slash and backslash: a server may decode them into a path the prefix never allowed.
_ENCODED_TRICKS = ("%2e", "%2f", "%5c")


class BindingError(ConfigError):
    """The connection may not use these app credentials (or may not send them there).

    The message names both secrets itself, so ``field`` is kept but not prefixed to it.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        provider: str | None = None,
        remediation: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, remediation=remediation)
        self.field = field


@dataclass(frozen=True)
class UrlPrefix:
    """A URL or URL prefix, parsed into what is compared: scheme, host, port, path."""

    scheme: str
    host: str
    port: int
    path: str

    @classmethod
    def parse(cls, text: object, *, prefix: bool) -> UrlPrefix:
        """Raise ValueError (with a reason, never the text) for anything ambiguous."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError("must be a non-empty string")
        if "\\" in text or any(ch.isspace() or ord(ch) < 0x20 for ch in text):
            raise ValueError("must not contain backslashes, spaces or control characters")
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        host = _host(parts)
        if scheme not in _DEFAULT_PORTS:
            raise ValueError("must be an https URL")
        if scheme == "http" and not is_loopback_host(host):
            raise ValueError("must use https (http is allowed for loopback test servers only)")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not carry a user name or password")
        if parts.fragment or (prefix and parts.query):
            raise ValueError("must not carry a query or fragment" if prefix else "has a fragment")
        try:
            port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError:
            raise ValueError("has an invalid port") from None
        path = parts.path or "/"
        _check_path(path)
        return cls(scheme, host, port, path)

    def allows(self, url: UrlPrefix) -> bool:
        if (url.scheme, url.host, url.port) != (self.scheme, self.host, self.port):
            return False
        if self.path.endswith("/"):
            return url.path.startswith(self.path)
        return url.path == self.path or url.path.startswith(self.path + "/")

    def __str__(self) -> str:
        default = _DEFAULT_PORTS[self.scheme] == self.port
        return f"{self.scheme}://{self.host}{'' if default else f':{self.port}'}{self.path}"


def _check_path(path: str) -> None:
    """Refuse a path a server could read as another one than the prefix comparison sees: dot
    segments (also ``..;`` and percent-encoded or double-encoded dots), ``;`` parameters, empty
    segments (``//``), encoded ``/`` or ``\\``; ValueError (with a reason, never the path)."""
    lowered = path.lower()
    if "%25" in lowered or any(t in lowered for t in _ENCODED_TRICKS):
        raise ValueError("must not contain dot segments or encoded '.', '/', '\\' or '%'")
    if ";" in path:
        raise ValueError("must not contain ';' path parameters")
    segments = unquote(path).split("/")[1:]
    if any(seg in (".", "..") for seg in segments):
        raise ValueError("must not contain dot segments or encoded '.', '/', '\\' or '%'")
    if "" in segments[:-1]:  # only the last segment may be empty (a trailing "/")
        raise ValueError("must not contain empty segments ('//')")


def _host(parts: SplitResult) -> str:
    try:
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        raise ValueError("has an invalid host") from None
    if not host:
        raise ValueError("has no host")
    if not host.isascii():
        raise ValueError("has a non-ASCII host (use its punycode form, xn--...)")
    return host


@dataclass(frozen=True)
class AppBinding:
    """What an app-credentials secret declares. ``providers == ()``: nothing declared."""

    providers: tuple[str, ...]
    url_prefixes: tuple[UrlPrefix, ...]

    @property
    def declared(self) -> bool:
        return bool(self.providers)

    def covers(self, provider: str) -> bool:
        return any(provider in COVERS.get(p, (p,)) for p in self.providers)

    @classmethod
    def of(cls, app: AppCredentials, app_secret_id: str) -> AppBinding:
        return cls(
            _declared_providers(app.extra, app_secret_id),
            _declared_prefixes(app.extra, app_secret_id),
        )


def _declared_providers(extra: Mapping[str, Any], app_secret_id: str) -> tuple[str, ...]:
    raw = extra.get(DECLARED_PROVIDER)
    if raw is None:
        return ()
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise BindingError(
            f"app credentials {app_secret_id!r}: must be a provider name or a list of them",
            field=DECLARED_PROVIDER,
        )
    unknown = sorted({n for n in names if n not in PROVIDER_NAMES})
    if unknown:
        raise BindingError(
            f"app credentials {app_secret_id!r} declare unknown provider(s) {', '.join(unknown)}; "
            f"known: {', '.join(PROVIDER_NAMES)}",
            field=DECLARED_PROVIDER,
        )
    return tuple(dict.fromkeys(names))


def _declared_prefixes(extra: Mapping[str, Any], app_secret_id: str) -> tuple[UrlPrefix, ...]:
    raw = extra.get(ALLOWED_URL_PREFIXES)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise BindingError(
            f"app credentials {app_secret_id!r}: must be a list of URL prefixes",
            field=ALLOWED_URL_PREFIXES,
        )
    prefixes = []
    for index, text in enumerate(raw):
        try:
            prefixes.append(UrlPrefix.parse(text, prefix=True))
        except ValueError as err:
            raise BindingError(
                f"app credentials {app_secret_id!r}: entry {index} {err}",
                field=ALLOWED_URL_PREFIXES,
            ) from None
    return tuple(prefixes)


@dataclass(frozen=True)
class BindingCheck:
    """The check passed. ``warning``: the app secret declares nothing (legacy, platform only)."""

    declared: bool
    warning: str | None = None


def connection_urls(doc: TokenDocument) -> dict[str, object]:
    """Every ``options.*_url`` of the connection: where its provider code may send credentials."""
    return {
        f"options.{key}": value
        for key, value in doc.options.items()
        if key.endswith(URL_OPTION_SUFFIX) and value is not None
    }


def verify_app_binding(
    connection_id: str,
    doc: TokenDocument,
    app_secret_id: str,
    app: AppCredentials,
    *,
    urls: Mapping[str, str] | None = None,
) -> BindingCheck:
    """Refuse, before any network call, a connection that may not use these app credentials.

    ``connection_id`` names the connection (token secret, or the name it will get); ``urls`` adds
    endpoints that do not live in ``doc.options`` (label -> URL), e.g. the connect flow's authorize
    URL. Raises :class:`BindingError` (a ``config`` error) naming both secrets.
    """
    binding = AppBinding.of(app, app_secret_id)
    provider = doc.provider
    pair = f"connection {connection_id!r} ({provider}) and app credentials {app_secret_id!r}"
    if not binding.declared:
        if provider in URL_PROVIDERS:
            raise BindingError(
                f"{pair}: the app credentials declare no provider; an {provider} connection "
                "sends them to URLs of its own, so its app credentials must say which",
                field=DECLARED_PROVIDER,
                provider=provider,
                remediation=_declare_hint(app_secret_id, provider),
            )
        return BindingCheck(
            declared=False,
            warning=(
                f"app credentials {app_secret_id!r} declare no provider: used for {provider} as "
                f'connection {connection_id!r} says. Add "provider": "{provider}" to that '
                "secret so that no other provider's connection can use it"
            ),
        )
    if not binding.covers(provider):
        raise BindingError(
            f"{pair}: the app credentials belong to {', '.join(binding.providers)}, not "
            f"{provider}; refused before any call to the provider",
            field="app_secret_id",
            provider=provider,
            remediation=(
                f"point app_secret_id of {connection_id!r} at the {provider} app credentials "
                f"(or, if {app_secret_id!r} really is a {provider} app, its owner adds "
                f'{provider!r} to its "provider")'
            ),
        )
    if provider in URL_PROVIDERS:
        _verify_urls(pair, binding, {**connection_urls(doc), **(urls or {})}, app_secret_id)
    return BindingCheck(declared=True)


def _verify_urls(
    pair: str, binding: AppBinding, urls: Mapping[str, object], app_secret_id: str
) -> None:
    if not binding.url_prefixes:
        raise BindingError(
            f"{pair}: the app credentials list no {ALLOWED_URL_PREFIXES}, so they may be sent "
            "nowhere",
            field=ALLOWED_URL_PREFIXES,
            remediation=f"add {ALLOWED_URL_PREFIXES} to {app_secret_id!r} ({DOCS})",
        )
    for label, text in sorted(urls.items()):
        try:
            url = UrlPrefix.parse(text, prefix=False)
        except ValueError as err:
            raise BindingError(f"{pair}: {label} {err}", field=label) from None
        if not any(prefix.allows(url) for prefix in binding.url_prefixes):
            allowed = ", ".join(str(p) for p in binding.url_prefixes)
            raise BindingError(
                f"{pair}: {label} {url} is not under the app credentials' "
                f"{ALLOWED_URL_PREFIXES} ({allowed}); refused before any call to it",
                field=label,
                remediation=(
                    f"fix {label} in the connection; if that URL is right, the owner of "
                    f"{app_secret_id!r} adds its prefix to {ALLOWED_URL_PREFIXES} ({DOCS})"
                ),
            )


def _declare_hint(app_secret_id: str, provider: str) -> str:
    # Deliberately no URL taken from the connection: its creator is the one not to be trusted.
    return (
        f'the owner of {app_secret_id!r} adds to its JSON: "provider": "{provider}", '
        f'"{ALLOWED_URL_PREFIXES}": ["https://<your authorization server>/"] (every URL the '
        f"connection may use must start with one of them; {DOCS})"
    )
