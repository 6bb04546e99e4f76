"""The dashboard's registry cards in a real browser (Debian's headless Chromium): unique usaha and
koperasi beside the records they come from, the API's numbers digit for digit; a round counts
records, the registry counts usaha."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from app.reporting.reports import angka_id
from tests.support import factories
from tests.support.browser import DESKTOP, enter_key
from tests.support.common import ARTIFACTS, auth
from tests.support.entitas import linker
from tests.support.verification_helpers import decide


def _umkm(periode, nib, **over):
    return factories.umkm(periode=periode, captured_at=f"{periode}-06-01T09:30:00+07:00", nib=nib, **over)


@pytest.fixture
async def tautkan(database_url):
    """The linker, run when the test says (the service's background linker idle meanwhile)."""
    async with linker(database_url) as run:
        yield run


async def test_dashboard_shows_usaha_beside_records(live_server, browser, client, keys, pg, tautkan):
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    admin = await keys.make("admin", name="admin-kemenkop")
    dinas = await keys.make("dinas", "16", name="dinas-kumkm-sumsel")
    # 2021: 12 usaha; 2022: 9 of them again (one twice in the round), 3 new, 2 koperasi
    items = [_umkm("2021", f"91200000000{i:02d}") for i in range(12)]
    items += [_umkm("2022", f"91200000000{i:02d}") for i in range(9)] + [_umkm("2022", "9120000000000")]
    items += [_umkm("2022", f"91200000001{i:02d}") for i in range(3)]
    items += [factories.koperasi(nik_koperasi=f"160700000000000{i}", nomor_badan_hukum=f"{i}/BH/2010") for i in range(2)]
    r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(enum))
    assert r.status_code == 200 and r.json()["created"] == len(items), r.text
    for rec in items:
        assert (await decide(client, admin, rec["submission_id"], "diterima")).status_code == 200
    await tautkan()
    # one more accepted and not yet linked: the page says the linker is behind
    late = _umkm("2022", "9120000000200")
    assert (await client.post("/api/v1/submissions", json=late, headers=auth(enum))).status_code == 201
    assert (await decide(client, admin, late["submission_id"], "diterima")).status_code == 200

    async with httpx.AsyncClient(base_url=live_server.url, headers=auth(dinas)) as api:
        doc = (await api.get("/api/v1/agregat/entitas", params={"periode": "2022", "wilayah": "16"})).json()
    assert doc["periode_ini"] == {"usaha": 12, "koperasi": 2, "rekaman_umkm": 14, "rekaman_koperasi": 2, "belum_ditautkan": 1}
    assert doc["semua_periode"] == {"usaha": 15, "koperasi": 2, "rekaman_umkm": 26, "rekaman_koperasi": 2, "belum_ditautkan": 1}

    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{live_server.url}/dashboard?periode=2022")
    await enter_key(page, dinas)
    await expect(page.locator("#registri-usaha")).to_have_text(angka_id(12))
    await expect(page.locator("#registri-usaha-catatan")).to_have_text("dari 14 data UMKM diterima pada periode ini")
    await expect(page.locator("#registri-koperasi")).to_have_text("2")
    await expect(page.locator("#registri-usaha-semua")).to_have_text("15")
    await expect(page.locator("#registri-usaha-semua-catatan")).to_have_text("dari 26 data UMKM diterima dari semua periode")
    await expect(page.locator("#registri-koperasi-semua")).to_have_text("2")
    await expect(page.locator("#registri-belum")).to_be_visible()
    await expect(page.locator("#registri-belum")).to_contain_text("1 data diterima belum ditautkan")
    # the cards sit beside the round's own count of records diterima
    assert await page.locator("#ringkas-diterima").inner_text() == angka_id(16)
    await page.screenshot(path=ARTIFACTS / "dashboard-registri.png", full_page=True)

    # the linker catches up: the warning goes, the usaha count grows by one
    await tautkan()
    await page.click("#tampilkan")
    await expect(page.locator("#registri-usaha")).to_have_text("13")
    await expect(page.locator("#registri-belum")).to_be_hidden()
    # for a kabupaten/kota: the records are all in Banyuasin
    await page.select_option("#kabkota", "16.07")
    await page.click("#tampilkan")
    await expect(page.locator("#judul")).to_contain_text("Banyuasin")
    await expect(page.locator("#registri-usaha-semua")).to_have_text("16")
    assert errors == []
    await context.close()
