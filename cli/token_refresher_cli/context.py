"""What a command needs from the outside world, gathered in one object that tests can replace."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TextIO

import requests

from token_refresher.adapters.secrets import SecretsManagerStore, SecretStore
from token_refresher.config import Settings
from token_refresher.http import HttpClient
from token_refresher.providers.base import ProviderContext
from token_refresher.timeutil import Clock, utcnow
from token_refresher_cli.aws import Aws
from token_refresher_cli.console import Console

# Same variable and format as the functions' ProviderEndpoints (name=url;name=url): for tests and
# private proxies only; https, or http to a loopback host.
ENDPOINTS_VARIABLE = "PROVIDER_ENDPOINTS"


@dataclass
class Context:
    console: Console
    stdin: TextIO
    env: Mapping[str, str]
    aws: Aws = field(default_factory=Aws)
    clock: Clock = utcnow
    store_override: SecretStore | None = None
    provider_ctx_override: ProviderContext | None = None

    def store(self) -> SecretStore:
        if self.store_override is None:
            self.store_override = SecretsManagerStore(self.aws.client("secretsmanager"))
        return self.store_override

    def provider_context(self) -> ProviderContext:
        if self.provider_ctx_override is None:
            raw = self.env.get(ENDPOINTS_VARIABLE, "")
            endpoints = Settings.from_env({ENDPOINTS_VARIABLE: raw}).provider_endpoints
            if endpoints:
                self.console.warn(
                    f"provider endpoints overridden by {ENDPOINTS_VARIABLE} "
                    f"({', '.join(sorted(endpoints))}): meant for tests only"
                )
            self.provider_ctx_override = ProviderContext(
                http=HttpClient(requests.Session(), max_attempts=3),
                endpoints=endpoints,
                clock=self.clock,
            )
        return self.provider_ctx_override
