"""The dinas dashboard in a real browser: Debian's headless Chromium driven by Playwright, against
the live service with generated records. What a kepala dinas reads on the page must be the
API's numbers, digit for digit, in Indonesian format."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.async_api import expect

from app.reporting.reports import angka_id, persen
from tests.support.browser import DESKTOP, PHONE, enter_key, row_cells
from tests.support.bulk import insert_records
from tests.support.common import ARTIFACTS, auth
from tests.support.problems import assert_problem

# Sumatera Selatan, 2022: (kabkota, target or None, masuk, diterima, ditolak). Mixed states in
# every row, one above its target, one without a target, one with nothing verified yet.
SUMSEL = [
    ("16.01", 9_000, 7_321, 5_980, 211),
    ("16.07", 12_500, 13_004, 11_870, 402),
    ("16.10", None, 2_345, 1_000, 45),
    ("16.71", 20_000, 15_678, 9_001, 1_234),
    ("16.74", 1_500, 733, 0, 0),
]
COUNT_FIELDS = ("target", "masuk", "belum_diverifikasi", "diterima", "ditolak", "total_terverifikasi")
PERSEN_FIELDS = ("masuk_vs_target", "diterima_vs_target", "diterima_vs_masuk")


@pytest.fixture
async def sumsel(client, keys, pg):
    """Targets through the API (as a dinas sets them), records set-based, plus records elsewhere
    and in another periode that the page must not count."""
    admin = await keys.make("admin", name="admin-kemenkop")
    for kode, target, *_ in SUMSEL:
        if target is not None:
            r = await client.put(
                f"/api/v1/targets/2022/{kode}",
                headers=auth(admin),
                json={"target": target, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-08-01"},
            )
            assert r.status_code == 201, r.text
    r = await client.put(
        "/api/v1/targets/2022/16",
        headers=auth(admin),
        json={"target": 45_000, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-08-01"},
    )
    assert r.status_code == 201, r.text
    await insert_records(pg, [(kode, masuk, diterima, ditolak) for kode, _, masuk, diterima, ditolak in SUMSEL])
    await insert_records(pg, [("15.71", 500, 100, 10)])  # Jambi
    await insert_records(pg, [("16.07", 999, 0, 0)], periode="2023")  # the next round
    return await keys.make("dinas", "16", name="dinas-kumkm-sumsel")


def _expected_cells(row: dict) -> dict[str, str]:
    out = {"nama": row["nama"]}
    out.update({f: angka_id(row[f]) for f in COUNT_FIELDS})
    out.update({f: row["persen"][f] or "-" for f in PERSEN_FIELDS})
    return out


async def test_dashboard_opens_on_the_keys_wilayah_shows_the_api_numbers_and_downloads(live_server, browser, sumsel, pg):
    key = sumsel
    async with httpx.AsyncClient(base_url=live_server.url, headers=auth(key)) as api:
        r = await api.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16", "as_of": "2022-12-31"})
        assert r.status_code == 200, r.text
        doc = r.json()
        csv_api = (
            await api.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16", "as_of": "2022-12-31", "format": "csv"})
        ).content
    kabkota = [r["kode"] for r in await pg.fetch("SELECT kode FROM wilayah WHERE parent_kode = '16' ORDER BY kode")]
    assert [row["kode"] for row in doc["rows"]] == kabkota and len(kabkota) == 17

    context = await browser.new_context(viewport=DESKTOP, locale="id-ID", accept_downloads=True)
    page = await context.new_page()
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: console_errors.append(str(e)))
    await page.goto(f"{live_server.url}/dashboard?periode=2022")
    await enter_key(page, key)
    # straight onto Sumatera Selatan, every kabupaten/kota, without choosing anything; only the
    # key's own provinsi is offered (no Nasional, no other provinsi)
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(17)
    await expect(page.locator("#judul")).to_have_text("Capaian pendataan Sumatera Selatan · periode 2022")
    assert await page.locator("#provinsi option").all_inner_texts() == ["Sumatera Selatan"]
    await expect(page.locator("#provinsi")).to_be_disabled()
    assert await page.locator("#kabkota option").count() == 1 + 17
    await expect(page.locator("#identitas")).to_have_text("Kunci dinas-kumkm-sumsel · peran dinas · Sumatera Selatan")
    await page.screenshot(path=ARTIFACTS / "dashboard-opens-on-sumsel.png", full_page=True)

    await page.fill("#as-of", "31/12/2022")
    await page.click("#tampilkan")
    await expect(page.locator("#keterangan")).to_contain_text("target yang berlaku pada 31/12/2022")
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(17)

    # every row and the total, cell by cell
    for api_row in doc["rows"]:
        shown = await row_cells(page.locator(f"#tabel-capaian tbody tr[data-kode='{api_row['kode']}']"))
        assert shown == _expected_cells(api_row)
    total = doc["jumlah"]
    assert await row_cells(page.locator("#tabel-capaian tfoot tr")) == _expected_cells(total)
    assert await page.locator("#kolom-wilayah").inner_text() == "Kabupaten/Kota"

    # the verification backlog, against a recount of the records themselves
    backlog = await pg.fetchval("SELECT count(*) FROM submissions WHERE periode = '2022' AND kode_provinsi = '16' AND status = 'masuk'")
    assert backlog == total["belum_diverifikasi"] == sum(m - d - t for _, _, m, d, t in SUMSEL)
    assert await page.locator("#ringkas-backlog").inner_text() == angka_id(backlog)
    assert (await page.locator("#ringkas-backlog-persen").inner_text()).startswith(persen(backlog, total["masuk"]))
    for api_row in doc["rows"]:
        cell = page.locator(f"#tabel-capaian tbody tr[data-kode='{api_row['kode']}'] td[data-kolom=belum_diverifikasi]")
        assert ("antrian" in (await cell.get_attribute("class")).split()) == (api_row["belum_diverifikasi"] > 0)
    assert await page.locator("#ringkas-masuk").inner_text() == angka_id(total["masuk"])
    assert await page.locator("#ringkas-diterima").inner_text() == angka_id(total["diterima"])
    assert await page.locator("#ringkas-target").inner_text() == angka_id(total["target"])
    assert total["persen"]["masuk_vs_target"] in await page.locator("#ringkas-masuk-persen").inner_text()
    # one kabupaten/kota has records and no target: the page says the total's ratios use a partial target
    assert doc["target_sebagian"] is True
    await expect(page.locator("#peringatan-target")).to_be_visible()
    assert (await page.locator("#peringatan-target").inner_text()).startswith(
        "1 kabupaten/kota yang sudah punya data masuk belum punya target yang berlaku pada 31/12/2022"
    )

    # the chart: one lane per row with a target or records, bars and target mark on one scale
    await expect(page.locator("#grafik .batang-baris")).to_have_count(len(SUMSEL))
    for api_row in (r for r in doc["rows"] if r["masuk"] or r["target"] is not None):
        lane = page.locator(f"#grafik .batang-baris[data-kode='{api_row['kode']}'] .batang-jalur")
        width = (await lane.bounding_box())["width"]
        masuk_px = (await lane.locator(".batang.masuk").bounding_box())["width"]
        diterima_box = await lane.locator(".batang.diterima").bounding_box()
        diterima_px = diterima_box["width"] if diterima_box else 0.0
        scale = masuk_px / api_row["masuk"]  # pixels per record
        assert abs(diterima_px - api_row["diterima"] * scale) < 1.5, api_row
        assert masuk_px <= width + 0.5
        mark = lane.locator(".penanda-target")
        if api_row["target"] is None:
            assert await mark.count() == 0
        else:
            lane_x = (await lane.bounding_box())["x"]
            mark_box = await mark.bounding_box()
            centre = mark_box["x"] + mark_box["width"] / 2 - lane_x
            assert abs(centre - api_row["target"] * scale) < 2.5, api_row

    # the CSV button sends the key and saves exactly what the API serves
    async with page.expect_download() as info:
        await page.click("[data-unduh=capaian][data-format=csv]")
    download = await info.value
    assert download.suggested_filename == "capaian-pendataan-2022-16.csv"
    saved = Path(await download.path()).read_bytes()
    assert saved == csv_api
    assert list(csv.reader(io.StringIO(saved.decode("utf-8-sig"))))[-1][2:5] == [
        "Jumlah",
        angka_id(total["target"]),
        angka_id(total["masuk"]),
    ]
    async with page.expect_download() as info:
        await page.click("[data-unduh=keragaan][data-format=csv]")
    assert (await info.value).suggested_filename == "keragaan-koperasi-2022-16.csv"

    # "Unduh Excel": a workbook that opens with openpyxl, whose numbers are the API's
    async with page.expect_download() as info:
        await page.click("[data-unduh=capaian][data-format=xlsx]")
    download = await info.value
    assert download.suggested_filename == "capaian-pendataan-2022-16.xlsx"
    ws = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active
    assert ws["A2"].value == "Wilayah: Sumatera Selatan (16)"
    assert ws["A4"].value.startswith("Target berlaku per 31/12/2022")
    top = next(c.row for c in ws["A"] if c.value == "No")
    cells = [[c.value for c in row] for row in ws.iter_rows(min_row=top + 2, max_row=top + 2 + len(doc["rows"]), max_col=12)]
    for got, api_row in zip(cells, doc["rows"] + [total], strict=True):
        assert got[1:9] == [api_row["kode"], api_row["nama"]] + [api_row[f] for f in COUNT_FIELDS], api_row
        for value, field in zip(got[9:], PERSEN_FIELDS, strict=True):
            if api_row[field] is None:
                assert value is None
            else:
                assert abs(Decimal(str(value)) - Decimal(api_row[field])) < Decimal("0.000000005"), (api_row, field)
    assert ws.cell(row=top + 2, column=4).number_format == "[$-421]#,##0"
    async with page.expect_download() as info:
        await page.click("[data-unduh=umkm][data-format=xlsx]")
    assert (await info.value).suggested_filename == "umkm-2022-16.xlsx"

    # the URL keeps the choice (never the key), and the key survives a reload of the tab
    assert page.url.endswith("/dashboard?periode=2022&wilayah=16&as_of=2022-12-31")
    await page.screenshot(path=ARTIFACTS / "dashboard-desktop.png", full_page=True)
    await page.reload()
    await expect(page.locator("#kunci-aktif")).to_be_visible()
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(17)
    assert await page.locator("#as-of").input_value() == "31/12/2022"
    assert console_errors == []
    await context.close()

    # a phone: nothing wider than the screen (the table scrolls inside its own box)
    phone = await browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2, locale="id-ID")
    page = await phone.new_page()
    await page.goto(f"{live_server.url}/dashboard?periode=2022&wilayah=16&as_of=2022-12-31")
    await enter_key(page, key)
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(17)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert await page.locator("#ringkas-backlog").inner_text() == angka_id(backlog)
    kota = next(r for r in doc["rows"] if r["kode"] == "16.71")
    assert await row_cells(page.locator("#tabel-capaian tbody tr[data-kode='16.71']")) == _expected_cells(kota)
    await page.screenshot(path=ARTIFACTS / "dashboard-phone.png")
    await page.screenshot(path=ARTIFACTS / "dashboard-phone-full.png", full_page=True)
    for part in ("grafik", "tabel-capaian"):
        await page.locator(f"#{part}").scroll_into_view_if_needed()
        await page.screenshot(path=ARTIFACTS / f"dashboard-phone-{part}.png")
    await phone.close()


async def test_dashboard_explains_in_indonesian_what_went_wrong(live_server, browser, sumsel, keys):
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/dashboard")
    message = page.locator("#pesan")

    await enter_key(page, "kumkm_bukan-kunci-yang-benar")
    await expect(message).to_have_text(
        "Kunci API ditolak: kunci tidak dikenal, sudah dicabut atau kedaluwarsa. Tempel kunci yang masih berlaku."
    )
    await expect(page.locator("#form-kunci")).to_be_visible()  # asked again for a key
    await expect(page.locator("#tampilkan")).to_be_disabled()
    assert await page.evaluate("sessionStorage.length") == 0

    # an enumerator key: told that its role cannot open reports (not that its area is too small)
    await enter_key(page, await keys.make("enumerator", "16", name="enum-sumsel"))
    await expect(message).to_have_text(
        "Kunci ini berperan enumerator: peran ini tidak dapat membuka laporan "
        "capaian pendataan. Laporan dibuka dengan kunci berperan verifikator, "
        "dinas, walidata atau admin."
    )
    await expect(page.locator("#tampilkan")).to_be_disabled()
    await expect(page.locator("#hasil")).to_be_hidden()
    await page.screenshot(path=ARTIFACTS / "dashboard-enumerator.png")

    # the service's own 403 is told apart by its code: a stale address with another provinsi
    await page.click("#ganti-kunci")
    await page.goto(f"{live_server.url}/dashboard?periode=2022&wilayah=15")
    await enter_key(page, sumsel)
    await expect(message).to_have_text(
        "Wilayah yang diminta berada di luar cakupan kunci ini. Kunci ini hanya "
        "mencakup Sumatera Selatan dan wilayah di dalamnya: pilih wilayah dari daftar."
    )
    await expect(page.locator("#hasil")).to_be_hidden()
    await page.click("#tampilkan")  # the selects hold only the key's own wilayah
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(17)
    await expect(message).to_be_hidden()

    # dates are entered as dd/mm/yyyy; anything else is said in words, nothing is asked
    await page.fill("#as-of", "2022-12-31")
    await page.click("#tampilkan")
    await expect(message).to_have_text("Tanggal “Target berlaku per” harus berformat hh/bb/tttt dan benar-benar ada, mis. 31/12/2022.")
    await page.fill("#as-of", "30/02/2022")
    await page.click("#tampilkan")
    await expect(message).to_contain_text("hh/bb/tttt")

    # nothing collected and no target: said in words, not an empty table
    await page.click("#ganti-kunci")
    await page.fill("#as-of", "")
    await enter_key(page, await keys.make("walidata"))
    # the provinsi list is still enabled from the previous key: wait until the new key's list
    # is in (the key shows as saved after it), or the refill undoes the choice below
    await expect(page.locator("#kunci-aktif")).to_be_visible()
    await expect(page.locator("#provinsi")).to_be_enabled()
    # The new key's start (choices refilled, then the last choice shown again from the URL)
    # must be over before choosing: otherwise the refill resets the choice made meanwhile.
    await expect(page.locator("#kunci-aktif")).to_be_visible()
    await expect(page.locator("#filter")).not_to_have_attribute("aria-busy", "true")
    await page.select_option("#periode", "2024")
    await page.select_option("#provinsi", "16")
    await page.click("#tampilkan")
    # and where the key's data is: every record the walidata's national key covers, per periode
    in_2022 = angka_id(sum(masuk for _, _, masuk, _, _ in SUMSEL) + 500)
    await expect(message).to_have_text(
        "Belum ada target maupun data masuk untuk Sumatera Selatan pada periode 2024. "
        f"Data ada pada periode 2022 ({in_2022} data), 2023 (999 data)."
    )
    await expect(page.locator("#hasil")).to_be_hidden()

    # and the nation for the walidata: every provinsi, Sumatera Selatan and Jambi with records
    await page.select_option("#periode", "2022")
    await page.select_option("#provinsi", "")
    await page.click("#tampilkan")
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(38)
    await expect(page.locator("#grafik .batang-baris")).to_have_count(2)
    await expect(message).to_be_hidden()
    assert await page.locator("#kolom-wilayah").inner_text() == "Provinsi"
    for text in await page.locator("body").all_inner_texts():
        for english in ("scope", "outside", "Forbidden", "Rincian", "key"):
            assert english not in text
    await context.close()


async def test_a_kabupaten_key_opens_on_its_kecamatan(live_server, browser, sumsel, keys, pg):
    """A verifikator of Banyuasin: its provinsi and kabupaten fixed, the table per kecamatan, and
    the kabupaten's own target on the Jumlah row when no kecamatan has one."""
    key = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    kecamatan = await pg.fetchval("SELECT count(*) FROM wilayah WHERE parent_kode = '16.07'")
    async with httpx.AsyncClient(base_url=live_server.url, headers=auth(key)) as api:
        doc = (await api.get("/api/v1/capaian-pendataan", params={"periode": "2022", "wilayah": "16.07"})).json()
    assert doc["target_jumlah_dari"] == "wilayah" and doc["jumlah"]["target"] == 12_500
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(f"{live_server.url}/dashboard?periode=2022")
    await enter_key(page, key)
    # the records placed at the kabupaten only form one more row, "(tanpa kecamatan)"
    await expect(page.locator("#tabel-capaian tbody tr")).to_have_count(kecamatan + 1)
    assert await page.locator("#provinsi option").all_inner_texts() == ["Sumatera Selatan"]
    assert await page.locator("#kabkota option").all_inner_texts() == ["Kabupaten Banyuasin"]
    await expect(page.locator("#kabkota")).to_be_disabled()
    assert await page.locator("#kolom-wilayah").inner_text() == "Kecamatan"
    assert await page.locator("#ringkas-target").inner_text() == angka_id(12_500)
    await expect(page.locator("#ringkas-target-catatan")).to_have_text(
        "target Kabupaten Banyuasin sendiri (Kepdep 63/2022); belum ada target per kecamatan"
    )
    assert doc["jumlah"]["persen"]["masuk_vs_target"] in await page.locator("#ringkas-masuk-persen").inner_text()
    await expect(page.locator("#peringatan-target")).to_be_hidden()
    await context.close()


async def test_page_and_assets_are_served_by_the_app(client):
    r = await client.get("/dashboard")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert '<option value="2022"' in r.text
    for asset, kind in (("dashboard.js", "javascript"), ("dashboard.css", "text/css")):
        assert f"/dashboard/static/{asset}" in r.text
        a = await client.get(f"/dashboard/static/{asset}")
        assert a.status_code == 200 and kind in a.headers["content-type"], asset
    assert_problem(await client.get("/dashboard/static/../router.py"), "not-found")


# (from tests/api/test_api_polish.py: the page opens on the newest periode with data)


async def test_the_dashboard_opens_on_the_newest_periode_with_data(live_server, browser, client, keys, pg):
    await insert_records(pg, [("16.07", 40, 10, 5)], periode="2022")
    dinas = await keys.make("dinas", "16", name="dinas-polish")
    context = await browser.new_context(locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/dashboard")
    await page.fill("#kunci", dinas)
    await page.click("#form-kunci button[type=submit]")
    await expect(page.locator("#judul")).to_have_text("Capaian pendataan Sumatera Selatan · periode 2022")
    assert await page.locator("#periode").input_value() == "2022"
    assert "periode=2022" in page.url
    # a periode without data says where the data is
    await page.select_option("#periode", "2025")
    await page.click("#tampilkan")
    await expect(page.locator("#pesan")).to_contain_text("periode 2022 (40 data)")
    await context.close()
