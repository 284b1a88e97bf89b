"""`stocksync listings …`: generate for SKUs, list, edit (refused over the limit, naming
it), approve (published as channel content), reject, settings (a bad --prefer entry is
named and changes nothing)."""

from __future__ import annotations

from typer.testing import CliRunner

from stocksync.app.content_overrides import content_store
from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.core.catalog import Item
from stocksync.core.channel_rules import ChannelRules
from stocksync.core.channels import Channel, ChannelKind
from stocksync.listings import store
from tests.conftest import new_tenant
from tests.integration.test_cli import _env

runner = CliRunner()


def test_the_review_flow_from_the_command_line(svc: Stocksync, db_settings: Settings) -> None:
    tenant = new_tenant(svc, "acme")
    with svc.uow(tenant.id) as uow:
        uow.channels.add(Channel(tenant.id, "ebay-us", ChannelKind.EBAY, "eBay",
                                 ChannelRules(("WH",))), None, 0, svc.clock())
        uow.catalog.put_item(Item("TEE-1", brand="Acme", gender="women", material="cotton",
                                  garment_type="jumper", colour="grey", size="M"),
                             svc.clock())
        uow.commit()
    env = _env(db_settings)

    def cli(*args: str) -> str:
        result = runner.invoke(app, ["listings", *args, "--tenant", "acme"], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    assert "Acme Women's Cotton Sweater Size M Gray" in cli("generate", "--sku", "TEE-1")
    with svc.engine.connect() as conn:
        (draft,) = store.list_drafts(conn, tenant.id)
    long = runner.invoke(app, ["listings", "edit", draft["id"], "--tenant", "acme",
                               "--title", "Acme " * 20], env=env)
    assert long.exit_code == 2 and "takes 80" in long.output
    assert "pending" in cli("edit", draft["id"], "--title", "Acme Women's Cotton Sweater M")
    assert "approved" in cli("approve", draft["id"])
    assert content_store(svc).override(tenant.id, "ebay-us", "TEE-1").title == \
        "Acme Women's Cotton Sweater M"
    assert "approved" in cli("list", "--status", "approved")
    assert "rejected" in cli("reject", draft["id"])

    bad = runner.invoke(app, ["listings", "settings", "--tenant", "acme", "--prefer",
                              "tee=T-Shirt", "--prefer", "jumper"], env=env)
    assert bad.exit_code == 2 and "--prefer #2 ('jumper') must be SYNONYM=TERM" in bad.output
    with svc.engine.connect() as conn:
        assert store.settings_row(conn, tenant.id)["preferred_terms"] == {}
    shown = cli("settings", "--prefer", "jumper=Pullover", "--ban", "cosy")
    assert "jumper -> Pullover" in shown and "cosy" in shown
    assert "Acme Women's Cotton Pullover Size M Gray" in cli("generate", "--sku", "TEE-1")
