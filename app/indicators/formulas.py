"""Registry formulas as data. An indicator with `sumber: registry` names one of these and may
give parameters; the service evaluates every formula with the same three shapes, so a new
indicator never needs new code:

- `rasio`: pembilang / penyebut (x 100 when the unit is persen);
- `pertumbuhan`: (x_n - x_{n-1}) / x_{n-1} x 100, over periode n and n-1;
- `jumlah`: x_n.

Terms are names from the vocabulary `queries.UKURAN` (aggregates of diterima records) or
`target_pendataan` (the pendataan target in force). The generic formulas `rasio`,
`pertumbuhan` and `jumlah` take their terms from the indicator's parameters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.indicators.queries import KOLOM_MENINGKAT, TARGET_PENDATAAN, UKURAN

SKALA_KUMKM = ["mikro", "kecil", "menengah"]
SKALA_SEMUA = ("mikro", "kecil", "menengah", "besar")

# Parameters that refine vocabulary terms, with their defaults. `besar` is not KUMKM
# (PP 7/2021), so UMKM terms count mikro, kecil and menengah unless told otherwise.
MODIFIER_BAWAAN: dict[str, Any] = {"skala": SKALA_KUMKM, "rat_selisih_tahun": 0}


@dataclass(frozen=True)
class Formula:
    kode: str
    nama: str
    bentuk: str  # rasio | pertumbuhan | jumlah
    satuan: str | None  # None: the unit of the term (generic jumlah)
    pembilang: str | None = None  # rasio numerator; pertumbuhan/jumlah: the term
    penyebut: str | None = None  # rasio denominator
    parameter: dict[str, Any] = field(default_factory=dict)  # fixed modifiers
    boleh: tuple[str, ...] = ()  # parameters an indicator may set
    generik: bool = False  # terms come from the indicator's parameters


FORMULA: dict[str, Formula] = {
    f.kode: f
    for f in (
        Formula("persentase_koperasi_aktif", "Persentase koperasi aktif", "rasio", "persen", "koperasi_aktif", "koperasi"),
        Formula(
            "persentase_koperasi_rat",
            "Persentase koperasi yang melaksanakan RAT pada tahun n",
            "rasio",
            "persen",
            "koperasi_rat",
            "koperasi",
            boleh=("rat_selisih_tahun",),
        ),
        Formula("persentase_koperasi_nik", "Persentase koperasi yang memiliki NIK", "rasio", "persen", "koperasi_nik", "koperasi"),
        Formula("pertumbuhan_modal_koperasi", "Pertumbuhan modal koperasi (sendiri + luar)", "pertumbuhan", "persen", "koperasi_modal"),
        Formula("pertumbuhan_volume_usaha_koperasi", "Pertumbuhan volume usaha koperasi", "pertumbuhan", "persen", "koperasi_volume_usaha"),
        Formula(
            "persentase_umkm_nib",
            "Persentase UMKM yang memiliki NIB (informal ke formal)",
            "rasio",
            "persen",
            "umkm_nib",
            "umkm",
            boleh=("skala",),
        ),
        Formula(
            "persentase_usaha_kecil_digital",
            "Persentase usaha kecil yang memanfaatkan platform digital",
            "rasio",
            "persen",
            "umkm_digital",
            "umkm",
            parameter={"skala": ["kecil"]},
        ),
        Formula("jumlah_umkm", "Jumlah UMKM (per skala: parameter skala)", "jumlah", "unit", "umkm", boleh=("skala",)),
        Formula("jumlah_usaha_mikro", "Jumlah usaha mikro", "jumlah", "unit", "umkm", parameter={"skala": ["mikro"]}),
        Formula("jumlah_usaha_kecil", "Jumlah usaha kecil", "jumlah", "unit", "umkm", parameter={"skala": ["kecil"]}),
        Formula("jumlah_usaha_menengah", "Jumlah usaha menengah", "jumlah", "unit", "umkm", parameter={"skala": ["menengah"]}),
        Formula("capaian_pendataan", "Capaian pendataan (diterima / target)", "rasio", "persen", "diterima", TARGET_PENDATAAN),
        # From entities (docs/registry.md): each usaha or koperasi followed from periode n-1 to n.
        Formula("umkm_naik_kelas", "Jumlah UMKM naik kelas (skala usaha naik dari n-1 ke n)", "jumlah", "unit", "umkm_naik_kelas"),
        Formula(
            "persen_usaha_kecil_naik_kelas",
            "Persentase usaha kecil yang naik kelas (kecil pada n-1, menengah pada n)",
            "rasio",
            "persen",
            "umkm_kecil_naik_kelas",
            "umkm_kecil_ditemukan",
        ),
        Formula(
            "pertumbuhan_modal_koperasi_entitas",
            "Pertumbuhan modal koperasi (sendiri + luar) per koperasi yang terdata pada n-1 dan n",
            "rasio",
            "persen",
            "koperasi_modal_kenaikan",
            "koperasi_modal_tahun_lalu",
        ),
        Formula("usaha_baru", "Jumlah usaha baru (terdata pertama kali pada n)", "jumlah", "unit", "usaha_baru"),
        Formula(
            "usaha_tidak_ditemukan",
            "Jumlah usaha tidak ditemukan lagi (terdata pada n-1, tidak pada n)",
            "jumlah",
            "unit",
            "usaha_tidak_ditemukan",
        ),
        Formula(
            "umkm_meningkat",
            "Jumlah UMKM yang meningkat pada satu isian (parameter kolom: punya_nib, "
            "izin_usaha, platform_digital; tidak pada n-1, ya pada n)",
            "jumlah",
            "unit",
            "umkm_meningkat",
            boleh=("kolom",),
        ),
        Formula(
            "rasio",
            "Rasio dua ukuran registry (parameter pembilang, penyebut)",
            "rasio",
            "persen",
            boleh=("pembilang", "penyebut", "skala", "rat_selisih_tahun", "kolom"),
            generik=True,
        ),
        Formula(
            "pertumbuhan",
            "Pertumbuhan satu ukuran registry (parameter ukuran)",
            "pertumbuhan",
            "persen",
            boleh=("ukuran", "skala", "rat_selisih_tahun", "kolom"),
            generik=True,
        ),
        Formula(
            "jumlah",
            "Nilai satu ukuran registry (parameter ukuran)",
            "jumlah",
            None,
            boleh=("ukuran", "skala", "rat_selisih_tahun", "kolom"),
            generik=True,
        ),
    )
}


@dataclass(frozen=True)
class Resolved:
    """A formula with an indicator's parameters applied: the terms and their modifiers."""

    formula: Formula
    bentuk: str
    satuan: str
    pembilang: str
    penyebut: str | None
    modifier: dict[str, Any]

    def terms(self) -> list[str]:
        return [t for t in (self.pembilang, self.penyebut) if t is not None]


def _check_term(name: Any, fld: str, errors: list[dict], *, allow_target: bool) -> None:
    if not isinstance(name, str) or not (name in UKURAN or (allow_target and name == TARGET_PENDATAAN)):
        choices = sorted(UKURAN) + ([TARGET_PENDATAAN] if allow_target else [])
        errors.append({"field": fld, "message": f"{fld} harus salah satu dari: {', '.join(choices)}"})


def resolve(kode: str | None, parameter: dict[str, Any] | None) -> tuple[Resolved | None, list[dict]]:
    """Validate a formula choice and its parameters; field errors name `formula` or
    `parameter.<name>`. Used when an indicator is defined, so evaluation never fails."""
    errors: list[dict] = []
    f = FORMULA.get(kode) if isinstance(kode, str) else None
    if f is None:
        return None, [{"field": "formula", "message": f"formula tidak dikenal; salah satu dari: {', '.join(FORMULA)}"}]
    parameter = parameter or {}
    for k in parameter:
        if k not in f.boleh:
            allowed = ", ".join(f.boleh) or "tidak ada"
            errors.append({"field": f"parameter.{k}", "message": f"parameter.{k} bukan parameter formula {kode} (yang boleh: {allowed})"})
    modifier = {**MODIFIER_BAWAAN, **f.parameter}
    if "skala" in parameter:
        v = parameter["skala"]
        if not isinstance(v, list) or not v or any(x not in SKALA_SEMUA for x in v) or len(set(v)) != len(v):
            errors.append(
                {
                    "field": "parameter.skala",
                    "message": f"parameter.skala harus daftar tidak kosong tanpa nilai kembar dari: {', '.join(SKALA_SEMUA)}",
                }
            )
        else:
            modifier["skala"] = sorted(v, key=SKALA_SEMUA.index)
    if "rat_selisih_tahun" in parameter:
        v = parameter["rat_selisih_tahun"]
        if isinstance(v, bool) or not isinstance(v, int) or not -5 <= v <= 0:
            errors.append(
                {"field": "parameter.rat_selisih_tahun", "message": "parameter.rat_selisih_tahun harus bilangan bulat dari -5 sampai 0"}
            )
        else:
            modifier["rat_selisih_tahun"] = v
    if "kolom" in parameter:
        v = parameter["kolom"]
        if v not in KOLOM_MENINGKAT:
            errors.append({"field": "parameter.kolom", "message": f"parameter.kolom harus salah satu dari: {', '.join(KOLOM_MENINGKAT)}"})
        else:
            modifier["kolom"] = v
    pembilang, penyebut = f.pembilang, f.penyebut
    if f.generik:
        if f.bentuk == "rasio":
            pembilang, penyebut = parameter.get("pembilang"), parameter.get("penyebut")
            _check_term(pembilang, "parameter.pembilang", errors, allow_target=False)
            _check_term(penyebut, "parameter.penyebut", errors, allow_target=True)
        else:
            pembilang = parameter.get("ukuran")
            _check_term(pembilang, "parameter.ukuran", errors, allow_target=False)
    # `kolom` has no default: which field a dinas counts is its own definition, never a guess
    if "kolom" not in parameter and not errors and any(t in UKURAN and "kolom" in UKURAN[t].parameter for t in (pembilang, penyebut)):
        errors.append({"field": "parameter.kolom", "message": f"parameter.kolom wajib diisi: salah satu dari {', '.join(KOLOM_MENINGKAT)}"})
    if errors:
        return None, errors
    satuan = f.satuan or UKURAN[pembilang].satuan
    return Resolved(f, f.bentuk, satuan, pembilang, penyebut, modifier), []


def katalog() -> dict:
    """The documented set, served by GET /api/v1/indikator/formula."""
    return {
        "ukuran": [
            {"nama": u.nama, "keterangan": u.keterangan, "satuan": u.satuan, "parameter": list(u.parameter)} for u in UKURAN.values()
        ]
        + [
            {
                "nama": TARGET_PENDATAAN,
                "keterangan": "pendataan target in force at as_of (target_pendataan) for the wilayah and periode",
                "satuan": "unit",
                "parameter": [],
            }
        ],
        "formula": [
            {
                "kode": f.kode,
                "nama": f.nama,
                "bentuk": f.bentuk,
                "satuan": f.satuan,
                "pembilang": f.pembilang,
                "penyebut": f.penyebut,
                "parameter_tetap": f.parameter,
                "parameter_boleh": list(f.boleh),
            }
            for f in FORMULA.values()
        ],
        "parameter_bawaan": MODIFIER_BAWAAN,
    }
