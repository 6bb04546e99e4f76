"""What the linker's queue costs a decision statement (the part `antrian` of the one trigger on
submissions, migration 0019; before it the trigger `submissions_kumkm_upd` of 0011): PostgreSQL
backend CPU (from /proc) of 1,000-row status UPDATEs, as a batch decision makes, with the
trigger keeping the queue and without it (bench.pemicu), interleaved in rounds on one connection.

    ./dev bench registry-trigger [--records 100000] [--rounds 4] [--statements 20]

The records are bench.registry's generated ones (all queued rows removed first); each
statement flips the status of 1,000 random records between `masuk` and `diterima`, so with the
trigger every one of them is queued (the most the trigger can do per statement)."""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
from pathlib import Path

import asyncpg

from bench import capaian as cap
from bench import pemicu
from bench import registry as reg

FLIP = (
    "UPDATE submissions SET status = CASE status WHEN 'masuk' THEN 'diterima' ELSE 'masuk' END, diperbarui_pada = now() "
    "WHERE submission_id = ANY($1::uuid[])"
)


def _cpu(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    f = raw[raw.rfind(")") + 2 :].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


async def run(args) -> dict:
    from app.infra import db, embedded

    tmp = Path(tempfile.mkdtemp(prefix="kumkm-bench-trigger-"))
    url = embedded.start(tmp / "pgdata", cleanup_mode="delete", database="kumkm")
    await asyncio.to_thread(db.migrate, url)
    conn = await asyncpg.connect(**cap._pg_params(url))
    try:
        await reg.load(conn, args.records, 250_000)
        await conn.execute(pemicu.tanpa("antrian"))
        await conn.execute("UPDATE submissions SET status = 'masuk'")
        await conn.execute("TRUNCATE kumkm_antrian")
        await conn.execute("VACUUM ANALYZE submissions")
        ids = [r[0] for r in await conn.fetch("SELECT submission_id FROM submissions ORDER BY random()")]
        chunks = [ids[i : i + 1000] for i in range(0, len(ids), 1000)]
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        out: dict = {"with": [], "without": []}
        i = 0
        for _ in range(args.rounds):
            for mode in ("with", "without"):
                await conn.execute(pemicu.UTUH if mode == "with" else pemicu.tanpa("antrian"))
                before, n = _cpu(pid), 0
                for _ in range(args.statements):
                    part = chunks[i % len(chunks)]
                    i += 1
                    async with conn.transaction():
                        await conn.execute(FLIP, part)
                    n += len(part)
                out[mode].append(round((_cpu(pid) - before) / n * 1e6, 1))
            await conn.execute("TRUNCATE kumkm_antrian")
        await conn.execute(pemicu.UTUH)
        return {"backend_cpu_us_per_row": out}
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.registry_trigger", description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=100_000)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--statements", type=int, default=20, help="1,000-row statements per mode per round")
    print(asyncio.run(run(p.parse_args(argv))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
