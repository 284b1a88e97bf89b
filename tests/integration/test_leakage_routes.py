"""The leakage calculator over the API and the CLI: the seed's example, a derived rate, and
the simulation on a tenant's own sales or on a generated stream."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from tests.conftest import Tenant, seed, settle


def test_the_estimate_reproduces_the_seed_example(client: httpx.Client) -> None:
    r = client.post("/v1/leakage/estimate", json={})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["oversold_orders"], body["cancellations"]) == ("9.60", "9.60")
    assert (body["lost_revenue"], body["churned_lifetime_value"]) == ("14400.00", "23040.00")
    assert body["leakage_per_day"] == "37440.00"


def test_the_oversell_rate_can_be_derived_and_bad_input_is_named(
        client: httpx.Client) -> None:
    derived = client.post("/v1/leakage/estimate", json={
        "derive": {"velocity_per_day": 24, "stock_depth": 12, "channels": 3}}).json()
    one_channel = client.post("/v1/leakage/estimate", json={
        "derive": {"velocity_per_day": 24, "stock_depth": 12, "channels": 1}}).json()
    assert derived["oversell_rate_derived"] is True
    assert 0 < float(derived["inputs"]["oversell_rate"]) < 0.02
    assert one_channel["leakage_per_day"] == "0.00"
    bad = client.post("/v1/leakage/estimate", json={"oversell_rate": 2})
    assert bad.status_code == 422 and bad.json()["details"]["errors"][0]["field"] == \
        "oversell_rate"


def test_the_simulation_compares_polling_with_stocksync(client: httpx.Client) -> None:
    r = client.post("/v1/leakage/simulate", json={"intervals_minutes": [15, 5]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["stream"]["source"] == "generated"  # the tenant has no sales yet
    rows = {row["mode"]: row for row in body["rows"]}
    polled15, polled5 = rows["polling every 15 min"], rows["polling every 5 min"]
    ours = rows["stocksync (measured propagation)"]
    assert polled15["oversold_units"] > polled5["oversold_units"] > ours["oversold_units"] == 0
    assert ours["fresh_share"] > polled5["fresh_share"] > polled15["fresh_share"]
    assert ours["leakage_per_day"] == "0.00"
    assert len(body["seed_claims"]) == 3


def test_the_simulation_replays_the_tenant_s_own_sales(client: httpx.Client,
                                                       svc: Stocksync) -> None:
    seed(client, {"TEE-1": {"WH": 5}})
    for _ in range(3):
        r = client.post("/v1/movements", json={"type": "sale", "sku": "TEE-1",
                                               "location": "WH", "quantity": 1})
        assert r.status_code == 201, r.text
    settle(svc)
    body = client.post("/v1/leakage/simulate", json={}).json()
    assert body["stream"]["source"] == "log"
    assert (body["stream"]["sales"], body["stream"]["skus"]) == (3, 1)
    assert all(row["sales"] == 3 and row["oversold_units"] == 0 for row in body["rows"])


def test_the_cli_prints_the_estimate_and_both_tables(svc: Stocksync, tenant: Tenant) -> None:
    runner = CliRunner()
    estimate = runner.invoke(app, ["leakage", "estimate"])
    assert estimate.exit_code == 0, estimate.output
    assert "₹37,440.00" in estimate.output
    bad = runner.invoke(app, ["leakage", "estimate", "--aov", "lots"])
    assert bad.exit_code == 2 and "--aov" in bad.output
    simulated = runner.invoke(app, ["leakage", "simulate", "--tenant", tenant.id,
                                    "--interval", "15", "--database-url",
                                    svc.settings.database_url],
                              env={"STOCKSYNC_DATABASE_SCHEMA":
                                   svc.settings.database_schema or "",
                                   "STOCKSYNC_SECRET_KEY": svc.settings.secret_key or ""})
    assert simulated.exit_code == 0, simulated.output
    assert "no sales in this tenant's log yet" in simulated.output
    assert "measured (simulation)" in simulated.output
    assert "claimed (seed article)" in simulated.output
