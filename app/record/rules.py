"""Domain rules that the service derives itself, so no client can get them wrong."""

from __future__ import annotations

import hashlib
import re

JUTA = 1_000_000
MILIAR = 1_000 * JUTA

# PP 7/2021 Pasal 35: modal usaha excluding land and buildings, upper bounds inclusive.
SKALA_BY_MODAL = ((1 * MILIAR, "mikro"), (5 * MILIAR, "kecil"), (10 * MILIAR, "menengah"))
# Where modal is not given: hasil penjualan tahunan.
SKALA_BY_OMZET = ((2 * MILIAR, "mikro"), (15 * MILIAR, "kecil"), (50 * MILIAR, "menengah"))


def skala_usaha(modal_usaha: int | None, hasil_penjualan_tahunan: int | None) -> str | None:
    """mikro / kecil / menengah, or `besar` above menengah (not KUMKM). Modal decides when
    given; otherwise hasil penjualan; None when neither is known."""
    if modal_usaha is not None:
        value, bands = modal_usaha, SKALA_BY_MODAL
    elif hasil_penjualan_tahunan is not None:
        value, bands = hasil_penjualan_tahunan, SKALA_BY_OMZET
    else:
        return None
    for bound, name in bands:
        if value <= bound:
            return name
    return "besar"


# KBLI 2020 kategori (lapangan usaha) by the first two digits (golongan pokok).
_KATEGORI = (
    ("A", 1, 3),
    ("B", 5, 9),
    ("C", 10, 33),
    ("D", 35, 35),
    ("E", 36, 39),
    ("F", 41, 43),
    ("G", 45, 47),
    ("H", 49, 53),
    ("I", 55, 56),
    ("J", 58, 63),
    ("K", 64, 66),
    ("L", 68, 68),
    ("M", 69, 75),
    ("N", 77, 82),
    ("O", 84, 84),
    ("P", 85, 85),
    ("Q", 86, 88),
    ("R", 90, 93),
    ("S", 94, 96),
    ("T", 97, 98),
    ("U", 99, 99),
)

SEKTOR_NAMA = {
    "A": "Pertanian, Kehutanan dan Perikanan",
    "B": "Pertambangan dan Penggalian",
    "C": "Industri Pengolahan",
    "D": "Pengadaan Listrik, Gas, Uap/Air Panas dan Udara Dingin",
    "E": "Treatment Air, Treatment Air Limbah, Treatment dan Pemulihan Material Sampah",
    "F": "Konstruksi",
    "G": "Perdagangan Besar dan Eceran; Reparasi dan Perawatan Mobil dan Sepeda Motor",
    "H": "Pengangkutan dan Pergudangan",
    "I": "Penyediaan Akomodasi dan Penyediaan Makan Minum",
    "J": "Informasi dan Komunikasi",
    "K": "Aktivitas Keuangan dan Asuransi",
    "L": "Real Estat",
    "M": "Aktivitas Profesional, Ilmiah dan Teknis",
    "N": "Aktivitas Penyewaan dan Sewa Guna Usaha Tanpa Hak Opsi, Ketenagakerjaan, Agen Perjalanan",
    "O": "Administrasi Pemerintahan, Pertahanan dan Jaminan Sosial Wajib",
    "P": "Pendidikan",
    "Q": "Aktivitas Kesehatan Manusia dan Aktivitas Sosial",
    "R": "Kesenian, Hiburan dan Rekreasi",
    "S": "Aktivitas Jasa Lainnya",
    "T": "Aktivitas Rumah Tangga sebagai Pemberi Kerja",
    "U": "Aktivitas Badan Internasional dan Badan Ekstra Internasional Lainnya",
}


def sektor_kbli(kbli: str) -> str | None:
    """The KBLI kategori letter of a 5-digit code, or None when its golongan pokok does not exist."""
    golongan = int(kbli[:2])
    for letter, lo, hi in _KATEGORI:
        if lo <= golongan <= hi:
            return letter
    return None


_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_nama(nama: str) -> str:
    return _NON_ALNUM.sub(" ", nama.lower()).strip()


def nik_kunci(nik: str) -> str:
    """The NIK pemilik as the enumerator flag compares it (app/kampanye, docs/kampanye.md): the
    first 16 hex digits of its SHA-256, the same as migration 0017 computes in SQL for the
    records stored before it. Equal NIKs, equal keys; no answer shows it."""
    return hashlib.sha256(nik.encode()).hexdigest()[:16]


def duplikat_kunci(periode: str, kode_kabkota: str, nik: str, nama_usaha: str) -> str:
    """Records with the same key are likely the same business seen twice (same NIK pemilik,
    same normalised nama usaha, one kabkota and periode)."""
    raw = "|".join((periode, kode_kabkota, nik, normalise_nama(nama_usaha)))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]
