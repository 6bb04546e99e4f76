"""Settings come from the environment only, so the same image runs anywhere."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    database_url: str | None
    data_dir: Path
    max_body_bytes: int
    batch_max_items: int
    log_level: str
    pool_size: int

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            database_url=os.environ.get("DATABASE_URL") or None,
            data_dir=Path(os.environ.get("KUMKM_DATA_DIR", ".kumkm")),
            max_body_bytes=int(os.environ.get("KUMKM_MAX_BODY_BYTES", str(8 * 1024 * 1024))),
            batch_max_items=int(os.environ.get("KUMKM_BATCH_MAX_ITEMS", "1000")),
            log_level=os.environ.get("KUMKM_LOG_LEVEL", "INFO"),
            pool_size=int(os.environ.get("KUMKM_DB_POOL_SIZE", "40")),
        )


settings = Settings.from_env()
