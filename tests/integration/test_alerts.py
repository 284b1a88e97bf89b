"""Health signals a merchant can trust, on a clock the test controls: one definition of lag
(API, metric and alert agree), held and parked SKUs counted as what they are, errors that
show recovery, a channel state, drift that clears after an apply."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY

from stocksync.app.alerts import channel_health, evaluate
from stocksync.app.projector import project
from stocksync.app.reconcile import Mismatch, ReconcileReport, save_report
from stocksync.app.service import Stocksync
from stocksync.storage.alert_reads import SqlAlertReads
from stocksync.storage.channels import SqlChannels
from stocksync.workers.alerts import AlertWorker, observe
from stocksync.workers.channels import ChannelWorker
from tests.conftest import LiveServer, Tenant, seed, settle

LAG = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(svc: Stocksync) -> Clock:
    c = Clock()
    svc.clock = c  # type: ignore[method-assign]
    return c


@pytest.fixture
def api(svc: Stocksync, clock: Clock, tenant: Tenant) -> Iterator[httpx.Client]:
    """The API alone (no workers): the test moves the channel itself, step by step."""
    with LiveServer(svc, workers=False) as live, httpx.Client(
            base_url=live.url, headers=tenant.headers, timeout=30) as c:
        yield c


def add_portal(api: httpx.Client, code: str = "portal") -> None:
    r = api.post("/v1/channels", json={
        "code": code, "kind": "generic_http", "name": code, "locations": ["WH"],
        "settings": {"url": "http://127.0.0.1:9/inventory"}, "credentials": {"secret": "s"}},
        params={"verify": "false"})
    assert r.status_code == 201, r.text


def add_till(api: httpx.Client) -> None:
    r = api.post("/v1/channels", json={
        "code": "till", "kind": "pos", "name": "till", "locations": ["WH"],
        "settings": {"store.12": "WH"}, "credentials": {"webhook_secret": "till-secret-789"}})
    assert r.status_code == 201, r.text


def project_channel(svc: Stocksync, tenant: Tenant, code: str) -> None:
    settle(svc)
    with svc.uow(tenant.id) as uow:
        channel = SqlChannels(uow.conn, tenant.id).get(code)
        assert channel is not None
        project(uow, channel, svc.clock())
        uow.commit()


def acknowledge(svc: Stocksync, tenant: Tenant, code: str, values: dict[str, int]) -> None:
    with svc.uow(tenant.id) as uow:
        repo = SqlChannels(uow.conn, tenant.id)
        repo.acknowledge_many(code, values, svc.clock(), dict(values))
        repo.record_push(code, svc.clock(), None)
        uow.commit()


def rules(svc: Stocksync, code: str) -> dict[str, float]:
    with svc.engine.connect() as conn:
        return {c.rule: c.value for c in evaluate(SqlAlertReads(conn), svc.settings,
                                                  svc.clock())
                if c.subject == code}


def status(api: httpx.Client, code: str) -> dict[str, object]:
    body: dict[str, object] = api.get(f"/v1/channels/{code}").json()["status"]
    return body


def worker_metric(svc: Stocksync, tenant: Tenant, code: str) -> float:
    """The lag gauge as the channel worker sets it."""
    with svc.uow(tenant.id, write=False) as uow:
        channel = SqlChannels(uow.conn, tenant.id).get(code)
        assert channel is not None
        worker = ChannelWorker(svc, channel, "test", httpx.AsyncClient())
        worker._observe(uow, channel.cursor, svc.clock())
    value = REGISTRY.get_sample_value("stocksync_channel_lag_seconds",
                                      {"tenant": tenant.id, "channel": code})
    assert value is not None
    return value


def test_a_new_channel_on_old_history_is_not_lagging_and_lag_is_one_number(
        svc: Stocksync, clock: Clock, api: httpx.Client, tenant: Tenant) -> None:
    seed(api, {"TEE-1": {"WH": 5}, "TEE-2": {"WH": 7}})
    clock.advance(600)  # the stock was entered ten minutes before the channel
    add_portal(api)
    project_channel(svc, tenant, "portal")
    clock.advance(5)
    assert rules(svc, "portal") == {}  # it fired with 605 s: the events' age
    assert status(api, "portal")["lag_seconds"] == 5.0 == worker_metric(svc, tenant, "portal")
    clock.advance(70)  # still not pushed 75 s after it was created: that is lag
    alerted = rules(svc, "portal")["channel_lag"]
    assert alerted == 75.0 == status(api, "portal")["lag_seconds"] \
        == worker_metric(svc, tenant, "portal")
    acknowledge(svc, tenant, "portal", {"TEE-1": 5, "TEE-2": 7})
    assert rules(svc, "portal") == {}
    assert status(api, "portal")["lag_seconds"] == 0.0 == worker_metric(svc, tenant, "portal")


def test_a_till_that_only_sends_sales_never_lags(svc: Stocksync, clock: Clock,
                                                 api: httpx.Client, tenant: Tenant) -> None:
    seed(api, {"TEE-1": {"WH": 5}})
    add_till(api)
    clock.advance(3600)
    api.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                    "quantity": 1})
    settle(svc)
    clock.advance(3600)
    assert rules(svc, "till") == {}
    body = status(api, "till")
    assert body["lag_seconds"] == 0.0 and body["state"] == "healthy"


def test_parked_and_held_skus_are_counted_as_such_not_as_lag(
        svc: Stocksync, clock: Clock, api: httpx.Client, tenant: Tenant) -> None:
    seed(api, {"TEE-1": {"WH": 5}, "TEE-2": {"WH": 7}, "TEE-3": {"WH": 9}})
    add_portal(api)
    project_channel(svc, tenant, "portal")
    hold_ends = clock() + timedelta(hours=1)
    with svc.uow(tenant.id) as uow:
        repo = SqlChannels(uow.conn, tenant.id)
        repo.park("portal", "TEE-1", "unknown SKU")  # refused by the channel
        repo.hold_until("portal", {"TEE-2": hold_ends})  # revision budget, confirmation
        uow.commit()
    acknowledge(svc, tenant, "portal", {"TEE-3": 9})
    clock.advance(300)
    assert rules(svc, "portal") == {}  # both alerted "started" before
    body = status(api, "portal")
    assert (body["pending"], body["held"], body["parked"]) == (2, 1, 1)
    assert body["lag_seconds"] == 0.0 and body["state"] == "healthy"
    clock.now = hold_ends + timedelta(seconds=5)  # the hold is over: it waits from now on
    assert status(api, "portal")["lag_seconds"] == 5.0 == worker_metric(svc, tenant, "portal")
    assert rules(svc, "portal") == {}


def test_the_last_error_shows_its_recovery_and_the_channel_has_a_state(
        svc: Stocksync, clock: Clock, api: httpx.Client, tenant: Tenant) -> None:
    seed(api, {"TEE-1": {"WH": 5}})
    add_portal(api)
    project_channel(svc, tenant, "portal")
    acknowledge(svc, tenant, "portal", {"TEE-1": 5})
    assert status(api, "portal")["state"] == "healthy"
    with svc.uow(tenant.id) as uow:
        SqlChannels(uow.conn, tenant.id).record_push("portal", clock(), "Unavailable: down")
        uow.commit()
    body = status(api, "portal")
    assert body["state"] == "failing" and body["recovered"] is False
    clock.advance(10)
    api.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                    "quantity": 1})
    project_channel(svc, tenant, "portal")
    clock.advance(LAG + 1)  # failing, and behind
    health = {h.code: h for h in _health(svc)}
    observe(list(health.values()))
    assert REGISTRY.get_sample_value("stocksync_channel_state", {
        "tenant": tenant.id, "channel": "portal", "state": "failing"}) == 1.0
    acknowledge(svc, tenant, "portal", {"TEE-1": 4})
    body = status(api, "portal")
    assert body["state"] == "healthy" and body["recovered"] is True
    assert body["last_error"] == "Unavailable: down" and body["failing_since"] is None
    observe(_health(svc))
    assert REGISTRY.get_sample_value("stocksync_channel_state", {
        "tenant": tenant.id, "channel": "portal", "state": "failing"}) == 0.0
    api.post("/v1/movements", json={"type": "sale", "sku": "TEE-1", "location": "WH",
                                    "quantity": 1})
    project_channel(svc, tenant, "portal")
    clock.advance(LAG + 1)
    assert status(api, "portal")["state"] == "degraded"
    assert api.patch("/v1/channels/portal", json={"enabled": False}).status_code == 200
    assert status(api, "portal")["state"] == "paused"
    assert rules(svc, "portal") == {}  # a paused channel raises nothing


def _health(svc: Stocksync) -> list:  # type: ignore[type-arg]
    with svc.engine.connect() as conn:
        return channel_health(SqlAlertReads(conn), svc.settings, svc.clock())


def report(tenant: Tenant, clock: Clock, mode: str, wrong: int, applied: int
           ) -> ReconcileReport:
    return ReconcileReport(f"r-{mode}-{clock().timestamp()}", tenant.id, "portal", mode,
                           clock(), clock(), compared=10,
                           mismatches=[Mismatch(f"S{i}", 1, 2) for i in range(wrong)],
                           applied=applied)


def test_the_drift_alert_clears_once_an_apply_fixed_the_values(
        svc: Stocksync, clock: Clock, api: httpx.Client, tenant: Tenant) -> None:
    seed(api, {"TEE-1": {"WH": 5}})
    add_portal(api)
    worker = AlertWorker(svc)
    assert worker.step() == []
    clock.advance(1)
    save_report(svc, report(tenant, clock, "dry_run", wrong=3, applied=0))
    started = worker.step()
    assert len(started) == 1 and "30.00%" in started[0]
    clock.advance(1)
    save_report(svc, report(tenant, clock, "apply", wrong=3, applied=3))
    cleared = worker.step()
    assert len(cleared) == 1 and "RESOLVED" in cleared[0]
    clock.advance(1)
    save_report(svc, report(tenant, clock, "apply", wrong=3, applied=2))  # one not fixed
    assert rules(svc, "portal") == {"drift": 0.1}
