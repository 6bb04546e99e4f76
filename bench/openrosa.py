"""OpenRosa benchmark: submissions/s and p50/p99 at 64 concurrent clients, each request the
multipart POST ODK Collect sends (`xml_submission_file`, the instance of the PL-KUMKM form), to
`/openrosa/{key}/submission`. For comparison, the same records as single JSON POSTs to
`/api/v1/submissions` on the same service right after (what the XML transport costs).

    ./dev bench openrosa [--requests 20000] [--clients 64] [--workers 1] [--no-json]
    ./dev bench openrosa --form pemutakhiran_kumkm [--entities 100000] [--requests 20000]

With `--form pemutakhiran_kumkm` (issue 30, docs/pemutakhiran.md) it measures follow-up visits
instead: a kabupaten/kota (Banyuasin, 16.07) is seeded set-based with `--entities` accepted,
linked entities; the entity list usaha.csv of that kabupaten/kota is downloaded as ODK Collect
does (the manifest, which builds and hashes it, then the file; again unchanged, from the
cache); then new census submissions (form pl_kumkm) and follow-up submissions from the list
(form pemutakhiran_kumkm, each naming its entity and baseVersion) are posted in alternating
rounds on the same service, so the two rates are measured under the same conditions. Targets:
the list in under 2 s; follow-ups within 10% of new submissions.

Target (issue 19): >= 1,000 submissions/s with p99 < 150 ms. For reference, ODK Central
v2026.2.2 was reported at about 230 submissions/s at 64 clients (p99 about 365 ms) on this kind
of machine."""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from pathlib import Path

import aiohttp
import orjson

from bench.harness import SUMSEL_2022, Service, fmt, percentile, record
from tests.support.openrosa_helpers import follow_up, instance

BOUNDARY = "----kumkmbench7MA4YWxkTrZu0gW"


def multipart(xml: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="xml_submission_file"; '
            f'filename="submission.xml"\r\nContent-Type: text/xml\r\n\r\n'
        ).encode()
        + xml
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def post_all(url: str, path: str, bodies: list[bytes], headers: dict, concurrency: int, ok: int):
    queue = list(reversed(bodies))
    latencies: list[float] = []
    errors: dict[int, int] = {}
    async with aiohttp.ClientSession(
        base_url=url, connector=aiohttp.TCPConnector(limit=concurrency), timeout=aiohttp.ClientTimeout(total=120)
    ) as session:

        async def worker():
            while queue:
                body = queue.pop()
                t = time.perf_counter()
                async with session.post(path, data=body, headers=headers) as r:
                    await r.read()
                    latencies.append(time.perf_counter() - t)
                    if r.status != ok:
                        errors[r.status] = errors.get(r.status, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(concurrency)])
        return time.perf_counter() - t0, latencies, errors


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of the service's own processes (not PostgreSQL's): on a shared machine
    the rate depends on what else runs, the CPU a request costs much less."""
    import psutil

    total = 0.0
    for pid in pids:
        t = psutil.Process(pid).cpu_times()
        total += t.user + t.system
    return total


def report(what: str, secs: float, lat: list[float], errors: dict, clients: int, cpu: float) -> None:
    print(
        f"{what}: {fmt(len(lat))} requests in {secs:.1f} s = {fmt(len(lat) / secs)}/s, "
        f"p50 {percentile(lat, 50) * 1000:.1f} ms, p99 {percentile(lat, 99) * 1000:.1f} ms, "
        f"errors {sum(errors.values())} {errors or ''} ({clients} clients); "
        f"service CPU {cpu / len(lat) * 1000:.2f} ms a request",
        flush=True,
    )


# ---------------------------------------------------------------- follow-up visits (issue 30)

FOLLOW_UP_KABKOTA = "16.07"

# N accepted records in the kabupaten/kota, each linked to an entity of its own, as the linker
# would leave them (one set-based statement each; the triggers' queue rows removed after).
SEED = """
    WITH input AS (
        SELECT g, ids[g] AS id_kumkm, desa[1 + (g * 7919) % cardinality(desa)] AS kode,
               ('00000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid AS sid,
               CASE WHEN left(ids[g], 1) = 'K' THEN 'koperasi' ELSE 'umkm' END AS jenis
        FROM generate_series($3::int, $4::int) AS g, (SELECT $1::text[] AS ids, $2::text[] AS desa) a
    ), ent AS (
        INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota)
        SELECT id_kumkm, jenis, left(kode, 2), left(kode, 5) FROM input
    ), ver AS (
        INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
        SELECT sid, 1, CASE WHEN jenis = 'umkm'
                   THEN jsonb_build_object('jenis', 'umkm', 'periode', '2022', 'kode_wilayah', kode,
                        'nama_usaha', 'Usaha Bench ' || g, 'nama_pemilik', 'Pemilik ' || g,
                        'nik_pemilik', '1607014505' || lpad((g % 9999 + 1)::text, 6, '0'),
                        'alamat', 'Jl. Bench ' || g, 'kbli', '56101')
                   ELSE jsonb_build_object('jenis', 'koperasi', 'periode', '2022', 'kode_wilayah', kode,
                        'nama_koperasi', 'Koperasi Bench ' || g, 'nomor_badan_hukum', g || '/BH/XII/2010') END,
               'bench'
        FROM input
    ), sub AS (
        INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, kode_kecamatan,
                                 status, enumerator_id, captured_at, content_hash, dibuat_oleh, skala_usaha, kbli)
        SELECT sid, '2022', jenis, kode, left(kode, 2), left(kode, 5), left(kode, 8), 'diterima', 'ENUM-1',
               timestamptz '2022-06-01 08:00+07', '\\x00'::bytea, 'bench',
               CASE WHEN jenis = 'umkm' THEN 'mikro' END, CASE WHEN jenis = 'umkm' THEN '56101' END
        FROM input
    )
    INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar, kode_kabkota)
    SELECT sid, id_kumkm, '2022', 'baru', left(kode, 5) FROM input
"""


async def seed_entities(url: str, n: int, rng: random.Random) -> tuple[list[str], float]:
    """n entities in FOLLOW_UP_KABKOTA (one in fifty a koperasi), linked to one accepted record
    each: their ids, and the seconds it took."""
    import asyncpg

    from app.registry import idkumkm
    from bench.harness import desa_of
    from tests.support.common import asyncpg_params

    ids = [idkumkm.make("koperasi" if i % 50 == 0 else "umkm", i) for i in range(1, n + 1)]
    desa = desa_of(FOLLOW_UP_KABKOTA)
    conn = await asyncpg.connect(**asyncpg_params(url))
    try:
        t = time.perf_counter()
        for lo in range(0, n, 50_000):
            await conn.execute(SEED, ids, desa, lo + 1, min(lo + 50_000, n))
        await conn.execute("SELECT kumkm_daftar_segarkan(ARRAY(SELECT id_kumkm FROM kumkm))")  # the linker's trigger would
        await conn.execute("SELECT setval('kumkm_nomor', $1)", n + 1)
        await conn.execute("DELETE FROM kumkm_antrian")  # linked here: nothing for the linker
        await conn.execute("VACUUM (ANALYZE) kumkm, kumkm_tautan, submissions, submission_versions")
        return ids, time.perf_counter() - t
    finally:
        await conn.close()


async def download_list(url: str, key: str, form: str) -> dict:
    """The manifest then usaha.csv, as ODK Collect asks for them: seconds of each, the size."""
    from xml.etree.ElementTree import fromstring

    ns = "{http://openrosa.org/xforms/xformsManifest}"
    async with aiohttp.ClientSession(base_url=url, timeout=aiohttp.ClientTimeout(total=300)) as session:
        t = time.perf_counter()
        async with session.get(f"/openrosa/{key}/forms/{form}/manifest") as r:
            doc = await r.read()
        manifest_s = time.perf_counter() - t
        media = {m.findtext(f"{ns}filename"): m for m in fromstring(doc).iter(f"{ns}mediaFile")}
        link = media["usaha.csv"].findtext(f"{ns}downloadUrl")
        t = time.perf_counter()
        async with session.get(link) as r:
            data = await r.read()
        file_s = time.perf_counter() - t
    return {
        "manifest_s": manifest_s,
        "file_s": file_s,
        "bytes": len(data),
        "rows": data.count(b"\n") - 1,
        "hash": media["usaha.csv"].findtext(f"{ns}hash"),
    }


def follow_ups(args) -> None:
    from app.infra import embedded

    rng = random.Random(30)
    print(f"generating {args.requests:,} new and {args.requests:,} follow-up instances ... (service workers: {args.workers})", flush=True)
    news = [multipart(instance(record(FOLLOW_UP_KABKOTA, rng))) for _ in range(args.requests)]
    warm = [multipart(instance(record(FOLLOW_UP_KABKOTA, rng))) for _ in range(1000)]
    ctype = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "X-OpenRosa-Version": "1.0"}
    with Service(workers=args.workers) as svc:
        url = embedded.start(Path(svc.tmp) / "pgdata", cleanup_mode=None)
        ids, seeded = asyncio.run(seed_entities(url, args.entities, rng))
        print(f"seeded {len(ids):,} entities in {FOLLOW_UP_KABKOTA} (set-based) in {seeded:.1f} s", flush=True)
        # every follow-up names an entity of its own jenis, each entity once, baseVersion 1
        pools = {"umkm": [i for i in ids if i[0] == "U"], "koperasi": [i for i in ids if i[0] == "K"]}
        rng.shuffle(pools["umkm"])
        rng.shuffle(pools["koperasi"])
        follows = []
        warm_follow = []
        for n in range(args.requests + 200):
            rec = record(FOLLOW_UP_KABKOTA, rng, periode="2023")
            body = multipart(follow_up(rec, pools[rec["jenis"]].pop(), 1, "aktif"))
            (follows if n < args.requests else warm_follow).append(body)
        key = svc.key("enumerator", FOLLOW_UP_KABKOTA, "bench-pemutakhiran")

        cold = asyncio.run(download_list(svc.url, key, args.form))
        again = asyncio.run(download_list(svc.url, key, args.form))
        total = cold["manifest_s"] + cold["file_s"]
        print(
            f"entity list usaha.csv, {cold['rows']:,} entities, {cold['bytes'] / 1e6:.1f} MB: manifest (builds and hashes it) "
            f"{cold['manifest_s']:.2f} s + download {cold['file_s']:.2f} s = {total:.2f} s; unchanged again: manifest "
            f"{again['manifest_s'] * 1000:.0f} ms + download {again['file_s'] * 1000:.0f} ms (same hash: {again['hash'] == cold['hash']})",
            flush=True,
        )
        print("  target: a 100,000-entity list in < 2 s", flush=True)

        path = f"/openrosa/{key}/submission"
        asyncio.run(post_all(svc.url, path, warm, ctype, 8, 201))
        asyncio.run(post_all(svc.url, path, warm_follow, ctype, 8, 201))
        pids = svc.pids()
        totals = {"new": [0.0, [], {}, 0.0], "follow": [0.0, [], {}, 0.0]}
        rounds = 4
        size = args.requests // rounds
        for i in range(rounds):  # alternating rounds: both under the same conditions
            for what, bodies in (("new", news), ("follow", follows)) if i % 2 == 0 else (("follow", follows), ("new", news)):
                part = bodies[i * size : (i + 1) * size]
                cpu = cpu_seconds(pids)
                secs, lat, errors = asyncio.run(post_all(svc.url, path, part, ctype, args.clients, 201))
                acc = totals[what]
                acc[0] += secs
                acc[1].extend(lat)
                for k, v in errors.items():
                    acc[2][k] = acc[2].get(k, 0) + v
                acc[3] += cpu_seconds(pids) - cpu
        report("new OpenRosa submissions (pl_kumkm)", *totals["new"][:3], args.clients, totals["new"][3])
        report("follow-up submissions (pemutakhiran_kumkm)", *totals["follow"][:3], args.clients, totals["follow"][3])
        rate_new = len(totals["new"][1]) / totals["new"][0]
        rate_follow = len(totals["follow"][1]) / totals["follow"][0]
        print(f"  follow-ups at {rate_follow / rate_new * 100:.0f}% of new submissions' rate (target: within 10%)", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="bench openrosa")
    p.add_argument("--requests", type=int, default=20_000)
    p.add_argument("--clients", type=int, default=64)
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--no-json", action="store_true", help="skip the JSON comparison")
    p.add_argument("--form", choices=("pl_kumkm", "pemutakhiran_kumkm"), default="pl_kumkm")
    p.add_argument("--entities", type=int, default=100_000, help="with --form pemutakhiran_kumkm: entities seeded in 16.07")
    args = p.parse_args(argv)
    if args.form == "pemutakhiran_kumkm":
        if args.requests > args.entities * 0.9:
            p.error("--requests must be at most 90% of --entities (each follow-up names an entity of its own)")
        return follow_ups(args)
    rng = random.Random(19)
    kabkota = list(SUMSEL_2022)
    print(f"generating instances ... (service workers: {args.workers})", flush=True)
    records = [record(rng.choice(kabkota), rng) for _ in range(args.requests)]
    xml_bodies = [multipart(instance(r)) for r in records]
    json_bodies = [orjson.dumps(record(rng.choice(kabkota), rng)) for _ in range(args.requests)]
    warm = [multipart(instance(record("16.07", rng))) for _ in range(1000)]
    ctype = {"content-type": f"multipart/form-data; boundary={BOUNDARY}", "X-OpenRosa-Version": "1.0"}

    with Service(workers=args.workers) as svc:
        key = svc.key("enumerator", "16", "bench-openrosa")
        path = f"/openrosa/{key}/submission"
        # warm-up: connection pool, wilayah index, the form's conversion, prepared statements
        asyncio.run(post_all(svc.url, path, warm, ctype, 8, 201))
        pids = svc.pids()
        cpu = cpu_seconds(pids)
        secs, lat, errors = asyncio.run(post_all(svc.url, path, xml_bodies, ctype, args.clients, 201))
        report("OpenRosa submission (multipart XML)", secs, lat, errors, args.clients, cpu_seconds(pids) - cpu)
        print("  target >= 1.000/s with p99 < 150 ms; ODK Central v2026.2.2: ~230/s, p99 ~365 ms", flush=True)
        if not args.no_json:
            headers = {"Authorization": f"Bearer {key}", "content-type": "application/json"}
            cpu = cpu_seconds(pids)
            secs, lat, errors = asyncio.run(post_all(svc.url, "/api/v1/submissions", json_bodies, headers, args.clients, 201))
            report("JSON single POST, same service (comparison)", secs, lat, errors, args.clients, cpu_seconds(pids) - cpu)


if __name__ == "__main__":
    main()
