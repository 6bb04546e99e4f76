"""Kinerja enumerator on the dinas dashboard in Debian's headless Chromium: the table shows the
API's rows digit for digit with their flags, follows the chosen order, and "Unduh Excel"
saves the whole table as a workbook that opens with openpyxl."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.async_api import expect

from app.reporting.reports import angka_id
from tests.support.browser import DESKTOP, enter_key, row_cells
from tests.support.common import ARTIFACTS, auth
from tests.support.factories import nik, umkm

BANYUASIN = "16.07.01.2001"


async def post(client, key, items):
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == len(items), r.text


async def decide(client, key, items, status, alasan=None):
    body = [
        {"submission_id": i["submission_id"], "status": status, "version": 1, **({"alasan_kode": alasan} if alasan else {})} for i in items
    ]
    r = await client.post("/api/v1/verifikasi/batch", json={"items": body}, headers=auth(key))
    assert r.status_code == 200 and r.json()["decided"] == len(items), r.text


@pytest.fixture
async def campaign(client, keys):
    """ENUM-A: five records of one NIK in eight minutes (both record flags); ENUM-B: 10 of 20
    ditolak where its kabupaten rejects few (tolak tinggi); ENUM-D: 40 diterima."""
    ka = await keys.make("enumerator", "16.07", name="enum-a")
    kb = await keys.make("enumerator", "16.07", name="enum-b")
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    same = nik(serial=1234)
    a = [
        umkm(enumerator_id="ENUM-A", kode_wilayah=BANYUASIN, captured_at=f"2022-06-01T09:0{2 * i}:00+07:00", nik_pemilik=same)
        for i in range(5)
    ]
    b = [
        umkm(enumerator_id="ENUM-B", kode_wilayah=BANYUASIN, captured_at=f"2022-06-02T{8 + i // 2:02d}:{(i % 2) * 30:02d}:00+07:00")
        for i in range(21)
    ]
    d = [
        umkm(enumerator_id="ENUM-D", kode_wilayah=BANYUASIN, captured_at=f"2022-06-0{3 + i // 10}T{8 + i % 10:02d}:00:00+07:00")
        for i in range(40)
    ]
    await post(client, ka, a)
    await post(client, kb, b)
    await post(client, kb, d)
    await decide(client, verif, b[:10], "ditolak", "data_tidak_lengkap")
    await decide(client, verif, b[10:20], "diterima")
    await decide(client, verif, d, "diterima")
    await decide(client, verif, a[:2], "diterima")
    return await keys.make("dinas", "16", name="dinas-kumkm-sumsel")


def expected(r: dict) -> dict[str, str]:
    return {
        "nama": r["enumerator_id"],
        **{k: angka_id(r[k]) for k in ("masuk", "belum_diverifikasi", "diterima", "ditolak")},
        "tingkat_tolak": r["persen"]["tingkat_tolak"] or "-",
        "tingkat_tolak_wilayah": r["persen"]["tingkat_tolak_wilayah"] or "-",
        "jeda": "",  # compared apart (words)
        "tanda": "",
    }


async def test_the_enumerator_table_shows_the_api_and_downloads_it(live_server, browser, campaign):
    key = campaign
    async with httpx.AsyncClient(base_url=live_server.url, headers=auth(key)) as api:
        params = {"periode": "2022", "kode_wilayah": "16", "limit": 50}
        doc = (await api.get("/api/v1/kampanye/enumerator", params=params)).json()
        by_masuk = (await api.get("/api/v1/kampanye/enumerator", params={**params, "urut": "masuk"})).json()
    assert [r["enumerator_id"] for r in doc["items"]] == ["ENUM-B", "ENUM-A", "ENUM-D"]
    flags = {r["enumerator_id"]: r["tanda"] for r in doc["items"]}
    assert flags == {"ENUM-B": ["tolak_tinggi"], "ENUM-A": ["rekaman_beruntun", "nik_berulang"], "ENUM-D": []}

    context = await browser.new_context(viewport=DESKTOP, locale="id-ID", accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{live_server.url}/dashboard?periode=2022")
    await enter_key(page, key)
    rows = page.locator("#tabel-kinerja tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator("#kinerja-keterangan")).to_contain_text("3 enumerator di Sumatera Selatan")
    for i, r in enumerate(doc["items"]):
        row = rows.nth(i)
        cells = await row_cells(row)
        want = expected(r)
        assert {k: v for k, v in cells.items() if k not in ("jeda", "tanda")} == {
            k: v for k, v in want.items() if k not in ("jeda", "tanda")
        }
        assert await row.get_attribute("data-enumerator") == r["enumerator_id"]
        badges = await row.locator(".lencana").all_inner_texts()
        assert badges == [
            {"rekaman_beruntun": "Rekaman beruntun", "nik_berulang": "NIK berulang", "tolak_tinggi": "Tolak tinggi"}[c] for c in r["tanda"]
        ]
    alasan = await rows.nth(0).locator("td.alasan").inner_text()
    assert alasan == "Tidak lengkap 10"
    await page.screenshot(path=ARTIFACTS / "dashboard-kinerja.png", full_page=True)

    # another order, as the API gives it
    await page.select_option("#kinerja-urut", "masuk")
    await expect(rows.first).to_have_attribute("data-enumerator", by_masuk["items"][0]["enumerator_id"])
    assert [await rows.nth(i).get_attribute("data-enumerator") for i in range(3)] == [r["enumerator_id"] for r in by_masuk["items"]]

    # "Unduh Excel": every enumerator, in the order chosen, with the API's numbers
    async with page.expect_download() as info:
        await page.click("#kinerja-unduh-xlsx")
    download = await info.value
    assert download.suggested_filename == "kinerja-enumerator-2022-16.xlsx"
    ws = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active
    values = [[c.value for c in row] for row in ws.iter_rows()]
    body = [row for row in values if isinstance(row[0], int)]
    assert [row[1] for row in body] == [r["enumerator_id"] for r in by_masuk["items"]]
    assert [row[3:7] for row in body] == [[r["masuk"], r["belum_diverifikasi"], r["diterima"], r["ditolak"]] for r in by_masuk["items"]]
    async with page.expect_download() as info:
        await page.click("#kinerja-unduh-csv")
    assert (await info.value).suggested_filename == "kinerja-enumerator-2022-16.csv"

    # the nation is not a table of enumerators: the section says to choose a wilayah
    assert errors == []
    await context.close()


async def test_a_verifikator_of_a_kabupaten_sees_its_kabupaten(live_server, browser, campaign, keys):
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin-2")
    page = await (await browser.new_context(viewport=DESKTOP, locale="id-ID")).new_page()
    await page.goto(f"{live_server.url}/dashboard?periode=2022")
    await enter_key(page, verif)
    await expect(page.locator("#tabel-kinerja tbody tr")).to_have_count(3)
    await expect(page.locator("#kinerja-keterangan")).to_contain_text("Kabupaten Banyuasin")
