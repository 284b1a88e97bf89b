"""Prometheus metrics. Labels name a tenant id and a channel code, never a SKU, so GET /metrics
needs STOCKSYNC_METRICS_TOKEN (api/app.py)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                   10.0, 30.0, 60.0, 300.0)

CHANNEL_LAG = Gauge("stocksync_channel_lag_seconds",
                    "how long the oldest change the channel should show has waited "
                    "(held and parked SKUs excluded; see ChannelStatus.lag_since)",
                    ["tenant", "channel"])
CHANNEL_BACKLOG = Gauge("stocksync_channel_backlog",
                        "SKUs whose wanted quantity the channel has not acknowledged",
                        ["tenant", "channel"])
PROPAGATION = Histogram("stocksync_propagation_seconds",
                        "event recorded -> quantity acknowledged by the channel",
                        ["tenant", "channel"], buckets=LATENCY_BUCKETS)
CHANNEL_API = Histogram("stocksync_channel_api_seconds", "duration of channel API calls",
                        ["tenant", "channel", "outcome"], buckets=LATENCY_BUCKETS)
CHANNEL_ERRORS = Counter("stocksync_channel_api_errors_total", "failed channel API calls",
                         ["tenant", "channel", "error"])
PUSHES = Counter("stocksync_channel_pushes_total", "quantities acknowledged by channels",
                 ["tenant", "channel"])
WEBHOOKS = Counter("stocksync_webhooks_total", "webhook deliveries received, by outcome",
                   ["kind", "outcome"])
INGESTED = Counter("stocksync_ingested_total", "stored deliveries processed, by outcome",
                   ["kind", "outcome"])
INGEST_SECONDS = Histogram("stocksync_ingest_seconds", "time to apply one stored delivery",
                           buckets=LATENCY_BUCKETS)
DRIFT = Gauge("stocksync_channel_drift_ratio",
              "share of compared SKUs whose channel quantity was wrong at the last "
              "reconciliation", ["tenant", "channel"])
RESERVATIONS = Counter("stocksync_reservations_total", "reservation requests, by outcome",
                       ["outcome"])
RESERVATION_PRESSURE = Gauge("stocksync_reservation_pressure",
                             "reserved / on_hand over all of a tenant's stock", ["tenant"])
OVERSELLS_PREVENTED = Counter("stocksync_oversells_prevented_total",
                              "sales and holds refused because they would oversell")
ALERTS = Counter("stocksync_alerts_total", "alert notifications sent", ["rule", "state"])
ORDER_POLLS = Counter("stocksync_order_polls_total", "order polls of channels, by outcome",
                      ["tenant", "channel", "outcome"])
CHANNEL_SALE_DELAY = Histogram("stocksync_channel_sale_delay_seconds",
                               "sale made at a channel (its order time) -> counted in the "
                               "ledger", ["kind"], buckets=LATENCY_BUCKETS)
CHANNEL_STATE = Gauge("stocksync_channel_state",
                      "1 for the channel's current state (healthy, degraded, failing, paused), "
                      "0 for the others", ["tenant", "channel", "state"])
CHANNEL_SKUS_WAITING = Gauge("stocksync_channel_skus_waiting",
                             "unacknowledged SKUs not counted as lag: held on purpose or "
                             "parked (refused by the channel)", ["tenant", "channel", "reason"])
WEBHOOKS_REFUSED = Counter("stocksync_channel_webhooks_refused_total",
                           "webhook deliveries refused for a wrong signature, per channel",
                           ["tenant", "channel"])
# The event stream on NATS JetStream (stocksync.stream).
STREAM_PUBLISHED = Counter("stocksync_stream_published_total",
                           "events acknowledged by JetStream (duplicates included)", ["tenant"])
STREAM_PUBLISH_SECONDS = Histogram("stocksync_stream_publish_seconds",
                                   "event committed -> acknowledged by JetStream",
                                   buckets=LATENCY_BUCKETS)
STREAM_PUBLISH_FAILURES = Counter("stocksync_stream_publish_failures_total",
                                  "publish rounds that stopped on an error (NATS down, "
                                  "timeout); the cursor stays and the round is retried")
STREAM_PUBLISH_LAG = Gauge("stocksync_stream_publish_lag_seconds",
                           "how long the oldest event not yet published has been committed "
                           "(0: the stream has the whole log)", ["tenant"])
STREAM_PUBLISH_PENDING = Gauge("stocksync_stream_publish_pending",
                               "events committed and not yet published", ["tenant"])
STREAM_CONSUMER_PENDING = Gauge("stocksync_stream_consumer_pending",
                                "messages of the stream a durable consumer has not "
                                "acknowledged yet", ["tenant", "consumer"])
STREAM_CONSUMER_AGE = Gauge("stocksync_stream_consumer_age_seconds",
                            "how long the oldest message a durable consumer has not "
                            "acknowledged has been committed (0: none)", ["tenant", "consumer"])
LISTING_DRAFTS = Counter("stocksync_listing_drafts_total",
                         "AI listing drafts written, by outcome: rules (no model), "
                         "llm_accepted, llm_repaired, fallback (the rules' title replaced "
                         "the model's)", ["tenant", "channel", "outcome"])
