"""The CSV and workbook layouts of a batch's answer and of the partners' audit."""

from __future__ import annotations

from typing import Any

from app.mitra.service import PROFIL, Hasil
from app.reporting.reports import CsvCells
from app.reporting.xlsx import Column, Table

HASIL_HEADER = ["baris", "tujuan", "hasil", "alasan", *PROFIL]


def hasil_rows(baris: list[int], hasil: list[Hasil]) -> list[list[Any]]:
    """One row per row of the file, in its order: its line in the file, the purpose, the
    outcome, the reason of a refusal, and the profile of what was found (empty otherwise).
    The question itself is not repeated: a NIK or a name never leaves in an answer."""
    return [
        [b, h.tujuan, h.hasil, h.alasan or "", *((h.profil or {}).get(k) or "" for k in PROFIL)] for b, h in zip(baris, hasil, strict=True)
    ]


def hasil_table(nama: str, baris: list[int], hasil: list[Hasil]) -> Table:
    columns = [Column("baris", "angka", width=8), *(Column(h, "text") for h in HASIL_HEADER[1:])]
    counts = {k: sum(1 for h in hasil if h.hasil == k) for k in ("terdaftar", "tidak_terdaftar", "ditolak")}
    return Table(
        title="Hasil cek KUMKM",
        lines=[f"Mitra: {nama}", ", ".join(f"{k}: {v}" for k, v in counts.items())],
        columns=columns,
        rows=hasil_rows(baris, hasil),
        notes=["Tanpa nama, NIK, alamat dan telepon (docs/mitra.md)."],
        sheet="Hasil",
    )


AUDIT_HEADER = ["hari", "identity_id", "nama", "tujuan", "terdaftar", "tidak_terdaftar", "ditolak", "jumlah"]


def audit_csv(doc: dict[str, Any], cells: CsvCells) -> tuple[list[str], list[list[Any]]]:
    rows = [
        [
            i["hari"].isoformat(),
            i["identity_id"],
            i["nama"] or "",
            i["tujuan"],
            cells.angka(i["terdaftar"]),
            cells.angka(i["tidak_terdaftar"]),
            cells.angka(i["ditolak"]),
            cells.angka(i["jumlah"]),
        ]
        for i in doc["items"]
    ]
    return AUDIT_HEADER, rows


def audit_xlsx(doc: dict[str, Any]) -> Table:
    columns = [
        Column("Hari (WIB)", "text"),
        Column("Identitas", "angka"),
        Column("Mitra", "text"),
        Column("Tujuan", "text"),
        Column("Terdaftar", "angka", group="Cek"),
        Column("Tidak terdaftar", "angka", group="Cek"),
        Column("Ditolak", "angka", group="Cek"),
        Column("Jumlah", "angka", group="Cek"),
    ]
    rows = [
        [
            i["hari"].isoformat(),
            i["identity_id"],
            i["nama"] or "",
            i["tujuan"],
            i["terdaftar"],
            i["tidak_terdaftar"],
            i["ditolak"],
            i["jumlah"],
        ]
        for i in doc["items"]
    ]
    return Table(
        title="Cek KUMKM oleh mitra per tujuan per hari",
        lines=[f"{doc['dari'].isoformat()} s.d. {doc['sampai'].isoformat()} (WIB)"],
        columns=columns,
        rows=rows,
        sheet="Audit mitra",
    )
