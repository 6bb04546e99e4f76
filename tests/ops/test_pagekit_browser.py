"""The page kit's shared wilayah selects (app/web/pages/static/wilayah.js) on both pages, in a
real browser: the dashboard's provinsi -> kabupaten/kota and the work page's kabupaten/kota ->
kecamatan -> desa."""

from __future__ import annotations

from playwright.async_api import expect


async def test_the_kits_wilayah_selects_chain_on_both_pages(live_server, browser, keys, verif, pg):
    """One helper (static/wilayah.js) fills each level from /api/v1/wilayah with the children of
    the level above, empties and disables what lies under an unchosen level, and reopens a
    wilayah from the page's address level by level."""

    async def kode(parent: str) -> list[str]:
        return [r["kode"] for r in await pg.fetch("SELECT kode FROM wilayah WHERE parent_kode = $1 ORDER BY kode", parent)]

    async def enter_key(key: str) -> None:
        await page.fill("#kunci", key)
        await page.click("#form-kunci button[type=submit]")

    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # the dashboard of a national key: provinsi -> kabupaten/kota
    await page.goto(f"{live_server.url}/dashboard?periode=2022&wilayah=16.07")
    await enter_key(await keys.make("walidata"))
    provinsi, kabkota = page.locator("#provinsi"), page.locator("#kabkota")
    await expect(kabkota).to_have_value("16.07")  # reopened from the address, level by level
    await expect(provinsi).to_have_value("16")
    assert await page.locator("#kabkota option").count() == 1 + len(await kode("16"))
    await page.select_option("#provinsi", "")
    await expect(kabkota).to_be_disabled()
    await expect(page.locator("#kabkota option")).to_have_text(["Semua kabupaten/kota"])
    await page.select_option("#provinsi", "15")
    await expect(kabkota).to_be_enabled()
    await expect(page.locator("#kabkota option")).to_have_count(1 + len(await kode("15")))
    await page.click("#ganti-kunci")

    # the work page of a Banyuasin verifikator: (kabupaten/kota) -> kecamatan -> desa/kelurahan
    kecamatan = await kode("16.07")
    desa = await kode(kecamatan[1])
    await page.goto(f"{live_server.url}/verifikasi?periode=2022&wilayah={desa[2]}")
    await enter_key(verif)
    await expect(page.locator("#desa")).to_have_value(desa[2])
    await expect(page.locator("#kecamatan")).to_have_value(kecamatan[1])
    await expect(page.locator("#kecamatan option")).to_have_count(1 + len(kecamatan))
    await page.select_option("#kecamatan", kecamatan[0])
    await expect(page.locator("#desa option")).to_have_count(1 + len(await kode(kecamatan[0])))
    await expect(page.locator("#desa")).to_be_enabled()
    await page.select_option("#kecamatan", "")
    await expect(page.locator("#desa")).to_be_disabled()
    await expect(page.locator("#desa option")).to_have_text(["Semua desa/kelurahan"])
    assert errors == []
    await context.close()
