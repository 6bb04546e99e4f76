"""The counts' one trigger on submissions (migration 0019_satu_pemicu) with parts left out, for
the benches that price one kept table: each installs `tanpa(part)` around the statements it
times and puts `UTUH` back (CREATE OR REPLACE of the one function; the triggers stay)."""

from __future__ import annotations

import importlib

MIGRATION = importlib.import_module("migrations.versions.0019_satu_pemicu")
UTUH = MIGRATION.satu_pemicu()


def tanpa(*parts: str) -> str:
    """submissions_pemicu() keeping every table but `parts` (rekap_status, rekap_harian, kinerja,
    antrian, tolak)."""
    unknown = set(parts) - set(MIGRATION.BAGIAN)
    if unknown:
        raise ValueError(f"no such part: {sorted(unknown)}")
    return MIGRATION.satu_pemicu(tuple(p for p in MIGRATION.BAGIAN if p not in parts))
