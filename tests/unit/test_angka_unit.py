"""Report arithmetic, called directly with no database: capaian, predikat and the Indonesian
number format of app/indicators/angka.py, and the exact ratios of app/aggregates/format.py."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.indicators.angka import bagi, bulat, capaian, format_id, predikat, rata_rata, teks
from app.reporting.reports import RATIO_PLACES, angka_id, persen, rasio

D = Decimal

# The default scale (migration 0003, Permendagri 86/2017): lower bounds, highest first.
BANDS = [(D(91), "sangat tinggi"), (D(76), "tinggi"), (D(66), "sedang"), (D(51), "rendah"), (None, "sangat rendah")]


# ---------------------------------------------------------------- capaian


def test_worked_example_target_8_45_realisasi_12_67():
    c = capaian("naik", D("8.45"), D("12.67"))
    assert c == D("149.9408284023668639053254437869822485207")  # 40 significant digits
    assert bulat(c) == D("149.94")
    assert format_id(c, 2, persen=True) == "149,94%"
    assert predikat(c, BANDS) == "sangat tinggi"


# The seed rows of the indicators issue (test_indikator.SEED): target, realisasi, printed, predikat.
@pytest.mark.parametrize(
    "target,realisasi,shown,band",
    [
        ("5.4", "7.34", "135,93%", "sangat tinggi"),
        ("0.03", "-0.64", "-2.133,33%", "sangat rendah"),
        ("3.38", "91.61", "2.710,36%", "sangat tinggi"),
        ("8.45", "12.67", "149,94%", "sangat tinggi"),
        ("86", "88.9", "103,37%", "sangat tinggi"),
    ],
)
def test_seed_rows_print_as_in_the_lkjip(target, realisasi, shown, band):
    c = capaian("naik", D(target), D(realisasi))
    assert format_id(c, 2, persen=True) == shown
    assert predikat(c, BANDS) == band


def test_capaian_naik_is_realisasi_over_target():
    assert capaian("naik", D(10), D(8)) == D(80)
    assert capaian("naik", D(10), D(12)) == D(120)
    assert capaian("naik", D(10), D(0)) == D(0)
    assert capaian("naik", D("0.03"), D("-0.64")) == D("-2133.333333333333333333333333333333333333")


def test_capaian_turun_is_twice_target_less_realisasi_over_target():
    assert capaian("turun", D(10), D(8)) == D(120)  # below target is good when lower is better
    assert capaian("turun", D(10), D(12)) == D(80)
    assert capaian("turun", D(10), D(10)) == D(100)
    assert capaian("turun", D(10), D(25)) == D(-50)  # negative is kept: it is what happened
    assert capaian("turun", D(3), D(1)) == D("166.6666666666666666666666666666666666667")


@pytest.mark.parametrize("polaritas", ["naik", "turun"])
def test_capaian_needs_a_target_that_is_not_zero_and_a_realisasi(polaritas):
    assert capaian(polaritas, None, D(5)) is None
    assert capaian(polaritas, D(5), None) is None
    assert capaian(polaritas, D(0), D(5)) is None
    assert capaian(polaritas, D("0.00"), D(5)) is None


_AMOUNT = st.decimals(min_value=-(10**9), max_value=10**9, places=4, allow_nan=False, allow_infinity=False)


@given(_AMOUNT.filter(lambda d: d != 0), _AMOUNT)
def test_naik_and_turun_are_mirrored_around_100(target, realisasi):
    """naik + turun = 200 exactly in arithmetic; here up to the 40th significant digit."""
    naik, turun = capaian("naik", target, realisasi), capaian("turun", target, realisasi)
    assert abs((naik + turun) - 200) <= (abs(naik) + abs(turun) + 200) * D("1e-39")


def test_bagi_is_exact_to_40_digits_and_none_for_nothing():
    assert bagi(1, 3) == D("0." + "3" * 40)
    assert bagi(D(2), D(3)) == D("0." + "6" * 39 + "7")
    assert bagi(None, 1) is None and bagi(1, None) is None and bagi(1, 0) is None


# ---------------------------------------------------------------- mean of a sasaran


def test_sasaran_capaian_is_the_mean_of_the_indicators_that_have_one():
    assert rata_rata([D("149.94"), D("103.37"), None]) == D("126.655")
    assert rata_rata([D(1), D(2), D(2)]) == D("1.666666666666666666666666666666666666667")
    assert rata_rata([D(-50), D(150)]) == D(50)
    assert rata_rata([D(7)]) == D(7)


def test_sasaran_without_any_capaian_has_none():
    assert rata_rata([]) is None
    assert rata_rata([None, None]) is None


# ---------------------------------------------------------------- predikat


@pytest.mark.parametrize(
    "nilai,band",
    [
        ("1000", "sangat tinggi"),
        ("91", "sangat tinggi"),
        ("90.995", "sangat tinggi"),  # prints as 91,00%: the band follows the printed number
        ("90.994999", "tinggi"),
        ("90.99", "tinggi"),
        ("76", "tinggi"),
        ("75.99", "sedang"),
        ("66", "sedang"),
        ("65.99", "rendah"),
        ("51", "rendah"),
        ("50.99", "sangat rendah"),
        ("0", "sangat rendah"),
        ("-2133.33", "sangat rendah"),
    ],
)
def test_predikat_bands_at_each_boundary(nilai, band):
    assert predikat(D(nilai), BANDS) == band


def test_predikat_of_no_capaian_is_none_and_a_scale_without_floor_may_leave_a_gap():
    assert predikat(None, BANDS) is None
    assert predikat(D(10), [(D(50), "cukup")]) is None
    assert predikat(D(50), [(D(50), "cukup")]) == "cukup"


# ---------------------------------------------------------------- rounding and text


@pytest.mark.parametrize(
    "nilai,rounded",
    [
        ("2.345", "2.35"),
        ("2.344999", "2.34"),
        ("-2.345", "-2.35"),  # half away from zero
        ("0.005", "0.01"),
        ("-0.005", "-0.01"),
        ("7", "7.00"),
        ("149.9408284", "149.94"),
    ],
)
def test_bulat_rounds_half_up_to_two_decimals(nilai, rounded):
    assert str(bulat(D(nilai))) == rounded


def test_bulat_of_none_is_none():
    assert bulat(None) is None


@pytest.mark.parametrize(
    "nilai,hasil,text",
    [
        ("5.40", False, "5.40"),  # entered values keep their own scale
        ("5.40", True, "5.4"),  # computed ones lose the zeros division leaves
        ("150.000", True, "150"),
        ("100", True, "100"),  # an integer keeps its own zeros
        ("1E+3", False, "1000"),  # never in exponent form
        ("1E-7", False, "0.0000001"),
        ("-0.64", False, "-0.64"),
    ],
)
def test_teks_is_plain_decimal_text(nilai, hasil, text):
    assert teks(D(nilai), hasil=hasil) == text


def test_teks_of_none_is_none():
    assert teks(None) is None and teks(None, hasil=True) is None


# ---------------------------------------------------------------- Indonesian number format


@pytest.mark.parametrize(
    "nilai,places,persen_,text",
    [
        ("2710.3550", 2, False, "2.710,36"),
        ("2710.3550", 2, True, "2.710,36%"),
        ("-2133.3333", 2, True, "-2.133,33%"),
        ("0.03", None, True, "0,03%"),
        ("-0.64", None, True, "-0,64%"),
        ("5.40", None, False, "5,40"),  # its own decimals, up to 2
        ("12.50000", None, False, "12,5"),  # more than 2: rounded, then the zeros dropped
        ("12.000", None, False, "12"),
        ("12.3456", None, False, "12,35"),
        ("2.5", 0, False, "3"),  # half-up
        ("-0.004", 2, False, "0,00"),  # no negative zero
        ("999", None, False, "999"),
        ("1000", None, False, "1.000"),
        ("1234567.891", 2, False, "1.234.567,89"),
        ("-1234567", None, False, "-1.234.567"),
    ],
)
def test_format_id(nilai, places, persen_, text):
    assert format_id(D(nilai), places, persen=persen_) == text


def test_format_id_of_integers_and_missing_values():
    assert format_id(41675) == "41.675"
    assert format_id(0) == "0"
    assert format_id(None) == "-"
    assert format_id(None, 2, persen=True) == "-"


@given(st.decimals(min_value=-(10**12), max_value=10**12, places=2, allow_nan=False, allow_infinity=False))
def test_format_id_with_two_places_reads_back_as_the_number(d):
    text = format_id(d, 2)
    whole, _, frac = text.partition(",")
    assert len(frac) == 2
    groups = whole.lstrip("-").split(".")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
    assert D(text.replace(".", "").replace(",", ".")) == d


# ---------------------------------------------------------------- ratios of counts (aggregates)


@pytest.mark.parametrize(
    "num,den,shown",
    [
        (41_675, 41_910, "99,44%"),  # Banyuasin, docs/domain.md Tabel 2.8
        (62_137, 60_300, "103,05%"),  # above 100 is never capped
        (321_925, 337_410, "95,41%"),
        (321_925, 333_870, "96,42%"),
        (0, 5, "0,00%"),
        (5, 5, "100,00%"),
        (2_710_355, 100_000, "2.710,36%"),
    ],
)
def test_persen(num, den, shown):
    assert persen(num, den) == shown


@pytest.mark.parametrize(
    "num,den,text",
    [
        (41_675, 41_910, "0.99439275"),
        (62_137, 60_300, "1.03046434"),
        (321_925, 337_410, "0.95410628"),
        (0, 5, "0.00000000"),
        (7, 7, "1.00000000"),
        (1, 3, "0.33333333"),
        (2, 3, "0.66666667"),
    ],
)
def test_rasio(num, den, text):
    assert rasio(num, den) == text


def test_exact_halves_round_away_from_zero():
    # 1/800 = 0,125%; 1/200000000 = 0.000000005: the digit after the last shown one is exactly 5
    assert persen(1, 800) == "0,13%" and persen(-1, 800) == "-0,13%" and persen(3, 800) == "0,38%"
    assert rasio(1, 200_000_000) == "0.00000001" and rasio(-1, 200_000_000) == "-0.00000001"
    assert rasio(3, 200_000_000) == "0.00000002"


def test_signs():
    assert persen(-41_675, 41_910) == "-99,44%"
    assert persen(41_675, -41_910) == "-99,44%"
    assert persen(-1, -2) == "50,00%"
    assert persen(0, -5) == "0,00%"  # no negative zero
    # a negative ratio too small to show keeps its sign (unlike format_id, which prints 0,00)
    assert persen(-1, 1_000_000) == "-0,00%"
    assert rasio(-62_137, 60_300) == "-1.03046434"
    assert rasio(0, -3) == "0.00000000"


def test_no_ratio_to_nothing():
    for f in (persen, rasio):
        assert f(5, 0) is None
        assert f(5, None) is None
        assert f(None, 5) is None
        assert f(None, None) is None
        assert f(0, 0) is None


def _exact(text: str, persen_: bool) -> Fraction:
    return Fraction(text.rstrip("%").replace(".", "").replace(",", ".")) if persen_ else Fraction(text)


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=-(10**9), max_value=10**9).filter(lambda d: d != 0))
def test_persen_and_rasio_are_the_exact_fraction_rounded_half_up(num, den):
    for f, scale, step in ((persen, 100, Fraction(1, 100)), (rasio, 1, Fraction(1, 10**RATIO_PLACES))):
        exact = Fraction(num * scale, den)
        shown = _exact(f(num, den), f is persen)
        error = abs(shown - exact)
        assert error <= step / 2, (f.__name__, num, den)
        if error == step / 2:  # a half: away from zero
            assert abs(shown) > abs(exact)


@pytest.mark.parametrize(
    "n,text",
    [
        (0, "0"),
        (7, "7"),
        (999, "999"),
        (1_000, "1.000"),
        (41_675, "41.675"),
        (337_410, "337.410"),
        (1_234_567, "1.234.567"),
        (-1_234_567, "-1.234.567"),
        (-5, "-5"),
        (None, "-"),
    ],
)
def test_angka_id(n, text):
    assert angka_id(n) == text


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_angka_id_groups_thousands_with_dots(n):
    text = angka_id(n)
    groups = text.lstrip("-").split(".")
    assert all(len(g) == 3 for g in groups[1:]) and 1 <= len(groups[0]) <= 3
    assert int(text.replace(".", "")) == n
