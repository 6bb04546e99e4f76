"""Registry formulas (app/indicators/formulas.py) and the statement they are evaluated with
(app/indicators/queries.registry_statement), called directly: no database."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.indicators import formulas
from app.indicators.formulas import FORMULA, MODIFIER_BAWAAN, Resolved, katalog, resolve
from app.indicators.queries import TARGET_PENDATAAN, UKURAN, entitas_statement, registry_statement, rekap_statement

DEFAULT = {"skala": ["mikro", "kecil", "menengah"], "rat_selisih_tahun": 0}


def ok(kode, parameter=None) -> Resolved:
    resolved, errors = resolve(kode, parameter)
    assert errors == [], errors
    assert resolved is not None
    return resolved


def error_fields(kode, parameter=None) -> list[str]:
    resolved, errors = resolve(kode, parameter)
    assert resolved is None and errors
    return [e["field"] for e in errors]


# ---------------------------------------------------------------- the formula table

# kode: (bentuk, satuan, pembilang, penyebut, modifier) once resolved without parameters.
FIXED = {
    "persentase_koperasi_aktif": ("rasio", "persen", "koperasi_aktif", "koperasi", DEFAULT),
    "persentase_koperasi_rat": ("rasio", "persen", "koperasi_rat", "koperasi", DEFAULT),
    "persentase_koperasi_nik": ("rasio", "persen", "koperasi_nik", "koperasi", DEFAULT),
    "pertumbuhan_modal_koperasi": ("pertumbuhan", "persen", "koperasi_modal", None, DEFAULT),
    "pertumbuhan_volume_usaha_koperasi": ("pertumbuhan", "persen", "koperasi_volume_usaha", None, DEFAULT),
    "persentase_umkm_nib": ("rasio", "persen", "umkm_nib", "umkm", DEFAULT),
    "persentase_usaha_kecil_digital": ("rasio", "persen", "umkm_digital", "umkm", {**DEFAULT, "skala": ["kecil"]}),
    "jumlah_umkm": ("jumlah", "unit", "umkm", None, DEFAULT),
    "jumlah_usaha_mikro": ("jumlah", "unit", "umkm", None, {**DEFAULT, "skala": ["mikro"]}),
    "jumlah_usaha_kecil": ("jumlah", "unit", "umkm", None, {**DEFAULT, "skala": ["kecil"]}),
    "jumlah_usaha_menengah": ("jumlah", "unit", "umkm", None, {**DEFAULT, "skala": ["menengah"]}),
    "capaian_pendataan": ("rasio", "persen", "diterima", TARGET_PENDATAAN, DEFAULT),
    "umkm_naik_kelas": ("jumlah", "unit", "umkm_naik_kelas", None, DEFAULT),
    "persen_usaha_kecil_naik_kelas": ("rasio", "persen", "umkm_kecil_naik_kelas", "umkm_kecil_ditemukan", DEFAULT),
    "pertumbuhan_modal_koperasi_entitas": ("rasio", "persen", "koperasi_modal_kenaikan", "koperasi_modal_tahun_lalu", DEFAULT),
    "usaha_baru": ("jumlah", "unit", "usaha_baru", None, DEFAULT),
    "usaha_tidak_ditemukan": ("jumlah", "unit", "usaha_tidak_ditemukan", None, DEFAULT),
}
# Formulas that need a parameter (a dinas's own definition): kode -> (parameter, resolved as above).
WITH_PARAMETER = {
    "umkm_meningkat": ({"kolom": "izin_usaha"}, ("jumlah", "unit", "umkm_meningkat", None, {**DEFAULT, "kolom": "izin_usaha"})),
}
GENERIC = ("rasio", "pertumbuhan", "jumlah")


def test_the_table_is_the_fixed_formulas_and_the_three_generic_shapes():
    assert sorted(FORMULA) == sorted([*FIXED, *WITH_PARAMETER, *GENERIC])
    assert list(FORMULA)[-3:] == list(GENERIC)
    assert [k for k, f in FORMULA.items() if f.generik] == list(GENERIC)
    assert {f.bentuk for f in FORMULA.values()} == {"rasio", "pertumbuhan", "jumlah"}


@pytest.mark.parametrize("kode", FIXED)
def test_fixed_formulas_resolve_without_parameters(kode):
    r = ok(kode)
    assert (r.bentuk, r.satuan, r.pembilang, r.penyebut, r.modifier) == FIXED[kode]
    assert r.formula is FORMULA[kode]
    assert r.terms() == [t for t in (r.pembilang, r.penyebut) if t is not None]


def test_every_term_of_a_fixed_formula_is_in_the_vocabulary():
    for f in FORMULA.values():
        if not f.generik:
            assert f.pembilang in UKURAN, f.kode
            assert f.penyebut is None or f.penyebut in UKURAN or f.penyebut == TARGET_PENDATAAN, f.kode


def test_besar_is_not_counted_unless_asked_for():
    assert MODIFIER_BAWAAN == DEFAULT
    assert ok("jumlah_umkm").modifier["skala"] == ["mikro", "kecil", "menengah"]
    assert ok("jumlah_umkm", {"skala": ["besar"]}).modifier["skala"] == ["besar"]


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize(
    "skala,ordered",
    [
        (["menengah", "mikro"], ["mikro", "menengah"]),  # kept in the order of the scale
        (["besar", "kecil", "mikro", "menengah"], ["mikro", "kecil", "menengah", "besar"]),
        (["kecil"], ["kecil"]),
    ],
)
def test_skala_parameter(skala, ordered):
    assert ok("jumlah_umkm", {"skala": skala}).modifier == {**DEFAULT, "skala": ordered}


@pytest.mark.parametrize("skala", [[], "mikro", ["raksasa"], ["mikro", "mikro"], [1], None, {"mikro": 1}])
def test_bad_skala_names_the_parameter(skala):
    resolved, errors = resolve("jumlah_umkm", {"skala": skala})
    assert resolved is None
    assert errors == [
        {
            "field": "parameter.skala",
            "message": "parameter.skala harus daftar tidak kosong tanpa nilai kembar dari: mikro, kecil, menengah, besar",
        }
    ]


@pytest.mark.parametrize("selisih", [0, -1, -5])
def test_rat_selisih_tahun_parameter(selisih):
    assert ok("persentase_koperasi_rat", {"rat_selisih_tahun": selisih}).modifier == {**DEFAULT, "rat_selisih_tahun": selisih}


@pytest.mark.parametrize("selisih", [1, -6, True, False, "0", 0.5, None])
def test_bad_rat_selisih_tahun(selisih):
    resolved, errors = resolve("persentase_koperasi_rat", {"rat_selisih_tahun": selisih})
    assert resolved is None
    assert errors == [
        {"field": "parameter.rat_selisih_tahun", "message": "parameter.rat_selisih_tahun harus bilangan bulat dari -5 sampai 0"}
    ]


def test_a_parameter_the_formula_does_not_take_is_refused():
    assert resolve("persentase_koperasi_aktif", {"skala": ["mikro"]}) == (
        None,
        [
            {
                "field": "parameter.skala",
                "message": "parameter.skala bukan parameter formula persentase_koperasi_aktif (yang boleh: tidak ada)",
            }
        ],
    )
    assert resolve("jumlah_umkm", {"ukuran": "koperasi"}) == (
        None,
        [{"field": "parameter.ukuran", "message": "parameter.ukuran bukan parameter formula jumlah_umkm (yang boleh: skala)"}],
    )


def test_every_error_is_reported_at_once():
    assert error_fields("jumlah_umkm", {"skala": ["raksasa"], "x": 1}) == ["parameter.x", "parameter.skala"]
    assert error_fields("rasio", {}) == ["parameter.pembilang", "parameter.penyebut"]


@pytest.mark.parametrize("kode", ["rahasia", "", "RASIO", None, 7, ["rasio"]])
def test_unknown_formula(kode):
    resolved, errors = resolve(kode, {})
    assert resolved is None
    assert errors == [{"field": "formula", "message": "formula tidak dikenal; salah satu dari: " + ", ".join(FORMULA)}]


def test_no_parameters_is_the_same_as_empty_parameters():
    assert resolve("jumlah_umkm", None) == resolve("jumlah_umkm", {})


def test_resolving_never_changes_the_defaults():
    ok("jumlah_umkm", {"skala": ["besar"]})
    ok("persentase_koperasi_rat", {"rat_selisih_tahun": -3})
    assert MODIFIER_BAWAAN == DEFAULT
    assert FORMULA["jumlah_usaha_mikro"].parameter == {"skala": ["mikro"]}


# ---------------------------------------------------------------- generic formulas


def test_generic_rasio_takes_its_terms_from_the_parameters():
    r = ok("rasio", {"pembilang": "koperasi_aktif", "penyebut": "koperasi"})
    assert (r.bentuk, r.satuan, r.pembilang, r.penyebut, r.modifier) == ("rasio", "persen", "koperasi_aktif", "koperasi", DEFAULT)
    assert r.terms() == ["koperasi_aktif", "koperasi"]
    r = ok("rasio", {"pembilang": "umkm_nib", "penyebut": "umkm", "skala": ["kecil"]})
    assert r.modifier == {**DEFAULT, "skala": ["kecil"]}


def test_target_pendataan_may_only_divide():
    assert ok("rasio", {"pembilang": "diterima", "penyebut": TARGET_PENDATAAN}).penyebut == TARGET_PENDATAAN
    assert error_fields("rasio", {"pembilang": TARGET_PENDATAAN, "penyebut": "diterima"}) == ["parameter.pembilang"]
    assert error_fields("jumlah", {"ukuran": TARGET_PENDATAAN}) == ["parameter.ukuran"]
    assert error_fields("pertumbuhan", {"ukuran": TARGET_PENDATAAN}) == ["parameter.ukuran"]


def test_a_term_outside_the_vocabulary_lists_the_choices():
    _, errors = resolve("rasio", {"pembilang": "koperasi; DROP TABLE x", "penyebut": "koperasi"})
    assert errors == [
        {"field": "parameter.pembilang", "message": "parameter.pembilang harus salah satu dari: " + ", ".join(sorted(UKURAN))}
    ]
    _, errors = resolve("rasio", {"pembilang": "koperasi", "penyebut": 3})
    assert errors == [
        {
            "field": "parameter.penyebut",
            "message": "parameter.penyebut harus salah satu dari: " + ", ".join([*sorted(UKURAN), TARGET_PENDATAAN]),
        }
    ]


@pytest.mark.parametrize("kode", WITH_PARAMETER)
def test_formulas_with_a_parameter_resolve_with_it_and_not_without(kode):
    parameter, expected = WITH_PARAMETER[kode]
    r = ok(kode, parameter)
    assert (r.bentuk, r.satuan, r.pembilang, r.penyebut, r.modifier) == expected
    assert error_fields(kode) == ["parameter.kolom"]


def test_kolom_is_one_of_the_fields_that_change_between_rounds():
    for kolom in ("punya_nib", "izin_usaha", "platform_digital"):
        assert ok("umkm_meningkat", {"kolom": kolom}).modifier["kolom"] == kolom
    for bad in ("nama_usaha", "punya_nib; DROP TABLE x", ["punya_nib"], None, 1):
        assert error_fields("umkm_meningkat", {"kolom": bad}) == ["parameter.kolom"]
    # a term that takes no kolom is not given one
    assert error_fields("umkm_naik_kelas", {"kolom": "punya_nib"}) == ["parameter.kolom"]
    assert error_fields("jumlah", {"ukuran": "umkm_meningkat"}) == ["parameter.kolom"]


@pytest.mark.parametrize("ukuran", sorted(UKURAN))
def test_generic_jumlah_and_pertumbuhan_of_every_term(ukuran):
    extra = {"kolom": "punya_nib"} if "kolom" in UKURAN[ukuran].parameter else {}
    jumlah = ok("jumlah", {"ukuran": ukuran, **extra})
    assert (jumlah.bentuk, jumlah.satuan, jumlah.terms()) == ("jumlah", UKURAN[ukuran].satuan, [ukuran])
    tumbuh = ok("pertumbuhan", {"ukuran": ukuran, **extra})
    assert (tumbuh.bentuk, tumbuh.satuan, tumbuh.terms()) == ("pertumbuhan", "persen", [ukuran])


def test_units_of_the_vocabulary():
    assert {u.satuan for u in UKURAN.values()} == {"unit", "rupiah", "orang"}
    assert ok("jumlah", {"ukuran": "koperasi_modal"}).satuan == "rupiah"
    assert ok("jumlah", {"ukuran": "umkm_tenaga_kerja"}).satuan == "orang"
    assert ok("jumlah", {"ukuran": "umkm"}).satuan == "unit"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
_NAMES = st.sampled_from([*FORMULA, "skala", "rahasia", ""]) | st.text(max_size=20)
_PARAMS = st.sampled_from(["skala", "rat_selisih_tahun", "pembilang", "penyebut", "ukuran", "x"])


@given(_NAMES, st.none() | st.dictionaries(_PARAMS | st.text(max_size=10), _JSON | st.sampled_from(sorted(UKURAN)), max_size=5))
def test_any_input_gives_a_resolved_formula_or_field_errors_never_an_exception(kode, parameter):
    resolved, errors = resolve(kode, parameter)
    if resolved is None:
        assert errors and all(e["field"] == "formula" or e["field"].startswith("parameter.") for e in errors)
        assert all(isinstance(e["message"], str) and e["message"] for e in errors)
    else:
        assert errors == []
        assert resolved.satuan in {"persen", "unit", "rupiah", "orang"}
        assert all(t in UKURAN or t == TARGET_PENDATAAN for t in resolved.terms())
        # what evaluation needs is there: every parameter of every term has a value
        assert all(p in resolved.modifier for t in resolved.terms() if t in UKURAN for p in UKURAN[t].parameter)


# ---------------------------------------------------------------- the catalogue


def test_katalog_lists_every_formula_and_term_and_is_json():
    doc = katalog()
    assert [f["kode"] for f in doc["formula"]] == list(FORMULA)
    assert [u["nama"] for u in doc["ukuran"]] == [*UKURAN, TARGET_PENDATAAN]
    assert doc["parameter_bawaan"] == DEFAULT
    digital = next(f for f in doc["formula"] if f["kode"] == "persentase_usaha_kecil_digital")
    assert digital == {
        "kode": "persentase_usaha_kecil_digital",
        "nama": "Persentase usaha kecil yang memanfaatkan platform digital",
        "bentuk": "rasio",
        "satuan": "persen",
        "pembilang": "umkm_digital",
        "penyebut": "umkm",
        "parameter_tetap": {"skala": ["kecil"]},
        "parameter_boleh": [],
    }
    umkm = next(u for u in doc["ukuran"] if u["nama"] == "umkm")
    assert umkm == {"nama": "umkm", "keterangan": "UMKM of the chosen skala", "satuan": "unit", "parameter": ["skala"]}
    assert orjson.loads(orjson.dumps(doc)) == doc


def test_skala_constants():
    assert formulas.SKALA_KUMKM == ["mikro", "kecil", "menengah"]
    assert formulas.SKALA_SEMUA == ("mikro", "kecil", "menengah", "besar")


# ---------------------------------------------------------------- the statement of an evaluation


def test_statement_binds_every_parameter_and_names_columns_in_order():
    stmt, binds = registry_statement(
        "provinsi", [("umkm", {"skala": ["mikro"]}), ("koperasi_rat", {"rat_selisih_tahun": -1}), ("koperasi", {})]
    )
    sql = str(stmt)
    assert binds == {"k0_skala": ["mikro"], "k1_rat_selisih_tahun": -1}
    assert "CAST(:k0_skala AS text[])" in sql and "CAST(:k1_rat_selisih_tahun AS integer)" in sql
    assert sql.index(" AS k0") < sql.index(" AS k1") < sql.index(" AS k2")
    assert "AND s.kode_provinsi = :wilayah" in sql
    assert "s.status = 'diterima'" in sql and "GROUP BY s.periode" in sql


def test_statement_never_holds_a_value_it_was_given():
    evil = "mikro'); DROP TABLE submissions; --"
    stmt, binds = registry_statement("kabkota", [("umkm", {"skala": [evil]})])
    assert evil not in str(stmt) and binds == {"k0_skala": [evil]}
    assert "AND s.kode_kabkota = :wilayah" in str(stmt)


@pytest.mark.parametrize(
    "terms,filter_",
    [
        (["koperasi", "koperasi_aktif"], "AND s.jenis = 'koperasi'"),
        (["umkm_nib"], "AND s.jenis = 'umkm'"),
    ],
)
def test_statement_reading_one_kind_of_record_filters_on_it(terms, filter_):
    stmt, _ = registry_statement("nasional", [(t, DEFAULT) for t in terms])
    assert filter_ in str(stmt)
    assert ":wilayah" not in str(stmt)


def test_statement_mixing_kinds_or_counting_all_has_no_kind_filter():
    for terms in (["umkm", "koperasi"], ["diterima"], ["diterima", "koperasi"]):
        stmt, _ = registry_statement("nasional", [(t, DEFAULT) for t in terms])
        assert "AND s.jenis =" not in str(stmt), terms


def test_statement_without_terms_still_groups_by_periode():
    stmt, binds = registry_statement("nasional", [])
    assert "count(*) AS k_" in str(stmt) and binds == {}


def test_counts_and_sums_of_the_vocabulary():
    assert UKURAN["koperasi"].hitungan and UKURAN["umkm_nib"].hitungan
    assert not UKURAN["koperasi_modal"].hitungan and not UKURAN["umkm_omzet"].hitungan
    assert (UKURAN["koperasi_aktif"].jenis, UKURAN["umkm"].jenis, UKURAN["diterima"].jenis) == ("koperasi", "umkm", None)


# ---------------------------------------------------------------- the statement over entities

ENTITAS = sorted(n for n, u in UKURAN.items() if u.sumber == "entitas")


def test_entity_terms_are_their_own_statement():
    assert ENTITAS == sorted(
        [
            "umkm_naik_kelas",
            "umkm_kecil_ditemukan",
            "umkm_kecil_naik_kelas",
            "koperasi_modal_kenaikan",
            "koperasi_modal_tahun_lalu",
            "usaha_baru",
            "usaha_tidak_ditemukan",
            "koperasi_baru",
            "koperasi_tidak_ditemukan",
            "umkm_meningkat",
        ]
    )
    # every record term reads alias s, every entity term alias e: neither statement gets the other's
    for nama, u in UKURAN.items():
        assert ("e." in u.sql) == (u.sumber == "entitas") and ("s.jenis" in u.sql) == (u.sumber == "rekaman") or nama == "diterima", nama


@pytest.mark.parametrize(
    "level,filters",
    [
        ("nasional", ()),
        ("provinsi", ("AND s.kode_provinsi = :wilayah", "AND e.kode_provinsi = :wilayah")),
        ("kabkota", ("AND s.kode_kabkota = :wilayah", "AND e.kode_kabkota = :wilayah")),
    ],
)
def test_entity_statement_per_level(level, filters):
    stmt, binds = entitas_statement(level, [(t, {**DEFAULT, "kolom": "izin_usaha"}) for t in ENTITAS])
    sql = str(stmt)
    assert binds == {f"k{ENTITAS.index('umkm_meningkat')}_kolom": "izin_usaha"}
    assert all(f in sql for f in filters)
    assert (":wilayah" in sql) == (level != "nasional")
    assert ":semua" in sql and ":periodes" in sql and "FULL JOIN" in sql and "GROUP BY e.periode" in sql
    assert "s.status = 'diterima'" in sql
    # mixed kinds: no kind filter; one kind: the records are filtered on it
    assert "AND s.jenis =" not in sql
    stmt, _ = entitas_statement(level, [("usaha_baru", DEFAULT), ("umkm_naik_kelas", DEFAULT)])
    assert "AND s.jenis = 'umkm'" in str(stmt)


def test_entity_statement_never_holds_a_value_it_was_given():
    evil = "punya_nib'); DROP TABLE kumkm; --"
    stmt, binds = entitas_statement("kabkota", [("umkm_meningkat", {"kolom": evil})])
    assert evil not in str(stmt) and binds == {"k0_kolom": evil}


def test_entity_counts_and_sums():
    assert UKURAN["umkm_naik_kelas"].hitungan and UKURAN["usaha_baru"].hitungan
    assert not UKURAN["koperasi_modal_kenaikan"].hitungan and not UKURAN["koperasi_modal_tahun_lalu"].hitungan
    assert UKURAN["koperasi_modal_kenaikan"].jenis == "koperasi" and UKURAN["umkm_naik_kelas"].jenis == "umkm"


@pytest.mark.parametrize(
    "level,filters",
    [("nasional", ()), ("provinsi", ("AND r.kode_provinsi = :wilayah",)), ("kabkota", ("AND r.kode_kabkota = :wilayah",))],
)
def test_kept_counts_statement_per_level(level, filters):
    """The entity terms read from kumkm_rekap (migration 0013): every term has its sum there,
    the wilayah is a bind, and the entities of marked records are added as computed now minus
    as kept."""
    assert all(UKURAN[t].rekap for t in ENTITAS) and not any(u.rekap for u in UKURAN.values() if u.sumber != "entitas")
    stmt, binds = rekap_statement(level, [(t, {**DEFAULT, "kolom": "izin_usaha"}) for t in ENTITAS])
    sql = str(stmt)
    assert binds == {f"k{ENTITAS.index('umkm_meningkat')}_kolom": "izin_usaha"}
    assert all(f in sql for f in filters) and (":wilayah" in sql) == (level != "nasional")
    assert "FROM kumkm_rekap" in sql and "kumkm_rekap_tunda" in sql and "GROUP BY r.periode" in sql
    assert "kumkm_sumbangan_segar" in sql and "kumkm_sumbangan_tersimpan" in sql
    per_kab, _ = rekap_statement(level, [("umkm_naik_kelas", DEFAULT)], per_kabkota=True)
    assert "GROUP BY r.periode, r.kode_kabkota" in str(per_kab)


def test_kept_counts_statement_never_holds_a_value_it_was_given():
    evil = "punya_nib'); DROP TABLE kumkm_rekap; --"
    stmt, binds = rekap_statement("kabkota", [("umkm_meningkat", {"kolom": evil})])
    assert evil not in str(stmt) and binds == {"k0_kolom": evil}
