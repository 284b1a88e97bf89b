"""Ask the platform whether it accepts a channel's credentials before they are stored.

A wrong token used to be accepted (201) and fail at the first push, minutes later, as a
parked SKU and an alert. Now a channel is created (or its credentials or settings changed)
only after the connector's cheapest authenticated read succeeded (`ChecksCredentials`)."""

from __future__ import annotations

import anyio
import httpx

from stocksync.channels import registry
from stocksync.channels.base import ChecksCredentials, RateLimited, Rejected, Unavailable
from stocksync.core.channels import Channel, ChannelKind
from stocksync.core.errors import DomainError, InvalidInput

CHECK_SECONDS = 20.0  # the whole check (eBay and Amazon first fetch a token)
HTTP_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
MAX_ANSWER = 500  # characters of the platform's answer kept in the error details
PLATFORM_NAMES = {ChannelKind.SHOPIFY: "Shopify", ChannelKind.WOOCOMMERCE: "WooCommerce",
                  ChannelKind.SQUARE: "Square", ChannelKind.EBAY: "eBay",
                  ChannelKind.AMAZON: "Amazon", ChannelKind.GENERIC_HTTP: "The endpoint"}


class CredentialsRefused(InvalidInput):
    """The platform answered and refused the credentials (or a setting they go with)."""

    code = "credentials_refused"


class ChannelUnreachable(DomainError):
    """The platform did not answer in time, answered 5xx or asked to slow down: whether it
    accepts the credentials is unknown. `retry_after` seconds, when the platform said."""

    code = "channel_unreachable"

    def __init__(self, message: str, retry_after: float | None = None,
                 **details: object) -> None:
        super().__init__(message, **details)
        self.retry_after = retry_after


async def check_credentials(channel: Channel, credentials: dict[str, str]) -> None:
    """Raise CredentialsRefused or ChannelUnreachable unless the platform accepted the
    credentials. Kinds stocksync does not call (a POS) have nothing to check."""
    if channel.kind not in registry.PUSHED:
        return
    name = PLATFORM_NAMES.get(channel.kind, channel.kind.value)
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
        connector = registry.build(channel, credentials, client)
        if not isinstance(connector, ChecksCredentials):
            return
        try:
            with anyio.fail_after(CHECK_SECONDS):
                await connector.check_credentials()
        except Rejected as exc:
            said = str(exc)
            message = (said if said.startswith(f"{name} refused the credentials")
                       else f"{name} refused the credentials: {said}")
            raise CredentialsRefused(message, platform=channel.kind.value, reason=said,
                                     answer=_short(exc.details)) from exc
        except RateLimited as exc:
            raise ChannelUnreachable(
                f"{name} asked stocksync to slow down while checking the credentials; "
                "try again shortly", retry_after=exc.retry_after,
                platform=channel.kind.value, reason=str(exc)) from exc
        except (Unavailable, TimeoutError) as exc:
            reason = str(exc) or f"no answer within {CHECK_SECONDS:g} s"
            raise ChannelUnreachable(
                f"{name} could not be reached to check the credentials: {reason}. Retry, "
                "or pass ?verify=false to store the channel unchecked",
                platform=channel.kind.value, reason=reason) from exc


def _short(answer: object) -> object:
    if isinstance(answer, str):
        return answer[:MAX_ANSWER]
    return answer
