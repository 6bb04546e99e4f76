"""The record rules the service derives itself (app/record/rules.py), called directly:
no database, no service."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.record import rules
from app.record.rules import duplikat_kunci, normalise_nama, sektor_kbli, skala_usaha

M = 1_000_000_000  # Rp1 miliar
SKALA = ("mikro", "kecil", "menengah", "besar")


# ---------------------------------------------------------------- skala usaha (PP 7/2021)


@pytest.mark.parametrize(
    "modal,skala",
    [
        (0, "mikro"),
        (1, "mikro"),
        (1 * M, "mikro"),  # upper bounds are inclusive
        (1 * M + 1, "kecil"),
        (5 * M, "kecil"),
        (5 * M + 1, "menengah"),
        (10 * M, "menengah"),
        (10 * M + 1, "besar"),  # above menengah: not KUMKM
        (1_000 * M, "besar"),
    ],
)
def test_skala_by_modal_usaha_at_every_boundary(modal, skala):
    assert skala_usaha(modal, None) == skala


@pytest.mark.parametrize(
    "omzet,skala",
    [
        (0, "mikro"),
        (2 * M, "mikro"),
        (2 * M + 1, "kecil"),
        (15 * M, "kecil"),
        (15 * M + 1, "menengah"),
        (50 * M, "menengah"),
        (50 * M + 1, "besar"),
    ],
)
def test_skala_by_hasil_penjualan_when_modal_is_absent(omzet, skala):
    assert skala_usaha(None, omzet) == skala


def test_modal_decides_whenever_it_is_given_even_when_zero():
    assert skala_usaha(1 * M, 100 * M) == "mikro"
    assert skala_usaha(0, 100 * M) == "mikro"  # 0 is a modal, not a missing one
    assert skala_usaha(10 * M + 1, 0) == "besar"


def test_skala_is_unknown_without_modal_or_hasil_penjualan():
    assert skala_usaha(None, None) is None


@given(
    st.integers(min_value=0, max_value=10**15),
    st.integers(min_value=0, max_value=10**15),
    st.one_of(st.none(), st.integers(min_value=0, max_value=10**15)),
)
def test_skala_never_falls_as_modal_grows_and_ignores_omzet_when_modal_is_given(a, b, omzet):
    lo, hi = sorted((a, b))
    assert SKALA.index(skala_usaha(lo, omzet)) <= SKALA.index(skala_usaha(hi, omzet))
    assert skala_usaha(a, omzet) == skala_usaha(a, None)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=0, max_value=10**15))
def test_skala_never_falls_as_hasil_penjualan_grows(a, b):
    lo, hi = sorted((a, b))
    assert SKALA.index(skala_usaha(None, lo)) <= SKALA.index(skala_usaha(None, hi))


# ---------------------------------------------------------------- KBLI 2020 kategori

# The kategori of every golongan pokok 00..99, one character each ("-": no such golongan
# pokok), written out from KBLI 2020 rather than from the module's table.
KATEGORI_00_99 = (
    "-AAA-BBBBB"  # 00-09
    "CCCCCCCCCC"  # 10-19
    "CCCCCCCCCC"  # 20-29
    "CCCC-DEEEE"  # 30-39
    "-FFF-GGG-H"  # 40-49
    "HHHH-II-JJ"  # 50-59
    "JJJJKKK-LM"  # 60-69
    "MMMMMM-NNN"  # 70-79
    "NNN-OPQQQ-"  # 80-89
    "RRRRSSSTTU"  # 90-99
)


def test_sektor_of_every_golongan_pokok():
    got = "".join(sektor_kbli(f"{golongan:02d}000") or "-" for golongan in range(100))
    assert got == KATEGORI_00_99


@pytest.mark.parametrize(
    "kbli,sektor",
    [
        ("01111", "A"),  # pertanian jagung
        ("10710", "C"),  # industri roti
        ("47111", "G"),  # toko kelontong
        ("56101", "I"),  # restoran (the factory's record)
        ("62010", "J"),  # pemrograman komputer
        ("96011", "S"),  # binatu
        ("99000", "U"),
    ],
)
def test_sektor_of_real_kbli_codes(kbli, sektor):
    assert sektor_kbli(kbli) == sektor


@given(st.integers(min_value=0, max_value=99), st.from_regex(r"\A[0-9]{3}\Z"))
def test_sektor_depends_on_the_first_two_digits_only(golongan, rest):
    assert sektor_kbli(f"{golongan:02d}{rest}") == sektor_kbli(f"{golongan:02d}000")


def test_every_sektor_has_a_name_and_every_name_a_sektor():
    letters = {c for c in KATEGORI_00_99 if c != "-"}
    assert set(rules.SEKTOR_NAMA) == letters == set("ABCDEFGHIJKLMNOPQRSTU")
    assert rules.SEKTOR_NAMA["I"] == "Penyediaan Akomodasi dan Penyediaan Makan Minum"
    assert all(nama.strip() == nama and nama for nama in rules.SEKTOR_NAMA.values())


# ---------------------------------------------------------------- duplicate key


@pytest.mark.parametrize(
    "nama,normal",
    [
        ("Warung Makan Sederhana", "warung makan sederhana"),
        ("  WARUNG   makan-sederhana!! ", "warung makan sederhana"),
        ('Toko "Maju" Jaya, CV.', "toko maju jaya cv"),
        ("Usaha 2000\tMandiri\n", "usaha 2000 mandiri"),
        ("---", ""),
        # letters outside a-z separate words like punctuation does
        ("Kafé Ñusantara", "kaf usantara"),
    ],
)
def test_normalise_nama(nama, normal):
    assert normalise_nama(nama) == normal


@given(st.text())
def test_normalised_names_are_lowercase_words_single_spaced_and_stable(nama):
    normal = normalise_nama(nama)
    assert re.fullmatch(r"(?:[0-9a-z]+(?: [0-9a-z]+)*)?", normal), normal
    assert normalise_nama(normal) == normal


def test_duplicate_key_is_stable_across_versions():
    """Stored keys are compared with new ones, so the value must never change."""
    key = duplikat_kunci("2022", "16.07", "1607015205850001", "Warung Makan Sederhana")
    assert key == "ac954353d77cb703a175e0282999cda6"
    assert re.fullmatch(r"[0-9a-f]{32}", key)


_ASCII_WORDS = st.lists(st.from_regex(r"\A[A-Za-z0-9]{1,8}\Z"), min_size=1, max_size=5)
_SEPARATORS = st.from_regex(r"\A[ \-.,/&'\"()]{1,3}\Z")


@given(_ASCII_WORDS, _SEPARATORS, st.booleans())
def test_duplicate_key_ignores_case_punctuation_and_spacing_of_nama(words, sep, upper):
    plain = " ".join(words)
    other = sep + sep.join(w.upper() if upper else w.lower() for w in words) + sep
    assert duplikat_kunci("2022", "16.07", "1607015205850001", plain) == duplikat_kunci("2022", "16.07", "1607015205850001", other)


def test_duplicate_key_differs_by_periode_kabkota_nik_and_words_of_nama():
    base = ("2022", "16.07", "1607015205850001", "Warung Makan Sederhana")
    variants = [
        ("2023", *base[1:]),
        (base[0], "16.71", *base[2:]),
        (*base[:2], "1607015205850002", base[3]),
        (*base[:3], "Warung Makan Sederhana 2"),
        (*base[:3], "Warung Sederhana"),
    ]
    keys = {duplikat_kunci(*base)} | {duplikat_kunci(*v) for v in variants}
    assert len(keys) == 1 + len(variants)
