"""Enumerators and quality (issue 31 §2; docs/kampanye.md, "Enumerators and quality").

Per enumerator (`enumerator_id`, as the records carry it) in a provinsi or kabupaten/kota and a
periode: records sent and their state, the rejection rate and reasons, the median time from
capture to arrival, days active, last seen, and three flags. The whole list is built from the
counts kept by triggers (kinerja_enumerator, rekap_status): sorting and the rejection-rate flag see
every enumerator. What needs the records themselves is read for the page shown only (at most
MAX_LIMIT enumerators), or in chunks for a download.

An enumerator key reads only itself (GET /api/v1/me/kinerja): the records its holder sent,
through any of its keys (a rotated key is the same holder, as for corrections)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from app.core import pagination
from app.core.errors import FORBIDDEN
from app.infra import db
from app.kampanye.queries import kinerja as q
from app.kampanye.service import titik
from app.record.reference import LEVEL_KABKOTA, LEVEL_PROVINSI, check_periode, check_wilayah, get_index, invalid
from app.reporting.reports import persen, rasio
from app.security.policy import authorize
from app.security.principal import Principal

# The reasons a verifikator gives for ditolak, by code, as the table's headers name them: the
# catalogue is app/verification/schemas.py's ALASAN_KODE, which a domain beside this one may
# not import (the layers contract); tests/unit/test_kinerja_aturan.py keeps the two equal.
ALASAN_KODE = {
    "data_tidak_lengkap": "Data tidak lengkap",
    "data_tidak_valid": "Data tidak valid",
    "duplikat": "Duplikat",
    "di_luar_wilayah": "Di luar wilayah",
    "bukan_kumkm": "Bukan KUMKM",
    "lainnya": "Lainnya",
}

# ---------------------------------------------------------------- the flags' rules

# rekaman_beruntun: at least BERUNTUN_MINIMAL records captured within BERUNTUN_MENIT minutes. An
# interview of PL-KUMKM (identity, owner, modal, omzet, workers) takes well over two minutes;
# five in ten minutes is two minutes each, typed rather than asked.
BERUNTUN_MINIMAL = 5
BERUNTUN_MENIT = 10
# nik_berulang: at least NIK_MINIMAL records of one enumerator with the same NIK pemilik. An
# owner may run two or three usaha; five under one NIK from one enumerator is a NIK reused.
NIK_MINIMAL = 5
# tolak_tinggi: its rejection rate above TOLAK_KALI times what its kabupaten/kota's rates give
# for its decided records, with at least TOLAK_MINIMAL_DIPUTUS decided and TOLAK_MINIMAL_DITOLAK
# ditolak (so 1 of 1, or 2 of 5, never flags).
TOLAK_KALI = 2
TOLAK_MINIMAL_DIPUTUS = 20
TOLAK_MINIMAL_DITOLAK = 5

# lokasi_luar: records outside their kabupaten/kota's bounding box, where one is loaded: the
# rule and its query are the map's (app.kampanye.service.titik, LUAR_*).

ATURAN = {
    "rekaman_beruntun": {"minimal": BERUNTUN_MINIMAL, "menit": BERUNTUN_MENIT},
    "nik_berulang": {"minimal": NIK_MINIMAL},
    "tolak_tinggi": {"kali": TOLAK_KALI, "minimal_diputus": TOLAK_MINIMAL_DIPUTUS, "minimal_ditolak": TOLAK_MINIMAL_DITOLAK},
    "lokasi_luar": titik.lokasi_luar_rule(),
}

# The most enumerators on one page, and per details statement of a download.
MAX_LIMIT = 200
DETAIL_CHUNK = 500
# From this many enumerators on, their details are read in two statements at once (_details).
DETAIL_SPLIT_MIN = 10
# The most enumerators one download holds (a provinsi has a few thousand at most).
MAX_DOWNLOAD = 20_000

# The table's cursor: the position of the next row in the table's order.
CURSOR = pagination.Keyset("kinerja.1", pagination.int_field(0, 10_000_000))


@dataclass
class _Row:
    enumerator_id: str
    # per kabupaten/kota: [belum_diverifikasi, diterima, ditolak]
    per_kabkota: dict[str, list[int]] = field(default_factory=dict)

    @cached_property
    def sums(self) -> tuple[int, int, int]:
        """Over its kabupaten/kota; read once the rows are loaded."""
        return (
            sum(v[0] for v in self.per_kabkota.values()),
            sum(v[1] for v in self.per_kabkota.values()),
            sum(v[2] for v in self.per_kabkota.values()),
        )

    def total(self, i: int) -> int:
        return self.sums[i]

    @property
    def diputus(self) -> int:
        return self.sums[1] + self.sums[2]

    def rate(self) -> Fraction | None:
        d = self.diputus
        return Fraction(self.sums[2], d) if d else None


def expected_rate(row: _Row, rates: dict[str, tuple[int, int]]) -> Fraction | None:
    """The rate its decided records would have at their kabupaten/kota's own rates: the sum over
    its kabupaten/kota of its decided records there times that kabupaten/kota's
    ditolak / (diterima + ditolak), over its decided records."""
    decided = row.diputus
    if not decided:
        return None
    expected = Fraction(0)
    for kab, (_, d, t) in row.per_kabkota.items():
        kd, kt = rates.get(kab, (0, 0))
        if kd + kt:
            expected += Fraction((d + t) * kt, kd + kt)
    return expected / decided


def tolak_tinggi(row: _Row, expected: Fraction | None) -> bool:
    rate = row.rate()
    return (
        rate is not None
        and expected is not None
        and row.diputus >= TOLAK_MINIMAL_DIPUTUS
        and row.total(2) >= TOLAK_MINIMAL_DITOLAK
        and rate > TOLAK_KALI * expected
    )


def flag_tolak_tinggi(row: _Row, rates: dict[str, tuple[int, int]]) -> bool:
    """tolak_tinggi(row, expected_rate(row, rates)), in integers for the common enumerator of
    one kabupaten/kota (its rate t/D above twice the kabupaten's kt/(kd+kt) is
    t * (kd+kt) > 2 * kt * D): a provinsi's hundreds of enumerators are judged on every request."""
    b, d, t = row.sums
    if d + t < TOLAK_MINIMAL_DIPUTUS or t < TOLAK_MINIMAL_DITOLAK:
        return False
    if len(row.per_kabkota) == 1:
        (kab,) = row.per_kabkota
        kd, kt = rates.get(kab, (0, 0))
        # no decision counted there (never so: its own are): expected 0, and t > 0 is above it
        return t * (kd + kt) > TOLAK_KALI * kt * (d + t) if kd + kt else True
    return tolak_tinggi(row, expected_rate(row, rates))


def _fraction_text(f: Fraction | None) -> str | None:
    return None if f is None else rasio(f.numerator, f.denominator)


def _fraction_persen(f: Fraction | None) -> str | None:
    return None if f is None else persen(f.numerator, f.denominator)


def _order(rows: list[_Row], urut: str) -> list[_Row]:
    if urut == "enumerator_id":
        return sorted(rows, key=lambda r: r.enumerator_id)
    if urut == "masuk":
        return sorted(rows, key=lambda r: (-sum(r.total(i) for i in range(3)), r.enumerator_id))

    # Highest rate first; those without a decision last. The rate as a float orders exactly:
    # two different fractions of counts below 2**26 differ by more than 1 / 2**52, more than a
    # double's rounding of either, and rounding keeps the order of what it rounds.
    def key(r: _Row) -> tuple[bool, float, int, str]:
        d = r.diputus
        return (d == 0, -(r.sums[2] / d) if d else 0.0, -r.sums[2], r.enumerator_id)

    return sorted(rows, key=key)


# ---------------------------------------------------------------- scope


async def _wilayah(principal: Principal, kode: str | None, action: str) -> tuple[str, int]:
    if kode is None:
        message = "kode_wilayah wajib diisi: kode provinsi atau kabupaten/kota"
        if principal.kode_wilayah is None:
            raise invalid("kode_wilayah", message)
        kode = principal.kode_wilayah
    level = await check_wilayah(kode, "kode_wilayah")
    if level not in (LEVEL_PROVINSI, LEVEL_KABKOTA):
        raise invalid("kode_wilayah", f"harus kode provinsi atau kabupaten/kota, bukan {kode}")
    authorize(principal, action, kode, field="kode_wilayah")
    return kode, level


# provinsi -> its kabupaten/kota, built once per loaded wilayah reference (a scan of ninety
# thousand codes is not for every request)
_KABKOTA_OF: tuple[int, dict[str, list[str]]] = (0, {})


async def _kabkota_in(kode: str, level: int) -> list[str]:
    global _KABKOTA_OF
    if level == LEVEL_KABKOTA:
        return [kode]
    index = await get_index()
    if _KABKOTA_OF[0] != id(index):
        children: dict[str, list[str]] = {}
        for k, lv in index.level.items():
            if lv == LEVEL_KABKOTA:
                children.setdefault(k[:2], []).append(k)
        _KABKOTA_OF = (id(index), {p: sorted(v) for p, v in children.items()})
    return _KABKOTA_OF[1].get(kode, [])


# ---------------------------------------------------------------- the table


async def tabel(
    conn: AsyncConnection,
    principal: Principal,
    *,
    periode: str,
    kode_wilayah: str | None,
    enumerator_id: str | None,
    urut: str,
    cursor: str | None,
    limit: int,
    semua: bool,
) -> dict[str, Any]:
    """The enumerator table of a provinsi or kabupaten/kota inside the key's wilayah (the
    key's own when none is named). `semua`: every enumerator (a download), else the page at
    `cursor`."""
    await check_periode(periode)
    kode, level = await _wilayah(principal, kode_wilayah, "report.read")
    after = CURSOR.decode(cursor)
    kabkota = await _kabkota_in(kode, level)
    wilayah = {"kode": kode, "nama": (await get_index()).nama[kode], "tingkat": "provinsi" if level == LEVEL_PROVINSI else "kabkota"}
    rows = await _counts(conn, periode, kabkota, None)
    return await _build(conn, rows, periode, None, wilayah, enumerator_id, urut, after[0] if after else 0, None if semua else limit)


async def milik_sendiri(
    conn: AsyncConnection,
    principal: Principal,
    *,
    periode: str,
    kode_wilayah: str | None,
    enumerator_id: str | None,
    cursor: str | None,
    limit: int,
    semua: bool,
) -> dict[str, Any]:
    """GET /api/v1/me/kinerja: the rows of the records this key's holder sent (any of its
    keys), one per enumerator_id they carry (normally one), in the whole periode or inside
    `kode_wilayah` (within the key's scope). Another enumerator's id is refused (403), whether
    or not it exists: the answer never tells an enumerator what others did."""
    await check_periode(periode)
    wilayah = None
    inside = None
    if kode_wilayah is not None:
        kode, level = await _wilayah(principal, kode_wilayah, "kinerja.sendiri")
        inside = kode
        wilayah = {"kode": kode, "nama": (await get_index()).nama[kode], "tingkat": "provinsi" if level == LEVEL_PROVINSI else "kabkota"}
    after = CURSOR.decode(cursor)
    keys = [r[0] for r in (await conn.execute(q.HOLDER_KEYS, {"identity": principal.identity})).all()] or [-1]
    kabkota = sorted(
        r[0]
        for r in (await conn.execute(q.HOLDER_KABKOTA, {"keys": keys, "periode": periode})).all()
        if inside is None or r[0] == inside or r[0].startswith(inside + ".")
    )
    rows = await _counts(conn, periode, kabkota, keys)
    if enumerator_id is not None and enumerator_id not in rows:
        message = "enumerator_id hanya boleh enumerator_id yang tercatat pada rekaman yang dikirim kunci ini sendiri"
        raise FORBIDDEN(message, errors=[{"field": "enumerator_id", "message": message, "type": "own_records"}])
    return await _build(
        conn, rows, periode, keys, wilayah, enumerator_id, "enumerator_id", after[0] if after else 0, None if semua else limit
    )


async def _counts(conn: AsyncConnection, periode: str, kabkota: list[str], keys: list[int] | None) -> dict[str, _Row]:
    rows: dict[str, _Row] = {}
    for r in (await conn.execute(q.COUNTS, {"periode": periode, "kabkota": kabkota, "keys": keys})).all():
        row = rows.setdefault(r.enumerator_id, _Row(r.enumerator_id))
        row.per_kabkota[r.kode_kabkota] = [r.belum_diverifikasi, r.diterima, r.ditolak]
    return rows


async def _build(
    conn: AsyncConnection,
    rows: dict[str, _Row],
    periode: str,
    keys: list[int] | None,
    wilayah: dict[str, Any] | None,
    enumerator_id: str | None,
    urut: str,
    offset: int,
    limit: int | None,
) -> dict[str, Any]:
    kabs_all = sorted({k for x in rows.values() for k in x.per_kabkota})
    rates = {
        r.kode_kabkota: (r.diterima, r.ditolak)
        for r in (await conn.execute(q.KABKOTA_RATES, {"periode": periode, "kabkota": kabs_all})).all()
    }
    flagged = {e for e, r in rows.items() if flag_tolak_tinggi(r, rates)}
    totals = [sum(r.total(i) for r in rows.values()) for i in range(3)]
    decided = totals[1] + totals[2]
    jumlah = {
        "enumerator": len(rows),
        "masuk": sum(totals),
        "belum_diverifikasi": totals[0],
        "diterima": totals[1],
        "ditolak": totals[2],
        "tingkat_tolak": rasio(totals[2], decided),
        "persen_tingkat_tolak": persen(totals[2], decided),
        "tolak_tinggi": len(flagged),
    }
    ordered = _order([r for r in rows.values() if enumerator_id is None or r.enumerator_id == enumerator_id], urut)
    if limit is None:
        if len(ordered) > MAX_DOWNLOAD:
            raise invalid("kode_wilayah", f"lebih dari {MAX_DOWNLOAD} enumerator: unduh per kabupaten/kota")
        page = ordered
    else:
        page = ordered[offset : offset + limit]
    details: dict[str, Any] = {}
    reasons: dict[str, dict[str, int]] = {}
    luar: dict[str, int] = {}
    kotak = False  # whether any of the page's kabupaten/kota has a box (else lokasi_di_luar is null)
    for i in range(0, len(page), DETAIL_CHUNK):
        ids = [r.enumerator_id for r in page[i : i + DETAIL_CHUNK]]
        kabs = sorted({k for r in page[i : i + DETAIL_CHUNK] for k in r.per_kabkota})
        params = {"periode": periode, "kabkota": kabs, "ids": ids, "keys": keys}
        details.update({d.enumerator_id: d for d in await _details(conn, page[i : i + DETAIL_CHUNK], params, kabs)})
        for a in (await conn.execute(q.REASONS, params)).all():
            reasons.setdefault(a.enumerator_id, {})[a.alasan_kode or "lainnya"] = a.n
        found, boxed = await titik.lokasi_luar(conn, periode=periode, kabkota=kabs, ids=ids, keys=keys)
        luar.update(found)
        kotak = kotak or boxed
    items = [
        _item(r, expected_rate(r, rates), r.enumerator_id in flagged, details.get(r.enumerator_id), reasons, luar if kotak else None)
        for r in page
    ]
    more = limit is not None and offset + limit < len(ordered)
    return {
        "periode": periode,
        "wilayah": wilayah,
        "urut": urut,
        "aturan": ATURAN,
        "jumlah": jumlah,
        "items": items,
        "next_cursor": CURSOR.encode(offset + (limit or 0)) if more else None,
    }


async def _details(conn: AsyncConnection, rows: list[_Row], params: dict[str, Any], kabs: list[str]) -> list[Any]:
    """The details of these enumerators: the request's cost, linear in their records (docs/kampanye.md,
    "How it is fast"). One provinsi (a table's wilayah always is): each enumerator's records are
    one ordered range of the index; a holder's records in two provinsi (/me/kinerja) are read in
    one statement over both. From DETAIL_SPLIT_MIN enumerators on, they are split in two halves
    of about as many records, read at once on this connection and another of the pool (only
    while half the pool is free): the same CPU, about half the wait where a core is free."""
    provinsi = sorted({k[:2] for k in kabs})
    sql = q.DETAILS if len(provinsi) == 1 else q.DETAILS_PROVINSI
    base = {**params, "provinsi": provinsi[0] if len(provinsi) == 1 else provinsi, "menit": BERUNTUN_MENIT}
    # the second connection only while half the pool is free: under load, one statement here
    if len(rows) < DETAIL_SPLIT_MIN or not db.pool_has_room():
        return list((await conn.execute(sql, {**base, "ids": [r.enumerator_id for r in rows]})).all())
    halves: tuple[list[str], list[str]] = ([], [])
    weight = [0, 0]
    for r in sorted(rows, key=lambda r: -sum(r.sums)):
        lighter = 0 if weight[0] <= weight[1] else 1
        halves[lighter].append(r.enumerator_id)
        weight[lighter] += sum(r.sums)

    async def elsewhere() -> list[Any]:
        async with db.connect() as other:
            return list((await other.execute(sql, {**base, "ids": halves[1]})).all())

    here, there = await asyncio.gather(conn.execute(sql, {**base, "ids": halves[0]}), elsewhere())
    return [*here.all(), *there]


def _item(
    r: _Row, expected: Fraction | None, tinggi: bool, d: Any, reasons: dict[str, dict[str, int]], luar: dict[str, int] | None
) -> dict[str, Any]:
    rate = r.rate()
    tanda = []
    terpadat = d.terpadat if d is not None else 0
    nik = d.nik_terbanyak if d is not None else 0
    if terpadat >= BERUNTUN_MINIMAL:
        tanda.append("rekaman_beruntun")
    if nik >= NIK_MINIMAL:
        tanda.append("nik_berulang")
    if tinggi:
        tanda.append("tolak_tinggi")
    di_luar = None if luar is None else luar.get(r.enumerator_id, 0)
    if di_luar is not None and di_luar >= titik.LUAR_MINIMAL:
        tanda.append("lokasi_luar")
    own = reasons.get(r.enumerator_id, {})
    b, t = r.total(0), r.total(2)
    return {
        "enumerator_id": r.enumerator_id,
        "kode_kabkota": sorted(r.per_kabkota),
        "masuk": b + r.total(1) + t,
        "belum_diverifikasi": b,
        "diterima": r.total(1),
        "ditolak": t,
        "tingkat_tolak": _fraction_text(rate),
        "tingkat_tolak_wilayah": _fraction_text(expected),
        "persen": {"tingkat_tolak": _fraction_persen(rate), "tingkat_tolak_wilayah": _fraction_persen(expected)},
        "alasan": {k: own.get(k, 0) for k in ALASAN_KODE},
        "jeda_median_detik": d.jeda_median_detik if d is not None else None,
        "hari_aktif": d.hari_aktif if d is not None else 0,
        "hari_terakhir": d.hari_terakhir if d is not None else None,
        "terakhir_terlihat": d.terakhir_terlihat if d is not None else None,
        "rekaman_terpadat": terpadat,
        "nik_terbanyak": nik,
        "lokasi_di_luar": di_luar,
        "tanda": tanda,
    }


def jeda_teks(detik: int | None) -> str:
    """A median time as a reader says it: `45 detik`, `12 menit`, `3 jam 5 menit`, `2 hari 4 jam`."""
    if detik is None:
        return "-"
    sign = "-" if detik < 0 else ""
    s = abs(detik)
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        text = f"{days} hari" + (f" {hours} jam" if hours else "")
    elif hours:
        text = f"{hours} jam" + (f" {minutes} menit" if minutes else "")
    elif minutes:
        text = f"{minutes} menit"
    else:
        text = f"{seconds} detik"
    return sign + text


def tanda_teks(codes: Sequence[str]) -> str:
    return ", ".join(TANDA_LABEL[c] for c in codes)


TANDA_LABEL = {
    "rekaman_beruntun": f"{BERUNTUN_MINIMAL}+ rekaman dalam {BERUNTUN_MENIT} menit",
    "nik_berulang": f"NIK sama pada {NIK_MINIMAL}+ rekaman",
    "tolak_tinggi": f"tingkat tolak > {TOLAK_KALI}x wilayahnya",
    "lokasi_luar": f"lokasi di luar kabupaten/kota pada {titik.LUAR_MINIMAL}+ rekaman",
}
