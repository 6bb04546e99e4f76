"""Cek KUMKM for partner programs (issue 30 section 2, docs/mitra.md): single look-ups at a
fixed rate, and a 10,000-row batch file, against a registry of N entities.

    python -m bench.mitra [--entities 200000] [--rate 500] [--seconds 10] [--batch-rows 10000]

1. **Seeding.** A fresh embedded PostgreSQL; N entities made set-based straight in the
   registry's tables, as the linker leaves them: one accepted record each (`submissions`,
   `submission_versions`), its entity (`kumkm`, its id from app.registry.idkumkm), its link
   (`kumkm_tautan`, with the owner's NIK) and its hard identifier (`kumkm_pengenal`). Entity u is
   a koperasi when u % 10 == 9 (NIK koperasi 3200000000000000 + u), else a UMKM with NIB
   9100000000000 + u unless u % 10 == 5, and owner NIK 1600000000000000 + u with the name of
   bench/registry.py's generator. The linker's queue is emptied (the links are made).
2. **Single look-ups.** `kumkm serve` on it and a mitra key (`kumkm apikey create --role mitra`
   with a quota and rate that do not bound the bench); requests arrive at `--rate` per second
   for `--seconds` whatever the answers (open loop; latency from each request's planned time),
   in the mix 60% NIB of a registered UMKM, 20% NIK pemilik + nama usaha, 10% NIK koperasi,
   10% a NIB no entity holds. Every answer is checked against the known one.
3. **A batch.** A file of `--batch-rows` rows in the same mix, answered as CSV (and as xlsx):
   wall time per file, and each row's outcome checked.

Before the measured look-ups, `--warmup` seconds (3) of look-ups at the same rate on the same
client connections: the measurement is of a service in use (warm pooled connections and their
backends' plans, sockets kept alive), not of its first second.

`--baseline` also fires GET /api/v1/me at the same rate: on a shared machine, the floor any keyed
request with one query gets at that moment.

`--statements N` (before the service starts): N single look-ups of the mix on one connection, one
after another, as the one statement of app/mitra/queries.py (SATU) and as the three statements
a look-up took before it (BATAS, CARI, CATAT, which the batch still runs), alternating in rounds
of N/4: wall time per look-up (round trips, PostgreSQL's work, the commit's disk flush) without
HTTP or concurrency.

Targets (issue 30): single look-ups 500/s with p99 < 20 ms; a 10,000-row batch < 5 s."""

from __future__ import annotations

import argparse
import asyncio
import atexit
import csv
import gc
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import asyncpg
import httpx

from bench import capaian as cap
from bench.harness import at_rate, percentile
from bench.registry import A, B, nama_usaha

ROOT = Path(__file__).resolve().parent.parent

_UUID = "('00000000-0000-4000-8000-' || lpad(to_hex(b.u + 1), 12, '0'))::uuid"

SEED = f"""
    INSERT INTO kumkm (id_kumkm, jenis, kode_provinsi, kode_kabkota)
    SELECT b.id_kumkm, b.jenis, d.prov, d.kab FROM bench_u b JOIN bench_desa d ON d.i = (b.u * 7919) % $1;

    INSERT INTO submissions (
        submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota, kode_kecamatan, status,
        enumerator_id, captured_at, content_hash, dibuat_oleh, skala_usaha, kbli, sektor, status_tempat, modal_usaha,
        punya_nib, platform_digital, izin_usaha, jenis_koperasi, kewenangan, aktif, punya_nik_koperasi)
    SELECT {_UUID}, '2022', b.jenis, d.kode, d.prov, d.kab, d.kec, 'diterima',
           'ENUM-' || (b.u % 5000), '2022-06-01 09:00+07', '\\x00'::bytea, 'bench',
           CASE WHEN b.jenis = 'umkm' THEN (ARRAY['mikro', 'kecil', 'menengah'])[b.u % 3 + 1] END,
           CASE WHEN b.jenis = 'umkm' THEN '56101' END, CASE WHEN b.jenis = 'umkm' THEN 'I' END,
           CASE WHEN b.jenis = 'umkm' THEN 'menetap' END, CASE WHEN b.jenis = 'umkm' THEN 25000000 END,
           b.nib IS NOT NULL, false, false,
           CASE WHEN b.jenis = 'koperasi' THEN 'jasa' END, CASE WHEN b.jenis = 'koperasi' THEN 'kabkota' END,
           CASE WHEN b.jenis = 'koperasi' THEN true END, CASE WHEN b.jenis = 'koperasi' THEN true END
    FROM bench_u b JOIN bench_desa d ON d.i = (b.u * 7919) % $1;

    INSERT INTO submission_versions (submission_id, version, data, dibuat_oleh)
    SELECT {_UUID}, 1,
           jsonb_strip_nulls(jsonb_build_object('periode', '2022', 'jenis', b.jenis,
               'nama_usaha', CASE WHEN b.jenis = 'umkm' THEN b.nama END,
               'nama_koperasi', CASE WHEN b.jenis = 'koperasi' THEN 'Koperasi ' || b.nama END,
               'nama_pemilik', 'Pemilik ' || b.nik, 'nik_pemilik', CASE WHEN b.jenis = 'umkm' THEN b.nik END,
               'nib', b.nib, 'nik_koperasi', b.nik_koperasi, 'alamat', 'Jl. Bench')),
           'bench'
    FROM bench_u b;

    INSERT INTO kumkm_tautan (submission_id, id_kumkm, periode, dasar, kode_kabkota, nik_pemilik)
    SELECT {_UUID}, b.id_kumkm, '2022', 'baru', d.kab, CASE WHEN b.jenis = 'umkm' THEN b.nik END
    FROM bench_u b JOIN bench_desa d ON d.i = (b.u * 7919) % $1;

    INSERT INTO kumkm_pengenal (jenis_pengenal, nilai, id_kumkm)
    SELECT 'nib', b.nib, b.id_kumkm FROM bench_u b WHERE b.nib IS NOT NULL
    UNION ALL
    SELECT 'nik_koperasi', b.nik_koperasi, b.id_kumkm FROM bench_u b WHERE b.nik_koperasi IS NOT NULL;

    DELETE FROM kumkm_antrian;
"""


def jenis(u: int) -> str:
    return "koperasi" if u % 10 == 9 else "umkm"


def nib(u: int) -> str | None:
    return None if jenis(u) == "koperasi" or u % 10 == 5 else str(9100000000000 + u)


def nik(u: int) -> str:
    return str(1600000000000000 + u)


def nik_koperasi(u: int) -> str | None:
    return str(3200000000000000 + u) if jenis(u) == "koperasi" else None


async def seed(conn, n: int) -> dict:
    from app.registry import idkumkm

    await conn.execute(cap.DESA)
    n_desa = await conn.fetchval("SELECT count(*) FROM bench_desa")
    t = time.perf_counter()
    await conn.execute("CREATE UNLOGGED TABLE bench_u (u int, id_kumkm text, jenis text, nib text, nik text, nik_koperasi text, nama text)")
    rows = [(u, idkumkm.make(jenis(u), u + 1), jenis(u), nib(u), nik(u), nik_koperasi(u), nama_usaha(u)) for u in range(n)]
    await conn.copy_records_to_table("bench_u", records=rows)
    async with conn.transaction():
        await conn.execute(SEED.replace("$1", str(n_desa)))
    seconds = time.perf_counter() - t
    # Every table the seed wrote, the triggers' kept tables and the emptied linker queue too: a
    # registry loaded in seconds owes the vacuum a real one paid over years, and an autovacuum
    # worker paying it during the measurement took half a core from it (seen per process).
    await conn.execute("VACUUM (ANALYZE)")
    await conn.execute("CHECKPOINT")
    ids = {r["u"]: r["id_kumkm"] for r in await conn.fetch("SELECT u, id_kumkm FROM bench_u")}
    await conn.execute("DROP TABLE bench_u, bench_desa")
    return {"entities": n, "seconds": round(seconds, 1), "ids": ids}


def question(rng: random.Random, n: int) -> tuple[dict, int | None]:
    """A question of the mix, and the entity (u) it must find (None: not registered)."""
    pick = rng.random()
    if pick < 0.6:
        u = rng.randrange(n)
        while nib(u) is None:
            u = rng.randrange(n)
        return {"nib": nib(u)}, u
    if pick < 0.8:
        u = rng.randrange(n)
        while jenis(u) != "umkm":
            u = rng.randrange(n)
        return {"nik_pemilik": nik(u), "nama_usaha": nama_usaha(u).upper()}, u
    if pick < 0.9:
        u = rng.randrange(n // 10) * 10 + 9
        return ({"nik_koperasi": nik_koperasi(u)}, u) if u < n else ({"nib": "9000000000001"}, None)
    return {"nib": str(9000000000000 + rng.randrange(10**9))}, None


def cpu_seconds(pgdata: Path) -> tuple[float, float]:
    """CPU seconds used so far by the service (this process's children: `kumkm serve` and its
    workers) and by the PostgreSQL server (the postmaster of postmaster.pid and its backends)."""
    import psutil

    def total(procs) -> float:
        out = 0.0
        for proc in procs:
            try:
                t = proc.cpu_times()
                out += t.user + t.system
            except psutil.NoSuchProcess:
                pass
        return out

    postmaster = psutil.Process(int((pgdata / "postmaster.pid").read_text().splitlines()[0]))
    server = [postmaster, *postmaster.children(recursive=True)]
    theirs = {p.pid for p in server}
    service = [p for p in psutil.Process().children(recursive=True) if p.pid not in theirs]
    return total(service), total(server)


def session(url: str) -> aiohttp.ClientSession:
    """The client of the single look-ups: sockets enough that it never becomes the queue, kept
    alive across the warm-up and the measurements, as a partner's program keeps its
    connections (a run that opened hundreds of sockets in its first second measured the
    handshakes)."""
    return aiohttp.ClientSession(base_url=url, connector=aiohttp.TCPConnector(limit=1024), timeout=aiohttp.ClientTimeout(total=60))


async def singles(s: aiohttp.ClientSession, key: str, n: int, ids: dict, rate: float, seconds: float, seed_: int, me: bool = False) -> dict:
    """Open loop, as bench/load.py: one scheduler fires each request at its planned time on
    session `s`; latency from the plan. `me`: GET /api/v1/me instead (the service's floor for a
    keyed request with one query, on the same machine at the same moment)."""
    rng = random.Random(seed_)
    total = int(rate * seconds)
    plan = [question(rng, n) for _ in range(total)]
    latencies: list[float] = []
    by_second: dict[int, list[float]] = {}  # second of the plan -> latencies (where a p99 comes from)
    wrong = errors = 0
    headers = {"Authorization": f"Bearer {key}"}

    async def one(i: int, planned: float) -> None:
        nonlocal wrong, errors
        q, u = plan[i]
        try:
            call = s.get("/api/v1/me", headers=headers) if me else s.post("/api/v1/kumkm/cek", json={"tujuan": "kur", **q}, headers=headers)
            async with call as r:
                body = await r.json() if r.status == 200 else None
                status = r.status
        except (TimeoutError, aiohttp.ClientError):
            errors += 1
            return
        latencies.append(time.monotonic() - planned)
        by_second.setdefault(int(i / rate), []).append(latencies[-1])
        if status != 200 or body is None:
            errors += 1
            return
        if not me and (body["terdaftar"] != (u is not None) or (u is not None and body["id_kumkm"] != ids[u])):
            wrong += 1

    # The client's own heap (the registry's ids, the plan) out of the collector's reach: a full
    # collection over it stalled this loop ~70 ms in mid-run, and an open loop counts that
    # stall against every request planned during it (the service's latency, wrongly).
    gc.collect()
    gc.freeze()
    wall, lag = await at_rate(total, rate, lambda i, at, _: one(i, at))
    latencies.sort()
    return {
        "requests": total,
        "offered_per_second": rate,
        "achieved_per_second": round(len(latencies) / wall),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else None,
        "scheduler_lag_max_ms": round(lag * 1000, 1),
        "p99_ms_per_second": [round(percentile(sorted(v), 99) * 1000, 1) for _, v in sorted(by_second.items())],
        "errors": errors,
        "wrong_answers": wrong,
    }


async def batch(client: httpx.AsyncClient, key: str, n: int, ids: dict, rows: int, fmt: str, seed_: int) -> dict:
    rng = random.Random(seed_)
    plan = [question(rng, n) for _ in range(rows)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    cols = ["nib", "nik_koperasi", "nik_pemilik", "nama_usaha"]
    w.writerow(cols)
    for q, _ in plan:
        w.writerow([q.get(c, "") for c in cols])
    data = buf.getvalue().encode()
    t = time.perf_counter()
    r = await client.post(
        "/api/v1/kumkm/cek/batch",
        params={"tujuan": "kur", "format": fmt},
        content=data,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
    )
    seconds = time.perf_counter() - t
    assert r.status_code == 200, r.text[:500]
    wrong = None
    if fmt == "csv":
        got = list(csv.DictReader(io.StringIO(r.text)))
        wrong = sum(
            1
            for (q, u), row in zip(plan, got, strict=True)
            if (row["hasil"] == "terdaftar") != (u is not None) or (u is not None and row["id_kumkm"] != ids[u])
        )
    return {
        "rows": rows,
        "format": fmt,
        "bytes_in": len(data),
        "bytes_out": len(r.content),
        "seconds": round(seconds, 2),
        "wrong_answers": wrong,
    }


async def statements(url: str, n: int, entities: int) -> dict:
    """One look-up as one statement against the same look-up as three, one after another on one
    connection, alternating in four rounds each; microseconds per look-up (median of rounds)."""
    import orjson

    from app.mitra import queries, rules, service
    from app.security.principal import Principal

    conn = await asyncpg.connect(**cap._pg_params(url))
    try:
        key = await conn.fetchrow("SELECT id, identity_id FROM api_keys WHERE name = 'bench-mitra'")
        who = Principal(
            key["id"], "bench-mitra", "mitra", None, identity=key["identity_id"], tujuan=("kur",), kuota_harian=10**9, per_detik=1_000_000
        )
        rng = random.Random(7)
        asked = [rules.periksa({"tujuan": "kur", **question(rng, entities)[0]}, who.tujuan) for _ in range(n)]

        async def satu(q) -> None:
            await conn.fetch(queries.SATU, orjson.dumps([service._soal(0, who, q)]).decode(), service.ENDPOINT)

        async def tiga(q) -> None:
            await conn.fetchrow(queries.BATAS, who.identity, 1, 1, who.kuota_harian, who.per_detik)
            rows = await conn.fetch(queries.CARI, [0], [q.dengan], [q.nilai])
            hasil = "terdaftar" if rows else "tidak_terdaftar"
            detail = orjson.dumps({"tujuan": q.tujuan, "hasil": hasil, "dengan": q.dengan}).decode()
            await conn.execute(
                queries.CATAT,
                who.id,
                who.name,
                who.role,
                service.ENDPOINT,
                [detail],
                who.identity,
                [q.tujuan],
                [int(hasil == "terdaftar")],
                [int(hasil != "terdaftar")],
                [0],
            )

        per: dict[str, list[float]] = {"one_statement": [], "three_statements": []}
        chunk = max(n // 4, 1)
        for r in range(4):
            part = asked[r * chunk : (r + 1) * chunk]
            for name, fn in (
                (("three_statements", tiga), ("one_statement", satu)) if r % 2 else (("one_statement", satu), ("three_statements", tiga))
            ):
                t = time.perf_counter()
                for q in part:
                    await fn(q)
                per[name].append((time.perf_counter() - t) / len(part) * 1e6)
        return {name: {"us_per_lookup": round(sorted(v)[len(v) // 2]), "rounds": [round(x) for x in v]} for name, v in per.items()}
    finally:
        await conn.close()


def make_key(url: str, quota: int) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "app.cli", "apikey", "create", "--role", "mitra", "--name", "bench-mitra"]
        + ["--purpose", "kur", "--quota", str(quota), "--rate", "1000000"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


async def run(args) -> dict:
    from app.infra import db, embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-mitra-"))
    atexit.register(cap._rmdir_quietly, tmp)
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**cap._pg_params(url))
    try:
        print(f"seeding {args.entities:,} entities", flush=True)
        seeded = await seed(conn, args.entities)
        ids = seeded.pop("ids")
        print(f"  {seeded['seconds']} s", flush=True)
    finally:
        await conn.close()
    key = make_key(url, 10**9)
    report: dict = {"seed": seeded}
    if args.statements:
        print(f"statements: {args.statements:,} look-ups, one statement against three, one at a time", flush=True)
        report["statements"] = await statements(url, args.statements, args.entities)
        print(f"  {report['statements']}", flush=True)
    async with cap.served(url) as client, session(str(client.base_url)) as s:
        # at the measured rate, so the service's pooled connections, its backends' plans and
        # the client's sockets are the ones a service in use has
        print(f"warming up: {args.rate:g}/s for {args.warmup:g} s", flush=True)
        await singles(s, key, args.entities, ids, args.rate, args.warmup, 1)
        print(f"single look-ups: {args.rate:g}/s for {args.seconds:g} s (open loop)", flush=True)
        cpu0 = cpu_seconds(tmp / "pgdata")
        report["single"] = await singles(s, key, args.entities, ids, args.rate, args.seconds, 2)
        cpu = cpu_seconds(tmp / "pgdata")
        done = report["single"]["requests"] - report["single"]["errors"]
        report["single"]["cpu_us_per_lookup"] = {
            "service": round((cpu[0] - cpu0[0]) / done * 1e6),
            "postgresql": round((cpu[1] - cpu0[1]) / done * 1e6),
        }
        print(f"  {report['single']}", flush=True)
        if args.baseline:
            print(f"baseline: GET /api/v1/me at {args.rate:g}/s for {args.seconds:g} s", flush=True)
            cpu0 = cpu_seconds(tmp / "pgdata")
            report["baseline_me"] = await singles(s, key, args.entities, ids, args.rate, args.seconds, 3, me=True)
            cpu = cpu_seconds(tmp / "pgdata")
            done = report["baseline_me"]["requests"] - report["baseline_me"]["errors"]
            report["baseline_me"]["cpu_us_per_request"] = {
                "service": round((cpu[0] - cpu0[0]) / done * 1e6),
                "postgresql": round((cpu[1] - cpu0[1]) / done * 1e6),
            }
            print(f"  {report['baseline_me']}", flush=True)
        report["batch"] = []
        for i, fmt in enumerate(["csv", "csv", "csv", "xlsx"]):
            b = await batch(client, key, args.entities, ids, args.batch_rows, fmt, 10 + i)
            print(f"  batch {b}", flush=True)
            report["batch"].append(b)
    single = report["single"]
    csv_runs = [b["seconds"] for b in report["batch"] if b["format"] == "csv"]
    report["targets"] = {
        "single_500_per_second": single["achieved_per_second"] >= 0.98 * 500 and args.rate >= 500 and single["errors"] == 0,
        "single_p99_lt_20ms": single["p99_ms"] < 20,
        "batch_10000_lt_5s": args.batch_rows >= 10_000 and max(csv_runs) < 5,
        "answers_exact": single["wrong_answers"] == 0 and all(b["wrong_answers"] in (0, None) for b in report["batch"]),
    }
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.mitra", description=__doc__.split("\n\n")[0])
    p.add_argument("--entities", type=int, default=200_000, help="entities in the registry")
    p.add_argument("--rate", type=float, default=500, help="single look-ups per second offered")
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--warmup", type=float, default=3, help="seconds of look-ups at --rate before the measured ones")
    p.add_argument("--batch-rows", type=int, default=10_000)
    p.add_argument("--baseline", action="store_true", help="also GET /api/v1/me at the same rate (the machine's floor now)")
    p.add_argument("--statements", type=int, default=0, help="also time N look-ups as one statement and as three, one at a time")
    p.add_argument("--out", help="the JSON report (default bench/results/mitra-<entities>.json)")
    args = p.parse_args(argv)
    assert len(A) * len(B) > 0
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2, default=str)
    print(text)
    out = Path(args.out or ROOT / "bench" / "results" / f"mitra-{args.entities}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0 if report["targets"]["answers_exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
