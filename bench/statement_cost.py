"""PostgreSQL CPU of the single-record ingest statement, part by part (issue 16).

Runs the service's own ingest statement (app.submissions.queries.INSERT_MANY_NATIVE) one
record at a time on one connection, as a single POST does, and reads the backend's CPU time
from /proc before and after; then the same with one part taken away at a time, to show what
each part costs. Rows are copies of records the service stored (new submission_id each).

    ./dev bench statement-cost [--n 3000] [--rounds 3] [--batch 1] [--pemicu]

`--pemicu` compares instead the ways of keeping the counts on submissions (migration 0019): its
one trigger per event with one statement, the same with a statement per table, 0018's four
triggers, none, and the one trigger keeping one table at a time; each also prices a one-record
decision UPDATE.

Variants run interleaved in rounds (the machine is shared: noise moves all of them alike).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time

import asyncpg
import orjson

from app.record import ROW_COLUMNS
from app.submissions import queries
from bench import pemicu
from bench.harness import SUMSEL_2022, Service, record
from bench.ingest import batches, pg_params, post_batches

_COLS = [c for c, _ in ROW_COLUMNS if c not in ("submission_id", "content_hash")]
SOURCE = (
    f"SELECT json_build_object({', '.join(f'{chr(39)}{c}{chr(39)}, s.{c}' for c in _COLS)}, "
    "'content_hash', encode(s.content_hash, 'hex'), 'data', v.data)::text "
    "FROM submissions s JOIN submission_versions v USING (submission_id) LIMIT $1"
)


KINERJA_INDEX = (
    "CREATE INDEX submissions_kinerja ON submissions (periode, kode_provinsi, enumerator_id, captured_at) "
    "INCLUDE (kode_kabkota, dibuat_pada, nik_kunci, dibuat_oleh_key)"
)


def _without(sql: str, cte: str) -> str:
    """The statement without one of its modifying CTEs (`cte` names it: ver, rec, his, chg)."""
    start = sql.index(f"    ), {cte} AS (")
    end = sql.index("    ), ", start + 1) if sql.find("    ), ", start + 1) != -1 else sql.index("    )\n", start)
    return sql[:start] + sql[end:]


_PEMICU = pemicu.MIGRATION
_OFF = "ALTER TABLE submissions DISABLE TRIGGER submissions_pemicu_{}"
_ON = "ALTER TABLE submissions ENABLE TRIGGER submissions_pemicu_{}"
EVENTS = ("ins", "upd", "del")


def _without_part(part: str) -> tuple[list[str], list[str]]:
    """The one trigger (migration 0019) keeping every table but `part`, then whole again."""
    return [pemicu.tanpa(part)], [pemicu.UTUH]


def variants() -> dict[str, tuple[str, list[str], list[str]]]:
    """name -> (statement, setup SQL, undo SQL)."""
    full = queries.INSERT_MANY_NATIVE
    no_dup = full[: full.index("           (SELECT array_agg")] + "NULL AS duplikat_dengan\n    FROM ins JOIN input USING (submission_id)\n"
    record_only = no_dup
    for cte in ("ver", "rec", "his", "chg"):
        record_only = _without(record_only, cte)
    return {
        "full statement": (full, [], []),
        "without the first version (submission_versions)": (_without(full, "ver"), [], []),
        "without the stored line (sync_records)": (_without(full, "rec"), [], []),
        "without the history entry": (_without(full, "his"), [], []),
        "without the change entry": (_without(full, "chg"), [], []),
        "without the likely-duplicate lookup": (no_dup, [], []),
        "without the status counters (rekap_status)": (full, *_without_part("rekap_status")),
        "the record row alone (no trigger either)": (record_only, [_OFF.format("ins")], [_ON.format("ins")]),
        # the enumerator table's share (migration 0017, docs/kampanye.md): its counters and its index
        "without the enumerator counters (kinerja_enumerator)": (full, *_without_part("kinerja")),
        "without the enumerator index (submissions_kinerja)": (full, ["DROP INDEX submissions_kinerja"], [KINERJA_INDEX]),
    }


def pemicu_variants() -> dict[str, tuple[str, list[str], list[str]]]:
    """`--pemicu`: the kept tables' triggers on submissions as migration 0019 made them (one per
    event, one statement), as one function with a statement per table, as 0018 left them (four
    triggers on insert and update), and none at all."""
    full = queries.INSERT_MANY_NATIVE
    off = [_OFF.format(e) for e in EVENTS]
    on = [_ON.format(e) for e in EVENTS]
    return {
        "one trigger, one statement (0019)": (full, [], []),
        "one trigger, a statement per table": (full, [_PEMICU.satu_pemicu(terpisah=True)], [_PEMICU.satu_pemicu()]),
        "one trigger, one statement, x not materialized": (
            full,
            [_PEMICU.satu_pemicu().replace("x AS MATERIALIZED", "x AS")],
            [_PEMICU.satu_pemicu()],
        ),
        "four triggers (0018)": (full, [*off, _PEMICU.LAMA], [_PEMICU.TANPA_LAMA, *on]),
        "no trigger (nothing kept)": (full, off, on),
        # what each part of the one statement costs alone, and the trigger doing nothing
        **{
            f"one trigger keeping {' '.join(parts) or 'nothing'}": (full, [_PEMICU.satu_pemicu(parts)], [_PEMICU.satu_pemicu()])
            for parts in ((), ("rekap_status",), ("rekap_harian",), ("kinerja",), ("antrian",))
        },
    }


async def measure(
    params: dict, sql: str, rows: list[dict], setup: list[str], undo: list[str], batch: int, decisions: bool = False
) -> tuple[float, float, float]:
    conn = await asyncpg.connect(**params)
    try:
        for s in setup:
            await conn.execute(s)
        stmt = await conn.prepare(sql)
        backend = _Cpu(await conn.fetchval("SELECT pg_backend_pid()"))
        for r in rows[:50]:  # plan cache warm
            await stmt.fetch(orjson.dumps([{**r, "submission_id": _uuid()}]).decode())
        made = [[{**r, "submission_id": _uuid()} for r in rows[i : i + batch]] for i in range(0, len(rows), batch)]
        bodies = [orjson.dumps(b).decode() for b in made]
        c0, t0 = backend.seconds(), time.perf_counter()
        for body in bodies:
            await stmt.fetch(body)  # the rows carry everything, their actor included
        c1, t1 = backend.seconds(), time.perf_counter()
        upd = 0.0
        if decisions:
            # a decision's UPDATE of one record (the status alone: what the triggers see of it)
            decide = await conn.prepare(
                "UPDATE submissions SET status = 'diterima', version = version + 1, diperbarui_pada = now() WHERE submission_id = $1::uuid"
            )
            ids = [r["submission_id"] for b in made for r in b]
            for sid in ids[:50]:
                await decide.fetch(sid)
            d0 = backend.seconds()
            for sid in ids[50:]:
                await decide.fetch(sid)
            upd = (backend.seconds() - d0) / max(1, len(ids) - 50)
        for s in undo:
            await conn.execute(s)
        return (c1 - c0) / len(rows), (t1 - t0) / len(rows), upd
    finally:
        await conn.close()


class _Cpu:
    """A process's CPU time from /proc/PID/schedstat (nanoseconds, as the scheduler accounts it),
    not the clock-tick counters of /proc/PID/stat: a one-record statement is a fraction of a tick."""

    def __init__(self, pid: int) -> None:
        self.path = f"/proc/{pid}/schedstat"

    def seconds(self) -> float:
        with open(self.path) as f:
            return int(f.read().split()[0]) / 1e9


_rng = random.Random(16)


def _uuid() -> str:
    import uuid

    return str(uuid.UUID(int=_rng.getrandbits(128), version=4))


async def run(params: dict, n: int, rounds: int, batch: int, pemicu: bool = False, only: list[str] | None = None) -> None:
    conn = await asyncpg.connect(**params)
    rows = [
        {**orjson.loads(t), "actor": "bench", "actor_key": None, "actor_role": "enumerator"}
        for t in await conn.fetchval(f"SELECT array_agg(t) FROM ({SOURCE}) x(t)", n)
    ]
    await conn.close()
    results: dict[str, list[tuple[float, float, float]]] = {}
    chosen = pemicu_variants() if pemicu else variants()
    if only:
        chosen = {k: v for i, (k, v) in enumerate(chosen.items()) if i == 0 or any(o in k for o in only)}
    base_name = next(iter(chosen))
    for _ in range(rounds):
        for name, (sql, setup, undo) in chosen.items():
            results.setdefault(name, []).append(await measure(params, sql, rows, setup, undo, batch, decisions=pemicu))
    base = statistics.median(c for c, _, _ in results[base_name])
    for name, got in results.items():
        cpu = statistics.median(c for c, _, _ in got)
        wall = min(w for _, w, _ in got)
        line = (
            f"  {name:<52} backend CPU {cpu * 1e6:6.1f} us a record (median of {rounds}; "
            f"{(cpu - base) * 1e6:+6.1f} us vs {base_name})  wall {wall * 1e6:6.1f} us"
        )
        if pemicu:
            ups = sorted(u for _, _, u in got)
            line += f"; a one-record decision UPDATE {ups[0] * 1e6:6.1f} us (min; median {ups[len(ups) // 2] * 1e6:6.1f})"
        print(line, flush=True)


# The record row alone, inserted row by row in one DO block (one statement each, so the statement
# trigger fires each time): no ingest statement around it, no commit, no client: what the trigger
# adds to a one-row statement, with less of the noise of a shared machine. Its upserts hit the
# same counter rows in one transaction, which lengthens their chains: a bound, not the service's.
LOOP = """DO $$ DECLARE r submissions; BEGIN SELECT * INTO r FROM submissions LIMIT 1;
    FOR i IN 1..{n} LOOP r.submission_id := gen_random_uuid(); INSERT INTO submissions SELECT r.*; END LOOP; END $$"""


async def loop_costs(params: dict, n: int, rounds: int, only: list[str] | None) -> None:
    chosen = {k: v[1:] for k, v in pemicu_variants().items() if "materialized" not in k}
    if only:
        chosen = {k: v for i, (k, v) in enumerate(chosen.items()) if i == 0 or any(o in k for o in only)}
    got: dict[str, list[float]] = {k: [] for k in chosen}
    conn = await asyncpg.connect(**params)
    try:
        cpu = _Cpu(await conn.fetchval("SELECT pg_backend_pid()"))
        for _ in range(rounds):
            for name, (setup, undo) in chosen.items():
                for sql in setup:
                    await conn.execute(sql)
                await conn.execute(LOOP.format(n=200))
                c0 = cpu.seconds()
                await conn.execute(LOOP.format(n=n))
                got[name].append((cpu.seconds() - c0) / n)
                for sql in undo:
                    await conn.execute(sql)
    finally:
        await conn.close()
    print(f"the record row alone, {n} single-row INSERTs in a DO block per variant:", flush=True)
    for name, v in got.items():
        print(f"  {name:<52} backend CPU {statistics.median(v) * 1e6:6.1f} us a row (median of {rounds})", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="bench statement-cost")
    p.add_argument("--n", type=int, default=3000, help="statements per variant per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--batch", type=int, default=1, help="records per statement (a batch POST sends up to 1000; the bench's batches are 500)"
    )
    p.add_argument(
        "--pemicu",
        action="store_true",
        help="compare the triggers that keep the counts (migration 0019's one per event, a statement per table, 0018's four, none)",
    )
    p.add_argument("--only", action="append", metavar="TEXT", help="run only the variants whose name contains TEXT (and the first)")
    args = p.parse_args(argv)
    rng = random.Random(2022)
    kabkota = list(SUMSEL_2022)
    with Service() as svc:
        key = svc.key("enumerator", "16", "bench-enum")
        asyncio.run(post_batches(svc.url, key, batches([record(rng.choice(kabkota), rng) for _ in range(args.n)], 500), 2))
        print(f"ingest statement, {args.batch} record(s) per statement, {args.n} records per variant:", flush=True)
        asyncio.run(run(pg_params(svc.tmp), args.n, args.rounds, args.batch, args.pemicu, args.only))
        if args.pemicu:
            asyncio.run(loop_costs(pg_params(svc.tmp), 3000, max(args.rounds, 6), args.only))


if __name__ == "__main__":
    main()
