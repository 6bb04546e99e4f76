"""The verifikator's queue over HTTP: GET /api/v1/verifikasi/antrian (a kabupaten/kota's
records of one status, oldest capture first, keyset-paged, filtered) and
GET /api/v1/verifikasi/rekap (counts per status from the status counters). Expected answers
are computed from the records the test posted, never typed in."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from app.verification.queries import SCAN_MAX, antrian
from tests.support.bulk import insert_records
from tests.support.common import auth
from tests.support.factories import koperasi, nik, umkm
from tests.support.problems import assert_problem
from tests.support.verification_helpers import decide, recount, tolak

DESA_A = "16.07.01.2001"  # kecamatan 16.07.01
DESA_B = "16.07.01.1016"  # kecamatan 16.07.01, another desa
DESA_C = "16.07.02.2001"  # kecamatan 16.07.02
PALEMBANG = "16.71.01.1001"  # another kabupaten/kota of the same provinsi
WIB = dt.timezone(dt.timedelta(hours=7))


def _at(day: int, hour: int = 9) -> str:
    return dt.datetime(2022, 6, day, hour, 0, tzinfo=WIB).isoformat()


async def _post(client, key, records: list[dict]) -> None:
    r = await client.post("/api/v1/submissions/batch", json={"items": records}, headers=auth(key))
    assert r.status_code == 200 and r.json()["created"] == len(records), r.text


async def _queue(client, key, **params) -> dict:
    r = await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", **params}, headers=auth(key))
    assert r.status_code == 200, r.text
    return r.json()


async def _all_pages(client, key, cursor: str | None = None, **params) -> tuple[list[dict], int]:
    items, pages = [], 0
    while True:
        page = await _queue(client, key, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages


def _order(records: list[dict]) -> list[str]:
    """Oldest capture first, then submission_id: the queue's order."""
    key = {r["submission_id"]: (dt.datetime.fromisoformat(r["captured_at"]), r["submission_id"]) for r in records}
    return sorted(key, key=key.get)


@pytest.fixture
async def banyuasin(client, enum_key):
    """A mixed kabupaten/kota: three desa in two kecamatan, two enumerators, UMKM and koperasi,
    one pair of likely duplicates, captured over ten days; and records elsewhere."""
    records = []
    for i in range(24):
        desa = (DESA_A, DESA_B, DESA_C)[i % 3]
        common = {"kode_wilayah": desa, "captured_at": _at(1 + i % 10, 8 + i % 9), "enumerator_id": "ENUM-7" if i % 4 == 0 else "ENUM-9"}
        if i % 6 == 5:
            records.append(koperasi(nama_koperasi=f"Koperasi {i}", **common))
        else:
            records.append(umkm(nama_usaha=f"Usaha {i}", nik_pemilik=nik(serial=1000 + i), **common))
    twin = umkm(
        nama_usaha="Warung Kembar", nik_pemilik=nik(serial=4242), kode_wilayah=DESA_A, captured_at=_at(3, 10), enumerator_id="ENUM-9"
    )
    twin2 = umkm(
        nama_usaha="WARUNG  kembar!", nik_pemilik=twin["nik_pemilik"], kode_wilayah=DESA_C, captured_at=_at(4, 11), enumerator_id="ENUM-7"
    )
    records += [twin, twin2]
    await _post(client, enum_key, records)
    await _post(
        client, enum_key, [umkm(kode_wilayah=PALEMBANG, captured_at=_at(1)), umkm(kode_wilayah=DESA_A, periode="2023", captured_at=_at(1))]
    )
    return records, (twin["submission_id"], twin2["submission_id"])


async def test_queue_is_the_kabkotas_masuk_oldest_first_with_the_counters(client, verif, banyuasin, pg):
    records, _ = banyuasin
    decided = [records[0], records[5], records[11]]
    for rec in decided[:2]:
        assert (await decide(client, verif, rec["submission_id"], "diterima")).status_code == 200
    assert (await tolak(client, verif, decided[2]["submission_id"])).status_code == 200

    page = await _queue(client, verif)  # a kabupaten/kota key: its own queue
    waiting = [r for r in records if r not in decided]
    assert [i["submission_id"] for i in page["items"]] == _order(waiting)
    assert page["next_cursor"] is None and page["status"] == "masuk"
    counts = await recount(pg)
    jumlah = dict(page["jumlah"])
    assert jumlah.pop("nama").lower().endswith("banyuasin")
    assert jumlah.pop("masuk") == jumlah["belum_diverifikasi"]  # the deprecated old name
    assert jumlah == {
        "kode_kabkota": "16.07",
        "belum_diverifikasi": counts[("2022", "16.07", "masuk")],
        "diterima": 2,
        "ditolak": 1,
        "total": len(records),
    }
    assert jumlah["belum_diverifikasi"] == len(waiting)
    first = page["items"][0]
    sent = next(r for r in records if r["submission_id"] == first["submission_id"])
    assert first["version"] == 1 and first["kode_wilayah"] == sent["kode_wilayah"]
    assert first["enumerator_id"] == sent["enumerator_id"]
    assert first["nama"] == sent.get("nama_usaha", sent.get("nama_koperasi"))
    assert first["nama_wilayah"]
    # the list carries no personal data: that is read (and logged) one record at a time
    assert not ({"nama_pemilik", "nik_pemilik", "alamat", "telepon", "data"} & set(first))

    done = await _queue(client, verif, status="diterima")
    assert [i["submission_id"] for i in done["items"]] == _order(decided[:2])


async def test_filters_narrow_the_queue(client, verif, banyuasin):
    records, twins = banyuasin

    async def ids(**params) -> list[str]:
        items, _ = await _all_pages(client, verif, limit=4, **params)
        return [i["submission_id"] for i in items]

    assert await ids(wilayah="16.07.01") == _order([r for r in records if r["kode_wilayah"].startswith("16.07.01.")])
    assert await ids(wilayah=DESA_B) == _order([r for r in records if r["kode_wilayah"] == DESA_B])
    assert await ids(enumerator_id="ENUM-7") == _order([r for r in records if r["enumerator_id"] == "ENUM-7"])
    assert await ids(jenis="koperasi") == _order([r for r in records if r["jenis"] == "koperasi"])
    assert await ids(duplikat="true") == _order([r for r in records if r["submission_id"] in twins])
    assert await ids(duplikat="false") == _order([r for r in records if r["submission_id"] not in twins])
    # captured dates are WIB days, both ends included
    in_range = [r for r in records if "2022-06-03" <= r["captured_at"][:10] <= "2022-06-05"]
    assert await ids(captured_dari="2022-06-03", captured_sampai="2022-06-05") == _order(in_range)
    combined = [
        r for r in in_range if r["kode_wilayah"].startswith("16.07.01.") and r["jenis"] == "umkm" and r["enumerator_id"] == "ENUM-9"
    ]
    assert combined, "the fixture must make the combined filter non-empty"
    assert await ids(
        captured_dari="2022-06-03", captured_sampai="2022-06-05", wilayah="16.07.01", jenis="umkm", enumerator_id="ENUM-9"
    ) == _order(combined)
    page = await _queue(client, verif, duplikat="true")
    assert all(i["kemungkinan_duplikat"] for i in page["items"]) and len(page["items"]) == 2


async def test_paging_is_stable_while_records_are_decided_and_added(client, verif, verif2, enum_key, banyuasin):
    records, _ = banyuasin
    seen: list[str] = []
    page = await _queue(client, verif, limit=5)
    seen += [i["submission_id"] for i in page["items"]]
    # Between pages another verifikator decides records on both sides of the cursor, and an
    # enumerator adds one captured before the cursor and one after everything.
    order = _order(records)
    ahead, behind = order[7], order[1]
    for sid in (ahead, behind):
        assert (await decide(client, verif2, sid, "diterima")).status_code == 200
    early = umkm(kode_wilayah=DESA_A, captured_at=_at(1, 0))
    late = umkm(kode_wilayah=DESA_A, captured_at=_at(28))
    await _post(client, enum_key, [early, late])
    cursor = page["next_cursor"]
    while cursor:
        page = await _queue(client, verif, limit=5, cursor=cursor)
        seen += [i["submission_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)), "no record twice"
    # every record that stayed masuk after the cursor is seen, in order; the decided one ahead
    # of the cursor is not; one added behind the cursor waits for the next pass
    assert seen == [sid for sid in order if sid != ahead] + [late["submission_id"]]
    assert early["submission_id"] not in seen
    again, _ = await _all_pages(client, verif)
    assert [i["submission_id"] for i in again][0] == early["submission_id"]


async def test_a_rare_filter_walks_a_bounded_number_of_rows_per_request(client, verif, enum_key, pg):
    await insert_records(pg, [(DESA_A, SCAN_MAX + 500, 0, 0)])  # captured 2022-06-01 09:00 WIB
    rare = umkm(kode_wilayah=DESA_A, captured_at=_at(2), enumerator_id="ENUM-LANGKA")
    await _post(client, enum_key, [rare])
    first = await _queue(client, verif, enumerator_id="ENUM-LANGKA")
    assert first["items"] == [] and first["dipindai"] == SCAN_MAX and first["next_cursor"]
    second = await _queue(client, verif, enumerator_id="ENUM-LANGKA", cursor=first["next_cursor"])
    assert [i["submission_id"] for i in second["items"]] == [rare["submission_id"]]
    assert second["next_cursor"] is None and second["dipindai"] == 501
    assert first["jumlah"]["belum_diverifikasi"] == SCAN_MAX + 501
    # without a filter a page walks only the rows it shows
    assert (await _queue(client, verif, limit=10))["dipindai"] == 10


async def test_rekap_reads_the_counters_for_the_keys_wilayah(client, keys, verif, banyuasin, pg):
    records, _ = banyuasin
    assert (await tolak(client, verif, records[3]["submission_id"])).status_code == 200
    counts = await recount(pg)

    sumsel = await keys.make("verifikator", "16", name="verif-sumsel")
    r = await client.get("/api/v1/verifikasi/rekap", params={"periode": "2022"}, headers=auth(sumsel))
    assert r.status_code == 200, r.text
    rows = {row["kode_kabkota"]: row for row in r.json()["items"]}
    assert all(k.startswith("16.") for k in rows) and len(rows) == 17  # every kabupaten/kota of the provinsi
    assert rows["16.07"]["belum_diverifikasi"] == counts[("2022", "16.07", "masuk")] and rows["16.07"]["ditolak"] == 1
    assert rows["16.71"]["total"] == counts[("2022", "16.71", "masuk")] == 1
    assert rows["16.01"] == {
        "kode_kabkota": "16.01",
        "nama": rows["16.01"]["nama"],
        "belum_diverifikasi": 0,
        "diterima": 0,
        "ditolak": 0,
        "total": 0,
        "masuk": 0,
    }
    own = await client.get("/api/v1/verifikasi/rekap", params={"periode": "2022"}, headers=auth(verif))
    assert [row["kode_kabkota"] for row in own.json()["items"]] == ["16.07"]
    # a provinsi verifikator names the kabupaten/kota of its queue
    r = await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", "kabkota": "16.71"}, headers=auth(sumsel))
    assert r.status_code == 200 and len(r.json()["items"]) == 1


@pytest.mark.parametrize("role", ["enumerator", "dinas", "walidata"])
async def test_other_roles_are_refused_with_role_forbidden(client, keys, role):
    key = await keys.make(role, "16.07", name=f"{role}-banyuasin")
    for path in ("/api/v1/verifikasi/antrian", "/api/v1/verifikasi/rekap"):
        r = await client.get(path, params={"periode": "2022"}, headers=auth(key))
        assert r.status_code == 403, r.text
        assert r.json()["code"] == "role-forbidden"


async def test_another_kabkota_is_outside_scope(client, verif):
    for path in ("/api/v1/verifikasi/antrian", "/api/v1/verifikasi/rekap"):
        r = await client.get(path, params={"periode": "2022", "kabkota": "16.71"}, headers=auth(verif))
        assert r.status_code == 403, r.text
        body = r.json()
        assert body["code"] == "outside-scope" and body["kabkota"] == "16.71" and body["scope"] == "16.07"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"kabkota": "16"}, "kabkota"),
        ({"kabkota": "16.99"}, "kabkota"),
        ({"wilayah": "16.71.01"}, "wilayah"),
        ({"wilayah": "16.07"}, "wilayah"),
        ({"cursor": "bukan-kursor"}, "cursor"),
        ({"captured_dari": "2022-06-05", "captured_sampai": "2022-06-04"}, "captured_sampai"),
        ({"captured_dari": "0001-01-01"}, "captured_dari"),
        ({"captured_sampai": "9999-12-31"}, "captured_sampai"),
        ({"periode": "1999"}, "periode"),
        ({"status": "dihapus"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"duplikat": "mungkin"}, "duplikat"),
    ],
)
async def test_bad_filters_are_422_naming_the_field(client, verif, params, field):
    r = await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022", **params}, headers=auth(verif))
    assert r.status_code == 422, r.text
    assert r.json()["code"] == "invalid-input"
    assert [e["field"] for e in r.json()["errors"]] == [field]


async def test_a_provinsi_or_national_key_must_name_the_kabkota(client, keys, admin):
    sumsel = await keys.make("verifikator", "16", name="verif-sumsel")
    for key in (sumsel, admin):
        r = await client.get("/api/v1/verifikasi/antrian", params={"periode": "2022"}, headers=auth(key))
        assert_problem(r, "invalid-input")
        assert r.json()["errors"][0]["field"] == "kabkota"


async def test_cursor_of_a_record_that_is_gone_still_continues(client, verif, enum_key):
    recs = [umkm(kode_wilayah=DESA_A, captured_at=_at(d)) for d in (1, 2, 3)]
    await _post(client, enum_key, recs)
    page = await _queue(client, verif, limit=1)
    assert (await decide(client, verif, page["items"][0]["submission_id"], "diterima")).status_code == 200
    rest, _ = await _all_pages(client, verif, limit=1, cursor=page["next_cursor"])
    assert [i["submission_id"] for i in rest] == [r["submission_id"] for r in recs[1:]]


async def test_a_kecamatan_oldest_first_walks_a_bounded_number_of_rows_per_request(client, verif, enum_key, pg):
    # no index walks a kecamatan by waiting time: the kecamatan is checked while walking the
    # kabupaten/kota's backlog, at most SCAN_MAX rows a request, as any other filter
    await insert_records(pg, [(DESA_A, SCAN_MAX + 500, 0, 0)])
    elsewhere = umkm(kode_wilayah=DESA_C, captured_at=_at(2))  # arrives last: waits least
    await _post(client, enum_key, [elsewhere])
    first = await _queue(client, verif, wilayah=DESA_C[:8], urut="terlama")
    assert first["items"] == [] and first["dipindai"] == SCAN_MAX and first["next_cursor"]
    second = await _queue(client, verif, wilayah=DESA_C[:8], urut="terlama", cursor=first["next_cursor"])
    assert [i["submission_id"] for i in second["items"]] == [elsewhere["submission_id"]]
    assert second["next_cursor"] is None and second["dipindai"] == 501


# 2,000 decided records of Banyuasin, half diterima and half ditolak, decided in an order unrelated
# to their capture (migration 0021_antrian_terlama)
DECIDED = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, status,
                             enumerator_id, captured_at, content_hash, dibuat_oleh, dibuat_pada, diperbarui_pada)
    SELECT gen_random_uuid(), '2022', 'umkm', '16.07', '16', '16.07', CASE WHEN i % 2 = 0 THEN 'diterima' ELSE 'ditolak' END,
           'ENUM-1', timestamptz '2022-06-01 09:00+07' + i * interval '1 minute', '\\x00'::bytea, 'test',
           timestamptz '2022-06-01 10:00+07' + i * interval '1 minute',
           timestamptz '2022-07-01 10:00+07' + ((i * 7919) % 2000) * interval '1 minute'
    FROM generate_series(1, 2000) AS i
"""


def _walk_rows(plan: dict) -> list[tuple[str, float]]:
    """(node type, actual rows) of the nodes that walk the queue's `submissions s` (PostgreSQL names
    it s_1 inside the walk; the page's own join reads it again once per row shown, loops > 1)."""
    out = []
    if plan.get("Relation Name") == "submissions" and plan.get("Alias") in ("s", "s_1") and plan.get("Actual Loops") == 1:
        out.append((plan["Node Type"], plan["Actual Rows"]))
    for child in plan.get("Plans", []):
        out += _walk_rows(child)
    return out


@pytest.mark.parametrize("status", ["diterima", "ditolak"])
async def test_oldest_first_of_a_decided_status_reads_only_its_page(client, verif, pg, status):
    await pg.execute(DECIDED)
    await pg.execute("ANALYZE submissions")
    r = await client.get(
        "/api/v1/verifikasi/antrian",
        params={"periode": "2022", "kabkota": "16.07", "status": status, "urut": "terlama"},
        headers=auth(verif),
    )
    assert r.status_code == 200, r.text
    page = r.json()["items"]
    truth = await pg.fetch(
        "SELECT submission_id::text AS id FROM submissions WHERE kode_kabkota = '16.07' AND status = $1 "
        "ORDER BY diperbarui_pada, submission_id LIMIT $2",
        status,
        len(page),
    )
    assert len(page) == 50 and [it["submission_id"] for it in page] == [t["id"] for t in truth]
    # the statement of that page: the walk reads the page's rows from an index in its order, not
    # the kabupaten/kota's 1,000 decided records of that status sorted
    sql = str(antrian("kabkota", (), False, False, False, 50, 50, False, "terlama", status))
    sql = sql.replace(":periode", "$1").replace(":kabkota", "$2")
    plan = json.loads(await pg.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, "2022", "16.07"))
    walk = _walk_rows(plan[0]["Plan"])
    assert walk and all(rows <= 50 for _, rows in walk), walk
