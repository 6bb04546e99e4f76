"""The campaign's progress on the dinas dashboard in Chromium (docs/kampanye.md): the cumulative
chart with the target line and the projection, the child wilayah behind pace, the backlog's
age, the xlsx download; and the chart's cost measured (page weight, time to first chart)."""

from __future__ import annotations

import datetime as dt
import io
import json
import time
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.async_api import expect

from app.record import zona
from tests.support.browser import DESKTOP, enter_key
from tests.support.common import ARTIFACTS, auth

# records per day over the last 30 days: Kota Palembang steady, Banyuasin slow
PER_DAY = {"16.71": 12, "16.07": 3}
SEED = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, status,
                             enumerator_id, captured_at, content_hash, dibuat_oleh, dibuat_pada, diperbarui_pada)
    SELECT gen_random_uuid(), $3, 'umkm', k.kab, left(k.kab, 2), k.kab,
           CASE i % 4 WHEN 0 THEN 'masuk' WHEN 1 THEN 'ditolak' ELSE 'diterima' END, 'ENUM-' || i,
           $2::timestamptz - d * interval '1 day', '\\x00'::bytea, 'test',
           $2::timestamptz - d * interval '1 day' + interval '1 hour', $2::timestamptz - d * interval '1 day' + interval '1 hour'
    FROM jsonb_each_text($1::jsonb) AS k (kab, per), generate_series(1, 30) AS d, generate_series(0, k.per::int - 1) AS i
"""


@pytest.fixture
async def kampanye(client, keys, pg):
    today = zona.hari_ini("16")
    periode = str(today.year)
    noon = dt.datetime.combine(today, dt.time(5, 0), dt.UTC)  # 12:00 WIB today
    await pg.execute(SEED, json.dumps(PER_DAY), noon, periode)
    admin = await keys.make("admin", name="admin-kemenkop")
    batas = (today + dt.timedelta(days=30)).isoformat()
    for kode, target in (("16.71", 800), ("16.07", 600)):
        body = {"target": target, "dasar_hukum": "Kepdep 1/2026", "berlaku_mulai": f"{periode}-01-01", "batas_waktu": batas}
        r = await client.put(f"/api/v1/targets/{periode}/{kode}", json=body, headers=auth(admin))
        assert r.status_code == 201, r.text
    return periode, await keys.make("dinas", "16", name="dinas-kumkm-sumsel")


async def test_progress_chart_tables_and_download(live_server, browser, kampanye):
    periode, key = kampanye
    async with httpx.AsyncClient(base_url=live_server.url, headers=auth(key)) as api:
        doc = (await api.get("/api/v1/kampanye/kemajuan", params={"periode": periode, "kode_wilayah": "16"})).json()
        umur = (await api.get("/api/v1/kampanye/antrian-umur", params={"periode": periode, "kode_wilayah": "16"})).json()
    assert doc["kumulatif"]["masuk"] == 30 * 15 and [a["kode"] for a in doc["anak"]] == ["16.07", "16.71"]

    context = await browser.new_context(viewport=DESKTOP, locale="id-ID", accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    weights: dict[str, int] = {}

    async def weigh(resp):
        if "/api/" not in resp.url:
            try:
                weights[resp.url] = len(await resp.body())
            except Exception:  # a redirect or an aborted request has no body
                pass

    page.on("response", weigh)
    await page.goto(f"{live_server.url}/dashboard?periode={periode}")
    started = time.perf_counter()
    await enter_key(page, key)
    chart = page.locator("#svg-kemajuan")
    await expect(chart).to_be_visible()
    first_chart_ms = (time.perf_counter() - started) * 1000

    # the chart: the four series, the target line at the target, the title says the figures
    for seri in ("masuk", "diterima", "target", "proyeksi"):
        await expect(chart.locator(f"path[data-seri={seri}]")).to_have_count(1)
    title = await chart.locator("title").text_content()
    assert "Kumulatif data masuk 450 dari target 1.400" in title
    assert "proyeksi" in title
    # the cumulative line has one point per day of the answer
    d = await chart.locator("path[data-seri=masuk]").get_attribute("d")
    assert d.count("L") + d.count("M") == len(doc["harian"])
    # the target (a dotted step) lies at the same height as the y-axis label of its value's scale
    await expect(page.locator("#kemajuan-laju7")).to_have_text("15,00 per hari")
    laju = doc["laju"]
    await expect(page.locator("#kemajuan-dibutuhkan")).to_have_text(laju["laju_dibutuhkan"].replace(".", ",") + " per hari")
    assert doc["proyeksi"]["status"] in ("tepat_waktu", "terlambat")

    # the child wilayah table: the API's order, most behind first, Indonesian numbers
    rows = page.locator("#tabel-tertinggal tbody tr")
    await expect(rows).to_have_count(2)
    assert [await r.get_attribute("data-kode") for r in await rows.all()] == ["16.07", "16.71"]
    first = await rows.nth(0).locator("td").all_inner_texts()
    assert "Banyuasin" in first[1]
    assert first[2] == "600" and first[4] == "90" and first[6] == "3,00"
    # 3 a day against 510 over 31 days (today, not over, and the 30 up to the deadline): 16,45 a
    # day, of which 3 is 93/510
    assert first[7] == "16,45" and first[8] == "18,24%"

    # the backlog table: one row per kabupaten/kota with records waiting, and the total
    umur_rows = page.locator("#tabel-umur tbody tr")
    await expect(umur_rows).to_have_count(len(umur["rows"]))
    total = await page.locator("#tabel-umur tfoot tr td").all_inner_texts()
    assert total[2] == str(umur["jumlah"]["belum_diverifikasi"]) and total[5] == umur["jumlah"]["terlama_hari"].replace(".", ",")
    await page.fill("#ambang", "20")
    await page.dispatch_event("#ambang", "change")
    await expect(page.locator("#kolom-ambang")).to_have_text("Lebih dari 20 hari")

    # the xlsx of the child wilayah: what the API serves, with the key sent
    async with page.expect_download() as info:
        await page.click("[data-unduh-kemajuan=anak][data-format=xlsx]")
    download = await info.value
    assert download.suggested_filename == f"kemajuan-{periode}-16-anak.xlsx"
    ws = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes())).active
    values = [v for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    assert "16.07" in values and "16.71" in values and 600 in values

    await page.screenshot(path=ARTIFACTS / "dashboard-kemajuan.png", full_page=True)
    await page.emulate_media(media="print")
    await page.locator("#kemajuan").screenshot(path=ARTIFACTS / "dashboard-kemajuan-print.png")
    assert errors == []
    own = {u: n for u, n in weights.items() if "/dashboard/static/" in u}
    report = {
        "page_bytes": sum(weights.values()),
        "dashboard_static_bytes": own,
        "kemajuan_js_bytes": next((n for u, n in own.items() if u.endswith("kemajuan.js")), None),
        "time_to_first_chart_ms": round(first_chart_ms),
        "chart_drawn_ms_after_answers": await page.locator("#grafik-kemajuan").get_attribute("data-ms"),
    }
    (ARTIFACTS / "dashboard-kemajuan-cost.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    await context.close()
