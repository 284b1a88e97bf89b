"""Reading the parts of an HTTP answer that every platform shares, for the one function per
platform (`raise_for_status` in its module) that turns answers into ChannelErrors."""

from __future__ import annotations

import math
import time
from email.utils import parsedate_to_datetime
from typing import Any, overload

import httpx

from stocksync.channels.base import Unavailable


@overload
def retry_after(response: httpx.Response, default: float, *, also: str | None = None,
                cap: float = math.inf) -> float: ...


@overload
def retry_after(response: httpx.Response, default: None = None, *, also: str | None = None,
                cap: float = math.inf) -> float | None: ...


def retry_after(response: httpx.Response, default: float | None = None, *,
                also: str | None = None, cap: float = math.inf) -> float | None:
    """Seconds the platform asks us to wait: `Retry-After` as delay-seconds or an HTTP date
    (RFC 9110 §10.2.3), else the header named `also` (a host's own spelling), else
    `default`; never negative, never more than `cap` (a header must not park a channel)."""
    value = response.headers.get("Retry-After") or (response.headers.get(also) if also else None)
    seconds = _seconds(value.strip()) if value else None
    return default if seconds is None else min(max(0.0, seconds), cap)


def _seconds(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        return number if math.isfinite(number) else None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return moment.timestamp() - time.time()


def json_object(response: httpx.Response, platform: str) -> dict[str, Any]:
    """The body of a usable answer; a body that is not a JSON object means the platform (or
    a proxy in front of it) is not answering properly right now: Unavailable."""
    try:
        body = response.json()
    except ValueError as exc:
        raise Unavailable(f"{platform} answered non-JSON ({response.status_code})") from exc
    if not isinstance(body, dict):
        raise Unavailable(f"{platform} answered JSON that is not an object")
    return body
