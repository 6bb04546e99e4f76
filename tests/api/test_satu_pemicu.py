"""The counts the writes keep on `submissions` (migration 0019_satu_pemicu, docs/record.md "Counts the
writes keep"): one trigger per event keeps rekap_status, rekap_harian, kinerja_enumerator, the
linker's queue and kinerja_tolak; after every step of a random mix of single and batch posts,
acceptances, rejections, reversals, corrections, deletes and writes of columns no count reads,
each kept table equals a recount of the records by plain SQL."""

from __future__ import annotations

import random

from tests.support import factories
from tests.support.common import auth
from tests.support.verification_helpers import correct, decide

BANYUASIN = "16.07.01.2001"
PALEMBANG = "16.71"
MAKASSAR = "73.71"  # WITA: its days start an hour before Sumatera Selatan's
ALASAN = ["data_tidak_lengkap", "data_tidak_valid", "duplikat"]


async def test_one_trigger_per_event_on_submissions(pg):
    rows = await pg.fetch(
        "SELECT tgname, p.proname, (t.tgtype & 4 <> 0) AS ins, (t.tgtype & 16 <> 0) AS upd, (t.tgtype & 8 <> 0) AS del "
        "FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
        "WHERE t.tgrelid = 'submissions'::regclass AND NOT t.tgisinternal ORDER BY tgname"
    )
    assert [tuple(r) for r in rows] == [
        ("submissions_pemicu_del", "submissions_pemicu", False, False, True),
        ("submissions_pemicu_ins", "submissions_pemicu", True, False, False),
        ("submissions_pemicu_upd", "submissions_pemicu", False, True, False),
    ]


def _pair(rows) -> dict:
    return {tuple(r)[:-1]: tuple(r)[-1] for r in rows}


async def kept(pg) -> dict:
    return {
        "rekap_status": _pair(
            await pg.fetch("SELECT periode, kode_kabkota, status, sum(n) FROM rekap_status GROUP BY 1, 2, 3 HAVING sum(n) <> 0")
        ),
        "rekap_harian": _pair(
            await pg.fetch(
                "SELECT periode, kode_kabkota, menurut, hari, status, sum(n) FROM rekap_harian GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0"
            )
        ),
        "kinerja_enumerator": _pair(
            await pg.fetch(
                "SELECT periode, kode_kabkota, enumerator_id, kunci, ARRAY[sum(masuk), sum(diterima), sum(ditolak)]::bigint[] "
                "FROM kinerja_enumerator GROUP BY 1, 2, 3, 4 HAVING sum(masuk) <> 0 OR sum(diterima) <> 0 OR sum(ditolak) <> 0"
            )
        ),
        "kinerja_tolak": _pair(
            await pg.fetch("SELECT submission_id, periode, kode_kabkota, enumerator_id, kunci, alasan_kode, true FROM kinerja_tolak")
        ),
        "antrian": {(r[0],): True for r in await pg.fetch("SELECT submission_id FROM kumkm_antrian")},
    }


async def recount(pg, deleted_queued: set) -> dict:
    hari = "((({0} AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date)"
    return {
        "rekap_status": _pair(await pg.fetch("SELECT periode, kode_kabkota, status, count(*) FROM submissions GROUP BY 1, 2, 3")),
        "rekap_harian": _pair(
            await pg.fetch(
                f"SELECT periode, kode_kabkota, 'tangkap', {hari.format('captured_at')}, status, count(*) FROM submissions "
                "GROUP BY 1, 2, 3, 4, 5 UNION ALL "
                f"SELECT periode, kode_kabkota, 'terima', {hari.format('dibuat_pada')}, status, count(*) FROM submissions "
                "GROUP BY 1, 2, 3, 4, 5"
            )
        ),
        "kinerja_enumerator": _pair(
            await pg.fetch(
                "SELECT periode, kode_kabkota, enumerator_id, COALESCE(dibuat_oleh_key, 0), "
                "ARRAY[count(*) FILTER (WHERE status = 'masuk'), count(*) FILTER (WHERE status = 'diterima'), "
                "count(*) FILTER (WHERE status = 'ditolak')]::bigint[] FROM submissions GROUP BY 1, 2, 3, 4"
            )
        ),
        # every ditolak record with the reason of the decision that made it so; nothing else
        "kinerja_tolak": _pair(
            await pg.fetch(
                "SELECT s.submission_id, s.periode, s.kode_kabkota, s.enumerator_id, COALESCE(s.dibuat_oleh_key, 0), h.alasan_kode, true "
                "FROM submissions s CROSS JOIN LATERAL (SELECT alasan_kode FROM submission_history h "
                "WHERE h.submission_id = s.submission_id ORDER BY h.id DESC LIMIT 1) h WHERE s.status = 'ditolak'"
            )
        ),
        # the linker (paused here) has every record that ever moved into or out of diterima
        # waiting, the deleted ones too (the linker skips a record that is gone)
        "antrian": {
            (r[0],): True
            for r in await pg.fetch(
                "SELECT DISTINCT submission_id FROM submission_history WHERE 'diterima' IN (ke, dari) UNION SELECT unnest($1::uuid[])",
                list(deleted_queued),
            )
        },
    }


async def test_kept_tables_equal_a_recount_through_a_random_mix(client, keys, admin, pg, linker_paused):
    rng = random.Random(19)
    sumsel = await keys.make("enumerator", "16", name="enum-sumsel")
    sumsel2 = await keys.make("enumerator", "16.71", name="enum-palembang")
    sulsel = await keys.make("enumerator", "73", name="enum-sulsel")
    keyed = {sumsel: [BANYUASIN, PALEMBANG], sumsel2: [PALEMBANG], sulsel: [MAKASSAR]}
    by_id: dict[str, tuple[dict, str]] = {}
    deleted_queued: set = set()

    def new(key: str) -> dict:
        day, hour = rng.randrange(1, 6), rng.choice(["00:30", "09:30", "23:30"])  # near midnight: the zone decides the day
        make = factories.umkm if rng.random() < 0.8 else factories.koperasi
        return make(
            periode=rng.choice(["2022", "2023"]),
            kode_wilayah=rng.choice(keyed[key]),
            enumerator_id=rng.choice(["ENUM-1", "ENUM-2", "ENUM-3"]),
            captured_at=f"2022-06-0{day}T{hour}:00+07:00",
        )

    async def pick(status: str) -> tuple[str, int] | None:
        row = await pg.fetchrow(
            "SELECT submission_id::text, version FROM submissions WHERE status = $1 ORDER BY md5(submission_id::text || $2) LIMIT 1",
            status,
            str(rng.random()),
        )
        return (row[0], row[1]) if row else None

    done: dict[str, int] = {}
    for step in range(90):
        op = rng.choice(["post", "batch", "terima", "terima", "tolak", "tolak", "balik", "koreksi", "hapus", "kolom", "keputusan_batch"])
        if op == "post":
            key = rng.choice(list(keyed))
            rec = new(key)
            r = await client.post("/api/v1/submissions", json=rec, headers=auth(key))
            assert r.status_code == 201, r.text
            by_id[rec["submission_id"]] = (rec, key)
        elif op == "batch":
            key = rng.choice(list(keyed))
            recs = [new(key) for _ in range(rng.randrange(2, 12))]
            r = await client.post("/api/v1/submissions/batch", json={"items": recs}, headers=auth(key))
            assert r.status_code == 200 and r.json()["created"] == len(recs), r.text
            by_id.update({rec["submission_id"]: (rec, key) for rec in recs})
        elif op in ("terima", "tolak"):
            got = await pick("masuk")
            if got is None:
                continue
            status = "diterima" if op == "terima" else "ditolak"
            extra = {"alasan_kode": rng.choice(ALASAN)} if status == "ditolak" else {}
            r = await decide(client, admin, got[0], status, got[1], **extra)
            assert r.status_code == 200, r.text
        elif op == "balik":  # a reversal: diterima -> ditolak, or back
            dari = rng.choice(["diterima", "ditolak"])
            got = await pick(dari)
            if got is None:
                continue
            ke = "ditolak" if dari == "diterima" else "diterima"
            extra = {"alasan_kode": rng.choice(ALASAN)} if ke == "ditolak" else {}
            r = await decide(client, admin, got[0], ke, got[1], dari=dari, catatan="diperiksa ulang", **extra)
            assert r.status_code == 200, r.text
        elif op == "koreksi":  # a rejected record corrected: another day, maybe another kabupaten/kota, back to masuk
            got = await pick("ditolak")
            if got is None:
                continue
            rec, key = by_id[got[0]]
            change = {"captured_at": f"2022-06-0{rng.randrange(6, 10)}T23:30:00+07:00", "kode_wilayah": rng.choice(keyed[key])}
            r = await correct(client, key, rec, **change)
            assert r.status_code == 200, r.text
            by_id[got[0]] = ({**rec, **change}, key)
        elif op == "keputusan_batch":
            rows = await pg.fetch("SELECT submission_id::text, version FROM submissions WHERE status = 'masuk' LIMIT 5")
            if not rows:
                continue
            items = [
                {"submission_id": sid, "status": s, "version": v, **({"alasan_kode": "duplikat"} if s == "ditolak" else {})}
                for (sid, v), s in zip(rows, rng.choices(["diterima", "ditolak"], k=len(rows)), strict=True)
            ]
            r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(admin))
            assert r.status_code == 200 and r.json()["decided"] == len(items), r.text
        elif op == "hapus":  # no route deletes a record; an operator's SQL may, and the counts follow
            sids = [r[0] for r in await pg.fetch("SELECT submission_id FROM submissions ORDER BY md5(submission_id::text) LIMIT 3")]
            if not sids:
                continue
            deleted_queued |= {
                r[0] for r in await pg.fetch("SELECT submission_id FROM kumkm_antrian WHERE submission_id = ANY($1::uuid[])", sids)
            }
            await pg.execute("DELETE FROM submissions WHERE submission_id = ANY($1::uuid[])", sids)
            for sid in sids:
                by_id.pop(str(sid), None)
        else:  # a write of columns no count reads writes no count
            before = await kept(pg)
            await pg.execute("UPDATE submissions SET lokasi_lat = -2.9, lokasi_lon = 104.7 WHERE status = 'masuk'")
            assert await kept(pg) == before
        done[op] = done.get(op, 0) + 1
        if step % 6 == 5 or op == "hapus":
            assert await kept(pg) == await recount(pg, deleted_queued), (step, op)
    # The records the mix picks follow their random ids, so it may end with no rejected or
    # accepted record left (every one reversed, corrected or deleted): one of each at the end,
    # so that every kept table holds rows to compare.
    for status in ("ditolak", "diterima"):
        rec = new(sumsel)
        r = await client.post("/api/v1/submissions", json=rec, headers=auth(sumsel))
        assert r.status_code == 201, r.text
        version = await pg.fetchval("SELECT version FROM submissions WHERE submission_id = $1::uuid", rec["submission_id"])
        extra = {"alasan_kode": ALASAN[0]} if status == "ditolak" else {}
        r = await decide(client, admin, rec["submission_id"], status, version, **extra)
        assert r.status_code == 200, r.text
    assert await kept(pg) == await recount(pg, deleted_queued)
    # the mix did each kind of write, and the tables hold something of each
    assert {k for k, n in done.items() if n} >= {"post", "batch", "terima", "tolak", "balik", "koreksi", "hapus", "kolom"}, done
    final = await kept(pg)
    assert all(final[t] for t in final), {t: len(v) for t, v in final.items()}
