"""Tenant directory cases: tenants by id or name, API keys kept as hashes and named by
prefix, revocation and rotation, alert destinations."""

from __future__ import annotations

import pytest

from stocksync.app.tenants import KeyRevoked, LastActiveKey, TenantRefused
from tests.storage_contract.base import StorageContract


class DirectoryCases(StorageContract):
    def test_a_tenant_is_found_by_id_or_name_and_names_are_unique(self) -> None:
        d = self.svc.tenants
        made = d.create_tenant("  Acme Shop ", self.clock())
        assert made.name == "Acme Shop" and made.api_key.startswith("sk_")
        assert d.resolve(made.id).name == "Acme Shop"  # type: ignore[union-attr]
        assert d.resolve("Acme Shop").id == made.id  # type: ignore[union-attr]
        assert d.resolve("nobody") is None
        with pytest.raises(TenantRefused):
            d.create_tenant("Acme Shop", self.clock())
        with pytest.raises(TenantRefused):
            d.create_tenant("t_0123456789abcdef", self.clock())
        assert made.id in [t.id for t in d.tenants()]
        assert made.id in self.svc.admin.tenant_ids()
        assert d.tenant_for_key(made.api_key) == made.id
        found, new = d.resolve_or_create("Acme Shop", self.clock(), create=True)
        assert found is not None and new is None
        found, new = d.resolve_or_create("Beta", self.clock(), create=False)
        assert found is None and new is None
        found, new = d.resolve_or_create("Beta", self.clock(), create=True)
        assert found is None and new is not None and new.name == "Beta"

    def test_keys_are_created_revoked_and_rotated(self) -> None:
        d = self.svc.tenants
        made = d.create_tenant("keys", self.clock())
        api_key, listed = d.create_key(made.id, self.clock(), "till")
        assert listed.prefix == api_key[:len(listed.prefix)] and listed.label == "till"
        assert [k.active for k in d.keys(made.id)] == [True, True]
        with pytest.raises(TenantRefused):
            d.create_key(made.id, self.clock(), "x" * 101)
        revoked, left = d.revoke_key(made.id, listed.prefix, self.clock())
        assert not revoked.active and left == 1
        assert d.tenant_for_key(api_key) is None
        assert d.revoke_key(made.id, listed.prefix, self.clock())[1] == 1  # no change
        with pytest.raises(LastActiveKey):
            d.revoke_key(made.id, made.api_key, self.clock(), keep_last=True)
        new_key, new, old = d.rotate_key(made.id, made.api_key, self.clock())
        assert not old.active and new.active and d.tenant_for_key(new_key) == made.id
        assert d.tenant_for_key(made.api_key) is None
        with pytest.raises(KeyRevoked):
            d.rotate_key(made.id, old.prefix, self.clock())
        with pytest.raises(TenantRefused):
            d.revoke_key(made.id, "sk_nothere", self.clock())

    def test_alert_destinations_are_kept_per_tenant(self) -> None:
        d = self.svc.tenants
        empty = d.alert_destinations(self.tenant)
        assert (empty.sealed_webhook_url, empty.digest_to) == (None, ())
        d.save_alert_destinations(self.tenant, "sealed", ("a@x.io", "b@x.io"), self.clock())
        d.save_alert_destinations(self.tenant, None, ("c@x.io",), self.clock())
        kept = d.alert_destinations(self.tenant)
        assert (kept.sealed_webhook_url, kept.digest_to) == (None, ("c@x.io",))
