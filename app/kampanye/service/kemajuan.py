"""Progress over time (docs/kampanye.md: days and zones, progress, pace, projection).

For a periode and an area (a kabupaten/kota, a provinsi or the nation): the records per local
day (masuk: every record that arrived, whatever its state now; diterima and ditolak: those
of the day now in that state), by capture day or by arrival day; the cumulative counts
against the target in force on each day; the pace (7- and 14-day averages) against the pace
needed to reach the target by its deadline (`batas_waktu`); the projected completion date at
the current pace; and the child wilayah sorted by how far behind their pace they are.

Every figure is an exact count from rekap_harian; paces are exact fractions of counts,
written as decimals only at the end. Nothing here can fail on missing data: no target, no
deadline, no records or no pace each give a marked unknown, never an error."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from app.infra import replicas
from app.kampanye.queries import kemajuan as queries
from app.record import zona
from app.record.reference import LEVEL_KABKOTA, LEVEL_PROVINSI, check_periode, check_wilayah, get_index, invalid
from app.reporting.reports import persen, rasio
from app.security.policy import authorize
from app.security.principal import Principal

STATUSES = ("masuk", "diterima", "ditolak")
# The longest range one answer covers: a round (a periode) is a year of collection.
MAX_HARI = 366
PACE_PLACES = 2


@dataclass(frozen=True)
class Revisi:
    kode: str
    id: int
    target: int
    dasar_hukum: str
    berlaku_mulai: dt.date
    batas_waktu: dt.date | None


def in_force(revisi: list[Revisi], day: dt.date) -> Revisi | None:
    """The revision in force on `day`: the latest berlaku_mulai on or before it; of two with
    the same date, the later entry (the targets' own rule, docs/capaian.md)."""
    best = None
    for r in revisi:
        if r.berlaku_mulai <= day and (best is None or (r.berlaku_mulai, r.id) > (best.berlaku_mulai, best.id)):
            best = r
    return best


def desimal(value: Fraction | None, places: int = PACE_PLACES) -> str | None:
    """An exact fraction as a decimal string rounded half-up ("1234.57"); None stays None."""
    if value is None:
        return None
    # half away from zero, as app.reporting.reports rounds: -1/8 is "-0.13", like 1/8 is "0.13"
    num, den = abs(value.numerator), value.denominator
    scaled = (2 * num * 10**places + den) // (2 * den)
    sign = "-" if value < 0 and scaled else ""
    whole, frac = divmod(scaled, 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def area_target(
    level: int, area: str | None, anak: list[str], revisi: dict[str, list[Revisi]], day: dt.date
) -> tuple[int | None, str | None, dt.date | None, str | None]:
    """The area's target in force on `day` and where it comes from, with its deadline: as the
    capaian table's Jumlah row, the sum of the children's targets when any child has one
    ("anak"), else the area's own ("wilayah"), else none. A kabupaten/kota has only its own.
    The deadline: the area's own revision's when it sets one, else the latest of the
    children's in force (the round ends when its last part must be done)."""
    own = in_force(revisi.get(area, []), day) if area else None
    parts: list[tuple[int, dt.date | None]] = []
    if level < LEVEL_KABKOTA:
        for k in anak:
            # a child's own target is the same rule one level down: the nation's provinsi count
            # with their kabupaten/kota's sum where those have targets, as the provinsi's own
            # page shows it (the two pages never disagree about one provinsi)
            kabs = [c for c in revisi if c.startswith(k + ".")] if level == 0 else []
            t, _, b, _ = area_target(level + 1, k, kabs, revisi, day)
            if t is not None:
                parts.append((t, b))
    if parts:
        target, dari = sum(t for t, _ in parts), "anak"
    elif own is not None:
        target, dari = own.target, "wilayah"
    else:
        target, dari = None, None
    if own is not None and own.batas_waktu is not None:
        return target, dari, own.batas_waktu, "wilayah"
    deadlines = [b for _, b in parts if b is not None]
    return target, dari, (max(deadlines) if deadlines else None), ("anak" if deadlines else None)


def pace(target: int | None, batas: dt.date | None, masuk: int, n7: int, n14: int, akhir_laju: dt.date) -> dict[str, Any]:
    """Pace and projection of one area or child (masuk: its cumulative count up to `sampai`).
    `akhir_laju` is the last day that is over: `sampai`, or yesterday while `sampai` is today.
    The days after it are the ones still to work, today and the deadline day among them: the
    deadline passes only when its day is over.

    - laju_7_hari, laju_14_hari: records per day over the windows ending at akhir_laju;
    - laju_dibutuhkan: (target - masuk) / (days after akhir_laju up to and including
      batas_waktu); 0 once the target is reached; null without a target or deadline, or once
      the deadline day is over;
    - proyeksi: akhir_laju + ceil((target - masuk) / laju_7_hari) days, `tepat_waktu` when on
      or before the deadline, else `terlambat`; `tercapai` once reached; `tidak_diketahui` with
      its `alasan` (tanpa_target, tanpa_batas_waktu, tanpa_laju) otherwise."""
    laju7, laju14 = Fraction(n7, 7), Fraction(n14, 14)
    out: dict[str, Any] = {
        "laju_7_hari": desimal(laju7),
        "laju_14_hari": desimal(laju14),
        "laju_dibutuhkan": None,
        "rasio_laju": None,
        "selisih_laju": None,
        "sisa_target": None,
        "sisa_hari": None,
        "lewat_batas_waktu": False,
    }
    if target is None:
        out["proyeksi"] = {"status": "tidak_diketahui", "tanggal": None, "alasan": "tanpa_target"}
        return out
    sisa = max(target - masuk, 0)
    out["sisa_target"] = sisa
    if sisa == 0:
        out["laju_dibutuhkan"] = desimal(Fraction(0))
        out["proyeksi"] = {"status": "tercapai", "tanggal": None, "alasan": None}
        return out
    if batas is None:
        out["proyeksi"] = {"status": "tidak_diketahui", "tanggal": None, "alasan": "tanpa_batas_waktu"}
        return out
    sisa_hari = (batas - akhir_laju).days
    out["sisa_hari"] = max(sisa_hari, 0)
    if sisa_hari > 0:
        needed = Fraction(sisa, sisa_hari)
        out["laju_dibutuhkan"] = desimal(needed)
        out["rasio_laju"] = rasio(n7 * sisa_hari, 7 * sisa)
        out["selisih_laju"] = desimal(laju7 - needed)
    else:
        out["lewat_batas_waktu"] = True
    if n7 == 0:
        out["proyeksi"] = {"status": "tidak_diketahui", "tanggal": None, "alasan": "tanpa_laju"}
        return out
    hari = _ceil_div(sisa * 7, n7)
    if hari > CAKRAWALA_HARI:
        # a trickle against a large target (one record a week against 489,000) projects past any
        # date worth printing, and past the calendar itself: late, with no date
        out["proyeksi"] = {"status": "terlambat", "tanggal": None, "alasan": "di_luar_cakrawala"}
        return out
    tanggal = akhir_laju + dt.timedelta(days=hari)
    out["proyeksi"] = {"status": "tepat_waktu" if tanggal <= batas else "terlambat", "tanggal": tanggal, "alasan": None}
    return out


def behind_key(row: dict[str, Any], n7: int, sisa_hari: int | None) -> tuple:
    """How far behind pace a child is, most behind first: past its deadline and not done (the
    largest remainder first); then by the share of the needed pace it keeps (laju_7 /
    laju_dibutuhkan, exact); then those that reached their target; then those without a
    target or deadline, whose pace cannot be judged."""
    sisa = row["sisa_target"]
    if row["lewat_batas_waktu"] and sisa:
        return (0, Fraction(-sisa), row["kode"])
    if row["laju_dibutuhkan"] is not None and sisa:
        return (1, Fraction(n7 * (sisa_hari or 0), 7 * sisa), row["kode"])
    if sisa == 0 and row["target"] is not None:
        return (2, Fraction(0), row["kode"])
    return (3, Fraction(0), row["kode"])


@dataclass(frozen=True)
class Range:
    dari: dt.date
    sampai: dt.date
    akhir_laju: dt.date


def today_of(area: str | None) -> tuple[dt.date, dt.date]:
    """(the latest, the earliest) today among the area's zones: one zone for a provinsi or
    kabupaten/kota; for the nation WIT's today and WIB's."""
    if area is None:
        return zona.hari_ini("91"), zona.hari_ini("11")
    today = zona.hari_ini(area)
    return today, today


# The projection's horizon: a completion date further than ten years ahead is shown as late
# without a date (`di_luar_cakrawala`), never computed past the calendar's end.
CAKRAWALA_HARI = 3653
# Days a campaign can be asked about: far outside them the day arithmetic would leave the calendar.
TANGGAL_PALING_AWAL, TANGGAL_PALING_AKHIR = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def check_range(dari: dt.date | None, sampai: dt.date | None) -> None:
    """A reversed range or one longer than a round is the caller's mistake (422 naming the field)."""
    for name, value in (("dari", dari), ("sampai", sampai)):
        if value is not None and not TANGGAL_PALING_AWAL <= value <= TANGGAL_PALING_AKHIR:
            raise invalid(name, f"{value} di luar rentang tanggal pendataan ({TANGGAL_PALING_AWAL} sampai {TANGGAL_PALING_AKHIR})")
    if dari is not None and sampai is not None:
        if dari > sampai:
            raise invalid("dari", f"{dari} sesudah sampai {sampai}; dari harus sama dengan atau sebelum sampai")
        if (sampai - dari).days + 1 > MAX_HARI:
            raise invalid("sampai", f"{sampai} lebih dari {MAX_HARI} hari sesudah dari {dari}: rentang paling lama satu putaran (periode)")


async def kemajuan(
    principal: Principal,
    periode: str,
    kode_wilayah: str | None,
    menurut: str,
    dari: dt.date | None,
    sampai: dt.date | None,
) -> dict[str, Any]:
    await check_periode(periode)
    level = 0 if kode_wilayah is None else await check_wilayah(kode_wilayah, "kode_wilayah")
    if level not in (0, LEVEL_PROVINSI, LEVEL_KABKOTA):
        raise invalid("kode_wilayah", f"{kode_wilayah} bukan provinsi atau kabupaten/kota; kosongkan untuk nasional")
    check_range(dari, sampai)
    authorize(principal, "report.read", kode_wilayah, nation_if_none=True)
    latest_today, earliest_today = today_of(kode_wilayah)
    params = {"periode": periode, "menurut": menurut, "area": kode_wilayah or ""}
    async with replicas.connect() as conn:
        harian_rows = (await conn.execute(queries.HARIAN[level], params)).all()
        revisi_rows = (await conn.execute(queries.TARGETS[level], params)).all()
        anak_wilayah = [] if level == LEVEL_KABKOTA else (await conn.execute(queries.ANAK_WILAYAH[level], params)).all()
        per_hari: dict[dt.date, dict[str, int]] = defaultdict(dict)
        for r in harian_rows:
            per_hari[r.hari][r.status] = r.n
        end = sampai or latest_today
        if dari is not None and sampai is None:
            # `sampai` left to today: `dari` alone must still make a range of one round at most
            if dari > end:
                raise invalid("dari", f"{dari} sesudah hari ini ({end}); isi sampai atau pilih tanggal sebelumnya")
            if (end - dari).days + 1 > MAX_HARI:
                raise invalid("dari", f"{dari} lebih dari {MAX_HARI} hari sebelum hari ini: rentang paling lama satu putaran")
        start = dari or (min(per_hari) if per_hari else end)
        start = max(start, end - dt.timedelta(days=MAX_HARI - 1))
        if start > end:  # data only after an explicit sampai: the range is that one day
            start = end
        akhir_laju = min(end, earliest_today - dt.timedelta(days=1))
        rng = Range(start, end, akhir_laju)
        anak_rows = (
            (await conn.execute(queries.ANAK[level], {**params, "sampai": rng.sampai, "akhir_laju": rng.akhir_laju})).all()
            if level < LEVEL_KABKOTA
            else []
        )
    revisi: dict[str, list[Revisi]] = defaultdict(list)
    for r in revisi_rows:
        revisi[r.kode_wilayah].append(Revisi(r.kode_wilayah, r.id, r.target, r.dasar_hukum, r.berlaku_mulai, r.batas_waktu))
    anak_kode = [a.kode for a in anak_wilayah]
    index = await get_index()

    harian = _harian(per_hari, rng, level, kode_wilayah, anak_kode, revisi)
    kumulatif = {s: sum(v.get(s, 0) for d, v in per_hari.items() if d <= rng.sampai) for s in STATUSES}
    masuk = sum(kumulatif.values())
    n7 = sum(sum(v.values()) for d, v in per_hari.items() if rng.akhir_laju - dt.timedelta(days=7) < d <= rng.akhir_laju)
    n14 = sum(sum(v.values()) for d, v in per_hari.items() if rng.akhir_laju - dt.timedelta(days=14) < d <= rng.akhir_laju)
    target, target_dari, batas, batas_dari = area_target(level, kode_wilayah, anak_kode, revisi, rng.sampai)
    laju = pace(target, batas, masuk, n7, n14, rng.akhir_laju)
    proyeksi = laju.pop("proyeksi")
    if proyeksi["status"] == "tercapai":
        proyeksi["tanggal"] = _reached_on(per_hari, target or 0)
    return {
        "periode": periode,
        "wilayah": None if kode_wilayah is None else {"kode": kode_wilayah, "nama": index.nama[kode_wilayah], "level": level},
        "zona": None if kode_wilayah is None else zona.zona(kode_wilayah),
        "menurut": menurut,
        "dari": rng.dari,
        "sampai": rng.sampai,
        "akhir_laju": rng.akhir_laju,
        "target": {"target": target, "target_dari": target_dari, "batas_waktu": batas, "batas_waktu_dari": batas_dari},
        "kumulatif": {
            "masuk": masuk,
            "belum_diverifikasi": kumulatif["masuk"],
            "diterima": kumulatif["diterima"],
            "ditolak": kumulatif["ditolak"],
            "masuk_vs_target": rasio(masuk, target),
            "diterima_vs_target": rasio(kumulatif["diterima"], target),
            "persen": {"masuk_vs_target": persen(masuk, target), "diterima_vs_target": persen(kumulatif["diterima"], target)},
        },
        "laju": laju,
        "proyeksi": proyeksi,
        "harian": harian,
        "anak": _anak(anak_wilayah, anak_rows, revisi, rng, level),
    }


def _reached_on(per_hari: dict[dt.date, dict[str, int]], target: int) -> dt.date | None:
    """The first day the cumulative masuk reached the target."""
    total = 0
    for d in sorted(per_hari):
        total += sum(per_hari[d].values())
        if total >= target:
            return d
    return None


def _harian(
    per_hari: dict[dt.date, dict[str, int]],
    rng: Range,
    level: int,
    area: str | None,
    anak: list[str],
    revisi: dict[str, list[Revisi]],
) -> list[dict[str, Any]]:
    """One row per day from dari to sampai (zeros included), with the cumulative counts since
    the periode's first record and the target in force that day (the chart's target line)."""
    cum = {s: sum(v.get(s, 0) for d, v in per_hari.items() if d < rng.dari) for s in STATUSES}
    # the target changes only on a revision's berlaku_mulai: compute it there, not every day
    changes = sorted({r.berlaku_mulai for rs in revisi.values() for r in rs if rng.dari < r.berlaku_mulai <= rng.sampai})
    target = area_target(level, area, anak, revisi, rng.dari)[0]
    out = []
    day = rng.dari
    while day <= rng.sampai:
        if changes and changes[0] == day:
            changes.pop(0)
            target = area_target(level, area, anak, revisi, day)[0]
        v = per_hari.get(day, {})
        for s in STATUSES:
            cum[s] += v.get(s, 0)
        masuk = sum(v.get(s, 0) for s in STATUSES)
        out.append(
            {
                "hari": day,
                "masuk": masuk,
                "diterima": v.get("diterima", 0),
                "ditolak": v.get("ditolak", 0),
                "belum_diverifikasi": v.get("masuk", 0),
                "kumulatif_masuk": cum["masuk"] + cum["diterima"] + cum["ditolak"],
                "kumulatif_diterima": cum["diterima"],
                "kumulatif_ditolak": cum["ditolak"],
                "target": target,
            }
        )
        day += dt.timedelta(days=1)
    return out


def _anak(
    anak_wilayah: Sequence[Any], anak_rows: Sequence[Any], revisi: dict[str, list[Revisi]], rng: Range, level: int
) -> list[dict[str, Any]]:
    """The child wilayah with a target or records, most behind their pace first."""
    counts: dict[str, dict[str, Any]] = defaultdict(lambda: {"masuk": 0, "diterima": 0, "ditolak": 0, "n7": 0, "n14": 0})
    for r in anak_rows:
        c = counts[r.kode]
        c[r.status] += r.kumulatif or 0
        c["n7"] += r.n7 or 0
        c["n14"] += r.n14 or 0
    rows = []
    for w in anak_wilayah:
        kabs = [k for k in revisi if k.startswith(w.kode + ".")] if level == 0 else []
        target, _, batas, _ = area_target(level + 1, w.kode, kabs, revisi, rng.sampai)
        if w.kode not in counts and target is None:
            continue
        c = counts[w.kode]
        masuk = c["masuk"] + c["diterima"] + c["ditolak"]
        row: dict[str, Any] = {
            "kode": w.kode,
            "nama": w.nama,
            "zona": zona.zona(w.kode),
            "target": target,
            "batas_waktu": batas,
            "masuk": masuk,
            "belum_diverifikasi": c["masuk"],
            "diterima": c["diterima"],
            "ditolak": c["ditolak"],
            "masuk_vs_target": rasio(masuk, target),
            "persen_masuk_vs_target": persen(masuk, target),
            **pace(target, batas, masuk, c["n7"], c["n14"], rng.akhir_laju),
        }
        rows.append((behind_key(row, c["n7"], row["sisa_hari"]), row))
    rows.sort(key=lambda kr: kr[0])
    return [r for _, r in rows]
