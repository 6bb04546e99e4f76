"""Verification: keputusan (a verifikator's decision on a record), koreksi (the enumerator's
correction of a ditolak record), the verifikator's antrian and rekap, and a record's riwayat
and versi. One module each; the public names are re-exported here, so callers keep
`from app.verification import service`.

Every function that touches the database takes the connection of its caller's unit of work
(the route's: app.verification.router) and opens none of its own."""

from __future__ import annotations

from app.verification.service.antrian import CURSOR, Filter, antrian_page, kabkota_of, rekap
from app.verification.service.keputusan import (
    Keputusan,
    KeputusanOutcome,
    decide,
    parse_items,
    rule_errors,
)
from app.verification.service.koreksi import IDENTITY_FIELDS, correct
from app.verification.service.riwayat import record_head, riwayat_list, versi_list, versi_one

__all__ = [
    "CURSOR",
    "Filter",
    "antrian_page",
    "kabkota_of",
    "rekap",
    "Keputusan",
    "KeputusanOutcome",
    "decide",
    "parse_items",
    "rule_errors",
    "IDENTITY_FIELDS",
    "correct",
    "record_head",
    "riwayat_list",
    "versi_list",
    "versi_one",
]
