"""`format=xlsx` on every report table: a workbook that opens with openpyxl, whose cells hold the
API's numbers as numbers (rupiah exact, ratios as fractions with a percentage format), under
the printed tables' grouped headers and a title naming wilayah, periode and date; and whose
text can never run as a formula."""

from __future__ import annotations

import io
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from tests.support.bulk import insert_records
from tests.support.common import ARTIFACTS, auth
from tests.support.factories import koperasi, umkm

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE = '=HYPERLINK("http://evil.example","klik")'


def _workbook(r, filename: str):
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == XLSX
    assert r.headers["content-disposition"] == f'attachment; filename="{filename}"'
    # kept for a person to open (test-artifacts/ is not committed)
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / filename).write_bytes(r.content)
    return openpyxl.load_workbook(io.BytesIO(r.content)).active


def _texts(ws, row: int) -> list:
    return [c.value for c in ws[row]]


def _find_row(ws, first: str) -> int:
    """The row whose first cell is `first` (a header or a total row)."""
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == first:
            return row[0].row
    raise AssertionError(f"no row starts with {first!r}")


def _body(ws, start: int, width: int) -> list[list]:
    """Rows from `start` down to the first empty row."""
    out = []
    for row in ws.iter_rows(min_row=start, max_col=width):
        values = [c.value for c in row]
        if all(v is None for v in values):
            break
        out.append(values)
    return out


def _merged(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def _ratio(cell_value, api_ratio: str | None) -> bool:
    """The cell's fraction agrees with the API's 8-place ratio (null: an empty cell)."""
    if api_ratio is None:
        return cell_value is None
    return abs(Decimal(str(cell_value)) - Decimal(api_ratio)) <= Decimal("0.000000005")


def _persen_shown(value: float) -> str:
    """What the cell shows with its 0.00% format in Indonesian: half-up from its exact text."""
    d = (Decimal(str(value)) * 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    whole, frac = f"{d:f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + frac + "%"


async def _put_target(client, key, kode, target, mulai="2022-08-01"):
    r = await client.put(
        f"/api/v1/targets/2022/{kode}", headers=auth(key), json={"target": target, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": mulai}
    )
    assert r.status_code in (200, 201), r.text


async def test_capaian_workbook_has_the_api_numbers_title_and_grouped_header(client, admin, keys, pg):
    await insert_records(pg, [("16.07", 41_675, 39_345, 335), ("16.03", 62_137, 60_332, 246), ("16.10", 50, 5, 0)])
    await _put_target(client, admin, "16.07", 41_910)
    await _put_target(client, admin, "16.03", 60_300)
    dinas = await keys.make("dinas", "16")
    params = {"periode": "2022", "wilayah": "16", "as_of": "2022-12-31"}
    doc = (await client.get("/api/v1/capaian-pendataan", params=params, headers=auth(dinas))).json()
    ws = _workbook(
        await client.get("/api/v1/capaian-pendataan", params={**params, "format": "xlsx"}, headers=auth(dinas)),
        "capaian-pendataan-2022-16.xlsx",
    )

    assert ws.title == "Capaian Pendataan"
    title = [ws.cell(row=i, column=1).value for i in range(1, 5)]
    assert title[0] == "Capaian Pendataan PL-KUMKM"
    assert title[1] == "Wilayah: Sumatera Selatan (16)"
    assert title[2] == "Periode: 2022; baris per kabupaten/kota"
    assert title[3].startswith("Target berlaku per 31/12/2022; jumlah data per ")

    top = _find_row(ws, "No")
    assert _texts(ws, top) == [
        "No",
        "Kode",
        "Kabupaten/Kota",
        "Target",
        "Data Masuk",
        "Belum Diverifikasi",
        "Hasil Verifikasi",
        None,
        None,
        "Capaian",
        None,
        None,
    ]
    assert _texts(ws, top + 1)[6:] == [
        "Diterima",
        "Ditolak",
        "Total Terverifikasi",
        "Masuk vs Target",
        "Diterima vs Target",
        "Diterima vs Masuk",
    ]
    assert {f"G{top}:I{top}", f"J{top}:L{top}", f"A{top}:A{top + 1}", f"C{top}:C{top + 1}"} <= _merged(ws)

    body = _body(ws, top + 2, 12)
    assert len(body) == len(doc["rows"]) + 1 == 18  # 17 kabupaten/kota and Jumlah
    for no, (cells, row) in enumerate(zip(body, doc["rows"] + [doc["jumlah"]], strict=True), 1):
        assert cells[0] == (no if row["kode"] else None)
        assert cells[1:9] == [
            row["kode"],
            row["nama"],
            row["target"],
            row["masuk"],
            row["belum_diverifikasi"],
            row["diterima"],
            row["ditolak"],
            row["total_terverifikasi"],
        ], row
        for value, field in zip(cells[9:], ("masuk_vs_target", "diterima_vs_target", "diterima_vs_masuk"), strict=True):
            assert _ratio(value, row[field]), (row["kode"], field, value)
            if value is not None:
                assert _persen_shown(value) == row["persen"][field]
    # numbers are numbers, in Indonesian display formats; the total is bold
    jumlah = ws[top + 2 + len(doc["rows"])]
    assert jumlah[2].value == "Jumlah" and jumlah[2].font.b and jumlah[4].font.b
    assert isinstance(jumlah[4].value, int) and jumlah[4].number_format == "[$-421]#,##0"
    assert jumlah[9].number_format == "[$-421]0.00%"
    banyuasin = next(c for c in body if c[1] == "16.07")
    assert _persen_shown(banyuasin[9]) == "99,44%"
    # Ogan Ilir (16.10) has records and no target: the note says the Jumlah target is partial
    notes = [c.value for c in ws["A"][top + 2 + len(doc["rows"]) :] if c.value]
    assert doc["target_sebagian"] is True
    assert any(n.startswith("1 kabupaten/kota yang sudah punya data masuk belum punya target") for n in notes)


async def test_capaian_workbook_of_a_kabupaten_with_its_own_target_only(client, admin, keys, pg):
    kec = await pg.fetchval("SELECT min(kode) FROM wilayah WHERE parent_kode = '16.07'")
    desa = await pg.fetchval("SELECT min(kode) FROM wilayah WHERE parent_kode = $1", kec)
    await insert_records(pg, [(desa, 30, 20, 1), ("16.07", 10, 0, 0)])
    await _put_target(client, admin, "16.07", 80)
    dinas = await keys.make("dinas", "16.07")
    params = {"periode": "2022", "wilayah": "16.07", "as_of": "2022-12-31"}
    doc = (await client.get("/api/v1/capaian-pendataan", params=params, headers=auth(dinas))).json()
    # no kecamatan has a target: the Jumlah row takes the kabupaten's own, and no partial-target warning
    assert doc["jumlah"]["target"] == 80 and doc["target_jumlah_dari"] == "wilayah"
    assert doc["jumlah"]["persen"]["masuk_vs_target"] == "50,00%" and doc["target_sebagian"] is False
    ws = _workbook(
        await client.get("/api/v1/capaian-pendataan", params={**params, "format": "xlsx"}, headers=auth(dinas)),
        "capaian-pendataan-2022-16.07.xlsx",
    )
    top = _find_row(ws, "No")
    assert ws.cell(row=top, column=3).value == "Kecamatan"
    jumlah = next(r for r in _body(ws, top + 2, 12) if r[2] == "Jumlah")
    assert jumlah[3:5] == [80, 40] and _persen_shown(jumlah[9]) == "50,00%"
    assert jumlah[1] is None
    tanpa = next(r for r in _body(ws, top + 2, 12) if r[2] == "(tanpa kecamatan)")
    assert tanpa[1] is None and tanpa[4] == 10
    notes = [c.value for c in ws["A"] if isinstance(c.value, str) and c.value.startswith("Target baris Jumlah")]
    assert notes == ["Target baris Jumlah adalah target Kabupaten Banyuasin sendiri (80, Kepdep 63/2022): belum ada target per kecamatan."]


@pytest.fixture
async def records(client, admin, pg):
    """Koperasi and UMKM of Sumatera Selatan, diterima, with amounts beyond what a spreadsheet
    number keeps (10^15 rupiah and more)."""
    plg = await pg.fetchval("SELECT min(kode) FROM wilayah WHERE level = 4 AND kode LIKE '16.71.%'")
    bya = await pg.fetchval("SELECT min(kode) FROM wilayah WHERE level = 4 AND kode LIKE '16.07.%'")
    zero = dict(
        anggota_laki_laki=0,
        anggota_perempuan=0,
        manajer_laki_laki=0,
        manajer_perempuan=0,
        karyawan_laki_laki=0,
        karyawan_perempuan=0,
        modal_sendiri=0,
        modal_luar=0,
        volume_usaha=0,
        shu=0,
    )
    items = [
        koperasi(
            **{
                **zero,
                "kode_wilayah": plg,
                "aktif": True,
                "tahun_rat_terakhir": 2022,
                "anggota_laki_laki": 120,
                "anggota_perempuan": 80,
                "manajer_laki_laki": 1,
                "karyawan_perempuan": 3,
                "modal_sendiri": 2_000_000_000_000_000,
                "modal_luar": 1_234_567,
                "volume_usaha": 99,
                "shu": -5,
            }
        ),
        koperasi(**{**zero, "kode_wilayah": bya, "aktif": False, "anggota_perempuan": 7, "modal_sendiri": 5_000}),
        koperasi(**{**zero, "kode_wilayah": plg, "kewenangan": "provinsi", "aktif": True, "anggota_laki_laki": 900}),
        umkm(kode_wilayah=plg, modal_usaha=25_000_000, tenaga_kerja_laki_laki=2, tenaga_kerja_perempuan=1),
        umkm(kode_wilayah=bya, modal_usaha=2_000_000_000, tenaga_kerja_laki_laki=0, tenaga_kerja_perempuan=4),
        umkm(kode_wilayah=bya, modal_usaha=20_000_000_000),  # besar: not UMKM
    ]
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(admin))
    assert r.status_code == 200 and r.json()["created"] == len(items), r.text
    await pg.execute("UPDATE submissions SET status = 'diterima'")


KERAGAAN_COLS = (
    "koperasi_jumlah",
    "koperasi_aktif",
    "koperasi_tidak_aktif",
    "anggota_jumlah",
    "anggota_l",
    "anggota_p",
    "rat",
    "manajer_jumlah",
    "manajer_l",
    "manajer_p",
    "karyawan_jumlah",
    "karyawan_l",
    "karyawan_p",
    "modal_sendiri",
    "modal_luar",
    "volume_usaha",
    "shu",
)


async def test_keragaan_workbook_prints_the_ods_headers_and_exact_rupiah(client, dinas, records):
    params = {"periode": "2022", "wilayah": "16"}
    doc = (await client.get("/api/v1/agregat/keragaan-koperasi", params=params, headers=auth(dinas))).json()
    ws = _workbook(
        await client.get("/api/v1/agregat/keragaan-koperasi", params={**params, "format": "xlsx"}, headers=auth(dinas)),
        "keragaan-koperasi-2022-16.xlsx",
    )
    assert ws["A1"].value == "Keragaan Koperasi"
    assert ws["A2"].value == "Wilayah: Sumatera Selatan (16)"
    assert ws["A3"].value == "Periode: 2022; data berstatus diterima"
    assert ws["A4"].value.startswith("Keadaan data per ")
    top = _find_row(ws, "No")
    assert _texts(ws, top)[:17] == [
        "No",
        "Kode",
        "Kabupaten/Kota",
        "Koperasi",
        None,
        None,
        "Anggota",
        None,
        None,
        "RAT (Unit)",
        "Manajer",
        None,
        None,
        "Karyawan",
        None,
        None,
        "Modal Sendiri (Rp)",
    ]
    assert _texts(ws, top + 1)[3:16] == ["Jumlah", "Aktif", "Tidak Aktif", "Jumlah", "L", "P", None, "Jumlah", "L", "P", "Jumlah", "L", "P"]
    assert {f"D{top}:F{top}", f"G{top}:I{top}", f"K{top}:M{top}", f"N{top}:P{top}", f"J{top}:J{top + 1}"} <= _merged(ws)

    body = _body(ws, top + 2, 21)
    expected = doc["rows"] + [doc["binaan_provinsi"], doc["binaan_nasional"], doc["jumlah"]]
    assert len(body) == len(expected) == 17 + 3
    for cells, row in zip(body, expected, strict=True):
        assert cells[:3] == [row["no"], row["kode"], row["nama"]]
        for value, field in zip(cells[3:20], KERAGAAN_COLS, strict=True):
            want = int(row[field])
            if abs(want) >= 10**15:
                # beyond 15 digits a spreadsheet number is rounded: exact text instead
                assert value == f"{want:,}".replace(",", "."), (field, value)
            else:
                assert value == want and isinstance(value, int), (row["nama"], field, value)
        assert _ratio(cells[20], row["persentase_aktif"])
    palembang = next(c for c in body if c[1] == "16.71")
    assert palembang[16] == "2.000.000.000.000.000" and palembang[17] == 1_234_567 and palembang[19] == -5
    assert ws.cell(row=top + 2 + body.index(palembang), column=17).alignment.horizontal == "right"
    notes = [c.value for c in ws["A"][top + 1 + len(body) :] if c.value]
    assert any("ditulis sebagai teks agar tetap tepat" in n for n in notes)


async def test_umkm_workbook(client, dinas, records):
    params = {"periode": "2022", "wilayah": "16"}
    doc = (await client.get("/api/v1/agregat/umkm", params=params, headers=auth(dinas))).json()
    ws = _workbook(await client.get("/api/v1/agregat/umkm", params={**params, "format": "xlsx"}, headers=auth(dinas)), "umkm-2022-16.xlsx")
    assert ws["A1"].value == "UMKM per Skala Usaha"
    top = _find_row(ws, "Skala Usaha")
    assert _texts(ws, top)[5:8] == ["Tenaga Kerja", None, None] and _texts(ws, top + 1)[5:8] == ["Jumlah", "L", "P"]
    body = _body(ws, top + 2, 10)
    fields = (
        "jumlah",
        "modal_usaha",
        "hasil_penjualan",
        "aset",
        "tenaga_kerja_jumlah",
        "tenaga_kerja_l",
        "tenaga_kerja_p",
        "punya_nib",
        "platform_digital",
    )
    for cells, row in zip(body, doc["rows"] + [doc["jumlah"]], strict=True):
        assert cells == [row["nama"]] + [int(row[f]) for f in fields]
    assert body[-1][:2] == ["Jumlah", 2] and doc["usaha_besar"] == 1
    assert f"Usaha besar (di atas batas UMKM, tidak termasuk dalam tabel): {doc['usaha_besar']}." in [c.value for c in ws["A"]]


async def test_agregat_workbook_groups_l_and_p(client, dinas, records):
    params = {"periode": "2022", "wilayah": "16", "by": "kode_kabkota", "jenis": "koperasi"}
    doc = (await client.get("/api/v1/agregat", params=params, headers=auth(dinas))).json()
    ws = _workbook(await client.get("/api/v1/agregat", params={**params, "format": "xlsx"}, headers=auth(dinas)), "agregat-2022-16.xlsx")
    top = _find_row(ws, "Kode Kabupaten/Kota")
    header = _texts(ws, top)
    sub = _texts(ws, top + 1)
    measures = list(doc["jumlah"])
    assert header[:2] == ["Kode Kabupaten/Kota", "Kabupaten/Kota"]
    i = 2 + measures.index("anggota_l")
    assert header[i : i + 2] == ["Anggota", None] and sub[i : i + 2] == ["L", "P"]
    body = _body(ws, top + 2, 2 + len(measures))
    assert len(body) == len(doc["rows"]) + 1
    for cells, row in zip(body, doc["rows"], strict=False):
        assert cells[:2] == [row["kode_kabkota"], row["nama_kabkota"]]
        for value, m in zip(cells[2:], measures, strict=True):
            want = int(row[m])
            assert value == (f"{want:,}".replace(",", ".") if abs(want) >= 10**15 else want), m
    assert body[-1][0] == "Jumlah" and body[-1][2] == doc["jumlah"]["jumlah"] == 3


async def test_lkjip_workbook_keeps_hostile_text_as_text(client, dinas):
    api = "/api/v1/indikator"
    sid = await client.post(api + "/sasaran", headers=auth(dinas), json={"pemilik": "16", "kode": "S1", "nama": HOSTILE})
    assert sid.status_code == 201, sid.text
    body = {
        "pemilik": "16",
        "kode": "IKU-1",
        "nama": "@SUM(1+1)\tcmd|' /C calc'!A0\x07",
        "sasaran_id": sid.json()["id"],
        "satuan": "persen",
        "polaritas": "naik",
        "sumber": "manual",
        "renstra_mulai": 2019,
        "renstra_akhir": 2023,
    }
    r = await client.post(api, json=body, headers=auth(dinas))
    if r.status_code == 422:  # a control character refused at the door is as good
        body["nama"] = "@SUM(1+1)\tcmd|' /C calc'!A0"
        r = await client.post(api, json=body, headers=auth(dinas))
    assert r.status_code == 201, r.text
    iid = r.json()["id"]
    for path, value in (
        (f"/{iid}/target/16/2022", {"nilai": "8.45"}),
        (f"/{iid}/realisasi/16/2022", {"nilai": "12.67", "sumber": "laporan"}),
    ):
        r = await client.put(api + path, json=value, headers=auth(dinas))
        assert r.status_code == 200, r.text
    params = {"tahun": 2022, "wilayah": "16"}
    doc = (await client.get(api + "/capaian", params=params, headers=auth(dinas))).json()
    r = await client.get(api + "/capaian", params={**params, "format": "xlsx"}, headers=auth(dinas))
    ws = _workbook(r, "lkjip-2022-16.xlsx")
    assert ws["A1"].value == "Capaian Indikator Kinerja (LKjIP)"
    top = _find_row(ws, "No")
    assert _texts(ws, top)[7:11] == ["Tahun 2022", None, None, None]
    assert _texts(ws, top + 1)[7:11] == ["Target", "Realisasi", "Capaian", "Predikat"]
    sasaran_row, indikator_row = _body(ws, top + 2, 11)[:2]
    assert sasaran_row[2] == HOSTILE and indikator_row[4].startswith("@SUM(1+1)")
    ind = doc["sasaran"][0]["indikator"][0]
    assert indikator_row[7] == 8.45 and indikator_row[8] == 12.67
    assert _persen_shown(indikator_row[9]) == "149,94%" and indikator_row[10] == ind["predikat"] == "sangat tinggi"
    # stored as strings with Excel's quote prefix, never as formulas
    cell = ws.cell(row=top + 2, column=3)
    assert cell.data_type == "s" and cell.quotePrefix
    sheet = zipfile.ZipFile(io.BytesIO(r.content)).read("xl/worksheets/sheet1.xml")
    assert b"<f>" not in sheet and b"\x07" not in sheet


@pytest.mark.parametrize(
    "path,params",
    [
        ("/api/v1/capaian-pendataan", {"periode": "2022", "wilayah": "17"}),
        ("/api/v1/agregat/keragaan-koperasi", {"periode": "2022", "wilayah": "17"}),
        ("/api/v1/agregat/umkm", {"periode": "2022"}),
        ("/api/v1/agregat", {"periode": "2022", "wilayah": "17", "by": "jenis"}),
        ("/api/v1/indikator/capaian", {"tahun": "2022", "wilayah": "17"}),
    ],
)
async def test_workbooks_keep_the_scope_rules(client, dinas, path, params):
    r = await client.get(path, params={**params, "format": "xlsx"}, headers=auth(dinas))
    assert r.status_code == 403, r.text
    assert r.json()["code"] == "outside-scope"
