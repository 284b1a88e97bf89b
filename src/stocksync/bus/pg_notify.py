"""Carry doorbell rings across processes with PostgreSQL LISTEN/NOTIFY.

The sequencer NOTIFYs inside the transaction that publishes events, so the notification is
delivered exactly when the events become visible; every process LISTENs and rings its own
in-process bus. `stocksync worker` processes therefore react to a sale made through another
process's API within milliseconds, not at the next sweep.
"""

from __future__ import annotations

import threading

import psycopg
import structlog
from sqlalchemy import Connection, Engine, func, select

from stocksync.app.ports import Doorbell

log = structlog.get_logger()
CHANNEL = "stocksync_events"
RECONNECT_SECONDS = 1.0


def notify_events(conn: Connection) -> None:
    """Queue a notification in the caller's transaction (sent at commit)."""
    conn.execute(select(func.pg_notify(CHANNEL, "")))


def _conninfo(engine: Engine) -> str:
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


class PgNotifyListener:
    def __init__(self, engine: Engine, bus: Doorbell, topic: str) -> None:
        self.conninfo = _conninfo(engine)
        self.bus = bus
        self.topic = topic
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-listen", daemon=True)
        self.listening = threading.Event()

    def start(self) -> PgNotifyListener:
        self._thread.start()
        return self

    name = "pg-listen"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self.bus.ring(self.topic)
            except psycopg.Error as exc:  # reconnect: the sweep covers the gap meanwhile
                self.listening.clear()
                log.warning("pg_listen_failed", error=str(exc))
                self._stop.wait(RECONNECT_SECONDS)
