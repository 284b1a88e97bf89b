"""The alert worker: runs the rules, notifies a Slack-compatible webhook on each start and
clear, keeps the reservation-pressure gauge, and sends the daily digest by e-mail."""

from __future__ import annotations

import smtplib
from datetime import timedelta
from email.message import EmailMessage

import anyio
import httpx
import structlog
from sqlalchemy import Connection, insert, select, update

from stocksync import metrics
from stocksync.app.alerts import (
    ChannelHealth,
    Condition,
    channel_health,
    digest,
    evaluate,
    pressure_by_tenant,
    window,
)
from stocksync.app.service import Stocksync
from stocksync.config import Settings
from stocksync.core.channels import ChannelState
from stocksync.storage.alert_reads import SqlAlertReads
from stocksync.storage.alert_settings import StoredDestinations, all_destinations
from stocksync.storage.engine import WRITE
from stocksync.storage.tables import alerts, tenants
from stocksync.stream.lag import conditions as stream_conditions

log = structlog.get_logger()
DIGEST = ("*", "digest", "email")  # the alerts row that remembers the last digest
SEND_TIMEOUT = 5.0


class AlertWorker:
    def __init__(self, svc: Stocksync, settings: Settings | None = None) -> None:
        self.svc = svc
        self.settings = settings or svc.settings
        self.destinations: dict[str, StoredDestinations] = {}

    async def run(self) -> None:
        while True:
            try:
                await anyio.to_thread.run_sync(self.step)
            except Exception:  # the outer loop: log, try again next round
                log.exception("alert_worker_failed")
            await anyio.sleep(self.settings.alert_check_seconds)

    def step(self) -> list[str]:
        """One round: returns the notifications sent (for tests and logs)."""
        now = self.svc.clock()
        sent: list[str] = []
        with self.svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
            reads = SqlAlertReads(conn)
            health = channel_health(reads, self.settings, now)
            observe(health)
            holding = {(c.tenant_id, c.rule, c.subject): c
                       for c in [*evaluate(reads, self.settings, now, health),
                                 *stream_conditions(conn, self.settings, now)]}
            for tenant_id, ratio in pressure_by_tenant(reads).items():
                metrics.RESERVATION_PRESSURE.labels(tenant_id).set(ratio)
            self.destinations = all_destinations(conn)
            active = {(r.tenant_id, r.rule, r.subject): r for r in conn.execute(
                select(alerts).where(alerts.c.active, alerts.c.rule != "digest"))}
            for key, condition in holding.items():
                if key not in active:
                    self._start(conn, condition, now)
                    sent.append(self._notify(condition, "started"))
            for key, row in active.items():
                if key not in holding:
                    conn.execute(update(alerts).where(
                        alerts.c.tenant_id == row.tenant_id, alerts.c.rule == row.rule,
                        alerts.c.subject == row.subject).values(active=False, cleared_at=now))
                    sent.append(self._notify(Condition(row.tenant_id, row.rule, row.subject,
                                                       row.value or 0.0, row.message),
                                             "cleared"))
            self._maybe_digest(conn)
        return sent

    def _start(self, conn: Connection, c: Condition, now: object) -> None:
        key = (alerts.c.tenant_id == c.tenant_id) & (alerts.c.rule == c.rule) & \
            (alerts.c.subject == c.subject)
        values = {"active": True, "value": c.value, "message": c.message,
                  "started_at": now, "cleared_at": None}
        if conn.execute(update(alerts).where(key).values(**values)).rowcount == 0:
            conn.execute(insert(alerts).values(tenant_id=c.tenant_id, rule=c.rule,
                                               subject=c.subject, **values))

    def _notify(self, c: Condition, state: str) -> str:
        mark = "RESOLVED" if state == "cleared" else "ALERT"
        text = f"[stocksync {mark}] tenant {c.tenant_id}: {c.message}"
        metrics.ALERTS.labels(c.rule, state).inc()
        log.warning("alert", tenant=c.tenant_id, rule=c.rule, subject=c.subject, state=state,
                    value=c.value)
        url = self._webhook_url(c.tenant_id)
        if url:
            try:
                httpx.post(url, json={"text": text}, timeout=SEND_TIMEOUT).raise_for_status()
            except httpx.HTTPError as exc:  # recorded and logged; the state stands
                log.error("alert_not_delivered", error=str(exc), rule=c.rule)
        return text

    def _webhook_url(self, tenant_id: str) -> str | None:
        """The tenant's own alert webhook (PUT /v1/settings/alerts), else the global one."""
        own = self.destinations.get(tenant_id)
        if own is not None and own.sealed_webhook_url and self.svc.box is not None:
            try:
                return self.svc.box.open(own.sealed_webhook_url)["url"]
            except Exception:  # sealed with another key: never leak to the global hook
                log.exception("alert_destination_unreadable", tenant=tenant_id)
                return None
        return self.settings.alert_webhook_url

    def _recipients(self, tenant_id: str) -> list[str]:
        own = self.destinations.get(tenant_id)
        if own is not None and own.digest_to:
            return list(own.digest_to)
        return [a.strip() for a in (self.settings.digest_to or "").split(",") if a.strip()]

    def _maybe_digest(self, conn: Connection) -> None:
        s = self.settings
        anyone = s.digest_to or any(d.digest_to for d in self.destinations.values())
        if not (s.smtp_host and anyone):
            return
        now = self.svc.clock()
        last = conn.execute(select(alerts.c.started_at).where(
            alerts.c.tenant_id == DIGEST[0], alerts.c.rule == DIGEST[1],
            alerts.c.subject == DIGEST[2])).scalar()
        if last is not None and now - last < timedelta(hours=s.digest_hours):
            return
        self.send_digests(conn, last or window(now, s.digest_hours))
        self._start(conn, Condition(*DIGEST, 0.0, "last digest"), now)

    def send_digests(self, conn: Connection, since: object) -> int:
        """One e-mail per tenant with the day's counts, to the tenant's own recipients or
        else the global ones; returns how many were sent."""
        s = self.settings
        assert s.smtp_host
        sent = 0
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SEND_TIMEOUT) as smtp:
            if s.smtp_user:
                smtp.starttls()
                smtp.login(s.smtp_user, s.smtp_password or "")
            for tenant_id, name in conn.execute(select(tenants.c.id, tenants.c.name)):
                recipients = self._recipients(tenant_id)
                if not recipients:
                    continue
                report = digest(SqlAlertReads(conn), tenant_id, since,  # type: ignore[arg-type]
                                self.svc.refusals.pop(tenant_id, 0))
                mail = EmailMessage()
                mail["Subject"] = f"stocksync daily digest: {name}"
                mail["From"] = s.digest_from
                mail["To"] = ", ".join(recipients)
                mail.set_content(report.text(since))  # type: ignore[arg-type]
                smtp.send_message(mail)
                sent += 1
        return sent


def observe(health: list[ChannelHealth]) -> None:
    """Lag and state of every channel as metrics, from the same status the API shows."""
    for seen in health:
        labels = (seen.tenant_id, seen.code)
        metrics.CHANNEL_LAG.labels(*labels).set(seen.lag)
        for state in ChannelState:
            metrics.CHANNEL_STATE.labels(*labels, state.value).set(
                1.0 if state is seen.state else 0.0)
        metrics.CHANNEL_SKUS_WAITING.labels(*labels, "held").set(seen.status.held)
        metrics.CHANNEL_SKUS_WAITING.labels(*labels, "parked").set(seen.status.parked)
