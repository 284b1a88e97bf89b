"""Dependencies the page routes share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from stocksync.api.deps import Caller, service
from stocksync.app.service import Stocksync
from stocksync.web.session import Viewer

Svc = Annotated[Stocksync, Depends(service)]


def caller(who: Viewer) -> Caller:
    """The signed-in viewer as the API's caller: the same tenant and audit actor."""
    return Caller(who.tenant_id, who.actor)
