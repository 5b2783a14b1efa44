"""Alerts that need a human carry a fresh consent link (``reconnect_url``).

Wraps the notifier: before a ``token.reauth_required`` or a consent-resolved ``token.expiring``
alert is published, a link is made for its connection (connect/minter.py) and added both as the
``reconnect_url`` field and to the remediation text an e-mail subscriber reads. When no link can be
made (no consent flow for the provider, the key unreadable, AWS failing) the alert goes out
without one and the reason is logged: an alert is never lost for want of a link.
"""

from __future__ import annotations

from dataclasses import replace

from token_refresher.adapters.errors import AwsError
from token_refresher.adapters.notifier import Notifier
from token_refresher.alerts import Alert
from token_refresher.connect.links import CONSENT_PROVIDERS
from token_refresher.connect.minter import LinkMinter
from token_refresher.errors import TokenRefresherError
from token_refresher.observability import logger


class LinkingNotifier:
    def __init__(self, inner: Notifier, minter: LinkMinter) -> None:
        self._inner = inner
        self._minter = minter

    def publish(self, alert: Alert) -> None:
        self._inner.publish(self.with_link(alert))

    def with_link(self, alert: Alert) -> Alert:
        if (
            not alert.needs_consent
            or alert.reconnect_url
            or alert.provider not in CONSENT_PROVIDERS
        ):
            return alert
        try:
            url = self._minter.mint(alert.secret_id, alert.provider or "", reuse_nonce=True)
        except (TokenRefresherError, AwsError) as exc:
            logger.warning(
                "alert sent without a reconnect link",
                extra={"secret_id": alert.secret_id, "reason": type(exc).__name__},
            )
            return alert
        text = (alert.remediation + " " if alert.remediation else "") + (
            f"To reconnect, open this link (it works once): {url}"
        )
        return replace(alert, reconnect_url=url, remediation=text)
