"""The enumerator table's pure parts: the reason catalogue it copies, the flags' arithmetic
and the median's words."""

from __future__ import annotations

from fractions import Fraction

from app.kampanye.service import kinerja
from app.verification.schemas import ALASAN_KODE


def test_the_reasons_are_the_verification_catalogue():
    assert list(kinerja.ALASAN_KODE) == list(ALASAN_KODE)
    for code, label in kinerja.ALASAN_KODE.items():
        assert ALASAN_KODE[code].startswith(label + ":"), code


def row(per_kabkota: dict[str, list[int]]) -> kinerja._Row:
    return kinerja._Row("ENUM-1", per_kabkota)


def test_the_expected_rate_weighs_each_kabkota_by_its_decided_records():
    r = row({"16.07": [0, 30, 10], "16.71": [5, 10, 0]})
    rates = {"16.07": (90, 10), "16.71": (50, 50)}
    # 40 decided at 1/10 and 10 at 1/2: 4 + 5 expected of 50
    assert kinerja.expected_rate(r, rates) == Fraction(9, 50)
    assert kinerja.expected_rate(row({"16.07": [3, 0, 0]}), rates) is None


def test_tolak_tinggi_needs_twice_the_rate_and_enough_records():
    rates = {"16.07": (90, 10)}
    edge = row({"16.07": [0, 16, 4]})  # 4 of 20: exactly twice 1/10 is not above it
    assert not kinerja.tolak_tinggi(edge, kinerja.expected_rate(edge, rates))
    above = row({"16.07": [0, 15, 5]})  # 5 of 20 = 1/4 > 2/10
    assert kinerja.tolak_tinggi(above, kinerja.expected_rate(above, rates))
    few = row({"16.07": [0, 0, 4]})  # 4 of 4: too few decided, too few ditolak
    assert not kinerja.tolak_tinggi(few, kinerja.expected_rate(few, rates))
    many_decided_few_rejected = row({"16.07": [0, 16, 4]})
    assert not kinerja.tolak_tinggi(many_decided_few_rejected, Fraction(1, 100))  # ditolak 4 < 5


def test_the_integer_flag_is_the_fraction_flag():
    rates = {"16.07": (90, 10), "16.71": (7, 3)}
    for per in (
        {"16.07": [0, 16, 4]},
        {"16.07": [0, 15, 5]},
        {"16.07": [2, 11, 9]},
        {"16.07": [0, 30, 0]},
        {"16.07": [0, 10, 10], "16.71": [0, 10, 0]},
        {"16.07": [0, 5, 5], "16.71": [0, 5, 10]},
        {"16.09": [0, 10, 10]},  # a kabupaten without decisions in the counters
    ):
        r = row(per)
        assert kinerja.flag_tolak_tinggi(r, rates) == kinerja.tolak_tinggi(r, kinerja.expected_rate(r, rates)), per


def test_the_order_by_rate_is_the_exact_order():
    from fractions import Fraction as F

    rows = [row({"16.07": [0, d, t]}) for d, t in ((2, 1), (200000, 100001), (3, 0), (1, 1), (0, 0), (7, 3), (70000, 30001))]
    for i, r in enumerate(rows):
        r.enumerator_id = f"E{i}"
    got = [r.enumerator_id for r in kinerja._order(rows, "tingkat_tolak")]
    decided = [r for r in rows if r.diputus]
    want = sorted(decided, key=lambda r: (-F(r.sums[2], r.diputus), -r.sums[2], r.enumerator_id))
    assert got == [r.enumerator_id for r in want] + ["E4"]


def test_the_median_in_words():
    assert kinerja.jeda_teks(None) == "-"
    assert kinerja.jeda_teks(45) == "45 detik"
    assert kinerja.jeda_teks(12 * 60 + 5) == "12 menit"
    assert kinerja.jeda_teks(3 * 3600 + 5 * 60) == "3 jam 5 menit"
    assert kinerja.jeda_teks(2 * 86400 + 4 * 3600 + 59) == "2 hari 4 jam"
    assert kinerja.jeda_teks(-90) == "-1 menit"
