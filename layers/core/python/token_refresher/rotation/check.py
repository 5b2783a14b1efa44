"""Check one connection inside the deployed stack, without rotating it.

`token-refresher check` invokes the rotation function with ``{"action": "check", "secret_id":
"..."}``: the validation then runs through the same code, the same ``ProviderEndpoints``, network
path and IAM role as a rotation's testSecret, not from the operator's machine.

What it does, in order, stopping at the first problem: the secret exists and is managed by this
deployment, its AWSCURRENT document parses (errors name the field), the provider is known, the app
credentials resolve and are bound to this use (the rotation engine's own lookup), and the
provider's validation accepts the token (what testSecret runs: Meta ``debug_token``, Google
``tokeninfo``, LinkedIn introspection...). Nothing is written: no version, no tag, no alert (the
rotation engine's app-credentials lookup is read-only; rotation steps keep the app-binding tag).
The report carries no token material (every text goes through the redactor).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from token_refresher.adapters.errors import AccessDenied, AwsError
from token_refresher.adapters.secrets import (
    AWSCURRENT,
    SecretDescription,
    SecretNotFound,
    SecretStore,
)
from token_refresher.credentials.binding import verify_app_binding
from token_refresher.errors import ConfigError, ErrorClass, TokenRefresherError
from token_refresher.events import CHECK_ACTION
from token_refresher.instances import refusal, remediation
from token_refresher.model import AppCredentials, TokenDocument
from token_refresher.observability import logger
from token_refresher.providers.base import Provider, ProviderContext, ValidationResult
from token_refresher.redact import Redactor
from token_refresher.state import TAG_MANAGED
from token_refresher.timeutil import format_iso

_FIELDS = frozenset({"action", "secret_id"})

AppCredentialsFor = Callable[[SecretDescription, TokenDocument, Redactor], AppCredentials | None]


@dataclass(frozen=True)
class CheckRequest:
    secret_id: str

    @classmethod
    def from_event(cls, event: object) -> CheckRequest:
        if not isinstance(event, Mapping):
            raise ConfigError("must be a JSON object", field="event")
        unknown = sorted(set(event) - _FIELDS)
        if unknown:
            raise ConfigError(f"unknown field(s) {', '.join(unknown)}", field="event")
        if event.get("action") != CHECK_ACTION:
            raise ConfigError(f"must be {CHECK_ACTION!r}", field="action")
        secret_id = event.get("secret_id")
        if not isinstance(secret_id, str) or not secret_id.strip():
            raise ConfigError("is required and must be a non-empty string", field="secret_id")
        return cls(secret_id=secret_id.strip())


@dataclass
class CheckReport:
    secret_id: str
    ok: bool = False
    provider: str | None = None
    message: str = ""
    error_class: str | None = None
    provider_code: str | None = None
    provider_subcode: str | None = None
    remediation: str | None = None
    expires_at: str | None = None
    data_access_expires_at: str | None = None
    scopes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checked: bool = True  # False: the platform offers no check; ``ok`` rests on the document

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": CHECK_ACTION,
            "secret_id": self.secret_id,
            "ok": self.ok,
            "provider": self.provider,
            "message": self.message,
            "error_class": self.error_class,
            "provider_code": self.provider_code,
            "provider_subcode": self.provider_subcode,
            "remediation": self.remediation,
            "expires_at": self.expires_at,
            "data_access_expires_at": self.data_access_expires_at,
            "scopes": self.scopes,
            "warnings": self.warnings,
            "checked": self.checked,
        }


class _Stop(Exception):
    """A finding that ends the check; its text is already safe to return."""

    def __init__(self, error_class: ErrorClass, message: str, remediation: str | None = None):
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.remediation = remediation


class ConnectionChecker:
    """Validates a connection with the rotation function's own pieces; never writes."""

    def __init__(
        self,
        store: SecretStore,
        provider_ctx: ProviderContext,
        providers: Callable[[str], Provider],
        app_credentials: AppCredentialsFor,
        *,
        instance: str,
    ) -> None:
        self.instance = instance
        self.store = store
        self.ctx = provider_ctx
        self._providers = providers
        self._app_credentials = app_credentials

    def run(self, request: CheckRequest) -> CheckReport:
        """Validate one connection with its platform, read-only (``token-refresher check``).

        Args:
            request: the secret to check.

        Returns:
            The report: ``ok`` with expiry and scopes (``checked=False`` where the platform offers
            no check), or the error class, message and remediation of the failure.

        Raises:
            Nothing of its own: every failure (provider, document, AWS) is in the report.
        """
        report = CheckReport(secret_id=request.secret_id)
        redactor = Redactor()
        try:
            self._check(request, report, redactor)
        except _Stop as stop:
            report.error_class = stop.error_class.value
            report.message = redactor(stop.message)
            report.remediation = redactor(stop.remediation) if stop.remediation else None
        except AwsError as exc:  # before the root it derives from: a store failure, transient
            report.error_class = ErrorClass.TRANSIENT.value
            report.message = f"Secrets Manager call failed: {exc.code}"
        except TokenRefresherError as err:
            report.error_class = err.error_class.value
            report.message = redactor(err.message)
            report.remediation = redactor(err.remediation) if err.remediation else None
            report.provider_code = err.provider_code
            report.provider_subcode = err.provider_subcode
        logger.info(
            "connection checked",
            extra={
                "secret_id": report.secret_id,
                "provider": report.provider,
                "ok": report.ok,
                "error_class": report.error_class,
                "provider_code": report.provider_code,
            },
        )
        return report

    def _check(self, request: CheckRequest, report: CheckReport, redactor: Redactor) -> None:
        desc = self._describe(request.secret_id)
        report.secret_id = desc.name
        text = self.store.get_value(request.secret_id, stage=AWSCURRENT)
        if text is None:
            raise _Stop(ErrorClass.CONFIG, "the secret has no AWSCURRENT value")
        doc = TokenDocument.from_json(text)
        redactor.add(*doc.secret_values())
        report.provider = doc.provider
        provider = self._providers(doc.provider)
        app = self._app_credentials(desc, doc, redactor)  # the binding is verified in there
        if app is not None and doc.app_secret_id:
            warning = verify_app_binding(desc.name, doc, doc.app_secret_id, app).warning
            report.warnings += [redactor(warning)] if warning else []
        result = provider.validate(doc, app, self.ctx)
        if not result.valid:
            raise _Stop(
                ErrorClass.REAUTH_REQUIRED,
                f"{doc.provider} reports the token invalid ({result.detail or 'not valid'})",
                f"A human must re-authorize and store the new token (docs/providers/"
                f"{doc.provider}.md).",
            )
        self._fill_valid(report, doc, result, redactor)

    def _describe(self, secret_id: str) -> SecretDescription:
        try:
            desc = self.store.describe(secret_id)
        except SecretNotFound:
            raise _Stop(ErrorClass.CONFIG, "secret not found") from None
        except AccessDenied:
            desc = None
        if desc is None or desc.tags.get(TAG_MANAGED) != "true":
            raise _Stop(
                ErrorClass.CONFIG,
                f"not managed by this deployment (tag {TAG_MANAGED}=true missing): "
                "the check reads only the secrets the stack manages",
                "Onboard the secret (token-refresher onboard) or tag it, then check again.",
            )
        why = refusal(desc.tags, self.instance)  # another instance's secret, or none's
        if why is not None:
            raise _Stop(ErrorClass.CONFIG, why, remediation(self.instance))
        return desc

    @staticmethod
    def _fill_valid(
        report: CheckReport, doc: TokenDocument, result: ValidationResult, redactor: Redactor
    ) -> None:
        expires = result.expires_at or doc.expires_at
        report.ok = True
        report.checked = result.checked
        report.message = redactor(f"valid ({result.detail})" if result.detail else "valid")
        report.expires_at = format_iso(expires) if expires else None
        data_access = result.data_access_expires_at
        report.data_access_expires_at = format_iso(data_access) if data_access else None
        report.scopes = list(result.scopes)
