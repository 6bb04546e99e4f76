"""Prometheus metrics. With several uvicorn workers, `kumkm serve` sets
PROMETHEUS_MULTIPROC_DIR so a scrape sums every worker."""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from app.core.settings import settings

REQUESTS = Counter("kumkm_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"])
LATENCY = Histogram(
    "kumkm_http_request_duration_seconds",
    "HTTP request latency by route",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
INGEST_GROUP = Histogram(
    "kumkm_ingest_group_records",
    "records a group statement of single-record writes carried (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128),
)
INGESTED = Counter("kumkm_ingest_records_total", "records posted, by outcome", ["outcome"])
SYNCED = Counter("kumkm_sync_records_total", "records streamed to sync consumers", ["endpoint"])
DECISIONS = Counter("kumkm_verifikasi_total", "verification decisions, by outcome", ["outcome"])
RECORDS = Gauge("kumkm_records", "records by verification state (from the status counters)", ["status"], multiprocess_mode="mostrecent")
LINKER_QUEUE = Gauge(
    "kumkm_linker_antrian", "records waiting for the registry linker (accepted or reversed, not yet linked)", multiprocess_mode="mostrecent"
)
LINKER_LAG = Gauge(
    "kumkm_linker_lag_seconds", "how long the oldest record waiting for the registry linker has waited", multiprocess_mode="mostrecent"
)
POOL_SIZE = Gauge("kumkm_db_pool_size", "database connections held by the pool", multiprocess_mode="livesum")
POOL_IN_USE = Gauge("kumkm_db_pool_checked_out", "database connections in use", multiprocess_mode="livesum")


def render() -> tuple[bytes, str]:
    if settings.prometheus_multiproc_dir:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
