"""ODS-style aggregates over records in the chosen states (diterima unless asked otherwise):
keragaan koperasi, UMKM by skala, and any grouping over the documented dimensions."""
from __future__ import annotations

import datetime as dt

from app.aggregates import queries
from app.core.errors import invalid_field
from app.infra import replicas
from app.record.reference import WIB, check_periode, check_wilayah, get_index, split_kode
from app.reporting import xlsx
from app.reporting.reports import DISPLAY, CsvCells, angka_id, persen, rasio
from app.security.policy import authorize
from app.security.principal import Principal

STATUSES = ("masuk", "diterima", "ditolak")
DEFAULT_STATUS = ["diterima"]
MAX_BY = 4
MAX_GROUPS = 10_000
SKALA_UMKM = ("mikro", "kecil", "menengah")
_WILAYAH_DIMS = {"kode_provinsi": "nama_provinsi", "kode_kabkota": "nama_kabkota",
                 "kode_kecamatan": "nama_kecamatan", "kode_desa": "nama_desa"}


def parse_status(values: list[str] | None) -> list[str]:
    """`status=diterima&status=masuk` or `status=diterima,masuk`; default diterima."""
    if not values:
        return list(DEFAULT_STATUS)
    out: list[str] = []
    for v in values:
        for s in v.split(","):
            s = s.strip()
            if s not in STATUSES:
                raise invalid_field("status", f"harus salah satu dari: {', '.join(STATUSES)}; bukan {s!r}")
            if s not in out:
                out.append(s)
    return out


async def _area(principal: Principal, periode: str, wilayah: str | None) -> tuple[int, dict, dict | None]:
    await check_periode(periode)
    level = 0 if wilayah is None else await check_wilayah(wilayah, "wilayah")
    authorize(principal, "report.read", wilayah, field="wilayah", nation_if_none=True)
    params = {"periode": periode, "area": wilayah or ""}
    ref = None
    if wilayah:
        parts = split_kode(wilayah)
        params.update(provinsi=parts["kode_provinsi"], kabkota=parts["kode_kabkota"] or "")
        ref = {"kode": wilayah, "nama": (await get_index()).nama[wilayah], "level": level}
    return level, params, ref


def _uang(v) -> str:
    return str(int(v))


# ---------------------------------------------------------------- keragaan koperasi

_KERAGAAN_SUMS = ("koperasi_jumlah", "koperasi_aktif", "koperasi_tidak_aktif", "anggota_l", "anggota_p", "rat",
                  "manajer_l", "manajer_p", "karyawan_l", "karyawan_p", "modal_sendiri", "modal_luar",
                  "volume_usaha", "shu")
_UANG_KOPERASI = ("modal_sendiri", "modal_luar", "volume_usaha", "shu")


def _keragaan_row(no: int | None, kode: str | None, nama: str, t: dict) -> dict:
    row = {"no": no, "kode": kode, "nama": nama}
    for k in _KERAGAAN_SUMS:
        row[k] = _uang(t[k]) if k in _UANG_KOPERASI else int(t[k])
    row["anggota_jumlah"] = row["anggota_l"] + row["anggota_p"]
    row["manajer_jumlah"] = row["manajer_l"] + row["manajer_p"]
    row["karyawan_jumlah"] = row["karyawan_l"] + row["karyawan_p"]
    row["persentase_aktif"] = rasio(row["koperasi_aktif"], row["koperasi_jumlah"])
    row["persen_aktif"] = persen(row["koperasi_aktif"], row["koperasi_jumlah"])
    return row


def _add(into: dict, r) -> None:
    for k in _KERAGAAN_SUMS:
        into[k] = into.get(k, 0) + int(getattr(r, k))


async def keragaan_koperasi(principal: Principal, periode: str, wilayah: str | None,
                            status: list[str]) -> dict:
    level, params, ref = await _area(principal, periode, wilayah)
    if level not in queries.KERAGAAN:
        raise invalid_field("wilayah", "harus kosong (nasional, baris per provinsi), provinsi (baris per "
                                       "kabupaten/kota) atau kabupaten/kota (baris per kecamatan): keragaan "
                                       "koperasi tidak dirinci lebih dalam")
    params.update(status=status, tahun=int(periode))
    async with replicas.connect() as conn:
        found = (await conn.execute(queries.KERAGAAN[level], params)).all()
        anak = (await conn.execute(queries.CHILDREN[level], params)).all()
    zero = dict.fromkeys(_KERAGAAN_SUMS, 0)
    per_child: dict[str | None, dict] = {}
    binaan = {"provinsi": dict(zero), "nasional": dict(zero)}
    total = dict(zero)
    for r in found:
        _add(total, r)
        if r.kewenangan == "kabkota":
            _add(per_child.setdefault(r.kode, dict(zero)), r)
        else:
            _add(binaan[r.kewenangan], r)
    # Every child wilayah is listed, with zeros where nothing was recorded, as the ODS prints.
    rows = []
    for i, c in enumerate(anak, 1):
        rows.append(_keragaan_row(i, c.kode, c.nama, per_child.pop(c.kode, zero)))
    for kode, t in sorted(per_child.items(), key=lambda kv: (kv[0] is None, kv[0] or "")):
        # Koperasi placed above the row level (a kabupaten/kota without kecamatan).
        rows.append(_keragaan_row(len(rows) + 1, kode, "(tanpa kecamatan)" if kode is None else kode, t))
    return {"periode": periode, "wilayah": ref, "status": status, "rows": rows,
            "binaan_provinsi": _keragaan_row(None, None, "Binaan Provinsi", binaan["provinsi"]),
            "binaan_nasional": _keragaan_row(None, None, "Binaan Nasional", binaan["nasional"]),
            "jumlah": _keragaan_row(None, None, "Jumlah", total)}


KERAGAAN_HEADER = ["No", "Kode", "Kabupaten/Kota", "Koperasi Jumlah", "Koperasi Aktif", "Koperasi Tidak Aktif",
                   "Anggota Jumlah", "Anggota L", "Anggota P", "RAT (Unit)", "Manajer Jumlah", "Manajer L",
                   "Manajer P", "Karyawan Jumlah", "Karyawan L", "Karyawan P", "Modal Sendiri (Rp)",
                   "Modal Luar (Rp)", "Volume Usaha (Rp)", "SHU (Rp)", "Persentase Aktif"]


def keragaan_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    def cells(r):
        return [str(r["no"]) if r["no"] else "", r["kode"] or "", r["nama"]] + [
            c.angka(int(r[k])) for k in ("koperasi_jumlah", "koperasi_aktif", "koperasi_tidak_aktif",
                                         "anggota_jumlah", "anggota_l", "anggota_p", "rat", "manajer_jumlah",
                                         "manajer_l", "manajer_p", "karyawan_jumlah", "karyawan_l",
                                         "karyawan_p", "modal_sendiri", "modal_luar", "volume_usaha", "shu")
        ] + [c.rasio(r["persentase_aktif"], r["persen_aktif"])]

    header = list(KERAGAAN_HEADER)
    if doc["wilayah"] is None:
        header[2] = "Provinsi"
    elif doc["wilayah"]["level"] == 2:
        header[2] = "Kecamatan"
    rows = [cells(r) for r in doc["rows"]]
    rows += [cells(doc["binaan_provinsi"]), cells(doc["binaan_nasional"]), cells(doc["jumlah"])]
    return header, rows


def _lines(doc: dict) -> list[str]:
    """Wilayah, periode with the record states counted, and when the counts were read."""
    w = doc["wilayah"]
    return [f"Wilayah: {w['nama']} ({w['kode']})" if w else "Wilayah: Nasional",
            f"Periode: {doc['periode']}; data berstatus {', '.join(doc['status'])}",
            f"Keadaan data per {xlsx.waktu(dt.datetime.now(WIB))}"]


def _row_label(doc: dict) -> str:
    if doc["wilayah"] is None:
        return "Provinsi"
    return "Kecamatan" if doc["wilayah"]["level"] == 2 else "Kabupaten/Kota"


_KERAGAAN_XLSX = (
    ("koperasi_jumlah", "Jumlah", "Koperasi"), ("koperasi_aktif", "Aktif", "Koperasi"),
    ("koperasi_tidak_aktif", "Tidak Aktif", "Koperasi"),
    ("anggota_jumlah", "Jumlah", "Anggota"), ("anggota_l", "L", "Anggota"), ("anggota_p", "P", "Anggota"),
    ("rat", "RAT (Unit)", None),
    ("manajer_jumlah", "Jumlah", "Manajer"), ("manajer_l", "L", "Manajer"), ("manajer_p", "P", "Manajer"),
    ("karyawan_jumlah", "Jumlah", "Karyawan"), ("karyawan_l", "L", "Karyawan"), ("karyawan_p", "P", "Karyawan"),
)


def keragaan_xlsx(doc: dict) -> xlsx.Table:
    """The ODS table as printed: Koperasi / Anggota / Manajer / Karyawan headers over their
    columns, rupiah exact, persentase aktif as a percentage."""
    C = xlsx.Column
    columns = ([C("No", width=5), C("Kode", "text", width=10), C(_row_label(doc), "text", width=30)]
               + [C(h, group=g, width=9 if g else 11) for _, h, g in _KERAGAAN_XLSX]
               + [C(h, "rupiah", width=20) for h in ("Modal Sendiri (Rp)", "Modal Luar (Rp)", "Volume Usaha (Rp)",
                                                     "SHU (Rp)")]
               + [C("Persentase Aktif", "rasio", width=11)])

    def cells(r):
        return ([r["no"], r["kode"], r["nama"]] + [r[k] for k, _, _ in _KERAGAAN_XLSX]
                + [r[k] for k in _UANG_KOPERASI]
                + [xlsx.fraction(r["koperasi_aktif"], r["koperasi_jumlah"])])

    return xlsx.Table(
        title="Keragaan Koperasi", lines=_lines(doc), columns=columns,
        rows=[cells(r) for r in doc["rows"]] + [cells(doc["binaan_provinsi"]), cells(doc["binaan_nasional"])],
        totals=[cells(doc["jumlah"])],
        notes=[f"Baris per {_row_label(doc).lower()}: koperasi dengan kewenangan kabupaten/kota; Binaan "
               "Provinsi dan Binaan Nasional: koperasi dengan kewenangan provinsi dan nasional di wilayah ini. "
               "RAT: koperasi yang menyelenggarakan RAT pada tahun periode."],
        sheet="Keragaan Koperasi")


# ---------------------------------------------------------------- UMKM by skala

_UMKM_SUMS = ("jumlah", "modal_usaha", "hasil_penjualan", "aset", "tenaga_kerja_l", "tenaga_kerja_p",
              "punya_nib", "platform_digital")
_UANG_UMKM = ("modal_usaha", "hasil_penjualan", "aset")
_NAMA_SKALA = {"mikro": "Usaha Mikro", "kecil": "Usaha Kecil", "menengah": "Usaha Menengah"}


def _umkm_row(skala: str | None, t: dict) -> dict:
    row = {"skala_usaha": skala, "nama": _NAMA_SKALA.get(skala, "Jumlah")}
    for k in _UMKM_SUMS:
        row[k] = _uang(t[k]) if k in _UANG_UMKM else int(t[k])
    row["tenaga_kerja_jumlah"] = row["tenaga_kerja_l"] + row["tenaga_kerja_p"]
    return row


async def umkm(principal: Principal, periode: str, wilayah: str | None, status: list[str]) -> dict:
    level, params, ref = await _area(principal, periode, wilayah)
    params["status"] = status
    async with replicas.connect() as conn:
        found = {r.skala_usaha: r._mapping for r in (await conn.execute(queries.UMKM[level], params)).all()}
    zero = dict.fromkeys(_UMKM_SUMS, 0)
    per_skala = {s: dict(found.get(s, zero)) for s in SKALA_UMKM}
    total = {k: sum(int(per_skala[s][k]) for s in SKALA_UMKM) for k in _UMKM_SUMS}
    return {"periode": periode, "wilayah": ref, "status": status,
            "rows": [_umkm_row(s, per_skala[s]) for s in SKALA_UMKM],
            "jumlah": _umkm_row(None, total),
            "usaha_besar": int(found["besar"]["jumlah"]) if "besar" in found else 0}


UMKM_HEADER = ["Skala Usaha", "Jumlah UMKM", "Modal Usaha (Rp)", "Hasil Penjualan/Omzet (Rp)", "Aset (Rp)",
               "Tenaga Kerja Jumlah", "Tenaga Kerja L", "Tenaga Kerja P", "Memiliki NIB",
               "Menggunakan Platform Digital"]


def umkm_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    def cells(r):
        return [r["nama"]] + [c.angka(int(r[k])) for k in (
            "jumlah", "modal_usaha", "hasil_penjualan", "aset", "tenaga_kerja_jumlah", "tenaga_kerja_l",
            "tenaga_kerja_p", "punya_nib", "platform_digital")]

    return UMKM_HEADER, [cells(r) for r in doc["rows"]] + [cells(doc["jumlah"])]


def umkm_xlsx(doc: dict) -> xlsx.Table:
    C = xlsx.Column
    columns = [C("Skala Usaha", "text", width=18), C("Jumlah UMKM", width=12),
               C("Modal Usaha (Rp)", "rupiah", width=20), C("Hasil Penjualan/Omzet (Rp)", "rupiah", width=22),
               C("Aset (Rp)", "rupiah", width=20),
               C("Jumlah", group="Tenaga Kerja"), C("L", group="Tenaga Kerja"), C("P", group="Tenaga Kerja"),
               C("Memiliki NIB", width=12), C("Menggunakan Platform Digital", width=14)]

    def cells(r):
        return [r["nama"]] + [r[k] for k in ("jumlah", "modal_usaha", "hasil_penjualan", "aset",
                                             "tenaga_kerja_jumlah", "tenaga_kerja_l", "tenaga_kerja_p",
                                             "punya_nib", "platform_digital")]

    return xlsx.Table(
        title="UMKM per Skala Usaha", lines=_lines(doc), columns=columns,
        rows=[cells(r) for r in doc["rows"]], totals=[cells(doc["jumlah"])],
        notes=[f"Usaha besar (di atas batas UMKM, tidak termasuk dalam tabel): {angka_id(doc['usaha_besar'])}."],
        sheet="UMKM")


# ---------------------------------------------------------------- any grouping

def parse_by(values: list[str] | None) -> tuple[str, ...]:
    names: list[str] = []
    for v in values or []:
        names += [n.strip() for n in v.split(",") if n.strip()]
    if not names:
        raise invalid_field("by", "wajib diisi: paling sedikit satu dimensi dari " + ", ".join(queries.DIMENSIONS))
    for n in names:
        if n not in queries.DIMENSIONS:
            raise invalid_field("by", f"{n!r} bukan dimensi; pilih dari {', '.join(queries.DIMENSIONS)}")
    if len(set(names)) != len(names):
        raise invalid_field("by", "menyebut satu dimensi dua kali")
    if len(names) > MAX_BY:
        raise invalid_field("by", f"paling banyak {MAX_BY} dimensi")
    return tuple(names)


async def agregat(principal: Principal, periode: str, wilayah: str | None, by: tuple[str, ...],
                  status: list[str], jenis: str | None) -> dict:
    level, params, ref = await _area(principal, periode, wilayah)
    params.update(status=status, jenis=jenis or "")
    measures = queries.measures_for(jenis)
    stmt = queries.agregat(by, jenis, level, MAX_GROUPS)
    async with replicas.connect() as conn:
        found = (await conn.execute(stmt, params)).all()
    groups = [r for r in found if not r.is_total]
    if len(groups) > MAX_GROUPS:
        raise invalid_field("by", f"menghasilkan lebih dari {MAX_GROUPS} kelompok: pilih dimensi lebih sedikit "
                                 "atau wilayah lebih kecil")
    index = await get_index()

    def measured(r) -> dict:
        m = r._mapping
        return {name: _uang(m[name]) if kind == "uang" else int(m[name]) for name, (_, kind) in measures.items()}

    rows = []
    for r in groups:
        row: dict = {}
        for i, d in enumerate(by):
            v = r._mapping[f"d{i}"]
            row[d] = v
            if d in _WILAYAH_DIMS:
                row[_WILAYAH_DIMS[d]] = index.nama.get(v) if v else None
        row.update(measured(r))
        rows.append(row)
    totals = [r for r in found if r.is_total]
    jumlah = measured(totals[0]) if totals else {name: ("0" if kind == "uang" else 0)
                                                 for name, (_, kind) in measures.items()}
    return {"periode": periode, "wilayah": ref, "status": status, "jenis": jenis, "by": list(by),
            "rows": rows, "jumlah": jumlah}


_LABELS = {
    "jenis": "Jenis", "status": "Status", "kode_provinsi": "Kode Provinsi", "nama_provinsi": "Provinsi",
    "kode_kabkota": "Kode Kabupaten/Kota", "nama_kabkota": "Kabupaten/Kota", "kode_kecamatan": "Kode Kecamatan",
    "nama_kecamatan": "Kecamatan", "kode_desa": "Kode Desa/Kelurahan", "nama_desa": "Desa/Kelurahan",
    "skala_usaha": "Skala Usaha", "sektor": "Sektor (Kategori KBLI)", "kbli_golongan_pokok": "Golongan Pokok KBLI",
    "kbli": "KBLI", "status_tempat": "Status Tempat Usaha", "punya_nib": "Memiliki NIB",
    "platform_digital": "Platform Digital", "jenis_koperasi": "Jenis Koperasi", "kewenangan": "Kewenangan",
    "aktif": "Aktif", "kesehatan": "Kesehatan", "jumlah": "Jumlah", "aset": "Aset (Rp)",
    "modal_usaha": "Modal Usaha (Rp)", "hasil_penjualan": "Hasil Penjualan/Omzet (Rp)",
    "tenaga_kerja_l": "Tenaga Kerja L", "tenaga_kerja_p": "Tenaga Kerja P", "koperasi_aktif": "Koperasi Aktif",
    "anggota_l": "Anggota L", "anggota_p": "Anggota P", "manajer_l": "Manajer L", "manajer_p": "Manajer P",
    "karyawan_l": "Karyawan L", "karyawan_p": "Karyawan P", "modal_sendiri": "Modal Sendiri (Rp)",
    "modal_luar": "Modal Luar (Rp)", "volume_usaha": "Volume Usaha (Rp)", "shu": "SHU (Rp)",
}
_LABELS.update(usaha_punya_nib="Usaha Memiliki NIB", usaha_platform_digital="Usaha dengan Platform Digital")


def _dim_columns(doc: dict) -> list[str]:
    """The grouping columns of an agregat table: each dimension, a wilayah code followed by
    its name."""
    cols: list[str] = []
    for d in doc["by"]:
        cols.append(d)
        if d in _WILAYAH_DIMS:
            cols.append(_WILAYAH_DIMS[d])
    return cols


def _dim_cell(v, c: CsvCells = DISPLAY) -> str:
    if v is None:
        return c.nilai(None, "-")
    if isinstance(v, bool):
        return c.ya_tidak(v)
    return str(v)


def agregat_csv(doc: dict, c: CsvCells = DISPLAY) -> tuple[list[str], list[list]]:
    dim_cols = _dim_columns(doc)
    measure_cols = list(doc["jumlah"])
    header = [_LABELS[k] for k in dim_cols] + [_LABELS[k] for k in measure_cols]
    rows = [[_dim_cell(r[k], c) for k in dim_cols] + [c.angka(int(r[k])) for k in measure_cols]
            for r in doc["rows"]]
    rows.append(["Jumlah"] + [""] * (len(dim_cols) - 1) + [c.angka(int(doc["jumlah"][k])) for k in measure_cols])
    return header, rows


# Measures counted by sex: one header (the group) over L and P.
_GROUP_LP = {"tenaga_kerja": "Tenaga Kerja", "anggota": "Anggota", "manajer": "Manajer", "karyawan": "Karyawan"}


def agregat_xlsx(doc: dict) -> xlsx.Table:
    C = xlsx.Column
    kinds = queries.measures_for(doc["jenis"])
    dim_cols = _dim_columns(doc)
    measure_cols = list(doc["jumlah"])
    columns = [C(_LABELS[c], "text", width=28 if c.startswith("nama_") else 16) for c in dim_cols]
    for m in measure_cols:
        stem, _, sex = m.rpartition("_")
        if stem in _GROUP_LP and sex in ("l", "p"):
            columns.append(C(sex.upper(), group=_GROUP_LP[stem], width=10))
        else:
            columns.append(C(_LABELS[m], "rupiah" if kinds[m][1] == "uang" else "angka", width=18))

    rows = [[_dim_cell(r[c]) for c in dim_cols] + [r[m] for m in measure_cols] for r in doc["rows"]]
    total = ["Jumlah"] + [None] * (len(dim_cols) - 1) + [doc["jumlah"][m] for m in measure_cols]
    lines = _lines(doc)
    if doc["jenis"]:
        lines[1] += f"; jenis {doc['jenis']}"
    return xlsx.Table(title="Agregat PL-KUMKM per " + ", ".join(_LABELS[d] for d in doc["by"]), lines=lines,
                      columns=columns, rows=rows, totals=[total], sheet="Agregat")
