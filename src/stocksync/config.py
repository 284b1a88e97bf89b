"""One Settings object, built once in the entrypoint from STOCKSYNC_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, Field, ValidationError

ENV_PREFIX = "STOCKSYNC_"


class SettingsError(ValueError):
    pass


class Settings(BaseModel):
    """Every knob of the service. Each field is read from `STOCKSYNC_<FIELD NAME IN CAPS>`."""

    database_url: str = Field("sqlite:///./stocksync.db",
                              description="SQLAlchemy URL: sqlite:///file.db or "
                                          "postgresql+psycopg://user@host/db")
    database_schema: str | None = Field(None, description="PostgreSQL schema (search_path) "
                                                          "to keep stocksync's tables in")
    db_pool_size: int = Field(20, ge=1, description="connections kept per process (PostgreSQL)")
    host: str = Field("127.0.0.1", description="address `serve` listens on")
    port: int = Field(8000, ge=1, le=65535, description="port `serve` listens on")
    cart_ttl_seconds: int = Field(300, ge=1, description="default hold for a cart reservation")
    checkout_ttl_seconds: int = Field(1800, ge=1, description="default hold for a checkout")
    expiry_interval_seconds: float = Field(0.2, gt=0, description="how often due "
                                           "reservations are expired (worst-case delay)")
    sequencer_sweep_seconds: float = Field(0.5, gt=0, description="safety-net sweep of the "
                                           "outbox when no commit wakes the sequencer")
    channel_sweep_seconds: float = Field(1.0, gt=0, description="safety-net wake-up of "
                                         "channel workers when no commit rings them")
    channel_probe_seconds: float = Field(2.0, gt=0, description="while a channel does "
                                         "not answer, one cheap read this often tells when "
                                         "it is back (then it is pushed at once)")
    level_notice_grace_seconds: float = Field(2.0, ge=0, description="inventory notices "
                                              "from channels wait this long, so the order "
                                              "webhooks sent with them are applied first")
    reconcile_minutes: float = Field(60.0, ge=0, description="how often each channel is "
                                     "reconciled (0: never on a schedule)")
    alert_webhook_url: str | None = Field(None, description="Slack-compatible incoming "
                                          "webhook for alerts (POST {\"text\": …}) of "
                                          "tenants without their own (PUT "
                                          "/v1/settings/alerts)")
    alert_check_seconds: float = Field(15.0, gt=0, description="how often alert rules run")
    alert_lag_seconds: float = Field(60.0, gt=0, description="channel lag that alerts")
    alert_drift_ratio: float = Field(0.001, ge=0, description="reconciliation drift that "
                                     "alerts (0.001 = 0.1 %)")
    alert_pressure_ratio: float = Field(0.7, ge=0, description="reserved / on hand that "
                                        "alerts")
    alert_failing_seconds: float = Field(300.0, gt=0, description="how long a channel may "
                                         "fail before it alerts")
    smtp_host: str | None = Field(None, description="SMTP server for the daily digest")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port")
    smtp_user: str | None = Field(None, description="SMTP login (STARTTLS is used with it)")
    smtp_password: str | None = Field(None, description="SMTP password")
    digest_from: str = Field("stocksync@localhost", description="digest sender address")
    digest_to: str | None = Field(None, description="digest recipients, comma-separated, "
                                  "of tenants without their own")
    digest_hours: float = Field(24.0, gt=0, description="time between digests")
    inbox_retention_hours: int = Field(168, ge=48, description="how long applied webhook "
                                       "deliveries are kept to recognise redeliveries")
    idempotency_ttl_hours: int = Field(48, ge=24, description="how long Idempotency-Key "
                                       "results are kept")
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="larger request bodies get 413")
    metrics_token: str | None = Field(None, min_length=16, description="bearer token that "
                                      "GET /metrics requires; unset: /metrics answers 403")
    http_header_timeout_seconds: float = Field(10.0, gt=0, description="`serve` closes a "
                                               "connection whose request headers take longer")
    http_keepalive_seconds: float = Field(5.0, gt=0, description="`serve` closes a "
                                          "keep-alive connection idle this long")
    log_level: str = Field("info", description="debug, info, warning or error")
    secret_key: str | None = Field(None, description="Fernet key that encrypts channel "
                                   "credentials; if unset, kept in secret_key_file")
    secret_key_file: str = Field("stocksync.key", description="where the generated key is "
                                 "kept when secret_key is unset (created once, mode 0600)")
    agent_fresh_seconds: float = Field(30.0, gt=0, description="stock older than this "
                                       "is not `fresh` for buying agents (MCP answers, "
                                       "storefront Cache-Control max-age)")
    agent_limited_stock: int = Field(5, ge=0, description="schema.org availability is "
                                     "LimitedAvailability at or below this many units")
    storefront_rate_per_second: float = Field(20.0, gt=0, description="storefront reads "
                                              "per second allowed per publishable key")
    storefront_burst: int = Field(40, ge=1, description="storefront reads a publishable key "
                                  "may make back to back before the rate applies")
    run_workers: bool = Field(True, description="run the sequencer, expirer and channel "
                              "workers inside `serve`")
    run_channel_workers: bool = Field(True, description="with run_workers: also push to "
                                      "channels from this process")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name in cls.model_fields:
            raw = env.get(ENV_PREFIX + name.upper())
            if raw is not None and raw != "":
                values[name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                for e in exc.errors()
            )
            raise SettingsError(f"invalid settings: {problems}") from exc

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
