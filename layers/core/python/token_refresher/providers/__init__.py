"""Provider registry: one small module per ad platform, all behind :class:`base.Provider`."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from token_refresher.errors import ConfigError
from token_refresher.model import PROVIDER_NAMES

if TYPE_CHECKING:  # the modules load on first use: the sweep needs the names only
    from token_refresher.providers.base import Provider

# provider name -> module; each module exposes PROVIDER, an object implementing base.Provider.
_MODULES = {
    "meta": "token_refresher.providers.meta",
    "meta_system_user": "token_refresher.providers.meta_system_user",
    "google_ads": "token_refresher.providers.google_ads",
    "linkedin": "token_refresher.providers.linkedin",
    "tiktok": "token_refresher.providers.tiktok",
    "amazon_ads": "token_refresher.providers.amazon_ads",
    "microsoft_ads": "token_refresher.providers.microsoft_ads",
    "oauth2": "token_refresher.providers.oauth2",
}

__all__ = ["PROVIDER_NAMES", "get_provider"]


def get_provider(name: str) -> Provider:
    module = _MODULES.get(name)
    if module is None:
        raise ConfigError(
            f"unknown provider {name!r}; known: {', '.join(PROVIDER_NAMES)}", field="provider"
        )
    provider: Provider = import_module(module).PROVIDER
    return provider
