"""Valid PL-KUMKM records to start each test from; tests change one field to probe a rule."""

from __future__ import annotations

import datetime as dt
import random
import uuid

DESA = "16.07.01.2001"  # Sungai Rebo, Kec. Rambutan, Kab. Banyuasin
KABKOTA = "16.07"


def nik(
    kecamatan6: str = "160701", *, day: int = 12, month: int = 5, year2: int = 85, perempuan: bool = False, serial: int | None = None
) -> str:
    d = day + 40 if perempuan else day
    s = serial if serial is not None else random.randint(1, 9999)
    return f"{kecamatan6}{d:02d}{month:02d}{year2:02d}{s:04d}"


def umkm(**over) -> dict:
    rec = {
        "submission_id": str(uuid.uuid4()),
        "periode": "2022",
        "jenis": "umkm",
        "enumerator_id": "ENUM-001",
        "kode_wilayah": DESA,
        "captured_at": "2022-06-01T09:30:00+07:00",
        "nama_usaha": "Warung Makan Sederhana",
        "nama_pemilik": "Siti Aminah",
        "nik_pemilik": nik(perempuan=True),
        "alamat": "Jl. Merdeka No. 1",
        "telepon": "081234567890",
        "kbli": "56101",
        "status_tempat": "menetap",
        "modal_usaha": 25_000_000,
        "hasil_penjualan_tahunan": 120_000_000,
        "tenaga_kerja_laki_laki": 1,
        "tenaga_kerja_perempuan": 2,
        "platform_digital": True,
        "izin_usaha": False,
    }
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not ...}


def koperasi(**over) -> dict:
    rec = {
        "submission_id": str(uuid.uuid4()),
        "periode": "2022",
        "jenis": "koperasi",
        "enumerator_id": "ENUM-001",
        "kode_wilayah": DESA,
        "captured_at": "2022-06-01T09:30:00+07:00",
        "nama_koperasi": "KSP Maju Bersama",
        "nomor_badan_hukum": "123/BH/XII/2010",
        "jenis_koperasi": "simpan_pinjam",
        "kewenangan": "kabkota",
        "aktif": True,
        "tahun_rat_terakhir": 2021,
        "anggota_laki_laki": 120,
        "anggota_perempuan": 80,
        "manajer_laki_laki": 1,
        "manajer_perempuan": 0,
        "karyawan_laki_laki": 3,
        "karyawan_perempuan": 2,
        "modal_sendiri": 1_250_000_000,
        "modal_luar": 400_000_000,
        "volume_usaha": 2_000_000_000,
        "shu": 150_000_000,
        "izin_usaha_simpan_pinjam": True,
        "kesehatan": "sehat",
    }
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not ...}


def now_plus(minutes: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)).isoformat()
