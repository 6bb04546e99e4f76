"""Targets (with every revision kept) and the capaian pendataan table built on them (its CSV
and workbook layouts: app.targets.export)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import orjson
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import NOT_FOUND
from app.infra import db, replicas
from app.record.reference import (
    KODE_PATTERN,
    check_periode,
    check_wilayah,
    get_index,
    invalid,
    known_periode,
    today_wib,
)
from app.reporting.reports import persen, rasio
from app.security.policy import authorize
from app.security.principal import Principal
from app.targets import queries
from app.targets.schemas import TINGKAT

_TANPA = {3: "(tanpa kecamatan)", 4: "(tanpa desa/kelurahan)"}


# ---------------------------------------------------------------- targets


def _revisi(row) -> dict:
    return {
        "revisi": row.revisi,
        "target": row.target,
        "dasar_hukum": row.dasar_hukum,
        "berlaku_mulai": row.berlaku_mulai,
        "batas_waktu": row.batas_waktu,
        "dibuat_oleh": row.dibuat_oleh,
        "dibuat_pada": row.dibuat_pada,
    }


def in_force(riwayat: list[dict], as_of: dt.date) -> dict | None:
    """The latest berlaku_mulai on or before as_of; of two revisions with the same date, the
    later entry (the correction) wins."""
    best = None
    for r in riwayat:
        if r["berlaku_mulai"] <= as_of and (best is None or (r["berlaku_mulai"], r["revisi"]) > (best["berlaku_mulai"], best["revisi"])):
            best = r
    return best


async def _history(conn, periode: str, kode: str) -> list[dict]:
    rows = (await conn.execute(queries.HISTORY, {"periode": periode, "kode": kode})).all()
    return [_revisi(r) for r in rows]


def _target_out(periode: str, kode: str, riwayat: list[dict], as_of: dt.date, nama: str) -> dict:
    return {
        "periode": periode,
        "kode_wilayah": kode,
        "nama": nama,
        "as_of": as_of,
        "berlaku": in_force(riwayat, as_of),
        "riwayat": sorted(riwayat, key=lambda r: (r["berlaku_mulai"], r["revisi"])),
    }


async def set_target(conn: AsyncConnection, periode: str, kode: str, body: dict, principal: Principal) -> tuple[bool, dict]:
    """Add a revision unless the latest entry with the same berlaku_mulai already says the
    same, so repeating a PUT is harmless. Returns (created, target document). Runs in the
    caller's transaction (the route's unit of work): the lock is held until it commits."""
    await check_periode(periode)
    await check_wilayah(kode, "kode_wilayah")
    authorize(principal, "target.write", kode)  # an admin key sets any wilayah's target
    if body.get("batas_waktu") is not None and body["batas_waktu"] < body["berlaku_mulai"]:
        raise invalid("batas_waktu", f"{body['batas_waktu']} lebih awal dari berlaku_mulai {body['berlaku_mulai']}")
    # Serialise writers of one target so two identical PUTs cannot both add a revision.
    await conn.execute(queries.LOCK_TARGET, {"periode": periode, "kode": kode})
    riwayat = await _history(conn, periode, kode)
    same_day = [r for r in riwayat if r["berlaku_mulai"] == body["berlaku_mulai"]]
    latest = same_day[-1] if same_day else None
    created = not (
        latest
        and latest["target"] == body["target"]
        and latest["dasar_hukum"] == body["dasar_hukum"]
        and latest["batas_waktu"] == body.get("batas_waktu")
    )
    if created:
        await conn.execute(queries.INSERT, {"periode": periode, "kode": kode, "oleh": principal.name, **body})
        riwayat = await _history(conn, periode, kode)
    index = await get_index()
    return created, _target_out(periode, kode, riwayat, today_wib(), index.nama[kode])


async def get_target(principal: Principal, periode: str, kode: str, as_of: dt.date | None) -> dict:
    await check_periode(periode)
    await check_wilayah(kode, "kode_wilayah")
    authorize(principal, "report.read", kode)
    async with db.connect() as conn:
        riwayat = await _history(conn, periode, kode)
    if not riwayat:
        raise NOT_FOUND(f"kode_wilayah {kode} belum punya target untuk periode {periode}")
    return _target_out(periode, kode, riwayat, as_of or today_wib(), (await get_index()).nama[kode])


# ---------------------------------------------------------------- bulk import (CLI)

IMPORT_COLUMNS = ("periode", "kode_wilayah", "target", "dasar_hukum", "berlaku_mulai")
# Optional columns: a file without them imports as before (no deadline).
OPTIONAL_COLUMNS = ("batas_waktu",)


class TargetFileError(Exception):
    """A targets CSV file that cannot be imported: `errors` names every bad line (line 1 is the
    header), so the operator fixes the file in one pass; nothing of it was written."""

    def __init__(self, errors: list[str]):
        super().__init__("\n".join(errors))
        self.errors = errors


def parse_import(text_: str, known_periode: set[str], wilayah_exists) -> list[dict]:
    """Validate a whole CSV file; raise TargetFileError listing every bad line (line 1 is the
    header). Semicolons are accepted as separator too: Indonesian spreadsheets write them."""
    first = text_.split("\n", 1)[0]
    delimiter = ";" if ";" in first and "," not in first else ","
    reader = csv.reader(io.StringIO(text_), delimiter=delimiter)
    errors: list[str] = []
    header = next(reader, None)
    if header is None:
        raise TargetFileError(["line 1: the file is empty; expected header " + ",".join(IMPORT_COLUMNS)])
    header = [h.strip().lower() for h in header]
    missing = [c for c in IMPORT_COLUMNS if c not in header]
    unknown = [h for h in header if h not in IMPORT_COLUMNS + OPTIONAL_COLUMNS]
    if missing or unknown or len(set(header)) != len(header):
        raise TargetFileError(
            [
                f"line 1: header must be {','.join(IMPORT_COLUMNS)}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(unknown)}" if unknown else "")
            ]
        )
    rows: list[dict] = []
    seen: dict[tuple, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            errors.append(f"line {line}: expected {len(header)} columns, got {len(cells)}")
            continue
        raw = {h: c.strip() for h, c in zip(header, cells, strict=False)}
        bad = []
        if raw["periode"] not in known_periode:
            bad.append(f"periode: unknown periode {raw['periode']!r}")
        if not (KODE_PATTERN.match(raw["kode_wilayah"]) and wilayah_exists(raw["kode_wilayah"])):
            bad.append(f"kode_wilayah: {raw['kode_wilayah']!r} is not an existing wilayah code")
        if not re.fullmatch(r"[0-9]{1,10}", raw["target"]) or int(raw["target"]) > 1_000_000_000:
            bad.append(f"target: {raw['target']!r} is not a whole number from 0 to 1000000000 (digits only, no thousands separator)")
        if not raw["dasar_hukum"] or len(raw["dasar_hukum"]) > 200:
            bad.append("dasar_hukum: required, at most 200 characters")
        try:
            berlaku = dt.date.fromisoformat(raw["berlaku_mulai"])
            if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw["berlaku_mulai"]):
                raise ValueError
        except ValueError:
            bad.append(f"berlaku_mulai: {raw['berlaku_mulai']!r} is not a date YYYY-MM-DD")
            berlaku = None
        batas = None
        if raw.get("batas_waktu"):
            try:
                if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw["batas_waktu"]):
                    raise ValueError
                batas = dt.date.fromisoformat(raw["batas_waktu"])
            except ValueError:
                bad.append(f"batas_waktu: {raw['batas_waktu']!r} is not a date YYYY-MM-DD (or leave it empty: no deadline)")
            else:
                if berlaku is not None and batas < berlaku:
                    bad.append(f"batas_waktu: {batas} is before berlaku_mulai {berlaku}")
        if bad:
            errors.extend(f"line {line}: {b}" for b in bad)
            continue
        key = (raw["periode"], raw["kode_wilayah"], berlaku)
        if key in seen:
            errors.append(f"line {line}: periode {key[0]}, wilayah {key[1]}, berlaku_mulai {berlaku} is already given on line {seen[key]}")
            continue
        seen[key] = line
        rows.append(
            {
                "periode": raw["periode"],
                "kode_wilayah": raw["kode_wilayah"],
                "target": int(raw["target"]),
                "dasar_hukum": raw["dasar_hukum"],
                "berlaku_mulai": berlaku.isoformat(),
                "batas_waktu": batas.isoformat() if batas else None,
            }
        )
    if errors:
        raise TargetFileError(errors)
    if not rows:
        raise TargetFileError(["line 2: no target rows after the header"])
    return rows


async def import_csv(conn: AsyncConnection, text_: str, oleh: str) -> tuple[int, int]:
    """All or nothing: every line is checked before anything is written, then one statement.
    Runs in the caller's transaction (`kumkm targets import` opens it), which holds the import
    lock until it commits. Returns (revisions added, rows already present)."""
    known = {r[0] for r in (await conn.execute(queries.KNOWN_PERIODE)).all()}
    index = await get_index()
    rows = parse_import(text_, known, index.exists)
    await conn.execute(queries.LOCK_IMPORT)
    added = (await conn.execute(queries.INSERT_MANY, {"rows": orjson.dumps(rows).decode(), "oleh": oleh})).scalar_one()
    return added, len(rows) - added


# ---------------------------------------------------------------- which periode has data


async def periode_data(principal: Principal) -> dict:
    """Every known periode with the records inside the key's wilayah, and the newest that has
    any: a page opening on the running year (2026) would show nothing while the data is of
    2022, so the pages ask here where the data is."""
    scope = principal.kode_wilayah
    async with db.connect() as conn:
        counts = {r.periode: int(r.n) for r in await conn.execute(queries.DATA_PER_PERIODE, {"scope": scope})}
    known = sorted(await known_periode())
    with_data = [p for p in known if counts.get(p)]
    index = await get_index()
    return {
        "wilayah": {"kode": scope, "nama": index.nama[scope], "level": index.level[scope]} if scope else None,
        "items": [{"periode": p, "jumlah_data": counts.get(p, 0)} for p in known],
        "terbaru_dengan_data": with_data[-1] if with_data else None,
    }


# ---------------------------------------------------------------- capaian pendataan


def _row(kode: str | None, nama: str, target: int | None, belum: int, diterima: int, ditolak: int) -> dict:
    masuk = belum + diterima + ditolak
    return {
        "kode": kode,
        "nama": nama,
        "target": target,
        "masuk": masuk,
        "belum_diverifikasi": belum,
        "diterima": diterima,
        "ditolak": ditolak,
        "total_terverifikasi": diterima + ditolak,
        "masuk_vs_target": rasio(masuk, target),
        "diterima_vs_target": rasio(diterima, target),
        "diterima_vs_masuk": rasio(diterima, masuk),
        "persen": {
            "masuk_vs_target": persen(masuk, target),
            "diterima_vs_target": persen(diterima, target),
            "diterima_vs_masuk": persen(diterima, masuk),
        },
    }


async def capaian(principal: Principal, periode: str, wilayah: str | None, as_of: dt.date | None, tingkat: str | None) -> dict:
    await check_periode(periode)
    area_level = 0 if wilayah is None else await check_wilayah(wilayah, "wilayah")
    authorize(principal, "report.read", wilayah, field="wilayah", nation_if_none=True)
    allowed = queries.ROW_LEVELS[area_level]
    if not allowed:
        raise invalid("wilayah", "desa/kelurahan tidak punya wilayah di bawahnya; minta kecamatannya")
    row_level = allowed[0] if tingkat is None else TINGKAT.index(tingkat) + 1
    if row_level not in allowed:
        raise invalid("tingkat", f"untuk wilayah ini harus salah satu dari: {', '.join(TINGKAT[lv - 1] for lv in allowed)}")
    as_of = as_of or today_wib()
    params = {"periode": periode, "as_of": as_of, "area": wilayah or "", "kabkota": wilayah[:5] if wilayah else ""}
    index = await get_index()
    # A report: a standby may answer (app.infra.replicas); the response says how fresh it is.
    async with replicas.connect() as conn:
        rows = (await conn.execute(queries.CAPAIAN[(area_level, row_level)], params)).all()
        induk = await _history(conn, periode, wilayah) if wilayah else []
    out_rows = []
    for r in rows:
        nama = r.nama or (index.nama.get(r.kode) if r.kode else None) or _TANPA.get(row_level, "(tanpa wilayah)")
        out_rows.append(_row(r.kode, nama, r.target, r.belum_diverifikasi, r.diterima, r.ditolak))
    targets = [r["target"] for r in out_rows if r["target"] is not None]
    own = in_force(induk, as_of)
    # The Jumlah row's target: the sum of the rows' targets when any row has one (the
    # allocations, as the printed tables add them up); else the wilayah's own target, so a
    # kabupaten with a target of its own but none per kecamatan still sees its capaian.
    if targets:
        target_total, dari = sum(targets), "baris"
    elif own is not None:
        target_total, dari = own["target"], "wilayah"
    else:
        target_total, dari = None, None
    jumlah = _row(
        None,
        "Jumlah",
        target_total,
        sum(r["belum_diverifikasi"] for r in out_rows),
        sum(r["diterima"] for r in out_rows),
        sum(r["ditolak"] for r in out_rows),
    )
    return {
        "periode": periode,
        "wilayah": {"kode": wilayah, "nama": index.nama[wilayah], "level": area_level} if wilayah else None,
        "tingkat": TINGKAT[row_level - 1],
        "as_of": as_of,
        "target_wilayah": own,
        "rows": out_rows,
        "jumlah": jumlah,
        "target_jumlah_dari": dari,
        "rows_tanpa_target": sum(1 for r in out_rows if r["target"] is None),
        # True only when the Jumlah ratios really compare records with a target that does not
        # cover them: rows' targets are summed and a row without one has records.
        "target_sebagian": dari == "baris" and any(r["target"] is None and r["masuk"] for r in out_rows),
    }
