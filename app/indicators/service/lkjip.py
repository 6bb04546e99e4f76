"""Capaian and the LKjIP table (Laporan Kinerja), as JSON and as CSV."""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections import OrderedDict
from decimal import Decimal

import orjson

from app.core import csvcell
from app.core.errors import INVALID
from app.indicators import angka, formulas, queries
from app.indicators.service.access import NASIONAL, ancestors, level_of
from app.indicators.service.predikat import skala_of, skala_out
from app.indicators.service.registry import hitung_registry
from app.infra import replicas
from app.record.reference import WIB, get_index, today_wib
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells
from app.security.policy import authorize
from app.security.principal import Principal

# ---------------------------------------------------------------------------------------------
# LKjIP table


def _capaian(polaritas: str, target: Decimal | None, realisasi: Decimal | None,
             bands) -> tuple[dict, Decimal | None]:
    c = angka.capaian(polaritas, target, realisasi)
    return _capaian_out(c, bands), c


def _capaian_out(c: Decimal | None, bands) -> dict:
    return {"capaian_persen": angka.teks(c, hasil=True), "capaian_persen_bulat": angka.teks(angka.bulat(c)),
            "predikat": angka.predikat(c, bands)}


async def lkjip(principal: Principal, tahun: int, wilayah: str | None, sebelumnya: int,
                pemilik: str | None, as_of: dt.date | None) -> dict:
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
        targets = {(i, t): v for i, t, v in (await conn.execute(queries.TARGET_CURRENT, {
            "ids": ids, "wilayah": wilayah, "tahun": tahun_target})).all()}
        manual = [r["id"] for r in rows if r["sumber"] == "manual"]
        realisasi = {(i, t): (v, s) for i, t, v, s in (await conn.execute(queries.REALISASI_CURRENT, {
            "ids": manual, "wilayah": wilayah, "tahun": tahun_realisasi})).all()}
        registry = {}
        for r in rows:
            if r["sumber"] == "registry":
                params = r["parameter"] if isinstance(r["parameter"], dict) else orjson.loads(r["parameter"])
                resolved, _ = formulas.resolve(r["formula"], params)
                registry[r["id"]] = resolved
        if registry:
            for (i, t), (v, _) in (await hitung_registry(conn, level, wilayah, registry, tahun_realisasi,
                                                         as_of)).items():
                realisasi[(i, t)] = (v, "registry")
        skala = await skala_of(conn, wilayah)
    bands = skala[2]

    sasaran: OrderedDict[int, dict] = OrderedDict()
    for r in rows:
        s = sasaran.get(r["sasaran_id"])
        if s is None:
            s = sasaran[r["sasaran_id"]] = {
                "id": r["sasaran_id"], "pemilik": r["pemilik"], "kode": r["sasaran_kode"],
                "nama": r["sasaran_nama"],
                "tujuan": None if r["tujuan_id"] is None else {
                    "id": r["tujuan_id"], "kode": r["tujuan_kode"], "nama": r["tujuan_nama"]},
                "indikator": [], "_nilai": {t: [] for t in tahun_realisasi}, "_renstra": []}
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
        s["indikator"].append({
            "id": r["id"], "pemilik": r["pemilik"], "kode": r["kode"], "nama": r["nama"], "jenis": r["jenis"],
            "satuan": r["satuan"], "polaritas": pol, "sumber": r["sumber"], "formula": r["formula"],
            "target": angka.teks(target), "realisasi": angka.teks(real), "realisasi_sumber": real_sumber,
            **now, "tahun_sebelumnya": lalu,
            "renstra": {"tahun_akhir": r["renstra_akhir"], "target": angka.teks(target_akhir), **renstra},
        })
    out_sasaran = []
    for s in sasaran.values():
        # A sasaran's capaian is the mean of its indicators' capaian; an indicator without
        # one (no target or realisasi yet) is left out rather than counted as 0.
        nilai = s.pop("_nilai")
        renstra = s.pop("_renstra")
        out_sasaran.append({
            **{k: v for k, v in s.items() if k != "indikator"},
            **_capaian_out(angka.rata_rata(nilai[tahun]), bands),
            "tahun_sebelumnya": [{"tahun": t, **_capaian_out(angka.rata_rata(nilai[t]), bands)}
                                 for t in tahun_lalu],
            "renstra": _capaian_out(angka.rata_rata(renstra), bands),
            "indikator": s["indikator"],
        })
    return {"tahun": tahun, "wilayah": {"kode": wilayah, "nama": nama_wilayah, "level": level},
            "as_of": as_of, "tahun_sebelumnya": tahun_lalu, "skala_predikat": skala_out(wilayah, skala),
            "sasaran": out_sasaran}


def _fmt(v: str | None, satuan: str) -> str:
    return angka.format_id(None if v is None else Decimal(v), persen=satuan == "persen")


def _fmt_capaian(v: str | None) -> str:
    return angka.format_id(None if v is None else Decimal(v), 2, persen=True)


class _SafeWriter:
    """A csv writer whose text cells are neutralised (app.csvcell): indicator and sasaran
    names are typed by people."""

    def __init__(self, writer):
        self._w = writer

    def writerow(self, cells) -> None:
        self._w.writerow(csvcell.row(cells))


def lkjip_csv(doc: dict, c: CsvCells = DISPLAY) -> str:
    """The LKjIP table as an RFC 4180 CSV with Indonesian headers: a row per sasaran (its
    capaian: the mean), then a row per indicator. Numbers in Indonesian format (`format=csv`),
    or as the JSON has them (`format=csv-data`: decimal strings, capaian in percent)."""

    def fmt(v: str | None, satuan: str) -> str:
        return c.nilai(v, _fmt(v, satuan))

    def fmt_capaian(v: str | None) -> str:
        return c.nilai(v, _fmt_capaian(v))

    def predikat(v: str | None) -> str:
        return c.nilai(v, v or "-")

    tahun = doc["tahun"]
    lalu = doc["tahun_sebelumnya"]
    header = ["No", "Tujuan", "Sasaran", "Kode indikator", "Indikator", "Satuan", "Polaritas",
              f"Target {tahun}", f"Realisasi {tahun}", f"Capaian {tahun}", f"Predikat {tahun}"]
    for t in lalu:
        header += [f"Capaian {t}", f"Predikat {t}"]
    header += ["Tahun akhir Renstra", "Target akhir Renstra", "Capaian thd target akhir Renstra",
               "Predikat thd target akhir Renstra"]
    buf = io.StringIO()
    w = _SafeWriter(csv.writer(buf, lineterminator="\r\n"))
    w.writerow(header)
    for n, s in enumerate(doc["sasaran"], 1):
        tujuan = s["tujuan"]["nama"] if s["tujuan"] else ""
        row = [str(n), tujuan, s["nama"], "", "Capaian sasaran (rata-rata)", "", "", "", "",
               fmt_capaian(s["capaian_persen"]), predikat(s["predikat"])]
        for x in s["tahun_sebelumnya"]:
            row += [fmt_capaian(x["capaian_persen"]), predikat(x["predikat"])]
        row += ["", "", fmt_capaian(s["renstra"]["capaian_persen"]), predikat(s["renstra"]["predikat"])]
        w.writerow(row)
        for m, i in enumerate(s["indikator"], 1):
            row = [f"{n}.{m}", tujuan, s["nama"], i["kode"], i["nama"], i["satuan"], i["polaritas"],
                   fmt(i["target"], i["satuan"]), fmt(i["realisasi"], i["satuan"]),
                   fmt_capaian(i["capaian_persen"]), predikat(i["predikat"])]
            for x in i["tahun_sebelumnya"]:
                row += [fmt_capaian(x["capaian_persen"]), predikat(x["predikat"])]
            r = i["renstra"]
            row += [str(r["tahun_akhir"]), fmt(r["target"], i["satuan"]), fmt_capaian(r["capaian_persen"]),
                    predikat(r["predikat"])]
            w.writerow(row)
    return buf.getvalue()


def _persen(v: str | None) -> Decimal | None:
    """A capaian in percent ("149.94...") as the fraction a percentage cell holds."""
    return None if v is None else Decimal(v) / 100


def lkjip_xlsx(doc: dict) -> xlsx.Table:
    """The LKjIP table as a workbook: the same rows as the CSV, targets and realisasi as numbers
    in the indicator's unit, capaian as percentages, each year's columns under one header."""
    C = xlsx.Column
    tahun = doc["tahun"]
    columns = [C("No", "text", width=6), C("Tujuan", "text", width=24), C("Sasaran", "text", width=28),
               C("Kode Indikator", "text", width=10), C("Indikator", "text", width=36), C("Satuan", "text", width=10),
               C("Polaritas", "text", width=9),
               C("Target", "desimal", group=f"Tahun {tahun}"), C("Realisasi", "desimal", group=f"Tahun {tahun}"),
               C("Capaian", "rasio", group=f"Tahun {tahun}"), C("Predikat", "text", group=f"Tahun {tahun}", width=14)]
    for t in doc["tahun_sebelumnya"]:
        columns += [C("Capaian", "rasio", group=f"Tahun {t}"), C("Predikat", "text", group=f"Tahun {t}", width=14)]
    columns += [C("Tahun Akhir", "text", group="Target Akhir Renstra", width=8),
                C("Target", "desimal", group="Target Akhir Renstra"),
                C("Capaian", "rasio", group="Target Akhir Renstra"),
                C("Predikat", "text", group="Target Akhir Renstra", width=14)]
    rows: list[list] = []
    bold: set[int] = set()
    for n, s in enumerate(doc["sasaran"], 1):
        tujuan = s["tujuan"]["nama"] if s["tujuan"] else None
        bold.add(len(rows))
        row = [str(n), tujuan, s["nama"], None, "Capaian sasaran (rata-rata)", None, None, None, None,
               _persen(s["capaian_persen"]), s["predikat"]]
        for x in s["tahun_sebelumnya"]:
            row += [_persen(x["capaian_persen"]), x["predikat"]]
        row += [None, None, _persen(s["renstra"]["capaian_persen"]), s["renstra"]["predikat"]]
        rows.append(row)
        for m, i in enumerate(s["indikator"], 1):
            r = i["renstra"]
            row = [f"{n}.{m}", tujuan, s["nama"], i["kode"], i["nama"], i["satuan"], i["polaritas"],
                   i["target"], i["realisasi"], _persen(i["capaian_persen"]), i["predikat"]]
            for x in i["tahun_sebelumnya"]:
                row += [_persen(x["capaian_persen"]), x["predikat"]]
            row += [str(r["tahun_akhir"]), r["target"], _persen(r["capaian_persen"]), r["predikat"]]
            rows.append(row)
    w = doc["wilayah"]
    skala = doc["skala_predikat"]
    return xlsx.Table(
        title="Capaian Indikator Kinerja (LKjIP)",
        lines=[f"Wilayah: {w['nama']}" + ("" if w["kode"] == NASIONAL else f" ({w['kode']})"),
               f"Tahun: {tahun}",
               f"Target pendataan berlaku per {xlsx.tanggal(doc['as_of'])}; data per "
               f"{xlsx.waktu(dt.datetime.now(WIB))}"],
        columns=columns, rows=rows, bold_rows=bold,
        notes=["Target dan realisasi dalam satuan indikator; capaian sasaran adalah rata-rata capaian "
               "indikatornya. Predikat menurut skala "
               + ("Permendagri 86/2017" if skala["berlaku_dari"] == "bawaan"
                  else f"{skala['nama'] or 'wilayah'} ({skala['berlaku_dari']})") + "."],
        sheet="LKjIP")
