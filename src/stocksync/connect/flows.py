"""What every platform's authorisation flow provides, and the errors a flow raises.

A flow builds the URL the merchant is sent to (with our `state` nonce), checks what the
platform sends back and exchanges it for the channel's credentials. The service
(connect/service.py) keeps the nonces and creates the channel."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx

from stocksync.app.channel_check import ChannelUnreachable
from stocksync.config import Settings
from stocksync.core.channels import ChannelKind
from stocksync.core.errors import DomainError, InvalidInput

TOKEN_TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class NotConfigured(InvalidInput):
    """This deployment has not registered an app with the platform."""

    code = "connect_not_configured"


class ConnectRefused(DomainError):
    """A callback refused (400): nothing is created."""

    code = "connect_refused"


class StateRefused(ConnectRefused):
    code = "invalid_state"


class SignatureRefused(ConnectRefused):
    code = "invalid_signature"


class AuthorizationRefused(ConnectRefused):
    """The merchant declined, or the platform refused to exchange the code."""

    code = "authorization_refused"


@dataclass(frozen=True, slots=True)
class Start:
    state: str
    callback_url: str  # where the platform sends the merchant (or the keys) back
    return_url: str  # WooCommerce: where the merchant's browser lands afterwards
    request: dict[str, Any]  # the channel asked for, with the flow's own fields


@dataclass(frozen=True, slots=True)
class Obtained:
    credentials: dict[str, str]
    settings: dict[str, str]  # channel settings the platform told us (shop, seller id…)


class Flow(Protocol):
    kind: ChannelKind
    provided_settings: tuple[str, ...]  # channel settings the flow fills in itself

    def prepare(self, settings: Settings, params: dict[str, str]) -> dict[str, str]:
        """Check the app is configured and the start parameters; the fields to keep with
        the state (e.g. the shop). Raises NotConfigured or InvalidInput."""
        ...

    def authorize_url(self, settings: Settings, start: Start) -> str: ...

    def state_of(self, params: dict[str, str]) -> str | None: ...

    def verify(self, settings: Settings, params: dict[str, str]) -> None:
        """Checks that need no stored state (a signature): raise ConnectRefused."""
        ...

    async def finish(self, settings: Settings, client: httpx.AsyncClient,
                     params: dict[str, str], start: Start) -> Obtained: ...


def require(settings: Settings, *names: str) -> None:
    missing = [n for n in names if not getattr(settings, n)]
    if missing:
        raise NotConfigured("this stocksync has no app registered for that platform: set "
                            + ", ".join(f"STOCKSYNC_{n.upper()}" for n in missing),
                            missing=[f"STOCKSYNC_{n.upper()}" for n in missing])


def url(base: str, path: str, params: dict[str, str]) -> str:
    return f"{base.rstrip('/')}{path}?{urlencode(params)}"


def declined(params: dict[str, str], platform: str) -> None:
    """The platform sent the merchant back with an OAuth error instead of a code."""
    if params.get("error"):
        raise AuthorizationRefused(
            f"{platform} did not authorise stocksync: {params['error']}"
            + (f" ({params['error_description']})" if params.get("error_description") else ""),
            platform=platform, error=params["error"])


async def token_request(client: httpx.AsyncClient, platform: str, method_url: str,
                        **kwargs: Any) -> dict[str, Any]:
    """POST a token request; the platform's refusal -> AuthorizationRefused (400), no
    answer or a 5xx -> ChannelUnreachable (502)."""
    try:
        answer = await client.post(method_url, timeout=TOKEN_TIMEOUT, **kwargs)
    except httpx.HTTPError as exc:
        raise ChannelUnreachable(f"{platform} could not be reached to exchange the "
                                 f"authorization code: {exc}", platform=platform) from exc
    if answer.status_code >= 500:
        raise ChannelUnreachable(f"{platform} answered {answer.status_code} to the token "
                                 "request", platform=platform, answer=answer.text[:500])
    try:
        body = answer.json()
    except ValueError:
        body = None
    if not answer.is_success or not isinstance(body, dict):
        raise AuthorizationRefused(f"{platform} refused the authorization code "
                                   f"({answer.status_code})", platform=platform,
                                   answer=body if isinstance(body, dict)
                                   else answer.text[:500])
    return body


def param(params: dict[str, str], name: str, platform: str) -> str:
    value = params.get(name)
    if not value:
        raise ConnectRefused(f"{platform} callback without {name}", field=name)
    return value
