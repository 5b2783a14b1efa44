"""Provider app credentials (client id/secret, Meta app secret): looked up from their own secret,
shared by many connections, and cached for a few minutes per Lambda container."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from token_refresher.adapters.errors import AccessDenied, NotFound
from token_refresher.adapters.secrets import AWSCURRENT, SecretDescription, SecretStore
from token_refresher.alerting.failures import save_tags
from token_refresher.credentials.binding import BindingCheck, verify_app_binding
from token_refresher.errors import ConfigError, ErrorClass
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.observability import logger
from token_refresher.providers.base import Provider
from token_refresher.redact import Redactor
from token_refresher.state import (
    BINDING_DECLARED,
    BINDING_UNDECLARED,
    TAG_APP_BINDING,
    TAG_APP_INSTANCES,
    TAG_LAST_ERROR,
)

APP_CREDENTIALS_TTL_SECONDS = 300


def app_instances(tags: Mapping[str, str]) -> list[str]:
    """The instances an app secret serves: its app-instances tag, names separated by spaces."""
    return tags.get(TAG_APP_INSTANCES, "").split()


def require_app_instance(store: SecretStore, secret_id: str, instance: str) -> None:
    """ConfigError unless the app secret's app-instances tag names ``instance`` (read from its
    description, never its value)."""
    try:
        tags = store.describe(secret_id).tags
    except NotFound:
        return  # reported by the value lookup, "not found or not readable"
    except AccessDenied:
        tags = {}
    if instance not in app_instances(tags):
        listed = " ".join(app_instances(tags)) or "none"
        raise ConfigError(
            f"app credentials secret {secret_id!r} are not bound to this instance "
            f"{instance!r} (tag {TAG_APP_INSTANCES} lists: {listed}); their owner adds the "
            f"instance to that tag (names separated by spaces), docs/security.md",
            field="app_secret_id",
        )


class AppCredentialsLookup:
    """The app credentials a token document refers to, checked against their declared use
    (credentials/binding.py) before any network call; their secret values join the redactor."""

    def __init__(
        self,
        store: SecretStore,
        providers: Callable[[str], Provider],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        ttl_seconds: float = APP_CREDENTIALS_TTL_SECONDS,
        bound_to: str | None = None,
    ) -> None:
        self.store = store
        # The instance app credentials must name in their app-instances tag (docs/security.md);
        # None: not checked (AppSecretInstanceBinding=off).
        self.bound_to = bound_to
        self._providers = providers
        self._monotonic = monotonic
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, AppCredentials]] = {}

    def for_token(
        self, desc: SecretDescription, doc: TokenDocument, redactor: Redactor
    ) -> AppCredentials | None:
        """Read-only (a check may call it): lookup, binding check, warning log."""
        return self._bound(desc, doc, redactor)[0]

    def for_step(
        self, desc: SecretDescription, doc: TokenDocument, redactor: Redactor
    ) -> AppCredentials | None:
        """:meth:`for_token`, and the connection's app-binding tag kept current (status)."""
        app, check = self._bound(desc, doc, redactor)
        # Written only when it changes to or from "undeclared": declared apps cost no extra write.
        tagged = desc.tags.get(TAG_APP_BINDING)
        if check is not None and (tagged == BINDING_UNDECLARED) == check.declared:
            value = BINDING_DECLARED if check.declared else BINDING_UNDECLARED
            save_tags(self.store, desc.arn, {TAG_APP_BINDING: value})
        return app

    def _bound(
        self, desc: SecretDescription, doc: TokenDocument, redactor: Redactor
    ) -> tuple[AppCredentials | None, BindingCheck | None]:
        if not doc.app_secret_id:
            if self._providers(doc.provider).requires_app_credentials:
                raise ConfigError("is required for this provider", field="app_secret_id")
            return None, None
        # A connection whose last failure was the app's (a rotated client secret) reads the app
        # credentials afresh: once someone fixes them, its next attempt uses the fix.
        fresh = desc.tags.get(TAG_LAST_ERROR) == ErrorClass.CONFIG.value
        app = (None if fresh else self._cached(doc.app_secret_id)) or self._load(doc.app_secret_id)
        redactor.add_signing_key(app.client_secret)  # masks each token's appsecret_proof too
        redactor.add(*app.secret_values())
        # Before any network call: a connection may not use another provider's app credentials
        # nor send them to a URL their owner did not allow (the confused-deputy path).
        check = verify_app_binding(desc.name, doc, doc.app_secret_id, app)
        if check.warning:
            logger.warning(
                "app credentials declare no provider",
                extra={
                    "secret_id": desc.name,
                    "provider": doc.provider,
                    "app_secret_id": doc.app_secret_id,
                    "warning": check.warning,
                },
            )
        return app, check

    def _cached(self, secret_id: str) -> AppCredentials | None:
        cached = self._cache.get(secret_id)
        if cached and self._monotonic() - cached[0] < self._ttl:
            return cached[1]
        return None

    def _load(self, secret_id: str) -> AppCredentials:
        if self.bound_to is not None:  # before the value is read
            require_app_instance(self.store, secret_id, self.bound_to)
        try:
            text = self.store.get_value(secret_id, stage=AWSCURRENT)  # None when not found
        except AccessDenied:
            text = None
        if text is None:
            raise ConfigError(
                f"app credentials secret {secret_id!r} not found or not readable "
                "(it must exist and its name must start with the configured prefix)",
                field="app_secret_id",
            )
        app = AppCredentials.from_json(text, "app_secret_id")
        self._cache[secret_id] = (self._monotonic(), app)
        return app
