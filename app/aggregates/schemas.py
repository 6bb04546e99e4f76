from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

Uang = str  # rupiah sum as a string of digits: exact beyond 2^53, where JSON numbers stop being safe


class WilayahRef(BaseModel):
    kode: str
    nama: str
    level: int


class KeragaanRow(BaseModel):
    no: int | None = Field(description="row number for kabupaten/kota rows; null on Binaan and Jumlah rows")
    kode: str | None
    nama: str
    koperasi_jumlah: int
    koperasi_aktif: int
    koperasi_tidak_aktif: int
    anggota_jumlah: int
    anggota_l: int
    anggota_p: int
    rat: int = Field(description="koperasi whose last RAT was held in the periode's year")
    manajer_jumlah: int
    manajer_l: int
    manajer_p: int
    karyawan_jumlah: int
    karyawan_l: int
    karyawan_p: int
    modal_sendiri: Uang
    modal_luar: Uang
    volume_usaha: Uang
    shu: Uang
    persentase_aktif: str | None = Field(description="koperasi_aktif / koperasi_jumlah, 8 decimals; null with no koperasi")
    persen_aktif: str | None = Field(description='the same for display, e.g. "73,91%"')


class KeragaanOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None
    status: list[str]
    rows: list[KeragaanRow] = Field(description="one per child wilayah: koperasi under kabupaten/kota authority")
    binaan_provinsi: KeragaanRow
    binaan_nasional: KeragaanRow
    jumlah: KeragaanRow


class UmkmRow(BaseModel):
    skala_usaha: str | None = Field(description="mikro, kecil, menengah; null on the Jumlah row")
    nama: str
    jumlah: int
    modal_usaha: Uang
    hasil_penjualan: Uang = Field(description="omzet tahunan")
    aset: Uang
    tenaga_kerja_jumlah: int
    tenaga_kerja_l: int
    tenaga_kerja_p: int
    punya_nib: int = Field(description="UMKM with a NIB")
    platform_digital: int = Field(description="UMKM using digital platforms")


class UmkmOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None
    status: list[str]
    rows: list[UmkmRow]
    jumlah: UmkmRow
    usaha_besar: int = Field(description="records with skala besar: above UMKM thresholds, not in the rows or Jumlah")


class AgregatOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None
    status: list[str]
    jenis: str | None
    by: list[str]
    rows: list[dict[str, Any]] = Field(description="one per group: the dimension values (plus nama_* for wilayah codes), then the measures")
    jumlah: dict[str, Any] = Field(description="the measures over all rows")


class JumlahEntitas(BaseModel):
    usaha: int = Field(description="distinct UMKM entities (usaha) with a diterima record")
    koperasi: int = Field(description="distinct koperasi entities with a diterima record")
    rekaman_umkm: int = Field(description="diterima UMKM records")
    rekaman_koperasi: int = Field(description="diterima koperasi records")
    belum_ditautkan: int = Field(description="diterima records not yet linked to an entity (the linker is behind)")


class AgregatEntitasOut(BaseModel):
    periode: str
    wilayah: WilayahRef | None
    periode_ini: JumlahEntitas = Field(description="records of the periode, and the usaha and koperasi they are")
    semua_periode: JumlahEntitas = Field(
        description="the same over every periode: a usaha found in two rounds is two records and one usaha"
    )
