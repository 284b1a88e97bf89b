"""Tenants and their API keys, as the API, the CLI and the key cache see them: the port
(`TenantDirectory`, implemented in storage/directory.py) and its refusals."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class TenantRefused(ValueError):
    """A tenant or key operation that cannot be done as asked (the message says why)."""


class KeyRevoked(TenantRefused):
    def __init__(self, prefix: str) -> None:
        super().__init__(f"key {prefix} is already revoked; create a new one instead")
        self.prefix = prefix


class LastActiveKey(TenantRefused):
    """Revoking this key would leave its tenant without one (the API refuses that)."""

    def __init__(self, prefix: str) -> None:
        super().__init__(f"{prefix} is the only active key of this tenant")
        self.prefix = prefix


class TenantInfo(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...


class NewTenantInfo(Protocol):
    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def api_key(self) -> str:
        """Shown once: only its hash is kept."""
        ...


class KeyInfo(Protocol):
    @property
    def prefix(self) -> str: ...

    @property
    def label(self) -> str | None: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def revoked_at(self) -> datetime | None: ...

    @property
    def active(self) -> bool: ...


class AlertDestinations(Protocol):
    """Where a tenant's alerts go; unset values fall back to the installation's."""

    @property
    def sealed_webhook_url(self) -> str | None:
        """Sealed (a Slack webhook URL is a secret)."""
        ...

    @property
    def digest_to(self) -> tuple[str, ...]: ...


class TenantDirectory(Protocol):
    """Each call is its own transaction; refusals raise TenantRefused (or a subclass)."""

    def resolve(self, ref: str) -> TenantInfo | None:
        """The tenant with this id, else the one with this name."""
        ...

    def tenants(self) -> list[TenantInfo]: ...

    def create_tenant(self, name: str, now: datetime) -> NewTenantInfo: ...

    def resolve_or_create(self, ref: str, now: datetime,
                          create: bool) -> tuple[TenantInfo | None, NewTenantInfo | None]:
        """The tenant `ref` names; with `create`, a new one named `ref` when there is none
        (then also returned as the second value, with its first key)."""
        ...

    def tenant_for_key(self, api_key: str) -> str | None:
        """The tenant an active key belongs to (None for an unknown or revoked key)."""
        ...

    def keys(self, tenant_id: str) -> list[KeyInfo]: ...

    def create_key(self, tenant_id: str, now: datetime,
                   label: str | None = None) -> tuple[str, KeyInfo]:
        """A new key (returned once, in clear) and how it is listed."""
        ...

    def revoke_key(self, tenant_id: str, ref: str, now: datetime, *,
                   keep_last: bool = False) -> tuple[KeyInfo, int]:
        """Revoke the key `ref` names (its prefix, or the whole key): the key and how many
        active keys the tenant has left. With `keep_last`, LastActiveKey instead of
        revoking the tenant's only active key."""
        ...

    def alert_destinations(self, tenant_id: str) -> AlertDestinations: ...

    def save_alert_destinations(self, tenant_id: str, sealed_webhook_url: str | None,
                                digest_to: tuple[str, ...], now: datetime) -> None: ...

    def rotate_key(self, tenant_id: str, ref: str,
                   now: datetime) -> tuple[str, KeyInfo, KeyInfo]:
        """A new key with the old one's label, the old one revoked, in one step: the new
        key in clear, the new key and the revoked one. KeyRevoked if it already was."""
        ...
