"""The verifikator's work page (/verifikasi) in a real browser: Debian's headless Chromium driven
by Playwright (as tests/ops/test_dashboard.py, with the helpers of tests/support/browser.py), against the live service.
Every outcome the page shows is checked against the API and the records themselves."""

from __future__ import annotations

import datetime as dt

from playwright.async_api import expect

from app.reporting.reports import angka_id
from tests.support.browser import DESKTOP, PHONE, enter_key, row_cells
from tests.support.common import ARTIFACTS, auth
from tests.support.factories import nik, umkm
from tests.support.helpers import post_records
from tests.support.problems import assert_problem
from tests.support.verification_helpers import assert_consistent, correct, decide, recount, tolak

WIB = dt.timezone(dt.timedelta(hours=7))
ALASAN = ["data_tidak_lengkap", "data_tidak_valid", "duplikat", "di_luar_wilayah", "bukan_kumkm", "lainnya"]


async def _post(client, key, n: int, **over) -> list[dict]:
    """n UMKM records in Banyuasin, captured an hour apart (the queue's order is theirs)."""
    start = dt.datetime(2022, 6, 1, 8, 0, tzinfo=WIB)
    records = [
        umkm(
            nama_usaha=f"Usaha Uji {i + 1:02d}",
            nik_pemilik=nik(serial=100 + i),
            captured_at=(start + dt.timedelta(hours=i)).isoformat(),
            **over,
        )
        for i in range(n)
    ]
    r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == n, r.text
    return records


async def _open(browser, url: str, key: str, viewport=DESKTOP):
    """A new tab on the page with the key typed in, as a verifikator does (keyboard only)."""
    context = await browser.new_context(viewport=viewport, locale="id-ID")
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 4" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    await page.goto(url)
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "kunci"
    await page.keyboard.type(key)
    await page.keyboard.press("Enter")
    return context, page, errors


async def _current_id(page) -> str:
    return await page.locator("#detail").get_attribute("data-id")


async def test_a_verifikator_works_through_20_records_with_the_keyboard_only(live_server, browser, client, enum_key, verif, pg):
    records = await _post(client, enum_key, 20)
    ids = [r["submission_id"] for r in records]
    context, page, errors = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", verif)
    queue = page.locator("#antrian li")
    await expect(queue).to_have_count(20)
    await expect(page.locator("#detail")).to_have_attribute("data-id", ids[0])
    await expect(page.locator("#jumlah-belum-diverifikasi")).to_have_text("20")
    # the record's fields, unmasked for the verifikator of its kabupaten/kota (NIK shown whole)
    await expect(page.locator("#detail-data tr[data-isian=nik_pemilik] td")).to_have_text(records[0]["nik_pemilik"])
    assert [await li.get_attribute("data-id") for li in await queue.all()] == ids

    # j and k move through the queue
    for key, want in (("j", 1), ("j", 2), ("k", 1), ("k", 0), ("k", 0)):
        await page.keyboard.press(key)
        await expect(page.locator("#detail")).to_have_attribute("data-id", ids[want])
        await expect(page.locator(f"#antrian li[data-id='{ids[want]}']")).to_have_class("butir aktif")
    await page.screenshot(path=ARTIFACTS / "verifikasi-antrian.png", full_page=True)

    expected: dict[str, tuple[str, str | None]] = {}
    for i, sid in enumerate(ids):
        assert await _current_id(page) == sid
        if i % 4 == 3:
            alasan = i % 6 + 1 if i != 7 else 6
            await page.keyboard.press("x")
            await expect(page.locator("#form-keputusan")).to_be_visible()
            await page.keyboard.press(str(alasan))
            if ALASAN[alasan - 1] == "lainnya":
                await page.keyboard.press("Tab")  # to the catatan, required for lainnya
                await page.keyboard.type("Nama usaha tidak sesuai papan nama")
            await page.keyboard.press("Enter")
            expected[sid] = ("ditolak", ALASAN[alasan - 1])
        else:
            await page.keyboard.press("t")
            expected[sid] = ("diterima", None)
        await expect(queue).to_have_count(19 - i)
        if i < 19:
            await expect(page.locator("#detail")).to_have_attribute("data-id", ids[i + 1])
    await expect(page.locator("#antrian-kosong")).to_be_visible()
    await expect(page.locator("#jumlah-belum-diverifikasi")).to_have_text("0")
    await expect(page.locator("#jumlah-diterima")).to_have_text("15")
    await expect(page.locator("#jumlah-ditolak")).to_have_text("5")
    await page.screenshot(path=ARTIFACTS / "verifikasi-selesai.png", full_page=True)

    for sid, (status, alasan) in expected.items():
        last = (await client.get(f"/api/v1/submissions/{sid}/riwayat", headers=auth(verif))).json()["items"][-1]
        assert (last["ke"], last["alasan_kode"], last["oleh"], last["version"]) == (status, alasan, "verif-banyuasin", 1)
    assert (await recount(pg))[("2022", "16.07", "diterima")] == 15
    await assert_consistent(pg)
    assert errors == []
    await context.close()


async def test_a_concurrent_decision_shows_the_conflict_and_the_verifikator_decides_again(
    live_server, browser, client, enum_key, verif, verif2, pg
):
    a, b, c = await _post(client, enum_key, 3)
    context, page, errors = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", verif)
    await expect(page.locator("#detail")).to_have_attribute("data-id", a["submission_id"])

    # Another verifikator rejects A while it is on screen; accepting it now is refused (409)
    # and the page shows who decided what, without overwriting it.
    assert (await tolak(client, verif2, a["submission_id"], alasan="data_tidak_valid")).status_code == 200
    await page.keyboard.press("t")
    konflik = page.locator("#konflik")
    await expect(konflik).to_be_visible()
    await expect(konflik).to_contain_text("sekarang ditolak versi 1")
    await expect(konflik).to_contain_text("verif-banyuasin-2")
    await expect(konflik).to_contain_text("data tidak valid")
    await expect(page.locator("#detail-status")).to_have_text("ditolak")
    await expect(page.locator("#riwayat li")).to_have_count(2)
    await page.screenshot(path=ARTIFACTS / "verifikasi-konflik.png", full_page=True)
    r = (await client.get(f"/api/v1/submissions/{a['submission_id']}", headers=auth(verif))).json()
    assert r["status"] == "ditolak"  # nothing was overwritten

    # Deciding again is now a reversal: the page asks for its reason, then it applies.
    await page.keyboard.press("t")
    await expect(page.locator("#form-keputusan")).to_have_attribute("data-mode", "balik-terima")
    assert await page.evaluate("document.activeElement.id") == "catatan"
    await page.keyboard.type("Dicek ulang dengan enumerator: data benar")
    await page.keyboard.press("Enter")
    await expect(page.locator("#detail")).to_have_attribute("data-id", b["submission_id"])
    hist = (await client.get(f"/api/v1/submissions/{a['submission_id']}/riwayat", headers=auth(verif))).json()["items"]
    assert [(h["dari"], h["ke"], h["oleh"], h["catatan"]) for h in hist] == [
        (None, "masuk", "enum-sumsel", None),
        ("masuk", "ditolak", "verif-banyuasin-2", None),
        ("ditolak", "diterima", "verif-banyuasin", "Dicek ulang dengan enumerator: data benar"),
    ]

    # B is rejected and corrected (version 2) while on screen: accepting version 1 is refused
    # and the page shows what changed between the versions.
    assert (await tolak(client, verif2, b["submission_id"])).status_code == 200
    assert (await correct(client, enum_key, b, nama_usaha="Usaha Uji Diperbaiki")).status_code == 200
    await page.keyboard.press("t")
    await expect(konflik).to_contain_text("dari versi 1 ke versi 2")
    await expect(page.locator("#bagian-versi")).to_be_visible()
    changed = page.locator("#tabel-versi tr.berubah")
    await expect(changed).to_have_count(1)
    assert await changed.get_attribute("data-isian") == "nama_usaha"
    await expect(changed.locator("td").nth(1)).to_have_text("Usaha Uji Diperbaiki")
    await page.screenshot(path=ARTIFACTS / "verifikasi-konflik-versi.png", full_page=True)
    await page.keyboard.press("t")  # masuk again at version 2: accepted
    await expect(page.locator("#detail")).to_have_attribute("data-id", c["submission_id"])
    r = (await client.get(f"/api/v1/submissions/{b['submission_id']}", headers=auth(verif))).json()
    assert (r["status"], r["version"]) == ("diterima", 2)
    await expect(page.locator("#jumlah-diterima")).to_have_text("2")
    await expect(page.locator("#jumlah-belum-diverifikasi")).to_have_text("1")
    await assert_consistent(pg)
    assert errors == []
    await context.close()


async def test_bulk_accept_of_50_shows_50_outcomes_and_the_dinas_dashboard_counts_them(
    live_server, browser, client, enum_key, verif, verif2, dinas, pg
):
    records = await _post(client, enum_key, 60)
    context, page, errors = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", verif)
    await expect(page.locator("#antrian li")).to_have_count(50)  # one page
    await page.keyboard.press("a")
    await expect(page.locator("#terima-terpilih")).to_have_text("Terima yang dipilih (50)")
    # one of them is rejected by someone else before the batch goes out
    taken = records[17]["submission_id"]
    assert (await tolak(client, verif2, taken, alasan="duplikat")).status_code == 200
    await page.keyboard.press("Shift+T")
    outcomes = page.locator("#hasil-batch-daftar li")
    await expect(outcomes).to_have_count(50)
    await expect(page.locator("#hasil-batch li[data-hasil=decided]")).to_have_count(49)
    refused = page.locator("#hasil-batch li[data-hasil=rejected]")
    await expect(refused).to_have_count(1)
    assert await refused.get_attribute("data-id") == taken
    await expect(refused).to_contain_text("sekarang ditolak versi 1")
    await expect(page.locator("#hasil-batch-ringkas")).to_have_text("50 rekaman dikirim: 49 diterima, 1 tidak diubah.")
    assert [await li.get_attribute("data-id") for li in await outcomes.all()] == [r["submission_id"] for r in records[:50]]
    await expect(page.locator("#jumlah-belum-diverifikasi")).to_have_text("10")
    await expect(page.locator("#jumlah-diterima")).to_have_text("49")
    await expect(page.locator("#jumlah-ditolak")).to_have_text("1")
    await page.screenshot(path=ARTIFACTS / "verifikasi-batch.png", full_page=True)
    counts = await recount(pg)
    assert (counts[("2022", "16.07", "masuk")], counts[("2022", "16.07", "diterima")]) == (10, 49)
    assert errors == []
    await context.close()

    # The dinas dashboard of the provinsi counts the decisions.
    board = await browser.new_context(viewport=DESKTOP, locale="id-ID")
    tab = await board.new_page()
    await tab.goto(f"{live_server.url}/dashboard?periode=2022&wilayah=16")
    await enter_key(tab, dinas)
    row = tab.locator("#tabel-capaian tbody tr[data-kode='16.07']")
    await expect(row).to_have_count(1)
    cells = await row_cells(row)
    assert {k: cells[k] for k in ("masuk", "belum_diverifikasi", "diterima", "ditolak")} == {
        "masuk": angka_id(60),
        "belum_diverifikasi": angka_id(10),
        "diterima": angka_id(49),
        "ditolak": angka_id(1),
    }
    await tab.screenshot(path=ARTIFACTS / "verifikasi-dasbor-dinas.png", full_page=True)
    await board.close()


async def test_wrong_keys_get_an_indonesian_message_not_an_empty_page(live_server, browser, client, keys, enum_key, verif):
    await _post(client, enum_key, 2)
    context, page, _ = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", enum_key)
    message = page.locator("#pesan")
    await expect(message).to_contain_text("bukan kunci verifikator")
    await expect(page.locator("#kerja")).to_be_hidden()
    await page.screenshot(path=ARTIFACTS / "verifikasi-kunci-enumerator.png")
    await context.close()

    # a verifikator of Banyuasin asking for Kota Palembang
    context, page, _ = await _open(browser, f"{live_server.url}/verifikasi?periode=2022&kabkota=16.71", verif)
    await expect(page.locator("#pesan")).to_contain_text("di luar wilayah kunci Anda (16.07)")
    await expect(page.locator("#kerja")).to_be_hidden()
    await context.close()

    context, page, _ = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", "kumkm_bukan-kunci")
    await expect(page.locator("#pesan")).to_contain_text("401")
    await expect(page.locator("#form-kunci")).to_be_visible()
    assert await page.evaluate("sessionStorage.length") == 0
    await context.close()

    # a dinas key reads the dashboard, not this page
    dinas = await keys.make("dinas", "16", name="dinas-sumsel")
    context, page, _ = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", dinas)
    await expect(page.locator("#pesan")).to_contain_text("bukan kunci verifikator")
    await context.close()


async def test_a_provinsi_verifikator_chooses_a_kabkota_filters_and_sees_duplicates_on_a_phone(
    live_server, browser, client, keys, enum_key, pg
):
    twin = umkm(
        nama_usaha="Warung Kembar",
        nik_pemilik=nik(serial=4242),
        captured_at="2022-06-02T09:00:00+07:00",
        lokasi={"lat": -2.912345, "lon": 104.712345},
    )
    other = umkm(
        nama_usaha="warung kembar",
        nik_pemilik=twin["nik_pemilik"],
        kode_wilayah="16.07.02.2001",
        captured_at="2022-06-03T09:00:00+07:00",
        enumerator_id="ENUM-002",
    )
    r = await client.post("/api/v1/submissions/batch", json={"items": [twin, other]}, headers=auth(enum_key))
    assert r.json()["created"] == 2
    await _post(client, enum_key, 3)
    (palembang,) = await _post(client, enum_key, 1, kode_wilayah="16.71.01.1001")
    sumsel = await keys.make("verifikator", "16", name="verif-sumsel")
    assert (await decide(client, sumsel, other["submission_id"], "diterima")).status_code == 200

    context, page, errors = await _open(browser, f"{live_server.url}/verifikasi?periode=2022", sumsel, PHONE)
    # the busiest kabupaten/kota of the provinsi first; every one of them can be chosen
    await expect(page.locator("#kabkota")).to_have_value("16.07")
    assert await page.locator("#kabkota option").count() == 17
    await expect(page.locator("#antrian li")).to_have_count(4)
    await page.select_option("#duplikat", "true")
    await page.click("#tampilkan")
    await expect(page.locator("#antrian li")).to_have_count(1)
    await expect(page.locator("#detail")).to_have_attribute("data-id", twin["submission_id"])
    dup = page.locator("#tabel-duplikat thead th[data-id]")
    await expect(dup).to_have_count(1)
    assert await dup.get_attribute("data-id") == other["submission_id"]
    await expect(dup).to_contain_text("diterima")
    await expect(page.locator("#detail-lokasi")).to_contain_text("-2.912345, 104.712345")
    assert "duplikat=true" in page.url and "kabkota=16.07" in page.url
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await page.screenshot(path=ARTIFACTS / "verifikasi-ponsel.png", full_page=True)

    # / puts the cursor in the search box; a record id there opens that record
    await page.select_option("#duplikat", "")
    await page.select_option("#kabkota", "16.71")
    await expect(page.locator("#antrian li")).to_have_count(1)
    # the page has settled on the queue's one record before the verifikator searches
    await expect(page.locator("#detail")).to_have_attribute("data-id", palembang["submission_id"])
    await page.keyboard.press("/")
    assert await page.evaluate("document.activeElement.id") == "cari"
    await page.keyboard.type(other["submission_id"])
    await page.keyboard.press("Enter")
    await expect(page.locator("#detail")).to_have_attribute("data-id", other["submission_id"])
    await expect(page.locator("#detail-status")).to_have_text("diterima")
    assert errors == []
    await context.close()


async def test_page_and_assets_are_served_by_the_app(client):
    r = await client.get("/verifikasi")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert '<option value="2022"' in r.text
    for kode in ALASAN:
        assert f'value="{kode}"' in r.text
    for asset, kind in (("verifikasi.js", "javascript"), ("verifikasi.css", "text/css")):
        assert f"/verifikasi/static/{asset}" in r.text
        a = await client.get(f"/verifikasi/static/{asset}")
        assert a.status_code == 200 and kind in a.headers["content-type"], asset
    assert_problem(await client.get("/verifikasi/static/../page.py"), "not-found")


# (from tests/api/test_api_polish.py: the page opens on the newest periode with data)


async def test_the_verifikasi_page_opens_on_the_newest_periode_with_data(live_server, browser, client, enum_key, verif):
    await post_records(client, enum_key, 3)
    context = await browser.new_context(locale="id-ID")
    page = await context.new_page()
    await page.goto(f"{live_server.url}/verifikasi")
    await page.fill("#kunci", verif)
    await page.click("#form-kunci button[type=submit]")
    await expect(page.locator("#antrian li")).to_have_count(3)
    assert await page.locator("#periode").input_value() == "2022"
    await expect(page.locator("#jumlah-belum-diverifikasi")).to_have_text("3")
    await page.select_option("#periode", "2025")
    await expect(page.locator("#antrian-kosong")).to_contain_text("periode 2022 (3 data)")
    await context.close()
