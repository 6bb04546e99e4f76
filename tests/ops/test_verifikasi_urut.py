"""/verifikasi oldest-first (docs/kampanye.md, backlog): the Urutan choice walks the queue by how
long each record has waited, not by when it was captured, and the address keeps the choice."""

from __future__ import annotations

import datetime as dt

from playwright.async_api import expect

from tests.support.browser import DESKTOP, enter_key
from tests.support.common import auth
from tests.support.factories import nik, umkm

WIB = dt.timezone(dt.timedelta(hours=7))


async def test_the_queue_sorts_longest_waiting_first(live_server, browser, client, enum_banyuasin, verif, pg):
    start = dt.datetime(2022, 6, 1, 8, 0, tzinfo=WIB)
    records = [umkm(nik_pemilik=nik(serial=300 + i), captured_at=(start + dt.timedelta(hours=i)).isoformat()) for i in range(5)]
    r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(enum_banyuasin))
    assert r.status_code == 200, r.text
    ids = [rec["submission_id"] for rec in records]
    # the last captured has waited longest: arrivals reversed against captures
    for i, sid in enumerate(ids):
        await pg.execute("UPDATE submissions SET diperbarui_pada = now() - make_interval(days => $2) WHERE submission_id = $1", sid, i)
    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/verifikasi?periode=2022&kabkota=16.07")
    await enter_key(page, verif)
    queue = page.locator("#antrian li")
    await expect(queue).to_have_count(5)
    assert [await li.get_attribute("data-id") for li in await queue.all()] == ids  # oldest capture first
    await page.select_option("#urut", "terlama")
    await page.click("#tampilkan")
    await expect(queue.first).to_have_attribute("data-id", ids[-1])
    assert [await li.get_attribute("data-id") for li in await queue.all()] == ids[::-1]
    assert "urut=terlama" in page.url
    # the address opens on the same order
    await page.reload()
    await expect(queue.first).to_have_attribute("data-id", ids[-1])
    assert await page.locator("#urut").input_value() == "terlama"
    await context.close()
