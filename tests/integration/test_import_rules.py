"""Bad rows, full and partial mode, deltas, and applying the same file twice (SQLite and
PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from stocksync.app.service import Stocksync
from stocksync.cli.main import app
from stocksync.config import Settings
from stocksync.imports.applier import ImportNotReady, apply_job
from stocksync.imports.mapping import Mapping, QuantityMode
from stocksync.imports.planner import AbsentAction
from stocksync.imports.preview import ImportOptions, preview
from stocksync.storage.tables import events, items, outbox
from tests.integration.test_import_formats import (
    TEE_S,
    _csv,
    assert_verified,
    ean13,
    item,
    on_hand,
    run,
    shopify_export,
    tenant_with,
)

STOCK = Mapping(columns={"sku": "SKU", "barcode": "EAN", "title": "Title", "price": "Price"},
                quantities={"WH": "Qty"})


def stock_file(path: Path, rows: list[list[str]]) -> Path:
    return _csv(path, ["SKU", "EAN", "Title", "Price", "Qty"], rows)


def event_count(svc: Stocksync) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(events)).scalar_one()
                   + conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one())


def test_bad_rows_are_reported_with_row_and_column_and_nothing_is_applied(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    bad = stock_file(tmp_path / "bad.csv", [
        ["GOOD-1", "", "Good", "5.00", "3"],
        ["", ean13("999999999999"), "", "", "4"],  # row 3: unknown barcode
        ["NEG-1", "", "Neg", "5.00", "-2"],  # row 4: negative count
        ["PRICE-1", "", "Price", "abc", "1"],  # row 5: not a price
        ["GOOD-1", "", "Again", "5.00", "9"],  # row 6: duplicate SKU
    ])
    job, report = run(svc, tenant, bad, mapping=STOCK)
    assert report is None
    errors = {(e["row"], e["column"]): e["reason"] for e in job["summary"]["errors"]}
    assert set(errors) == {(3, "EAN"), (4, "Qty"), (5, "Price"), (6, "SKU")}
    assert errors[(3, "EAN")].startswith("unknown barcode")
    assert "negative" in errors[(4, "Qty")] and "not a price" in errors[(5, "Price")]
    assert errors[(6, "SKU")] == "duplicate SKU GOOD-1 (also on row 2)"
    with pytest.raises(ImportNotReady, match="4 row"):
        apply_job(svc, tenant.id, job["id"])
    with svc.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar_one() == 0
    assert event_count(svc) == 0
    # asked explicitly, the good rows apply and the bad ones stay out
    _, report = run(svc, tenant, bad, mapping=STOCK, skip_bad_rows=True)
    assert report is not None and report.applied == 1
    assert on_hand(svc, tenant, "GOOD-1") == {"WH": 3} and item(svc, tenant, "NEG-1") is None


def test_the_cli_prints_each_rejected_row_and_applies_nothing(
        svc: Stocksync, db_settings: Settings, tmp_path: Path) -> None:
    tenant_with(svc, "WH")
    bad = stock_file(tmp_path / "bad.csv", [["OK-1", "", "Ok", "1", "2"],
                                            ["OK-2", "", "Ok", "abc", "2"]])
    env = {"STOCKSYNC_DATABASE_URL": db_settings.database_url,
           **({"STOCKSYNC_DATABASE_SCHEMA": db_settings.database_schema}
              if db_settings.database_schema else {})}
    result = CliRunner().invoke(app, ["import", str(bad), "--tenant", "acme", "--apply",
                                      "--column", "sku=SKU", "--column", "price=Price",
                                      "--quantity", "WH=Qty"], env=env)
    assert result.exit_code == 1, result.output
    assert "row 3, column 'Price': 'abc' is not a price" in result.output
    assert "nothing is applied" in result.output
    assert event_count(svc) == 0


def test_partial_leaves_unlisted_skus_and_full_reports_zeroes_or_deletes_them(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    run(svc, tenant, stock_file(tmp_path / "all.csv", [["A", "", "A", "1", "5"],
                                                       ["B", "", "B", "1", "6"],
                                                       ["C", "", "C", "1", "7"]]),
        mapping=STOCK)
    only_a = stock_file(tmp_path / "only-a.csv", [["A", "", "A", "1", "4"]])
    job, _ = run(svc, tenant, only_a, mapping=STOCK)
    assert job["summary"]["absent_skus"] == 0 and on_hand(svc, tenant, "B") == {"WH": 6}
    job, _ = run(svc, tenant, only_a, mapping=STOCK, mode="full")
    assert job["summary"]["absent_skus"] == 2
    assert job["summary"]["absent_samples"] == ["B", "C"]
    assert on_hand(svc, tenant, "B") == {"WH": 6}  # reported only
    job, _ = run(svc, tenant, only_a, mapping=STOCK, mode="full", absent=AbsentAction.ZERO,
                 counted_at=svc.clock() + timedelta(seconds=1))
    assert job["summary"]["quantity_changes"]["WH"]["rows"] == 2
    assert on_hand(svc, tenant, "B") == {"WH": 0} and on_hand(svc, tenant, "C") == {"WH": 0}
    job, _ = run(svc, tenant, only_a, mapping=STOCK, mode="full", absent=AbsentAction.DELETE)
    assert job["summary"]["items_deleted"] == 2
    assert item(svc, tenant, "B").is_deleted and not item(svc, tenant, "A").is_deleted
    assert_verified(svc)


def test_the_same_delivery_note_applied_twice_adds_its_quantities_once(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    run(svc, tenant, stock_file(tmp_path / "start.csv", [["A", "", "A", "1", "5"]]),
        mapping=STOCK)
    note = stock_file(tmp_path / "delivery.csv", [["A", "", "", "", "10"],
                                                  ["B", "", "New", "2", "3"]])
    deltas = Mapping(columns={"sku": "SKU", "title": "Title"}, quantities={"WH": "Qty"},
                     quantity_mode=QuantityMode.DELTA)
    _, first = run(svc, tenant, note, mapping=deltas)
    before = event_count(svc)
    job, second = run(svc, tenant, note, mapping=deltas)
    assert first is not None and first.applied == 2
    assert job["summary"]["rows"] == {"applied_before": 2}
    assert second is not None and second.applied == 0
    assert on_hand(svc, tenant, "A") == {"WH": 15} and on_hand(svc, tenant, "B") == {"WH": 3}
    assert event_count(svc) == before
    # applying one job again is a no-op too
    apply_job(svc, tenant.id, job["id"])
    assert on_hand(svc, tenant, "A") == {"WH": 15}
    with svc.engine.connect() as conn:
        sources = set(conn.execute(sa.select(events.c.source)).scalars())
    assert sources == {"import:start.csv", "import:delivery.csv"}
    assert_verified(svc)


def test_a_count_older_than_one_applied_is_rejected_as_today(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    now = svc.clock()
    run(svc, tenant, stock_file(tmp_path / "new.csv", [["A", "", "A", "1", "5"]]),
        mapping=STOCK, counted_at=now)
    job, report = run(svc, tenant, stock_file(tmp_path / "old.csv", [["A", "", "", "", "9"]]),
                      mapping=STOCK, counted_at=now - timedelta(hours=2))
    assert report is None and "stale count" in job["summary"]["errors"][0]["reason"]
    assert on_hand(svc, tenant, "A") == {"WH": 5}


def test_a_preview_changes_nothing_and_shows_diffs_and_barcode_matches(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    run(svc, tenant, shopify_export(tmp_path / "shopify.csv"))
    before = event_count(svc)
    path = stock_file(tmp_path / "p.csv", [["", TEE_S, "Linen Tee v2", "31", "12"]])
    job_id = preview(svc, tenant.id, path, ImportOptions(mapping=STOCK))
    assert event_count(svc) == before and item(svc, tenant, "TEE-S").title == "Linen Tee"
    _, report = run(svc, tenant, path, mapping=STOCK)
    assert report is not None and item(svc, tenant, "TEE-S").title == "Linen Tee v2"
    with svc.engine.connect() as conn:
        from stocksync.imports.store import get_job

        job = get_job(conn, tenant.id, job_id)
    assert job is not None
    sample = job["summary"]["item_samples"][0]
    assert sample["sku"] == "TEE-S" and sample["diff"]["title"] == ["Linen Tee", "Linen Tee v2"]
    assert sample["diff"]["price"] == ["29", "31"]
    assert job["summary"]["rows"] == {"planned": 1}  # the count of 12 is unchanged


def test_an_unreadable_file_or_sheet_is_refused_before_anything_is_stored(
        svc: Stocksync, tmp_path: Path) -> None:
    from stocksync.core.errors import InvalidInput
    from stocksync.storage.tables import import_jobs
    from tests.integration.test_import_formats import erp_sheet, latin1_semicolons

    tenant = tenant_with(svc, "WH")
    sheet = erp_sheet(tmp_path / "erp.xlsx", [])
    with pytest.raises(InvalidInput, match="no sheet 'Lager'"):
        preview(svc, tenant.id, sheet, ImportOptions(sheet="Lager"))
    latin = latin1_semicolons(tmp_path / "latin.csv")
    with pytest.raises(InvalidInput, match="not UTF-8"):
        preview(svc, tenant.id, latin, ImportOptions(encoding="utf-8", mapping=STOCK))
    with pytest.raises(InvalidInput, match="delimiter must be one character"):
        preview(svc, tenant.id, latin, ImportOptions(delimiter=";;"))
    with svc.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(import_jobs)
                            ).scalar_one() == 0


def test_a_count_overtaken_between_preview_and_apply_is_refused_and_recorded(
        svc: Stocksync, tmp_path: Path) -> None:
    tenant = tenant_with(svc, "WH")
    now = svc.clock()
    run(svc, tenant, stock_file(tmp_path / "start.csv", [["A", "", "A", "1", "5"],
                                                         ["B", "", "B", "1", "5"]]),
        mapping=STOCK, counted_at=now)
    slow = stock_file(tmp_path / "slow.csv", [["A", "", "", "", "9"], ["B", "", "", "", "8"]])
    job_id = preview(svc, tenant.id, slow, ImportOptions(
        mapping=STOCK, counted_at=now + timedelta(hours=1)))
    run(svc, tenant, stock_file(tmp_path / "newer.csv", [["A", "", "", "", "7"]]),
        mapping=STOCK, counted_at=now + timedelta(hours=2))
    report = apply_job(svc, tenant.id, job_id)
    assert report.applied == 1 and [r["row"] for r in report.refused] == [2]
    assert "older than the newest count" in report.refused[0]["errors"][0]["reason"]
    assert on_hand(svc, tenant, "A") == {"WH": 7} and on_hand(svc, tenant, "B") == {"WH": 8}
    with svc.engine.connect() as conn:
        kinds = list(conn.execute(sa.select(outbox.c.type).where(outbox.c.sku == "A")
                                  ).scalars()) + list(conn.execute(
            sa.select(events.c.type).where(events.c.sku == "A")).scalars())
    assert "conflict.detected" in kinds
    assert_verified(svc)


def test_a_barcode_taken_between_preview_and_apply_refuses_only_its_row(
        svc: Stocksync, tmp_path: Path) -> None:
    from stocksync.core.catalog import Item

    tenant = tenant_with(svc, "WH")
    code = ean13("731234567890")
    path = stock_file(tmp_path / "new.csv", [["A", "", "A", "1", "2"], ["B", code, "B", "1", "3"],
                                             ["C", "", "C", "1", "4"]])
    job_id = preview(svc, tenant.id, path, ImportOptions(mapping=STOCK))
    with svc.uow(tenant.id) as uow:  # meanwhile another item gets the barcode
        uow.catalog.put_item(Item("OTHER", barcodes=(code,)), svc.clock())
        uow.commit()
    report = apply_job(svc, tenant.id, job_id)
    assert report.applied == 2 and [r["row"] for r in report.refused] == [3]
    assert item(svc, tenant, "B") is None and on_hand(svc, tenant, "C") == {"WH": 4}
    with svc.engine.connect() as conn:
        from stocksync.imports.store import get_job

        job = get_job(conn, tenant.id, job_id)
    assert job is not None and job["rows_applied"] == 3 and job["status"] == "applied"
    assert_verified(svc)
