"""What every page of the connect endpoint shares: its collaborators, the connection's facts, and
how a failure becomes a page (and, for a binding refusal, an alert)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from token_refresher.adapters.notifier import Notifier
from token_refresher.adapters.secrets import SecretStore
from token_refresher.alerting.failures import publish_alert
from token_refresher.alerts import Alert, AlertEvent
from token_refresher.connect import pages
from token_refresher.connect.links import Link
from token_refresher.connect.minter import SigningKey
from token_refresher.connect.platforms import LABELS, NoConsentFlow, platform
from token_refresher.connect.problems import error_page, no_flow_page, not_stored_page
from token_refresher.connect.store import Connection, GrantNotStored
from token_refresher.credentials.binding import BindingError
from token_refresher.errors import TokenRefresherError
from token_refresher.observability import logger
from token_refresher.providers.base import ProviderContext
from token_refresher.redact import Redactor
from token_refresher.rotation.engine import RotationEngine
from token_refresher.timeutil import Clock, utcnow


@dataclass
class Endpoint:
    """The connect endpoint's collaborators (built once by the composition root)."""

    store: SecretStore
    notifier: Notifier
    ctx: ProviderContext
    keys: Callable[[], SigningKey]
    engine: RotationEngine
    clock: Clock = utcnow

    @staticmethod
    def redirect_uri(signing: SigningKey, provider: str) -> str:
        return f"{signing.base_url}callback/{provider}"

    @staticmethod
    def facts(conn: Connection, link: Link) -> dict[str, str]:
        """What the landing and success pages say about the connection."""
        facts = {
            "Connection": conn.desc.name,
            "Platform": LABELS.get(link.provider, link.provider),
            "Scopes": platform(link.provider).scopes(conn.doc),
            "Last consenting account": conn.previous_label,
        }
        if link.allow_new_account:
            facts["Account"] = "any account may consent (new account allowed)"
        elif conn.previous_account is None:
            facts["Account"] = "any account will be accepted (none recorded yet)"
        if conn.is_new:
            facts["Last consenting account"] = "new connection"
        return facts

    def failed(
        self,
        conn: Connection,
        err: TokenRefresherError,
        where: str,
        *,
        clear: str = "",
        redactor: Redactor | None = None,
    ) -> pages.Page:
        """One log line through the redactor, and the page for this failure (``clear``: the
        Set-Cookie value that clears the flow's cookie, when there is one)."""
        redact = redactor or Redactor()
        logger.error(
            "connect failed",
            extra={
                "secret_id": conn.desc.name,
                "provider": conn.doc.provider,
                "where": where,
                "error_class": err.error_class.value,
                "provider_code": err.provider_code,
                "detail": redact(err.message),
                "remediation": redact(err.remediation) if err.remediation else None,
            },
        )
        if isinstance(err, GrantNotStored):
            return not_stored_page(clear)
        if isinstance(err, NoConsentFlow):
            return no_flow_page(err.message, clear)
        if isinstance(err, BindingError):
            self._binding_refused(conn, err, redact)
        return error_page(err.error_class, clear)

    def _binding_refused(self, conn: Connection, err: BindingError, redact: Redactor) -> None:
        """The app-credential binding refused the connection: one alert, like rotation's (the
        message names the two secrets; no token, code or link)."""
        publish_alert(
            self.notifier,
            Alert(
                AlertEvent.CONFIG_INVALID,
                secret_id=conn.desc.name,
                provider=conn.doc.provider,
                message=f"consent refused: {redact(err.message)}",
                occurred_at=self.clock(),
                error_class=err.error_class.value,
                remediation=redact(err.remediation) if err.remediation else None,
            ),
        )
