"""/v1/keys lists, creates, revokes and rotates keys (a revoked key gets 401 at once), and a
dead-lettered delivery can be dismissed, recorded, by API and CLI (both databases)."""

from __future__ import annotations

import httpx
from typer.testing import CliRunner

from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.storage import inbox
from tests.conftest import LiveServer, Tenant
from tests.integration.test_cli import _env


def _as(server: LiveServer, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"},
                        timeout=30)


def test_keys_are_listed_by_prefix_and_never_shown_again(
        client: httpx.Client, tenant: Tenant) -> None:
    made = client.post("/v1/keys", json={"label": "till"})
    assert made.status_code == 201, made.text
    new = made.json()
    assert new["api_key"].startswith(new["prefix"]) and new["label"] == "till"
    listed = client.get("/v1/keys").json()
    assert [k["prefix"] for k in listed] == [tenant.key[:10], new["prefix"]]
    assert [k["current"] for k in listed] == [True, False]
    assert all("api_key" not in k for k in listed)
    assert httpx.get(client.base_url.join("/v1/keys")).status_code == 401


def test_a_revoked_key_gets_401_at_once(server: LiveServer, client: httpx.Client,
                                        tenant: Tenant) -> None:
    other = client.post("/v1/keys").json()
    with _as(server, other["api_key"]) as second:
        assert second.get("/v1/keys").status_code == 200  # now in the server's key cache
        revoked = client.post(f"/v1/keys/{other['prefix']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["active"] is False
        refused = second.get("/v1/keys")
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    last = client.post(f"/v1/keys/{tenant.key[:10]}/revoke")
    assert last.status_code == 409 and last.json()["error"] == "last_active_key"
    assert client.post("/v1/keys/sk_nothere/revoke").status_code == 404


def test_rotating_a_key_revokes_it_and_hands_out_its_replacement(
        server: LiveServer, client: httpx.Client, tenant: Tenant) -> None:
    rotated = client.post(f"/v1/keys/{tenant.key[:10]}/rotate")
    assert rotated.status_code == 201, rotated.text
    assert rotated.json()["revoked"] == tenant.key[:10]
    assert client.get("/v1/keys").status_code == 401
    with _as(server, rotated.json()["api_key"]) as fresh:
        keys = fresh.get("/v1/keys").json()
        assert [(k["prefix"], k["active"]) for k in keys] == [
            (tenant.key[:10], False), (rotated.json()["prefix"], True)]
        again = fresh.post(f"/v1/keys/{tenant.key[:10]}/rotate")
        assert again.status_code == 409 and again.json()["error"] == "key_revoked"


def _dead_letter(svc: Stocksync, tenant_id: str, delivery_id: str) -> int:
    with svc.engine.begin() as conn:
        row = inbox.store(conn, tenant_id=tenant_id, channel="till", kind="pos",
                          delivery_id=delivery_id, topic="POS_TRANSACTION_COMPLETE",
                          headers={}, body=b"{}", now=svc.clock(), correlation_id=None)
        assert row is not None
        inbox.settle(conn, row, svc.clock(), error="pos:T-1:0: no item with SKU GONE")
    return row


def test_a_dead_letter_is_dismissed_with_who_when_and_why(
        server: LiveServer, client: httpx.Client, tenant: Tenant) -> None:
    svc: Stocksync = server.svc
    row = _dead_letter(svc, tenant.id, "T-1")
    done = client.post(f"/v1/inbox/{row}/dismiss", json={"reason": "test sale, ignore"})
    assert done.status_code == 200, done.text
    shown = done.json()
    assert shown["status"] == "dismissed" and shown["dismissed_by"] == f"key:{tenant.key[:10]}"
    assert shown["dismiss_reason"] == "test sale, ignore" and shown["dismissed_at"]
    assert client.get("/v1/inbox", params={"status": "failed"}).json() == []
    kept = client.get("/v1/inbox", params={"status": "dismissed"}).json()
    assert [d["id"] for d in kept] == [row]  # recorded, not deleted
    twice = client.post(f"/v1/inbox/{row}/dismiss")
    assert twice.status_code == 409 and twice.json()["error"] == "delivery_not_failed"
    assert client.post("/v1/inbox/999999/dismiss").status_code == 404
    assert client.post(f"/v1/inbox/{row}/replay").json()["status"] == "pending"


def test_the_cli_dismisses_a_dead_letter(svc: Stocksync, db_settings: Settings,
                                         tenant: Tenant) -> None:
    runner = CliRunner()
    row = _dead_letter(svc, tenant.id, "T-2")
    result = runner.invoke(app, ["inbox", "dismiss", str(row), "--reason", "duplicate till"],
                           env=_env(db_settings))
    assert result.exit_code == 0, result.output
    listed = runner.invoke(app, ["inbox", "list", "--status", "dismissed"],
                           env=_env(db_settings))
    assert "duplicate till" in listed.output and "dismissed by cli" in listed.output
    again = runner.invoke(app, ["inbox", "dismiss", str(row)], env=_env(db_settings))
    assert again.exit_code == 1 and "only a failed" in again.output
