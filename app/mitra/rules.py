"""What a partner may ask (docs/mitra.md): one complete identifier, or NIK pemilik with nama
usaha, and a purpose its key allows. Pure functions.

The refusals guard against enumeration: a look-up answers only a question that names exactly
one usaha or koperasi, so partial identifiers (too short, not all digits), wildcards and a NIK
without a name are refused before anything is looked up, and the name is compared exactly after
normalising (a fuzzy match would let a partner walk a person's businesses by guessing names).
No message here holds the value refused: a NIK sent by mistake is never echoed back."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.record import nama
from app.security.principal import TUJUAN

# The identifiers a question may carry, in the order a refusal lists them.
PENGENAL = ("nib", "nik_koperasi", "nomor_badan_hukum", "nik_pemilik")
FIELDS = ("tujuan", *PENGENAL, "nama_usaha")
# The jenis of entity each identifier belongs to (kumkm_pengenal holds nib for UMKM, the other
# two for koperasi; a NIK pemilik is a UMKM's owner).
JENIS = {"nib": "umkm", "nik_koperasi": "koperasi", "nomor_badan_hukum": "koperasi", "nik_pemilik": "umkm"}
DIGITS = {"nib": 13, "nik_koperasi": 16, "nik_pemilik": 16}
# A badan hukum number is written in many formats (`123/BH/XII/2010`,
# `AHU-0001234.AH.01.26.TAHUN 2019`); compared as the linker stores it (upper-case letters and
# digits), and complete enough to name one koperasi: at least this many characters and digits.
BADAN_HUKUM_MIN = 6
BADAN_HUKUM_MIN_DIGITS = 4
# A nama usaha shorter than this after normalising names nothing in particular.
NAMA_MIN = 3
MAX_CHARS = 200

WILDCARDS = re.compile(r"[%*?_]")
_SEPARATORS = re.compile(r"[\s.\-]+")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")

# The purpose recorded for a look-up refused before it named a purpose its key knows: an
# unknown text is never stored as a purpose.
TANPA_TUJUAN = "-"


@dataclass(frozen=True)
class Pertanyaan:
    """A question that may be looked up: which identifier, its normalised value, and for a NIK
    the normalised nama usaha it must go with."""

    tujuan: str
    dengan: str
    nilai: str
    nama: str | None = None


@dataclass(frozen=True)
class Ditolak:
    """A question refused: the field and the reason (Indonesian, starting with the field's
    name, never holding the value sent); `forbidden` when the purpose is known but not the
    key's (403, not 422). `tujuan` is the purpose to count it under."""

    field: str
    message: str
    tujuan: str = TANPA_TUJUAN
    forbidden: bool = False


def tujuan_list() -> str:
    return ", ".join(TUJUAN)


def periksa(values: dict[str, str | None], allowed: tuple[str, ...]) -> Pertanyaan | Ditolak:
    """A look-up's fields (as sent, None or "" for absent) -> the question, or the first reason
    to refuse it. `allowed`: the purposes of the key."""
    tujuan = (values.get("tujuan") or "").strip().lower()
    if not tujuan:
        return Ditolak("tujuan", f"tujuan wajib diisi: salah satu tujuan kunci ini ({', '.join(allowed)})")
    if tujuan not in TUJUAN:
        return Ditolak("tujuan", f"tujuan tidak dikenal; yang dikenal: {tujuan_list()}")
    if tujuan not in allowed:
        return Ditolak("tujuan", f"tujuan {tujuan} tidak termasuk tujuan kunci ini ({', '.join(allowed)})", tujuan, forbidden=True)
    given = {f: v.strip() for f in (*PENGENAL, "nama_usaha") if (v := values.get(f)) is not None and v.strip()}
    for f, v in given.items():
        if len(v) > MAX_CHARS:
            return Ditolak(f, f"{f} paling banyak {MAX_CHARS} karakter", tujuan)
        if WILDCARDS.search(v):
            return Ditolak(f, f"{f} tidak boleh memuat karakter pengganti (% * ? _): cek hanya menjawab pengenal yang lengkap", tujuan)
    asked = [f for f in PENGENAL if f in given]
    if not asked:
        field = "nama_usaha" if "nama_usaha" in given else "nib"
        return Ditolak(
            field,
            f"{field}: kirim tepat satu pengenal: nib, nik_koperasi, nomor_badan_hukum, atau nik_pemilik bersama nama_usaha",
            tujuan,
        )
    if len(asked) > 1:
        return Ditolak(asked[1], f"{asked[1]}: kirim satu pengenal saja per pertanyaan (terkirim: {', '.join(asked)})", tujuan)
    dengan = asked[0]
    raw = given[dengan]
    if dengan == "nomor_badan_hukum":
        nilai = _NOT_ALNUM.sub("", raw).upper()
        if len(nilai) < BADAN_HUKUM_MIN or sum(ch.isdigit() for ch in nilai) < BADAN_HUKUM_MIN_DIGITS:
            return Ditolak(
                dengan,
                f"nomor_badan_hukum tidak lengkap: paling sedikit {BADAN_HUKUM_MIN} huruf/angka, {BADAN_HUKUM_MIN_DIGITS} di "
                "antaranya angka (pengenal sebagian ditolak)",
                tujuan,
            )
    else:
        nilai = _SEPARATORS.sub("", raw)
        n = DIGITS[dengan]
        if not (len(nilai) == n and nilai.isascii() and nilai.isdigit()):
            return Ditolak(dengan, f"{dengan} harus tepat {n} angka (pengenal sebagian ditolak)", tujuan)
    if dengan != "nik_pemilik":
        if "nama_usaha" in given:
            return Ditolak("nama_usaha", "nama_usaha hanya dipakai bersama nik_pemilik", tujuan)
        return Pertanyaan(tujuan, dengan, nilai)
    if "nama_usaha" not in given:
        return Ditolak("nama_usaha", "nama_usaha wajib diisi bersama nik_pemilik: NIK saja tidak dijawab", tujuan)
    normal = nama.normalise(given["nama_usaha"])
    if len(normal.replace(" ", "")) < NAMA_MIN:
        return Ditolak("nama_usaha", f"nama_usaha terlalu pendek: paling sedikit {NAMA_MIN} huruf/angka setelah dinormalkan", tujuan)
    return Pertanyaan(tujuan, dengan, nilai, normal)
