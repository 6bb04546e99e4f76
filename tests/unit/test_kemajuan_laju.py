"""Pace and projection (app/kampanye/service/kemajuan.py): exact fractions, every unknown marked,
never an error (docs/kampanye.md, pace and projection)."""

import datetime as dt
from fractions import Fraction

from app.kampanye.service.kemajuan import Revisi, area_target, desimal, in_force, pace

D = dt.date(2026, 11, 30)


def test_on_pace_and_late():
    p = pace(600, dt.date(2026, 12, 31), 300, 70, 140, D)  # 10 a day; 300 in 31 days
    assert (p["laju_7_hari"], p["laju_dibutuhkan"], p["rasio_laju"], p["selisih_laju"]) == ("10.00", "9.68", "1.03333333", "0.32")
    assert p["proyeksi"] == {"status": "tepat_waktu", "tanggal": dt.date(2026, 12, 30), "alasan": None}
    p = pace(600, dt.date(2026, 12, 15), 300, 70, 140, D)
    assert p["proyeksi"]["status"] == "terlambat" and p["laju_dibutuhkan"] == "20.00"
    # the projection rounds up to a whole day: 301 left at 10 a day is 31 days
    assert pace(601, dt.date(2027, 1, 31), 300, 70, 140, D)["proyeksi"]["tanggal"] == dt.date(2026, 12, 31)


def test_unknowns_are_marked():
    assert pace(None, None, 5, 7, 14, D)["proyeksi"]["alasan"] == "tanpa_target"
    no_deadline = pace(600, None, 300, 70, 140, D)
    assert no_deadline["laju_7_hari"] == "10.00" and no_deadline["laju_dibutuhkan"] is None
    assert no_deadline["proyeksi"] == {"status": "tidak_diketahui", "tanggal": None, "alasan": "tanpa_batas_waktu"}
    assert pace(600, dt.date(2026, 12, 31), 300, 0, 0, D)["proyeksi"]["alasan"] == "tanpa_laju"
    past = pace(600, dt.date(2026, 11, 1), 300, 70, 140, D)
    assert past["lewat_batas_waktu"] and past["laju_dibutuhkan"] is None and past["proyeksi"]["status"] == "terlambat"
    done = pace(600, dt.date(2026, 12, 31), 650, 0, 0, D)
    assert done["proyeksi"]["status"] == "tercapai" and done["laju_dibutuhkan"] == "0.00" and done["sisa_target"] == 0
    assert pace(0, None, 0, 0, 0, D)["proyeksi"]["status"] == "tercapai"  # a target of 0 is reached


def test_a_trickle_against_a_large_target_is_late_without_a_date():
    # one record a week against 489,000 would land in the year 9,000-something, past the calendar
    p = pace(489_000, dt.date(2026, 12, 31), 10, 1, 1, D)
    assert p["proyeksi"] == {"status": "terlambat", "tanggal": None, "alasan": "di_luar_cakrawala"}
    assert p["laju_dibutuhkan"] is not None


def test_decimals_round_half_up():
    assert desimal(Fraction(1, 8)) == "0.13" and desimal(Fraction(-1, 8)) == "-0.13" and desimal(Fraction(10, 7)) == "1.43"
    assert desimal(None) is None


def test_area_target_follows_capaian():
    rev = {
        "16": [Revisi("16", 1, 2000, "K", dt.date(2026, 1, 1), dt.date(2026, 12, 31))],
        "16.71": [
            Revisi("16.71", 2, 600, "K", dt.date(2026, 1, 1), None),
            Revisi("16.71", 3, 800, "K", dt.date(2026, 6, 1), dt.date(2027, 1, 31)),
        ],
        "16.07": [Revisi("16.07", 4, 100, "K", dt.date(2026, 1, 1), dt.date(2026, 11, 30))],
    }
    assert in_force(rev["16.71"], dt.date(2026, 5, 31)).target == 600
    # children's sum; the area's own deadline
    assert area_target(1, "16", ["16.07", "16.71"], rev, dt.date(2026, 7, 1)) == (900, "anak", dt.date(2026, 12, 31), "wilayah")
    # without an own deadline: the latest of the children's
    rev["16"] = [Revisi("16", 1, 2000, "K", dt.date(2026, 1, 1), None)]
    assert area_target(1, "16", ["16.07", "16.71"], rev, dt.date(2026, 7, 1)) == (900, "anak", dt.date(2027, 1, 31), "anak")
    assert area_target(1, "16", [], rev, dt.date(2026, 7, 1)) == (2000, "wilayah", None, None)
    assert area_target(0, None, ["16"], rev, dt.date(2025, 7, 1)) == (None, None, None, None)


def test_the_nation_counts_each_provinsi_as_its_own_page_does():
    # Sumatera Selatan with targets only per kabupaten/kota, Jambi with its own: the nation's
    # target is what each provinsi's own page shows (900 + 300), not the provinsi rows alone
    rev = {
        "16.71": [Revisi("16.71", 1, 800, "K", dt.date(2026, 1, 1), dt.date(2027, 1, 31))],
        "16.07": [Revisi("16.07", 2, 100, "K", dt.date(2026, 1, 1), dt.date(2026, 11, 30))],
        "15": [Revisi("15", 3, 300, "K", dt.date(2026, 1, 1), dt.date(2026, 12, 31))],
    }
    day = dt.date(2026, 7, 1)
    assert area_target(1, "16", ["16.07", "16.71"], rev, day)[0] == 900
    assert area_target(0, None, ["15", "16"], rev, day) == (1200, "anak", dt.date(2027, 1, 31), "anak")
