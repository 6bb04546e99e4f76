"""Capaian and the LKjIP table (Laporan Kinerja): the document (its CSV and workbook layouts are
app.indicators.export)."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from decimal import Decimal

import orjson

from app.core.errors import INVALID
from app.indicators import angka, formulas, queries
from app.indicators.service.access import NASIONAL, ancestors, level_of
from app.indicators.service.predikat import skala_of, skala_out
from app.indicators.service.registry import hitung_registry
from app.infra import replicas
from app.record.reference import get_index, today_wib
from app.security.policy import authorize
from app.security.principal import Principal

# ---------------------------------------------------------------------------------------------
# LKjIP table


def _capaian(polaritas: str, target: Decimal | None, realisasi: Decimal | None, bands) -> tuple[dict, Decimal | None]:
    c = angka.capaian(polaritas, target, realisasi)
    return _capaian_out(c, bands), c


def _capaian_out(c: Decimal | None, bands) -> dict:
    return {
        "capaian_persen": angka.teks(c, hasil=True),
        "capaian_persen_bulat": angka.teks(angka.bulat(c)),
        "predikat": angka.predikat(c, bands),
    }


async def lkjip(principal: Principal, tahun: int, wilayah: str | None, sebelumnya: int, pemilik: str | None, as_of: dt.date | None) -> dict:
    wilayah = wilayah or principal.kode_wilayah or NASIONAL
    level = await level_of(wilayah, "wilayah")
    authorize(principal, "indikator.read", wilayah, field="wilayah")
    owners = ancestors(wilayah)
    if pemilik is not None:
        if pemilik not in owners:
            message = f"pemilik {pemilik} harus {wilayah} atau wilayah di atasnya"
            raise INVALID(message, errors=[{"field": "pemilik", "type": "value_error", "message": message}])
        owners = [pemilik]
    as_of = as_of or today_wib()
    tahun_lalu = [tahun - k for k in range(1, sebelumnya + 1)]
    tahun_realisasi = [tahun] + tahun_lalu
    nama_wilayah = "Nasional" if wilayah == NASIONAL else (await get_index()).nama[wilayah]
    # A report: a standby may answer (app.infra.replicas); the response says how fresh it is.
    async with replicas.connect() as conn:
        rows = (await conn.execute(queries.LKJIP_INDIKATOR, {"level": level, "pemilik": owners})).mappings().all()
        ids = [r["id"] for r in rows]
        tahun_target = sorted(set(tahun_realisasi) | {r["renstra_akhir"] for r in rows})
        targets = {
            (i, t): v
            for i, t, v in (await conn.execute(queries.TARGET_CURRENT, {"ids": ids, "wilayah": wilayah, "tahun": tahun_target})).all()
        }
        manual = [r["id"] for r in rows if r["sumber"] == "manual"]
        realisasi = {
            (i, t): (v, s)
            for i, t, v, s in (
                await conn.execute(queries.REALISASI_CURRENT, {"ids": manual, "wilayah": wilayah, "tahun": tahun_realisasi})
            ).all()
        }
        registry = {}
        for r in rows:
            if r["sumber"] == "registry":
                params = r["parameter"] if isinstance(r["parameter"], dict) else orjson.loads(r["parameter"])
                resolved, _ = formulas.resolve(r["formula"], params)
                registry[r["id"]] = resolved
        if registry:
            for (i, t), (v, _) in (await hitung_registry(conn, level, wilayah, registry, tahun_realisasi, as_of)).items():
                realisasi[(i, t)] = (v, "registry")
        skala = await skala_of(conn, wilayah)
    bands = skala[2]

    sasaran: OrderedDict[int, dict] = OrderedDict()
    for r in rows:
        s = sasaran.get(r["sasaran_id"])
        if s is None:
            s = sasaran[r["sasaran_id"]] = {
                "id": r["sasaran_id"],
                "pemilik": r["pemilik"],
                "kode": r["sasaran_kode"],
                "nama": r["sasaran_nama"],
                "tujuan": None if r["tujuan_id"] is None else {"id": r["tujuan_id"], "kode": r["tujuan_kode"], "nama": r["tujuan_nama"]},
                "indikator": [],
                "_nilai": {t: [] for t in tahun_realisasi},
                "_renstra": [],
            }
        pol = r["polaritas"]
        target = targets.get((r["id"], tahun))
        real, real_sumber = realisasi.get((r["id"], tahun), (None, None))
        now, c = _capaian(pol, target, real, bands)
        s["_nilai"][tahun].append(c)
        lalu = []
        for t in tahun_lalu:
            tt, (rr, _) = targets.get((r["id"], t)), realisasi.get((r["id"], t), (None, None))
            out, ct = _capaian(pol, tt, rr, bands)
            s["_nilai"][t].append(ct)
            lalu.append({"tahun": t, "target": angka.teks(tt), "realisasi": angka.teks(rr), **out})
        target_akhir = targets.get((r["id"], r["renstra_akhir"]))
        renstra, cr = _capaian(pol, target_akhir, real, bands)
        s["_renstra"].append(cr)
        s["indikator"].append(
            {
                "id": r["id"],
                "pemilik": r["pemilik"],
                "kode": r["kode"],
                "nama": r["nama"],
                "jenis": r["jenis"],
                "satuan": r["satuan"],
                "polaritas": pol,
                "sumber": r["sumber"],
                "formula": r["formula"],
                "target": angka.teks(target),
                "realisasi": angka.teks(real),
                "realisasi_sumber": real_sumber,
                **now,
                "tahun_sebelumnya": lalu,
                "renstra": {"tahun_akhir": r["renstra_akhir"], "target": angka.teks(target_akhir), **renstra},
            }
        )
    out_sasaran = []
    for s in sasaran.values():
        # A sasaran's capaian is the mean of its indicators' capaian; an indicator without
        # one (no target or realisasi yet) is left out rather than counted as 0.
        nilai = s.pop("_nilai")
        renstra = s.pop("_renstra")
        out_sasaran.append(
            {
                **{k: v for k, v in s.items() if k != "indikator"},
                **_capaian_out(angka.rata_rata(nilai[tahun]), bands),
                "tahun_sebelumnya": [{"tahun": t, **_capaian_out(angka.rata_rata(nilai[t]), bands)} for t in tahun_lalu],
                "renstra": _capaian_out(angka.rata_rata(renstra), bands),
                "indikator": s["indikator"],
            }
        )
    return {
        "tahun": tahun,
        "wilayah": {"kode": wilayah, "nama": nama_wilayah, "level": level},
        "as_of": as_of,
        "tahun_sebelumnya": tahun_lalu,
        "skala_predikat": skala_out(wilayah, skala),
        "sasaran": out_sasaran,
    }
