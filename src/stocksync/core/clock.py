"""The clock port: the core never reads time itself, callers pass `now` in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Clock = Callable[[], datetime]
