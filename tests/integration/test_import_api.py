"""The import API: upload (multipart) -> preview -> apply in the background with progress,
and the imported quantities reach a channel (the generic HTTP simulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from stocksync.app.service import Stocksync
from stocksync.simulators.generic_http import GenericHttpSimConfig
from stocksync.simulators.generic_http import create_app as generic_app
from stocksync.simulators.server import ServerThread
from tests.conftest import new_tenant
from tests.e2e.conftest import eventually
from tests.integration.test_import_formats import shopify_export
from tests.integration.test_import_rules import stock_file

SECRET = "import-test-secret-789"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def upload(client: httpx.Client, path: Path, **form: Any) -> httpx.Response:
    with path.open("rb") as f:
        return client.post("/v1/imports", files={"file": (path.name, f, "text/csv")},
                           data={k: str(v) for k, v in form.items()})


def previewed(client: httpx.Client, path: Path, **form: Any) -> dict[str, Any]:
    """Upload, wait for the background preview, return the import."""
    r = upload(client, path, **form)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "planning"
    url = f"/v1/imports/{r.json()['id']}"
    eventually(lambda: client.get(url).json()["status"] != "planning", what="the preview")
    job: dict[str, Any] = client.get(url).json()
    assert job["status"] == "planned", job
    return job


def applied(client: httpx.Client, import_id: str) -> bool:
    return bool(client.get(f"/v1/imports/{import_id}").json()["status"] == "applied")


def test_an_uploaded_export_is_previewed_applied_and_pushed_to_the_channel(
        client: httpx.Client, tmp_path: Path) -> None:
    assert client.put("/v1/locations/WH", json={"name": "Main"}).status_code == 201
    with ServerThread(generic_app(GenericHttpSimConfig(secret=SECRET))) as portal:
        r = client.post("/v1/channels", json={
            "code": "portal", "kind": "generic_http", "name": "B2B portal",
            "locations": ["WH"], "settings": {"url": portal.url + "/inventory"},
            "credentials": {"secret": SECRET}, "rules": {"safety_buffer": 1}})
        assert r.status_code == 201, r.text
        body = previewed(client, shopify_export(tmp_path / "products_export.csv"),
                         location="WH")
        assert body["rows_read"] == 4 and body["progress"]["rows_to_apply"] == 3
        assert body["preview"]["items_created"] == 3
        assert body["preview"]["channels"]["portal"]["skus_changed"] == 3
        shown = {s["sku"]: s["after"] for s in body["preview"]["channels"]["portal"]["samples"]}
        assert shown == {"TEE-S": 11, "TEE-M": 6, "CAP-1": 2}  # the channel's buffer of 1
        assert client.get("/v1/items/TEE-S").status_code == 404  # a preview changes nothing
        r = client.post(f"/v1/imports/{body['id']}/apply")
        assert r.status_code == 202, r.text
        eventually(lambda: applied(client, body["id"]), what="the apply to finish")
        done = client.get(f"/v1/imports/{body['id']}").json()
        assert done["progress"] == {"rows_to_apply": 3, "rows_applied": 3, "percent": 100.0}
        assert client.get("/v1/stock/TEE-S").json()["locations"][0]["on_hand"] == 12

        def pushed() -> dict[str, int]:
            return dict(httpx.get(portal.url + "/_sim/state").json()["quantities"])

        eventually(lambda: pushed() == shown, timeout=30,
                   what="the channel to show the imported stock")


def test_a_file_with_rejected_rows_applies_only_when_told_to_skip_them(
        client: httpx.Client, tmp_path: Path) -> None:
    client.put("/v1/locations/WH", json={"name": "Main"})
    path = stock_file(tmp_path / "stock.csv", [["OK-1", "", "Ok", "2.00", "4"],
                                               ["BAD-1", "", "Bad", "abc", "1"]])
    job = previewed(client, path, mapping='{"columns": {"sku": "SKU", "price": "Price"}, '
                    '"quantities": {"WH": "Qty"}}')
    assert job["preview"]["errors"] == [
        {"row": 3, "column": "Price", "reason": "'abc' is not a price"}]
    refused = client.post(f"/v1/imports/{job['id']}/apply")
    assert refused.status_code == 422
    assert refused.json()["error"] == "invalid_input"
    assert refused.json()["details"]["rows_rejected"] == 1
    assert client.get("/v1/items/OK-1").status_code == 404
    r = client.post(f"/v1/imports/{job['id']}/apply?skip_bad_rows=true")
    assert r.status_code == 202
    eventually(lambda: applied(client, job["id"]), what="the apply to finish")
    assert client.get("/v1/items/OK-1").json()["price"] in ("2", "2.0", "2.00", "2.0000", 2)
    assert client.get("/v1/items/BAD-1").status_code == 404


def test_bad_uploads_get_clear_errors_and_imports_are_private_to_their_tenant(
        client: httpx.Client, tmp_path: Path) -> None:
    client.put("/v1/locations/WH", json={"name": "Main"})
    path = stock_file(tmp_path / "stock.csv", [["OK-1", "", "Ok", "2.00", "4"]])
    r = upload(client, path, mapping="{not json")
    assert r.status_code == 422 and r.json()["details"]["field"] == "mapping"
    r = upload(client, path, mapping='{"columns": {"sku": "Article"}}')
    assert r.status_code == 422 and "no column 'Article'" in r.json()["message"]
    r = upload(client, path, mapping='{"columns": {"sku": "SKU"}, "quantities": {"NOPE": '
               '"Qty"}}')
    assert r.status_code == 422 and r.json()["details"]["locations"] == ["NOPE"]
    with (tmp_path / "broken.xlsx").open("wb") as f:
        f.write(b"PK\x03\x04 not really a workbook")
    with (tmp_path / "broken.xlsx").open("rb") as f:
        r = client.post("/v1/imports", files={"file": ("broken.xlsx", f, XLSX_TYPE)})
    assert r.status_code == 422 and "XLSX" in r.json()["message"]
    job = previewed(client, path, location="WH")
    svc: Stocksync = client.app_svc  # type: ignore[attr-defined]
    other = new_tenant(svc, "other")
    r = client.get(f"/v1/imports/{job['id']}", headers=other.headers)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_a_file_that_breaks_mid_preview_is_marked_unreadable_and_never_applied(
        client: httpx.Client, tmp_path: Path) -> None:
    client.put("/v1/locations/WH", json={"name": "Main"})
    rows = "".join(f"SKU-{i:05d},1\n" for i in range(8000))  # past the 64 KB sniffed sample
    path = tmp_path / "broken.csv"
    path.write_bytes(("SKU,Qty\n" + rows).encode() + "JACKE-Ö,1\n".encode("latin-1"))
    r = upload(client, path, encoding="utf-8", location="WH")
    assert r.status_code == 202, r.text
    url = f"/v1/imports/{r.json()['id']}"
    eventually(lambda: client.get(url).json()["status"] != "planning", what="the preview")
    job = client.get(url).json()
    assert job["status"] == "unreadable" and "the file is not UTF-8" in job["error"]
    refused = client.post(url + "/apply")
    assert refused.status_code == 422 and refused.json()["details"]["status"] == "unreadable"
    assert client.get("/v1/items/SKU-00000").status_code == 404
