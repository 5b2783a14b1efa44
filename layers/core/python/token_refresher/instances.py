"""Instances: several deployments in one account and region, each with its own connections.

A token secret belongs to exactly one instance: it carries ``token-refresher:managed=true`` and
``token-refresher:instance=<name>``. Every engine asks this module, and only this module, whether a
secret is its own; the IAM policies of the template carry the same rule as tag conditions.

Secrets made before instances existed carry the managed tag only ("unowned"): a sweep adopts them
into its instance when told to (``AdoptUntagged``, or a manual event with ``adopt_untagged``), and
alerts about each one it leaves unowned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Protocol, TypeVar

from token_refresher.errors import ConfigError
from token_refresher.state import TAG_INSTANCE, TAG_MANAGED

# Stack names are [A-Za-z][A-Za-z0-9-]*; a little wider, still safe in tags, IAM and patterns.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def instance_name(raw: str, *, field: str = "INSTANCE_NAME") -> str:
    """A validated instance name (1-64 of letters, digits, ``.``, ``_``, ``-``)."""
    name = raw.strip()
    if not _NAME.match(name):
        raise ConfigError(
            f"must be 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), "
            f"got {name!r}",
            field=field,
        )
    return name


def ownership_tags(instance: str) -> dict[str, str]:
    """The two tags that make a secret one instance's connection."""
    return {TAG_MANAGED: "true", TAG_INSTANCE: instance}


def owner_of(tags: Mapping[str, str]) -> str | None:
    """The instance a managed secret belongs to; None when it has none (or is not managed)."""
    if tags.get(TAG_MANAGED) != "true":
        return None
    return tags.get(TAG_INSTANCE) or None


def is_unowned(tags: Mapping[str, str]) -> bool:
    """Managed, but made before instances existed: no instance tag."""
    return tags.get(TAG_MANAGED) == "true" and not tags.get(TAG_INSTANCE)


def refusal(tags: Mapping[str, str], instance: str) -> str | None:
    """Why ``instance`` must leave this secret alone, or None when the secret is its own."""
    if tags.get(TAG_MANAGED) != "true":
        return f"not managed by token-refresher (tag {TAG_MANAGED}=true missing)"
    owner = tags.get(TAG_INSTANCE)
    if not owner:
        return (
            f"managed but belongs to no instance (tag {TAG_INSTANCE} missing); this is "
            f"instance {instance!r}"
        )
    if owner != instance:
        return f"belongs to instance {owner!r}, not to this instance {instance!r}"
    return None


def name_refusal(name: str, app_prefix: str) -> str | None:
    """Why a secret named ``name`` is no connection: it is under the app-credentials prefix.
    Names cannot change, tags can: a "connection" planted there (tagged for this instance by
    someone who may create app secrets) is refused whatever its tags say (docs/security.md)."""
    if app_prefix and name.startswith(app_prefix):
        return f"named under the app-credentials prefix {app_prefix!r}: never a connection"
    return None


def remediation(instance: str) -> str:
    return (
        f"Each deployment rotates only secrets tagged {TAG_MANAGED}=true and "
        f"{TAG_INSTANCE}=<its InstanceName>. To hand this secret to instance {instance!r}, tag it "
        f"{TAG_INSTANCE}={instance} (an unowned secret: or deploy with AdoptUntagged=true, or "
        "with AdoptUntagged=on-request and send the manual event with adopt_untagged); to leave "
        "it with its own instance, send requests to that instance."
    )


def rotation_to_attach(enabled: bool, attached: str | None, own: str | None) -> str | None:
    """The rotation function to attach with RotateSecret: this instance's own when rotation is
    off, or when another function is attached (a connection moved here from another instance);
    None to keep what is attached."""
    if enabled and attached in (None, own):
        return None
    return own


class NotThisInstance(ConfigError):
    """The secret is not this instance's: refused before anything is read or written."""


def ensure_own(
    tags: Mapping[str, str], instance: str, *, name: str = "", app_prefix: str = ""
) -> None:
    why = name_refusal(name, app_prefix) or refusal(tags, instance)
    if why is not None:
        raise NotThisInstance(why, remediation=remediation(instance))


class _Tagged(Protocol):
    @property
    def tags(self) -> Mapping[str, str]: ...


_Listed_co = TypeVar("_Listed_co", bound=_Tagged, covariant=True)


class _Lister(Protocol[_Listed_co]):
    def list_by_tag(self, key: str, value: str) -> Iterator[_Listed_co]: ...


def list_own(store: _Lister[_Listed_co], instance: str) -> Iterator[_Listed_co]:
    """This instance's managed secrets (ListSecrets filtered on the instance tag)."""
    for entry in store.list_by_tag(TAG_INSTANCE, instance):
        if owner_of(entry.tags) == instance:
            yield entry


def list_unowned(store: _Lister[_Listed_co]) -> Iterator[_Listed_co]:
    """Managed secrets with no instance tag (made by a version before instances)."""
    for entry in store.list_by_tag(TAG_MANAGED, "true"):
        if is_unowned(entry.tags):
            yield entry
