"""The registry's pure rules: the id_kumkm check digit (app/registry/idkumkm.py) and the
normalisation and similarity of usaha names (app/record/nama.py)."""

from __future__ import annotations

import random

import pytest

from app.record import nama
from app.registry import idkumkm

# A spread of entity numbers: the first ones, round numbers, random ones, the last one.
_rng = random.Random(29)
SAMPLE = [1, 2, 9, 10, 1234, 99_999, 100_000, 123_456_789, idkumkm.MAX_NOMOR] + [_rng.randint(1, idkumkm.MAX_NOMOR) for _ in range(60)]


def test_make_is_canonical_and_valid():
    made = idkumkm.make("umkm", 1234)
    assert made == "U0000012341"  # Damm over "2000001234" is 1
    assert len(made) == idkumkm.LENGTH
    assert idkumkm.make("koperasi", 1234).startswith("K000001234")
    assert idkumkm.damm("572") == 4  # the algorithm's textbook example
    for n in SAMPLE:
        for jenis in ("umkm", "koperasi"):
            made = idkumkm.make(jenis, n)
            assert idkumkm.normalise(made) == made
            assert idkumkm.valid(made)
            assert idkumkm.jenis_of(made) == jenis


def test_as_people_type_it():
    made = idkumkm.make("umkm", 1234)
    for typed in ("u0000012341", " U-000-001-234-1 ", "u 000 001 234 1", "U.0000.0123.41"):
        assert idkumkm.normalise(typed) == made


@pytest.mark.parametrize("text", ["", "U", "X0000012341", "U000001234", "U00000123411", "UU000001234", "U00000I2341"])
def test_not_an_id(text):
    with pytest.raises(ValueError, match="^id_kumkm harus"):
        idkumkm.normalise(text)
    assert not idkumkm.valid(text)


@pytest.mark.parametrize("nomor", SAMPLE)
def test_every_single_digit_error_is_caught(nomor):
    for jenis in ("umkm", "koperasi"):
        made = idkumkm.make(jenis, nomor)
        for pos in range(1, len(made)):
            for d in "0123456789":
                if d == made[pos]:
                    continue
                typo = made[:pos] + d + made[pos + 1 :]
                with pytest.raises(ValueError, match="angka periksa tidak cocok"):
                    idkumkm.normalise(typo)
        # the letter is checked too: a U typed for a K (or back) is caught
        other = ("K" if made[0] == "U" else "U") + made[1:]
        assert not idkumkm.valid(other)


@pytest.mark.parametrize("nomor", SAMPLE)
def test_every_adjacent_transposition_is_caught(nomor):
    made = idkumkm.make("umkm", nomor)
    for pos in range(1, len(made) - 1):
        a, b = made[pos], made[pos + 1]
        if a == b:
            continue
        swapped = made[:pos] + b + a + made[pos + 2 :]
        assert not idkumkm.valid(swapped), swapped


def test_make_refuses_what_is_no_entity():
    for bad in (0, -1, idkumkm.MAX_NOMOR + 1):
        with pytest.raises(ValueError):
            idkumkm.make("umkm", bad)
    with pytest.raises(ValueError):
        idkumkm.make("bumdes", 1)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Warung Bu Siti", "bu siti"),
        ("WARUNG  MAKAN   bu siti", "bu siti"),
        ("Wr. Bu Siti", "bu siti"),
        ("Toko Sumber Rejeki", "sumber rejeki"),
        ("TOKO SUMBER-REJEKI!", "sumber rejeki"),
        ("U.D. Sumber Rejeki", "sumber rejeki"),
        ("UD Sumber Rejeki", "sumber rejeki"),
        ("CV. Toko Maju", "maju"),
        ("PT Maju Jaya, Tbk.", "maju jaya"),
        ("Rumah Makan Padang Sederhana", "padang sederhana"),
        ("RM Padang Sederhana", "padang sederhana"),
        ("Koperasi Simpan Pinjam Sejahtera", "simpan pinjam sejahtera"),
        ("KSP Sejahtera", "sejahtera"),
        ("Kédai Kopi «Senja»", "kopi senja"),
        ("  kedai\tkopi\n senja ", "kopi senja"),
        ("Toko", "toko"),  # never the whole name
        ("Warung", "warung"),
        ("Tokoku Jaya", "tokoku jaya"),  # a word, not a prefix
        ("", ""),
    ],
)
def test_name_normalisation(raw, normal):
    assert nama.normalise(raw) == normal


def test_the_same_usaha_written_differently_is_similar():
    pairs = [
        ("Warung Makan Bu Siti", "WR. BU SITI"),
        ("Toko Sumber Rejeki", "UD Sumber Rejeki"),
        ("Kedai Kopi Senja", "Kopi Senja"),
        ("Bu Siti", "Siti Bu"),
        ("Toko Maju Jaya", "Toko Maju Jaya."),
        ("Bengkel Sinar Jaya", "Bengkel Sinar Jaja"),
    ]
    for a, b in pairs:
        assert nama.mirip(a, b) is not None, (a, b)
        assert nama.mirip(a, b) >= nama.AMBANG


def test_one_persons_different_businesses_are_not_similar():
    pairs = [
        ("Warung Bu Siti", "Bengkel Las Siti"),
        ("Toko Kelontong Makmur", "Jahit Busana Ayu"),
        ("Kedai Kopi Senja", "Laundry Senja Bersih"),
        ("Toko Maju", "Toko Mundur Teratur"),
    ]
    for a, b in pairs:
        assert nama.mirip(a, b) is None, (a, b, nama.similarity(nama.normalise(a), nama.normalise(b)))


def test_similarity_bounds():
    assert nama.similarity("bu siti", "bu siti") == 1.0
    assert nama.similarity("", "bu siti") == 0.0
    assert 0.0 <= nama.similarity("abc", "xyz") < 0.5
    assert nama.similarity("a b", "b a") == 1.0
