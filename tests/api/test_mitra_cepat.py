"""A partner's single look-up in one statement (issue 30 §2, docs/mitra.md): the rate as GCRA
(no burst of twice the rate across a second's edge, as the fixed window allowed), body refusals
counted and recorded like the rules' own, and the registry's name normalisation in SQL equal to
app/record/nama.py (the look-up by NIK and name compares inside the statement)."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time

from app.mitra import router
from app.record import nama
from tests.api.test_mitra import AUDIT, CEK, NAMA_A, NIB_A, NIK_A
from tests.support import registry_helpers
from tests.support.common import auth
from tests.support.problems import assert_problem

# The rate's tests ask of a NIB nobody holds: answered (200, not registered) when let through.


async def _burst(client, key, n: int) -> list[int]:
    results = await asyncio.gather(*(client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key)) for _ in range(n)))
    return [r.status_code for r in results]


async def test_no_double_burst_across_a_second_edge(client, keys):
    """Ten a second: a burst of ten just before a second's edge (by the clock the database server
    shares with this machine) and ten more just after it let through ten and what the bucket
    refilled between them (one every 0.1 s), never twenty (the fixed window counted each second
    afresh)."""
    key = await keys.make("mitra", name="tepi", per_detik=10)
    await _burst(client, await keys.make("mitra", name="hangat"), 10)  # the service warm: the bursts take milliseconds
    edge = math.ceil(time.time() + 0.3)
    await asyncio.sleep(edge - 0.25 - time.time())
    t0 = time.monotonic()
    first = await _burst(client, key, 10)
    await asyncio.sleep(max(edge + 0.05 - time.time(), 0))
    second = await _burst(client, key, 10)
    span = time.monotonic() - t0
    assert first.count(200) == 10, first
    # what refilled over the whole span, and one for the rounding (a fixed window: all ten)
    assert second.count(200) <= int(span * 10) + 1, (second, span)
    assert set(first + second) <= {200, 429}


async def test_rate_refusal_says_when_and_the_bucket_refills(client, keys):
    key = await keys.make("mitra", name="ember", per_detik=4)
    statuses = await _burst(client, key, 8)
    assert statuses.count(200) in (4, 5), statuses  # 4 at once; a fifth only if 0.25 s passed meanwhile
    r = await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))
    body = assert_problem(r, "too-many-requests")
    assert body["detail"].startswith("per_detik") and r.headers["Retry-After"] == "1"
    # the bucket is whole again 1/4 s per look-up let through after the burst began: 1.25 s at
    # most (five let through); then four at once
    await asyncio.sleep(1.3)
    assert (await _burst(client, key, 4)).count(200) == 4
    # paced at the rate, every request passes
    await asyncio.sleep(1.0)
    for _ in range(6):
        assert (await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))).status_code == 200
        await asyncio.sleep(0.26)


async def test_look_ups_of_two_partners_at_once_keep_each_ones_bounds(client, keys, pg):
    """Look-ups that arrive together share a statement (group commit); each holder's rate and
    quota still apply to its own look-ups alone, and each is recorded under its own key."""
    a = await keys.make("mitra", name="bank-a", per_detik=2)
    b = await keys.make("mitra", name="bank-b", per_detik=3, kuota=2)
    calls = [client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(k)) for _ in range(6) for k in (a, b)]
    results = await asyncio.gather(*calls)
    got_a = [r.status_code for r in results[0::2]]
    got_b = [r.status_code for r in results[1::2]]
    assert got_a.count(200) in (2, 3), got_a  # the bucket of 2 (a third once 0.5 s passed)
    assert got_b.count(200) == 2, got_b  # the quota of 2 binds before the rate of 3
    refused_b = [r for r in results[1::2] if r.status_code == 429]
    assert all(assert_problem(r, "too-many-requests")["detail"].startswith("kuota") for r in refused_b)
    logged = await pg.fetch("SELECT key_name, count(*) AS n FROM access_log GROUP BY key_name ORDER BY key_name")
    assert [(r["key_name"], r["n"]) for r in logged] == [("bank-a", got_a.count(200)), ("bank-b", 2)]


async def test_refused_bodies_are_counted_and_in_the_audit(client, keys, admin, pg):
    key = await keys.make("mitra", name="badan-salah", kuota=3)
    bad = (
        {"tujuan": "kur", "nik_pemilik": int(NIK_A), "nama_usaha": NAMA_A},  # not a string
        {"tujuan": "bantuan", "nomor": "1"},  # a field not in the question
    )
    for body in bad:
        assert_problem(await client.post(CEK, json=body, headers=auth(key)), "invalid-input")
    r = await client.post(CEK, content=b"{not json", headers={**auth(key), "Content-Type": "application/json"})
    assert_problem(r, "malformed-json")
    # three refused look-ups spent the day's quota of three
    r = await client.post(CEK, json={"tujuan": "kur", "nib": NIB_A}, headers=auth(key))
    assert assert_problem(r, "too-many-requests")["detail"].startswith("kuota")
    # beyond the bounds a malformed body is a 429 too, and not recorded
    assert (await client.post(CEK, json=bad[0], headers=auth(key))).status_code == 429
    rows = await pg.fetch("SELECT detail::text AS d FROM access_log WHERE key_name = 'badan-salah' ORDER BY id")
    details = [json.loads(r["d"]) for r in rows]
    assert [(d["tujuan"], d["hasil"]) for d in details] == [("kur", "ditolak"), ("bantuan", "ditolak"), ("-", "ditolak")]
    assert details[0]["alasan"].startswith("nik_pemilik") and details[2]["alasan"] == "body bukan JSON yang sah"
    assert NIK_A not in "".join(r["d"] for r in rows)
    audit = (await client.get(AUDIT, headers=auth(admin))).json()["items"]
    got = sorted((i["tujuan"], i["ditolak"], i["jumlah"]) for i in audit if i["nama"] == "badan-salah")
    assert got == [("-", 1, 1), ("bantuan", 1, 1), ("kur", 1, 1)]


def _names() -> list[str]:
    from bench.registry import nama_usaha

    fixed = [
        "",
        "   ",
        "Warung Makan Bu Siti",
        "WARUNG MAKAN BU SITI",
        "U.D. Bu Siti",
        "bu  siti",
        "CV Toko Maju",
        "Toko",
        "toko toko",
        "PT. Sumber Rejeki Tbk",
        "Tbk",
        "Toko Tbk",
        "KUD Makmur Tbk Tbk",
        "Rumah Makan Padang Sederhana",
        "RM. Sederhana",
        "Warmak Bu Tini",
        "Café Señor Niño",
        "naïve ÇA",
        "ＷＡＲＵＮＧ　ＫＯＰＩ",
        "ﬁne ﬂour ½ kg",
        "Koperasi KSP Kop Maju",
        "a b c d",
        "a.b.c. Jaya d",
        "x-y_z 1 2 3",
        "İstanbul Kebab",
        "Ḱedai Ẵ",
        "مطعم 123",
        "餐厅 Warung",
        "Warung 🍜 Mie",
        "Bengkel\u0301 Las\u0308 Jaya",
        "usaha usaha",
        "Warung\tMakan\nBu\u00a0Siti",
    ]
    for awalan in nama.AWALAN + nama.AKHIRAN:
        fixed += [" ".join(awalan) + " Maju Jaya", "Maju " + " ".join(awalan), " ".join(awalan) + " " + " ".join(awalan)]
    fixed += [nama_usaha(u) for u in range(0, 5000, 37)]
    rng = random.Random(30)
    alphabet = "abcdeXYZ019 .-'/&éÉñüçÅø\u0301\u0308\u0327ﬁＡ１ŁłßİıΣσ中"
    for _ in range(500):
        fixed.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24))))
    return fixed


async def test_sql_name_normalisation_equals_the_registrys(pg):
    names = _names()
    got = await pg.fetch("SELECT n, kumkm_nama_normal(n) AS normal FROM unnest($1::text[]) AS n", names)
    differ = [(r["n"], r["normal"], nama.normalise(r["n"])) for r in got if r["normal"] != nama.normalise(r["n"])]
    assert differ == []


async def test_the_lean_route_answers_as_the_documented_one(client, admin, keys, pg, monkeypatch):
    """A look-up sent as `application/json` is served ahead of FastAPI's routing (app.web.lean);
    the same question as `application/vnd.kumkm+json` (a JSON media type the service accepts)
    takes the documented route. Both answer the same bytes, status and headers that matter, and
    both are recorded: registered by NIB and by NIK with name, not registered, refused by the
    rules, refused by the body's schema, a purpose the key does not allow."""
    a = await registry_helpers.accepted(client, admin, admin, nib=NIB_A, nik_pemilik=NIK_A, nama_usaha=NAMA_A)
    id_a = (await registry_helpers.linked(pg, [a]))[a["submission_id"]]
    key = await keys.make("mitra", name="dua-jalan", tujuan=("kur",))
    questions = (
        {"tujuan": "kur", "nib": NIB_A},
        {"tujuan": "kur", "nik_pemilik": NIK_A, "nama_usaha": NAMA_A.upper()},
        {"tujuan": "kur", "nib": "9120000000001"},
        {"tujuan": "kur", "nib": "91200*"},
        {"tujuan": "kur", "nib": NIB_A, "nama": "x"},
        {"tujuan": "bantuan", "nib": NIB_A},
    )
    # which requests the lean route gave to the documented one (the service runs in this process)
    full_app = router._CEK_ROUTE.app
    given: list[str] = []

    async def counted(scope, receive, send):
        given.append(dict(scope["headers"])[b"content-type"].decode())
        await full_app(scope, receive, send)

    monkeypatch.setattr(router._CEK_ROUTE, "app", counted)
    for q in questions:
        body = json.dumps(q).encode()
        given.clear()
        lean = await client.post(CEK, content=body, headers={**auth(key), "Content-Type": "application/json; charset=utf-8"})
        full = await client.post(CEK, content=body, headers={**auth(key), "Content-Type": "application/vnd.kumkm+json"})
        # the lean path answered every question its schema takes; only the field refused went on
        assert given == (["application/json; charset=utf-8"] if "nama" in q else []) + ["application/vnd.kumkm+json"], (q, given)
        assert lean.status_code == full.status_code, (q, lean.text, full.text)
        assert lean.headers["content-type"] == full.headers["content-type"], q
        if lean.status_code == 200:
            assert lean.content == full.content, q
        else:
            a, b = lean.json(), full.json()
            a.pop("instance", None), b.pop("instance", None)
            a.pop("request_id", None), b.pop("request_id", None)
            assert a == b, q
    assert (await client.post(CEK, json=questions[0], headers=auth(key))).json()["id_kumkm"] == id_a
    rows = await pg.fetch("SELECT detail->>'hasil' AS hasil FROM access_log WHERE key_name = 'dua-jalan' ORDER BY id")
    # every look-up of both routes recorded, refused ones too (the purpose the key lacks: 403)
    each = ("terdaftar", "terdaftar", "tidak_terdaftar", "ditolak", "ditolak", "ditolak")
    assert [r["hasil"] for r in rows] == [h for h in each for _ in (0, 1)] + ["terdaftar"]
