"""What a partner may ask (app/mitra/rules.py) and how its batch file is read
(app/mitra/berkas.py): the refusals that guard against enumeration, without echoing a value."""

from __future__ import annotations

import pytest

from app.core.errors import Problem
from app.mitra import berkas, rules
from app.mitra.rules import Ditolak, Pertanyaan

NIK = "1607015205850001"
KEY = ("kur", "bantuan")


def ask(**values) -> Pertanyaan | Ditolak:
    return rules.periksa({"tujuan": "kur", **values}, KEY)


def test_complete_identifiers_are_normalised():
    assert ask(nib=" 912-000.123 4567 ") == Pertanyaan("kur", "nib", "9120001234567")
    assert ask(nik_koperasi="1607012345678901") == Pertanyaan("kur", "nik_koperasi", "1607012345678901")
    assert ask(nomor_badan_hukum="123/bh/XII/2010") == Pertanyaan("kur", "nomor_badan_hukum", "123BHXII2010")
    assert ask(nik_pemilik=NIK, nama_usaha="U.D. Warung Makan Bu  Siti") == Pertanyaan("kur", "nik_pemilik", NIK, "bu siti")
    assert rules.periksa({"tujuan": " KUR ", "nib": "9120001234567"}, KEY) == Pertanyaan("kur", "nib", "9120001234567")


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"nib": "912000123456"}, "nib"),
        ({"nib": "９１２０００１２３４５６７"}, "nib"),  # full-width digits are not ASCII digits
        ({"nib": "9120001234567", "nik_koperasi": "1607012345678901"}, "nik_koperasi"),
        ({"nik_pemilik": NIK}, "nama_usaha"),
        ({"nik_pemilik": NIK, "nama_usaha": "  "}, "nama_usaha"),
        ({"nik_pemilik": NIK + "1", "nama_usaha": "Bu Siti"}, "nik_pemilik"),
        ({"nik_pemilik": NIK[:-1] + "_", "nama_usaha": "Bu Siti"}, "nik_pemilik"),
        ({"nama_usaha": "Bu Siti"}, "nama_usaha"),
        ({"nomor_badan_hukum": "BH/XII"}, "nomor_badan_hukum"),
        ({"nomor_badan_hukum": "12*"}, "nomor_badan_hukum"),
        ({"nib": "9" * 300}, "nib"),
        ({}, "nib"),
    ],
)
def test_refusals_name_the_field_and_never_the_value(values, field):
    got = ask(**values)
    assert isinstance(got, Ditolak) and got.field == field and not got.forbidden
    assert got.message.startswith(field) and got.tujuan == "kur"
    for v in values.values():
        if v.strip():
            assert v.strip() not in got.message


def test_every_wildcard_is_refused():
    for ch in "%*?_":
        got = ask(nik_pemilik=NIK, nama_usaha=f"Bu Siti{ch}")
        assert isinstance(got, Ditolak) and "karakter pengganti" in got.message


def test_purpose_missing_unknown_or_not_the_keys():
    missing = rules.periksa({"nib": "9120001234567"}, KEY)
    unknown = rules.periksa({"tujuan": "judi", "nib": "9120001234567"}, KEY)
    other = rules.periksa({"tujuan": "pelatihan", "nib": "9120001234567"}, KEY)
    assert isinstance(missing, Ditolak) and missing.tujuan == rules.TANPA_TUJUAN and not missing.forbidden
    assert isinstance(unknown, Ditolak) and unknown.tujuan == rules.TANPA_TUJUAN and "judi" not in unknown.message
    assert isinstance(other, Ditolak) and other.forbidden and other.tujuan == "pelatihan"


def test_a_file_is_read_in_order_with_its_lines():
    data = "\ufefftujuan;nib;nama_usaha\r\nkur;9120001234567;\r\n\r\nbantuan;;x\r\n".encode()
    got = berkas.read(data)
    assert got.columns == ("tujuan", "nib", "nama_usaha")
    assert got.rows == [{"tujuan": "kur", "nib": "9120001234567", "nama_usaha": ""}, {"tujuan": "bantuan", "nib": "", "nama_usaha": "x"}]
    assert got.baris == [2, 4]


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (b"NIB,Warna\n1,2\n", "baris 1, kolom 2 (warna)"),
        (b"nib,,\n1,2,3\n", "baris 1, kolom 2 (kosong)"),
        (b"tujuan\nkur\n", "baris 1: header tidak memuat kolom pengenal"),
        (b"nib\n1\n2,3\n", "baris 3, kolom 2"),
        (b'nib\n"1\n', "baris 2"),
        (b"nib\n1\x00\n", "baris 2: memuat karakter NUL"),
        (b"nib\n1\n\xc3\x28\n", "baris 3: bukan teks UTF-8"),
    ],
)
def test_an_unreadable_file_names_row_and_column(data, where):
    with pytest.raises(Problem) as caught:
        berkas.read(data)
    assert caught.value.status == 422 and where in (caught.value.detail or ""), caught.value.detail


def test_rows_past_the_limit_are_413_at_the_first_one():
    ok = berkas.read(b"nib\n" + b"1\n" * berkas.MAX_ROWS)
    assert len(ok.rows) == berkas.MAX_ROWS
    with pytest.raises(Problem) as caught:
        berkas.read(b"nib\n" + b"1\n" * (berkas.MAX_ROWS + 1))
    assert caught.value.status == 413
