"""A follow-up visit in conflict on the verifikator's work page (/verifikasi), in a real browser
(Debian's headless Chromium with Playwright, as tests/ops/test_verifikasi_page.py): the queue
marks it, the filter finds it, the detail shows the record beside its entity as it is now with
the conflict explained, and the decision settles it (docs/pemutakhiran.md)."""

from __future__ import annotations

from playwright.async_api import expect

from tests.support.browser import DESKTOP
from tests.support.common import ARTIFACTS, auth
from tests.support.factories import umkm
from tests.support.registry_helpers import entitas, linked


async def _accept(client, key, sid):
    r = await client.post(f"/api/v1/submissions/{sid}/verifikasi", json={"status": "diterima", "version": 1}, headers=auth(key))
    assert r.status_code == 200, r.text


async def test_conflict_shown_with_both_sides_and_settled_by_the_decision(live_server, browser, client, enum_banyuasin, verif, pg):
    census = umkm(nama_usaha="Warung Bu Siti")
    assert (await client.post("/api/v1/submissions", json=census, headers=auth(enum_banyuasin))).status_code == 201
    await _accept(client, verif, census["submission_id"])
    eid = await entitas(pg, [census])
    # a first follow-up (accepted: the entity moves to versi 2), then one from a phone whose list said versi 1
    first = umkm(periode="2023", nama_usaha="Warung Bu Siti", id_kumkm=eid, versi_dasar=1, keadaan_usaha="aktif")
    assert (await client.post("/api/v1/submissions", json=first, headers=auth(enum_banyuasin))).status_code == 201
    await _accept(client, verif, first["submission_id"])
    await linked(pg, [first])
    late = umkm(periode="2024", nama_usaha="Warung Siti Baru", id_kumkm=eid, versi_dasar=1, keadaan_usaha="pindah")
    plain = umkm(periode="2024", nama_usaha="Toko Lain", captured_at="2022-06-01T08:00:00+07:00")
    for rec in (late, plain):
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_banyuasin))).status_code == 201

    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(f"{live_server.url}/verifikasi?periode=2024&konflik=true")
    await page.fill("#kunci", verif)
    await page.keyboard.press("Enter")
    queue = page.locator("#antrian li")
    await expect(queue).to_have_count(1)  # the filter: only the conflict
    await expect(queue.first.locator(".lencana.konflik")).to_have_text("konflik pemutakhiran")
    await expect(page.locator("#detail")).to_have_attribute("data-id", late["submission_id"])
    await expect(page.locator("#bagian-pemutakhiran")).to_be_visible()
    await expect(page.locator("#pemutakhiran-konflik")).to_contain_text("sudah berubah sesudah daftar di ponsel dibuat")
    await expect(page.locator("#pemutakhiran-konflik")).to_contain_text("versi dasar 1")
    await expect(page.locator("#pemutakhiran-keterangan")).to_contain_text(f"{eid} · keadaan usaha: pindah · entitas versi 2")
    row = page.locator("#tabel-pemutakhiran tbody tr", has_text="Nama usaha")
    await expect(row.locator("td").nth(0)).to_have_text("Warung Siti Baru")
    await expect(row.locator("td").nth(1)).to_have_text("Warung Bu Siti (2023)")
    await expect(row.locator("td").nth(1)).to_have_class("beda")
    await page.screenshot(path=ARTIFACTS / "verifikasi-pemutakhiran.png", full_page=True)

    # the decision settles it: accepted, the record is the entity's latest round
    await page.keyboard.press("t")
    await expect(page.locator("#antrian li")).to_have_count(0)  # decided: out of the queue of conflicts
    got = await client.get(f"/api/v1/submissions/{late['submission_id']}", headers=auth(verif))
    assert got.json()["status"] == "diterima"
    assert set((await linked(pg, [late])).values()) == {eid}
    # the record without a follow-up shows no such section
    await page.select_option("#konflik-pemutakhiran", "")
    await page.click("#tampilkan")
    await expect(page.locator("#antrian li")).to_have_count(1)
    await expect(page.locator("#detail")).to_have_attribute("data-id", plain["submission_id"])
    await expect(page.locator("#bagian-pemutakhiran")).to_be_hidden()
    assert errors == []
    await context.close()
