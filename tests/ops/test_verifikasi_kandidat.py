"""The candidate entities on /verifikasi in a real browser (Debian's headless Chromium driven by
Playwright, as tests/ops/test_verifikasi_page.py): both sides next to each other with the score
and the reasons; tautkan, then its undo by pisahkan in the entity's view; a conflict with another
verifikator shown, not overwritten; bukan sama. Every outcome checked in the registry's tables."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.browser import DESKTOP
from tests.support.common import ARTIFACTS, auth
from tests.support.factories import nik
from tests.support.registry_helpers import accepted, entitas, kandidat


async def _open(browser, url: str, key: str):
    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    errors: list[str] = []
    # a refused call (409) is logged by the browser as a resource error: expected here
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    await page.keyboard.press("Tab")
    await page.keyboard.type(key)
    await page.keyboard.press("Enter")
    return context, page, errors


async def test_candidates_side_by_side_link_undo_conflict_and_not_the_same(live_server, browser, client, pg, enum_key, verif, verif2):
    owner = nik(perempuan=True, serial=4321)
    a = await accepted(client, enum_key, verif, nama_usaha="Warung Sederhana", nik_pemilik=owner, alamat="Jl. Merdeka No. 1")
    b = await accepted(client, enum_key, verif, nama_usaha="Toko Sederhana Jaya", nik_pemilik=owner, periode="2023")
    c = await accepted(client, enum_key, verif, nama_usaha="Kedai Sederhana")
    d = await accepted(client, enum_key, verif, nama_usaha="Rumah Makan Sederhana")
    ea, eb, ec, ed = [await entitas(pg, [r]) for r in (a, b, c, d)]
    first = await kandidat(pg, ea, eb, skor=0.95)
    other = await kandidat(pg, ec, ed, skor=0.9)
    third = await kandidat(pg, ea, ec, skor=0.81)

    context, page, errors = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", verif)
    items = page.locator("#kandidat li.kandidat-butir")
    await expect(items).to_have_count(3)
    assert [await li.get_attribute("data-id") for li in await items.all()] == [str(first), str(other), str(third)]
    top = page.locator(f"#kandidat li[data-id='{first}']")
    await expect(top).to_contain_text("Skor 0,950")
    await expect(top).to_contain_text("NIK pemilik sama")
    await expect(top.locator(".sisi[data-sisi=a]")).to_contain_text("Warung Sederhana")
    await expect(top.locator(".sisi[data-sisi=a]")).to_contain_text("Jl. Merdeka No. 1")  # in scope: shown
    await expect(top.locator(".sisi[data-sisi=b]")).to_contain_text("Toko Sederhana Jaya")
    await expect(top.locator(".sisi[data-sisi=b]")).to_contain_text("2023")
    await page.screenshot(path=ARTIFACTS / "verifikasi-kandidat.png", full_page=True)

    # the entity's view, then tautkan: the view shows both records in the survivor
    await top.locator(f"button.tautan-entitas[data-id='{ea}']").click()
    await expect(page.locator("#entitas")).to_have_attribute("data-id", ea)
    await expect(page.locator("#entitas-tautan li")).to_have_count(1)
    await top.locator("input[type=text]").fill("pemilik dan alamat sama")
    await top.locator("button[data-aksi=tautkan]").click()
    await expect(page.locator("#hasil-kandidat")).to_contain_text(f"{eb} digabung ke {ea}")
    await expect(page.locator("#entitas-tautan li")).to_have_count(2)
    assert await pg.fetchval("SELECT digabung_ke FROM kumkm WHERE id_kumkm = $1", eb) == ea
    assert (
        await pg.fetchval("SELECT alasan FROM kumkm_peristiwa WHERE aksi = 'digabung' AND id_kumkm = $1", ea) == "pemilik dan alamat sama"
    )
    await expect(items).to_have_count(2)  # the pair is decided; (ea, ec) stays, (ec, ed) too

    # undo: split b's record out of the survivor; the retired id comes back
    await page.locator(f"#entitas-tautan input[value='{b['submission_id']}']").check()
    await page.locator("#tombol-pisahkan").click()
    await expect(page.locator("#hasil-kandidat")).to_contain_text("dihidupkan kembali")
    await expect(page.locator("#entitas-tautan li")).to_have_count(1)
    assert await pg.fetchval("SELECT digabung_ke FROM kumkm WHERE id_kumkm = $1", eb) is None

    # another verifikator decides (ec, ed) while it is on screen: the page says so, saves nothing
    r = await client.post(f"/api/v1/kumkm/kandidat/{other}/bukan-sama", json={"versi_a": 1, "versi_b": 1}, headers=auth(verif2))
    assert r.status_code == 200, r.text
    await page.locator(f"#kandidat li[data-id='{other}'] button[data-aksi=tautkan]").click()
    await expect(page.locator("#konflik-kandidat")).to_contain_text("status bukan_sama")
    await expect(items).to_have_count(1)
    assert await pg.fetchval("SELECT digabung_ke FROM kumkm WHERE id_kumkm = $1", ed) is None

    # bukan sama on the last one
    await page.locator(f"#kandidat li[data-id='{third}'] button[data-aksi=bukan-sama]").click()
    await expect(page.locator("#hasil-kandidat")).to_contain_text("bukan sama")
    await expect(page.locator("#kandidat-kosong")).to_be_visible()
    assert await pg.fetchval("SELECT oleh FROM kumkm_bukan_sama WHERE id_a = $1 AND id_b = $2", *sorted((ea, ec))) == "verif-banyuasin"
    assert errors == []
    await context.close()
