"""The campaign's progress on the dinas dashboard in Chromium (docs/kampanye.md): the cumulative
chart with the target line and the projection, the child wilayah behind pace, the backlog's
age, the xlsx download; and the chart's cost measured (page weight, time to first chart)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
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


# Kabupaten Ogan Komering Ulu: 4 records a day on the 3 days before today, no target (a
# campaign's first days, before its allocation is set)
SMALL = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, status,
                             enumerator_id, captured_at, content_hash, dibuat_oleh, dibuat_pada, diperbarui_pada)
    SELECT gen_random_uuid(), $2, 'umkm', '16.01', '16', '16.01', 'masuk', 'ENUM-' || i,
           $1::timestamptz - d * interval '1 day', '\\x00'::bytea, 'test',
           $1::timestamptz - d * interval '1 day' + interval '1 hour', $1::timestamptz - d * interval '1 day' + interval '1 hour'
    FROM generate_series(1, 3) AS d, generate_series(1, 4) AS i
"""
# what the chart draws, with the styles in force: every series, mark and legend swatch
MARKS = """() => {
  const style = (e) => { const s = getComputedStyle(e); return {stroke: s.stroke, fill: s.fill, dash: s.strokeDasharray}; };
  const chart = [...document.querySelectorAll("#svg-kemajuan .garis, #svg-kemajuan .titik, #svg-kemajuan .batas-waktu")]
    .map((e) => ({kind: e.getAttribute("class"), ...style(e)}));
  const legend = [...document.querySelectorAll("#kemajuan .legenda li")].map((li) => {
    const line = li.querySelector("svg line");
    return {text: li.textContent.trim(), ...(line ? {kind: line.getAttribute("class"), ...style(line)} : {})};
  });
  return {chart, legend};
}"""
INDONESIAN_INTEGER = re.compile(r"^\d{1,3}(\.\d{3})*$")


def grey_contrast(css: str) -> float:
    """Contrast against white paper of a colour printed in grey (its relative luminance, WCAG)."""
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 1.05 / (0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2] + 0.05)


async def chart_texts(page) -> dict[str, list[str]]:
    chart = page.locator("#svg-kemajuan")
    return {cls: await chart.locator(f"text.{cls}").all_text_contents() for cls in ("label-y", "label-x", "label-batas")}


async def test_the_chart_reads_in_indonesian_and_in_grey_print(live_server, browser, kampanye, pg):
    periode, key = kampanye
    noon = dt.datetime.combine(zona.hari_ini("16"), dt.time(5, 0), dt.UTC)
    await pg.execute(SMALL, noon, periode)
    context = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/dashboard?periode={periode}&wilayah=16")
    await enter_key(page, key)
    await expect(page.locator("#svg-kemajuan title")).to_contain_text("dari target 1.400")

    # numbers as Indonesians write them: thousands with a dot, decimals with a comma; dates dd/mm
    texts = await chart_texts(page)
    assert all(INDONESIAN_INTEGER.match(t) for t in texts["label-y"]) and "1.000" in texts["label-y"], texts
    assert all(re.fullmatch(r"\d{2}/\d{2}", t) for t in texts["label-x"]), texts
    assert len(texts["label-batas"]) == 1 and re.fullmatch(r"batas waktu \d{2}/\d{2}/\d{4}", texts["label-batas"][0])
    words = await page.locator("#kemajuan").inner_text()
    assert not re.search(r"NaN|undefined|null|Infinity|Invalid", words)
    assert not re.search(r"\d\.\d{1,2}(?!\d)", words), "an English decimal point"
    assert not re.search(r"\d,\d{3}(?!\d)", words), "an English thousands comma"
    assert "per hari" in words and "Proyeksi pada laju 7 hari" in words

    # grey print: each series its own dash pattern, its legend swatch drawn the same way, every
    # mark dark enough on paper; on screen the legend matches the lines as well
    for media in ("screen", "print"):
        await page.emulate_media(media=media)
        marks = await page.evaluate(MARKS)
        lines = {m["kind"].split()[-1]: m for m in marks["chart"] if m["kind"].startswith("garis")}
        assert set(lines) == {"masuk", "diterima", "target", "proyeksi"}
        assert len({m["dash"] for m in lines.values()}) == 4, lines
        legend = {m["text"]: m for m in marks["legend"]}
        for text, seri in (
            ("Kumulatif data masuk", "masuk"),
            ("Kumulatif diterima", "diterima"),
            ("Target", "target"),
            ("Proyeksi pada laju 7 hari", "proyeksi"),
        ):
            swatch = legend[text]
            assert "dash" in swatch, f"{media}: the legend of {seri} is not drawn as its line"
            assert (swatch["stroke"], swatch["dash"]) == (lines[seri]["stroke"], lines[seri]["dash"]), (media, seri, swatch)
        if media == "print":
            for m in marks["chart"] + [s for s in marks["legend"] if "stroke" in s]:
                for paint in (m["stroke"], m["fill"]):
                    if paint.startswith("rgb") and paint != "rgb(255, 255, 255)":
                        assert grey_contrast(paint) >= 4.5, (m, paint)
    await page.emulate_media(media="screen")

    # a kabupaten/kota in its first days: 12 records, no target; the scale stays whole numbers
    await page.goto(f"{live_server.url}/dashboard?periode={periode}&wilayah=16.01")
    await expect(page.locator("#svg-kemajuan title")).to_contain_text("Kumulatif data masuk 12 per")
    texts = await chart_texts(page)
    assert all(INDONESIAN_INTEGER.match(t) for t in texts["label-y"]), texts
    await context.close()
