"""Settings come from the environment only, so the same image runs anywhere.

`settings` is this process's Settings: frozen, and checked when made (a value that cannot be
used stops the start with the variable's name). It is made once, from the environment, when
this module is imported, and every module reads it through `settings`. Nothing changes a
setting while the service runs: `use()` puts a whole new Settings in its place, and has two
callers only, both before the values they change are read: `kumkm serve` at its start
(app.cli.serve: what it hands its workers) and the tests (override_settings in
tests/conftest.py)."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast


class SettingsError(ValueError):
    """A value from the environment that cannot be used; the message starts with its variable."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name}: must be a whole number, not {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}: must be a number of seconds, not {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingsError(f"{name}: must be a finite number of seconds, not {raw!r}")
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    # The PostgreSQL server itself when DATABASE_URL is a pooler in transaction mode (PgBouncer):
    # what a pooled server connection cannot carry goes here (LISTEN for key changes, the sync
    # streams' long transactions, migrations). Setting it also tells the service that
    # DATABASE_URL is such a pooler, so no named prepared statement is sent through it.
    direct_database_url: str | None
    data_dir: Path
    # Base backups and archived WAL of the embedded server (`kumkm backup`); best on another disk.
    backup_dir: Path | None
    max_body_bytes: int
    batch_max_items: int
    log_level: str
    pool_size: int
    # Seconds a request waits for a pooled connection before it is told 503 + Retry-After.
    pool_timeout: float
    # Group commit of single-record writes (app.infra.group_commit): at most this many group
    # statements at once (each holds one pooled connection), this many records a group, and
    # this many writes waiting for a group before the next one is answered 503.
    ingest_groups: int
    ingest_group_max: int
    ingest_queue_max: int
    # Seconds to connect to the database (all hosts of a multi-host URL together) before a
    # request is told 503: a host that does not answer never holds a request for long.
    connect_timeout: float
    # Sync streams (feed pages, snapshots) hold a connection for as long as their client reads,
    # so they draw on a pool of their own, bounded overall and per key: they can never take the
    # connections the request path needs.
    streams_max: int
    streams_per_key: int
    stream_stall_seconds: float
    # Where `kumkm serve` binds (passed to its workers): /metrics stays closed on a non-loopback
    # address unless it has a token or is opened on purpose.
    bind_host: str
    metrics_token: str | None
    metrics_public: bool
    # `kumkm serve` defaults (its options override them).
    host: str
    port: int
    workers: int
    # JSON log lines at this level; set by `kumkm serve` for its workers.
    json_logs: str | None
    # The parent (`kumkm serve`) has migrated already: workers skip it.
    skip_migrate: bool
    # Snapshot streaming: parallel range readers and the rows each range holds.
    sync_parallel: int
    sync_range_rows: int
    # The key `kumkm sync pull` uses when --key is not given (kept out of shell history).
    sync_key: str | None
    # Set by prometheus_client's multiprocess mode (several workers share counters there).
    prometheus_multiproc_dir: str | None
    # Reports (capaian, agregat, indikator capaian, the snapshot) may read hot standbys: one or
    # more hosts in one URL (docs/replicas.md). A standby further behind the primary than
    # replica_max_lag seconds, or unreachable, is passed over for the primary.
    database_replica_url: str | None
    replica_max_lag: float
    replica_pool_size: int
    # The address clients reach the service at (e.g. https://kumkm.example.go.id/kumkm), for
    # links the service writes (the OpenRosa formList): never the request's Host header, which
    # a client chooses.
    public_url: str | None
    # The HTTP server's own bounds (app.web.server), per process: the request line plus all
    # headers, the seconds a client may take to send them, the seconds an idle keep-alive
    # connection stays open, and the open connections beyond which a new one gets 503.
    max_header_bytes: int
    header_timeout: float
    keepalive_timeout: float
    max_connections: int
    # The registry's background linker (app.registry.linker, docs/registry.md "How the linker
    # runs"): while the service is busy with requests it waits, but takes a batch at least
    # every linker_yield_seconds; its PostgreSQL backend runs at this nice value when it is a
    # process of this host and user (the embedded server), 0 to leave it alone.
    linker_yield_seconds: float
    linker_nice: int

    # The map (GET /api/v1/kampanye/titik, docs/kampanye.md "Peta"): above this many points in
    # the asked area the answer is grid clusters, else pages of at most this many points.
    map_max_points: int
    # Basemap tiles under the map: an http(s) URL template with {z}, {x} and {y} on one host
    # (its origin joins the pages' CSP img-src), and the attribution its provider requires.
    # Unset: no tiles, the points over a plain grid.
    map_tile_url: str | None
    map_tile_attribution: str

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            direct_database_url=os.environ.get("KUMKM_DIRECT_DATABASE_URL") or None,
            data_dir=Path(os.environ.get("KUMKM_DATA_DIR", ".kumkm")),
            backup_dir=Path(os.environ["KUMKM_BACKUP_DIR"]) if os.environ.get("KUMKM_BACKUP_DIR") else None,
            max_body_bytes=_int("KUMKM_MAX_BODY_BYTES", 8 * 1024 * 1024),
            batch_max_items=_int("KUMKM_BATCH_MAX_ITEMS", 1000),
            log_level=os.environ.get("KUMKM_LOG_LEVEL", "INFO"),
            pool_size=_int("KUMKM_DB_POOL_SIZE", 40),
            pool_timeout=_float("KUMKM_DB_POOL_TIMEOUT", 5.0),
            ingest_groups=_int("KUMKM_INGEST_GROUPS", 4),
            ingest_group_max=_int("KUMKM_INGEST_GROUP_MAX", 64),
            ingest_queue_max=_int("KUMKM_INGEST_QUEUE_MAX", 2000),
            connect_timeout=_float("KUMKM_DB_CONNECT_TIMEOUT", 5.0),
            streams_max=_int("KUMKM_STREAMS_MAX", 16),
            streams_per_key=_int("KUMKM_STREAMS_PER_KEY", 2),
            stream_stall_seconds=_float("KUMKM_STREAM_STALL_SECONDS", 60.0),
            bind_host=os.environ.get("KUMKM_BIND_HOST", "127.0.0.1"),
            metrics_token=os.environ.get("KUMKM_METRICS_TOKEN") or None,
            metrics_public=os.environ.get("KUMKM_METRICS_PUBLIC", "") in ("1", "true", "yes"),
            host=os.environ.get("KUMKM_HOST", "127.0.0.1"),
            port=_int("KUMKM_PORT", 8000),
            workers=_int("KUMKM_WORKERS", 1),
            json_logs=os.environ.get("KUMKM_JSON_LOGS") or None,
            skip_migrate=bool(os.environ.get("KUMKM_SKIP_MIGRATE")),
            sync_parallel=_int("KUMKM_SYNC_PARALLEL", 2),
            sync_range_rows=_int("KUMKM_SYNC_RANGE_ROWS", 20000),
            sync_key=os.environ.get("KUMKM_SYNC_KEY") or None,
            prometheus_multiproc_dir=os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None,
            database_replica_url=os.environ.get("DATABASE_REPLICA_URL") or None,
            replica_max_lag=_float("KUMKM_REPLICA_MAX_LAG_SECONDS", 5.0),
            replica_pool_size=_int("KUMKM_REPLICA_POOL_SIZE", 20),
            public_url=(os.environ.get("KUMKM_PUBLIC_URL") or "").rstrip("/") or None,
            max_header_bytes=_int("KUMKM_MAX_HEADER_BYTES", 64 * 1024),
            header_timeout=_float("KUMKM_HEADER_TIMEOUT_SECONDS", 10.0),
            keepalive_timeout=_float("KUMKM_KEEPALIVE_SECONDS", 5.0),
            max_connections=_int("KUMKM_MAX_CONNECTIONS", 2048),
            linker_yield_seconds=_float("KUMKM_LINKER_YIELD_SECONDS", 5.0),
            linker_nice=_int("KUMKM_LINKER_NICE", 10),
            map_max_points=_int("KUMKM_MAP_MAX_POINTS", 2000),
            map_tile_url=os.environ.get("KUMKM_MAP_TILE_URL", "").strip() or None,
            map_tile_attribution=os.environ.get("KUMKM_MAP_TILE_ATTRIBUTION", "").strip(),
        )

    @property
    def metrics_open(self) -> bool:
        """Whether /metrics answers without a token."""
        return self.metrics_token is None and (self.metrics_public or is_loopback(self.bind_host))

    def __post_init__(self) -> None:
        for name, (variable, least) in _LEAST.items():
            value = getattr(self, name)
            if value < least:
                raise SettingsError(f"{variable}: must be at least {least}, not {value}")
        for name, variable in _SECONDS.items():
            if not getattr(self, name) > 0:
                raise SettingsError(f"{variable}: must be more than 0 seconds, not {getattr(self, name)}")
        if not 0 <= self.linker_nice <= 19:
            raise SettingsError(f"KUMKM_LINKER_NICE: must be a nice value from 0 to 19, not {self.linker_nice}")
        if not 1 <= self.port <= 65535:
            raise SettingsError(f"KUMKM_PORT: must be a TCP port (1 to 65535), not {self.port}")
        if self.map_tile_url is not None:
            tile_origin(self.map_tile_url)

    @property
    def map_tile_origin(self) -> str | None:
        """The origin the basemap tiles come from (for the pages' CSP), or None without tiles."""
        return None if self.map_tile_url is None else tile_origin(self.map_tile_url)


_TILE_URL = re.compile(r"^(https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?)/[^\s'\"<>]*$")


def tile_origin(url: str) -> str:
    """The scheme, host and port of a basemap tile URL template, which must be http(s) on one
    host (no {s} subdomains: the CSP names one origin) and hold {z}, {x} and {y}."""
    m = _TILE_URL.match(url)
    if m is None or any(p not in url for p in ("{z}", "{x}", "{y}")) or "{s}" in url:
        raise SettingsError(
            f"KUMKM_MAP_TILE_URL: must be an http(s) URL on one host with {{z}}, {{x}} and {{y}} "
            f"(e.g. https://tiles.example.go.id/{{z}}/{{x}}/{{y}}.png), not {url!r}"
        )
    return m.group(1)


# The least value each count may take, by field, with the variable that sets it (for the message).
# streams_max may be 0: no sync streams at all.
_LEAST: dict[str, tuple[str, int]] = {
    "max_body_bytes": ("KUMKM_MAX_BODY_BYTES", 1),
    "batch_max_items": ("KUMKM_BATCH_MAX_ITEMS", 1),
    "pool_size": ("KUMKM_DB_POOL_SIZE", 1),
    "ingest_groups": ("KUMKM_INGEST_GROUPS", 1),
    "ingest_group_max": ("KUMKM_INGEST_GROUP_MAX", 1),
    "ingest_queue_max": ("KUMKM_INGEST_QUEUE_MAX", 1),
    "streams_max": ("KUMKM_STREAMS_MAX", 0),
    "streams_per_key": ("KUMKM_STREAMS_PER_KEY", 1),
    "workers": ("KUMKM_WORKERS", 1),
    "sync_parallel": ("KUMKM_SYNC_PARALLEL", 1),
    "sync_range_rows": ("KUMKM_SYNC_RANGE_ROWS", 1),
    "replica_pool_size": ("KUMKM_REPLICA_POOL_SIZE", 1),
    "max_header_bytes": ("KUMKM_MAX_HEADER_BYTES", 1),
    "max_connections": ("KUMKM_MAX_CONNECTIONS", 1),
    "map_max_points": ("KUMKM_MAP_MAX_POINTS", 1),
}
# Waits and bounds in seconds, which must be more than none.
_SECONDS: dict[str, str] = {
    "pool_timeout": "KUMKM_DB_POOL_TIMEOUT",
    "connect_timeout": "KUMKM_DB_CONNECT_TIMEOUT",
    "stream_stall_seconds": "KUMKM_STREAM_STALL_SECONDS",
    "replica_max_lag": "KUMKM_REPLICA_MAX_LAG_SECONDS",
    "header_timeout": "KUMKM_HEADER_TIMEOUT_SECONDS",
    "keepalive_timeout": "KUMKM_KEEPALIVE_SECONDS",
    "linker_yield_seconds": "KUMKM_LINKER_YIELD_SECONDS",
}

_current = Settings.from_env()


def current() -> Settings:
    """This process's Settings itself (e.g. for dataclasses.replace)."""
    return _current


def use(new: Settings) -> Settings:
    """Make `new` this process's settings; returns the ones it replaces. For `kumkm serve`'s
    start-up and the tests only (see the module's docstring)."""
    global _current
    if type(new) is not Settings:  # not isinstance: `settings` itself passes for one, and would loop
        raise TypeError(f"use() takes a Settings, not {type(new).__name__}")
    before, _current = _current, new
    return before


class _Current:
    """What `settings` is: every attribute read from the Settings use() put in place last, so
    that the modules that imported `settings` at their start all see the same, whole one."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        return getattr(_current, name)

    def __setattr__(self, name: str, value: object) -> None:
        raise dataclasses.FrozenInstanceError(
            f"cannot assign to field {name!r}: settings are made whole (app.core.settings.use), never changed one by one"
        )

    def __repr__(self) -> str:
        return repr(_current)


settings = cast(Settings, _Current())
