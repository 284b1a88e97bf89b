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
    nats_url: str | None = Field(None, description="NATS server with JetStream "
                                 "(nats://user:password@host:4222); set: every sequenced "
                                 "event is published to the stream (see stocksync.stream)")
    nats_stream: str = Field("STOCKSYNC", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                             description="JetStream stream name, one per installation")
    nats_subject_prefix: str = Field("stocksync", pattern=r"^[A-Za-z0-9_-]{1,64}$",
                                     description="first subject token: "
                                     "<prefix>.<tenant>.<event type>")
    nats_max_age_hours: float = Field(168.0, gt=0, description="stream retention: "
                                      "messages older than this are removed")
    nats_max_bytes: int = Field(-1, ge=-1, description="stream retention: oldest messages "
                                "removed beyond this size (-1: no limit)")
    nats_duplicate_window_seconds: float = Field(120.0, gt=0, description="JetStream "
                                                 "deduplication window (Nats-Msg-Id)")
    nats_publish_batch: int = Field(500, ge=1, le=10000, description="events published "
                                    "per round before the publish cursor is stored")
    nats_channel_consumers: bool = Field(False, description="with nats_url: channel "
                                         "workers read the stream (one durable consumer "
                                         "per channel) instead of polling the database")
    alert_stream_lag_seconds: float = Field(5.0, gt=0, description="publish lag "
                                            "(committed -> published) or stream consumer "
                                            "lag that alerts")

    # Connecting stores (GET /v1/connect/{kind}): the platform apps this deployment
    # registered, and where each platform lives (change them to point at a simulator).
    public_url: str | None = Field(None, description="base URL platforms send merchants "
                                   "back to (redirect/callback URLs); unset: the URL the "
                                   "connect request came in on")
    connect_minutes: float = Field(10.0, gt=0, le=60, description="how long a store "
                                   "connection's state nonce stays valid")
    shopify_client_id: str | None = Field(None, description="Shopify app client id")
    shopify_client_secret: str | None = Field(None, description="Shopify app client secret")
    shopify_scopes: str = Field("read_inventory,write_inventory,read_products,read_orders,"
                                "read_locations", description="scopes asked for")
    shopify_admin_url: str | None = Field(None, description="where the shop's admin is "
                                          "(a simulator); unset: https://<shop>")
    ebay_client_id: str | None = Field(None, description="eBay app id (client id)")
    ebay_client_secret: str | None = Field(None, description="eBay cert id (secret)")
    ebay_ru_name: str | None = Field(None, description="eBay RuName (redirect_uri) whose "
                                     "accept URL is <public_url>/v1/connect/ebay/callback")
    ebay_auth_url: str = Field("https://auth.ebay.com", description="eBay consent host")
    ebay_api_url: str = Field("https://api.ebay.com", description="eBay API host")
    amazon_application_id: str | None = Field(None, description="SP-API application id")
    amazon_lwa_client_id: str | None = Field(None, description="LWA client id")
    amazon_lwa_client_secret: str | None = Field(None, description="LWA client secret")
    amazon_draft_app: bool = Field(False, description="the app is in draft (version=beta)")
    amazon_seller_central_url: str = Field("https://sellercentral.amazon.com",
                                           description="Seller Central (consent page)")
    amazon_lwa_token_url: str = Field("https://api.amazon.com/auth/o2/token",
                                      description="LWA token endpoint")
    amazon_endpoint: str = Field("https://sellingpartnerapi-na.amazon.com",
                                 description="SP-API endpoint of connected sellers")
    square_application_id: str | None = Field(None, description="Square application id")
    square_application_secret: str | None = Field(None, description="Square app secret")
    square_base_url: str = Field("https://connect.squareup.com", description="Square host")
    woocommerce_app_name: str = Field("stocksync", description="app name WooCommerce shows")

    # AI listings (stocksync.listings): an optional model behind any OpenAI-compatible
    # endpoint; without listing_llm_model the offline rules write every title.
    listing_llm_base_url: str | None = Field(None, description="OpenAI-compatible endpoint "
                                             "(http://127.0.0.1:8080/v1 for llama.cpp, "
                                             "http://127.0.0.1:11434/v1 for Ollama); unset: "
                                             "OpenAI's")
    listing_llm_model: str | None = Field(None, description="model that proposes titles; "
                                          "unset: titles come from the rules alone")
    listing_llm_api_key: str | None = Field(None, description="key for the endpoint "
                                            "(local servers take any)")
    listing_llm_timeout_seconds: float = Field(20.0, gt=0, description="a model answer "
                                               "slower than this falls back to the rules")
    listing_llm_concurrency: int = Field(4, ge=1, le=64, description="model calls in "
                                         "flight at once during a catalog job")
    listing_vision_model: str | None = Field(None, description="vision-capable model that "
                                             "reads material, pattern, garment type, "
                                             "neckline and sleeve length from images")
    listing_image_max_bytes: int = Field(10 * 1024 * 1024, ge=1024, description="larger "
                                         "item images are not analysed")
    listing_image_timeout_seconds: float = Field(10.0, gt=0, description="time allowed to "
                                                 "download one item image")

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
