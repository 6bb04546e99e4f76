"""ODS-style aggregates over records in the chosen states (diterima unless asked otherwise):
keragaan koperasi, UMKM by skala, and any grouping over the documented dimensions. Their CSV
and workbook layouts are app.aggregates.export."""

from __future__ import annotations

from app.aggregates import queries
from app.core.errors import invalid_field
from app.infra import replicas
from app.record.reference import check_periode, check_wilayah, get_index, split_kode
from app.reporting.reports import persen, rasio
from app.security.policy import authorize
from app.security.principal import Principal

STATUSES = ("masuk", "diterima", "ditolak")
DEFAULT_STATUS = ["diterima"]
MAX_BY = 4
MAX_GROUPS = 10_000
SKALA_UMKM = ("mikro", "kecil", "menengah")
WILAYAH_DIMS = {
    "kode_provinsi": "nama_provinsi",
    "kode_kabkota": "nama_kabkota",
    "kode_kecamatan": "nama_kecamatan",
    "kode_desa": "nama_desa",
}


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

_KERAGAAN_SUMS = (
    "koperasi_jumlah",
    "koperasi_aktif",
    "koperasi_tidak_aktif",
    "anggota_l",
    "anggota_p",
    "rat",
    "manajer_l",
    "manajer_p",
    "karyawan_l",
    "karyawan_p",
    "modal_sendiri",
    "modal_luar",
    "volume_usaha",
    "shu",
)
UANG_KOPERASI = ("modal_sendiri", "modal_luar", "volume_usaha", "shu")


def _keragaan_row(no: int | None, kode: str | None, nama: str, t: dict) -> dict:
    row = {"no": no, "kode": kode, "nama": nama}
    for k in _KERAGAAN_SUMS:
        row[k] = _uang(t[k]) if k in UANG_KOPERASI else int(t[k])
    row["anggota_jumlah"] = row["anggota_l"] + row["anggota_p"]
    row["manajer_jumlah"] = row["manajer_l"] + row["manajer_p"]
    row["karyawan_jumlah"] = row["karyawan_l"] + row["karyawan_p"]
    row["persentase_aktif"] = rasio(row["koperasi_aktif"], row["koperasi_jumlah"])
    row["persen_aktif"] = persen(row["koperasi_aktif"], row["koperasi_jumlah"])
    return row


def _add(into: dict, r) -> None:
    for k in _KERAGAAN_SUMS:
        into[k] = into.get(k, 0) + int(getattr(r, k))


async def keragaan_koperasi(principal: Principal, periode: str, wilayah: str | None, status: list[str]) -> dict:
    level, params, ref = await _area(principal, periode, wilayah)
    if level not in queries.KERAGAAN:
        raise invalid_field(
            "wilayah",
            "harus kosong (nasional, baris per provinsi), provinsi (baris per "
            "kabupaten/kota) atau kabupaten/kota (baris per kecamatan): keragaan "
            "koperasi tidak dirinci lebih dalam",
        )
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
    return {
        "periode": periode,
        "wilayah": ref,
        "status": status,
        "rows": rows,
        "binaan_provinsi": _keragaan_row(None, None, "Binaan Provinsi", binaan["provinsi"]),
        "binaan_nasional": _keragaan_row(None, None, "Binaan Nasional", binaan["nasional"]),
        "jumlah": _keragaan_row(None, None, "Jumlah", total),
    }


# ---------------------------------------------------------------- UMKM by skala

_UMKM_SUMS = ("jumlah", "modal_usaha", "hasil_penjualan", "aset", "tenaga_kerja_l", "tenaga_kerja_p", "punya_nib", "platform_digital")
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
    return {
        "periode": periode,
        "wilayah": ref,
        "status": status,
        "rows": [_umkm_row(s, per_skala[s]) for s in SKALA_UMKM],
        "jumlah": _umkm_row(None, total),
        "usaha_besar": int(found["besar"]["jumlah"]) if "besar" in found else 0,
    }


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


async def agregat(
    principal: Principal, periode: str, wilayah: str | None, by: tuple[str, ...], status: list[str], jenis: str | None
) -> dict:
    level, params, ref = await _area(principal, periode, wilayah)
    params.update(status=status, jenis=jenis or "")
    measures = queries.measures_for(jenis)
    stmt = queries.agregat(by, jenis, level, MAX_GROUPS)
    async with replicas.connect() as conn:
        found = (await conn.execute(stmt, params)).all()
    groups = [r for r in found if not r.is_total]
    if len(groups) > MAX_GROUPS:
        raise invalid_field("by", f"menghasilkan lebih dari {MAX_GROUPS} kelompok: pilih dimensi lebih sedikit atau wilayah lebih kecil")
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
            if d in WILAYAH_DIMS:
                row[WILAYAH_DIMS[d]] = index.nama.get(v) if v else None
        row.update(measured(r))
        rows.append(row)
    totals = [r for r in found if r.is_total]
    jumlah = measured(totals[0]) if totals else {name: ("0" if kind == "uang" else 0) for name, (_, kind) in measures.items()}
    return {"periode": periode, "wilayah": ref, "status": status, "jenis": jenis, "by": list(by), "rows": rows, "jumlah": jumlah}


# ---------------------------------------------------------------- usaha and koperasi (entities)


async def entitas(principal: Principal, periode: str, wilayah: str | None) -> dict:
    """A round counts records, the registry counts usaha: both, for the area."""
    level, params, ref = await _area(principal, periode, wilayah)
    async with replicas.connect() as conn:
        found = {r.jenis: r for r in (await conn.execute(queries.ENTITAS[level], params)).all()}

    def jumlah(kapan: str) -> dict:
        def v(jenis: str, kolom: str) -> int:
            r = found.get(jenis)
            return 0 if r is None else int(r._mapping[f"{kolom}_{kapan}"])

        return {
            "usaha": v("umkm", "entitas"),
            "koperasi": v("koperasi", "entitas"),
            "rekaman_umkm": v("umkm", "rekaman"),
            "rekaman_koperasi": v("koperasi", "rekaman"),
            "belum_ditautkan": v("umkm", "belum") + v("koperasi", "belum"),
        }

    return {"periode": periode, "wilayah": ref, "periode_ini": jumlah("periode"), "semua_periode": jumlah("semua")}
