"""The map (docs/kampanye.md, Peta) in a real browser: Debian's headless Chromium driven by
Playwright, against the live service. A kabupaten/kota of 100,000 records stays interactive on the
dashboard (clusters drawn, zoom answered, no long task that freezes the page); on /verifikasi a
click on a point opens that record; the pages load Leaflet from the service under the strict
CSP, with no request to any other origin."""

from __future__ import annotations

import re
import time

from playwright.async_api import expect

from tests.support.browser import DESKTOP, enter_key
from tests.support.common import ARTIFACTS, auth
from tests.support.helpers import post_records

N = 100_000
# 100,000 records over a box of Banyuasin about 0.6 x 0.6 degrees, on a 317-wide lattice
SEED = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota,
                             kode_kecamatan, status, enumerator_id, captured_at, content_hash, dibuat_oleh,
                             lokasi_lat, lokasi_lon)
    SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid, '2022', 'umkm', '16.07.01.2001',
           '16', '16.07', '16.07.01',
           (ARRAY['masuk', 'diterima', 'ditolak'])[1 + g % 3],
           'ENUM-PETA', timestamptz '2022-06-01 09:00+07', '\\x00'::bytea, 'bulk',
           -3.2 + (g / 317) * 0.0019, 104.4 + (g % 317) * 0.0019
    FROM generate_series(1, $1::int) AS g
"""

# every long task (main thread busy over 50 ms) the page has, from its first script on
LONG_TASKS = """
    window.__lama = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__lama.push(e.duration); })
      .observe({type: "longtask", buffered: true});
"""


def _watch(page, origin: str):
    """Console errors (a CSP violation is one) and requests to any other origin."""
    errors: list[str] = []
    foreign: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: foreign.append(r.url) if not r.url.startswith((origin, "data:", "blob:")) else None)
    return errors, foreign


async def test_a_kabkota_of_100000_records_stays_interactive_on_the_dashboard(live_server, browser, keys, pg):
    await pg.execute(SEED, N)
    await pg.execute("VACUUM ANALYZE submissions")
    dinas = await keys.make("dinas", "16", name="dinas-peta")
    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    await context.add_init_script(LONG_TASKS)
    page = await context.new_page()
    errors, foreign = _watch(page, live_server.url)
    await page.goto(f"{live_server.url}/dashboard?periode=2022&wilayah=16.07")
    started = time.monotonic()
    await enter_key(page, dinas)
    peta = page.locator("#peta")
    # the whole kabupaten/kota, as clusters that add up to every record
    await expect(peta).to_have_attribute("data-jumlah", str(N), timeout=30_000)
    await expect(peta).to_have_attribute("data-jenis", "klaster")
    first_map = time.monotonic() - started
    clusters = page.locator("#peta .klaster-ikon")
    assert await clusters.count() > 1
    await expect(page.locator("#peta-keterangan")).to_contain_text("100.000 rekaman berlokasi")
    # tiles off: a plain grid drawn on canvas, no image from anywhere
    assert await page.locator("#peta .leaflet-tile-container canvas").count() > 0
    await page.screenshot(path=ARTIFACTS / "peta-dasbor-100000.png", full_page=True)

    # interactive: each zoom is answered with the points of the smaller area, quickly
    zooms = []
    for _ in range(4):
        before = await peta.get_attribute("data-jumlah")
        t0 = time.monotonic()
        await page.click("#peta .leaflet-control-zoom-in")
        await expect(peta).not_to_have_attribute("data-jumlah", before, timeout=10_000)
        zooms.append(time.monotonic() - t0)
    # deep enough, the server answers the points themselves, drawn with their status's shape
    await expect(peta).to_have_attribute("data-jenis", "titik", timeout=10_000)
    # hundreds of points in view: drawn on one canvas, each in its status's shape
    assert int(await peta.get_attribute("data-titik")) > 200
    await expect(peta).to_have_attribute("data-kanvas", "true")
    assert await page.locator("#peta canvas.leaflet-zoom-animated").count() == 1
    # a click on a cluster zooms in
    await page.click("#peta .leaflet-control-zoom-out")
    await page.click("#peta .leaflet-control-zoom-out")
    await expect(peta).to_have_attribute("data-jenis", "klaster", timeout=10_000)
    before = await peta.get_attribute("data-jumlah")
    # one inside the map's frame (the answer covers a little more than the frame shows)
    inside = await page.evaluate(
        """() => {
             const m = document.querySelector('#peta').getBoundingClientRect();
             return [...document.querySelectorAll('#peta .klaster-ikon')].findIndex((e) => {
               const r = e.getBoundingClientRect(), x = r.x + r.width / 2, y = r.y + r.height / 2;
               return x > m.left + 60 && x < m.right - 20 && y > m.top + 20 && y < m.bottom - 30; });
           }"""
    )
    assert inside >= 0
    await clusters.nth(inside).click()
    await expect(peta).not_to_have_attribute("data-jumlah", before, timeout=10_000)

    longest = max(await page.evaluate("window.__lama"), default=0)
    print(f"\npeta 100,000: first map {first_map:.2f} s, zooms {', '.join(f'{z:.2f}' for z in zooms)} s, longest task {longest:.0f} ms")
    assert first_map < 10, first_map
    assert max(zooms) < 3, zooms
    # no frozen page: no task on the main thread near a second (Leaflet draws a few hundred markers)
    assert longest < 500, longest
    assert not errors, errors
    assert not foreign, foreign
    await context.close()


async def test_a_click_on_a_point_opens_the_record_on_verifikasi(live_server, browser, client, enum_key, verif):
    records = await post_records(client, enum_key, 3, lokasi={"lat": -2.95, "lon": 104.7})
    for i, rec in enumerate(records):
        # apart enough to click each one
        rec["lokasi"] = {"lat": -2.95 + 0.05 * i, "lon": 104.7 + 0.05 * i}
    for rec in records[1:]:
        await client.post(
            f"/api/v1/submissions/{rec['submission_id']}/verifikasi",
            json={"status": "ditolak", "version": 1, "alasan_kode": "data_tidak_lengkap"},
            headers=auth(verif),
        )
        r = await client.put(f"/api/v1/submissions/{rec['submission_id']}", json=rec, headers=auth(enum_key))
        assert r.status_code == 200, r.text
    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    errors, foreign = _watch(page, live_server.url)
    await page.goto(f"{live_server.url}/verifikasi?periode=2022&kabkota=16.07")
    await enter_key(page, verif)
    peta = page.locator("#peta")
    await expect(peta).to_have_attribute("data-jenis", "titik", timeout=30_000)
    await expect(peta).to_have_attribute("data-jumlah", "3")
    # a few points: each an element of its own, in its status's shape, focusable
    points = page.locator("#peta .titik")
    await expect(points).to_have_count(3)
    await expect(page.locator("#peta .titik-masuk")).to_have_count(3)
    await expect(peta).to_have_attribute("data-kanvas", "false")
    # the queue opens its first record by itself: wait for it, then open another by its marker
    await expect(page.locator("#detail")).to_have_attribute("data-id", re.compile("."), timeout=10_000)
    shown = await page.locator("#detail").get_attribute("data-id")
    target = records[0] if shown == records[2]["submission_id"] else records[2]
    # the records lie south-west to north-east in their order: leftmost is the first, rightmost the last
    xs = await page.evaluate("() => [...document.querySelectorAll('#peta .titik')].map((e) => e.getBoundingClientRect().x)")
    pick = xs.index(min(xs) if target is records[0] else max(xs))
    await points.nth(pick).click()
    await expect(page.locator("#detail")).to_have_attribute("data-id", target["submission_id"], timeout=10_000)
    await page.screenshot(path=ARTIFACTS / "peta-verifikasi.png", full_page=True)
    assert not errors, errors
    assert not foreign, foreign
    await context.close()


async def test_leaflet_is_served_by_the_service_under_the_csp(client):
    page = await client.get("/dashboard")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "img-src 'self' data:;" in csp
    assert '<script defer src="/static/leaflet/leaflet.js">' in page.text
    js = await client.get("/static/leaflet/leaflet.js")
    assert js.status_code == 200 and js.text.startswith("/* @preserve\n * Leaflet 1.9.4")
    css = await client.get("/static/leaflet/leaflet.css")
    assert css.status_code == 200 and ".leaflet-container" in css.text
    assert (await client.get("/static/kumkm/peta.js")).status_code == 200
    assert (await client.get("/verifikasi")).text.count("/static/leaflet/leaflet.js") == 1


async def test_basemap_tiles_add_only_their_origin_to_img_src(client, override_settings):
    override_settings(map_tile_url="https://tiles.example.go.id/osm/{z}/{x}/{y}.png", map_tile_attribution="© Kontributor <OSM>")
    page = await client.get("/dashboard")
    csp = page.headers["content-security-policy"]
    assert "img-src 'self' data: https://tiles.example.go.id;" in csp
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp and "style-src 'self';" in csp
    assert 'data-tile-url="https://tiles.example.go.id/osm/{z}/{x}/{y}.png"' in page.text
    assert 'data-tile-atribusi="© Kontributor &lt;OSM&gt;"' in page.text
