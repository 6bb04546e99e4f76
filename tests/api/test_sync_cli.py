"""`kumkm export`, `kumkm import` and `kumkm sync pull`, run as a user runs them."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from app import cli
from tests.support.common import auth, eventually
from tests.support.factories import koperasi, umkm
from tests.support.helpers import post_records
from tests.support.sync_helpers import SNAPSHOT, db_changes, key_of, parse_stream, raw_decide

KUMKM = str(Path(sys.executable).with_name("kumkm"))


def run_cli(*args, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([KUMKM, *args], capture_output=True, text=True, env=env, timeout=300)


async def service_records(client, key, **params) -> list[dict]:
    r = await client.get(SNAPSHOT, params=params, headers=auth(key))
    assert r.status_code == 200
    return parse_stream(r.text)[0]


async def test_export_ndjson_csv_parquet_equal_the_service(client, enum_key, plain_admin, database_url, pg, tmp_path):
    await post_records(client, enum_key, 5)
    r = await client.post("/api/v1/submissions", json=koperasi(lokasi={"lat": -2.98765, "lon": 104.75432}), headers=auth(enum_key))
    assert r.status_code == 201
    await post_records(client, enum_key, 2, periode="2023")
    expected = await service_records(client, plain_admin, periode="2022")
    assert len(expected) == 6

    out = tmp_path / "r.ndjson"
    p = await asyncio.to_thread(
        run_cli, "export", "--periode", "2022", "--format", "ndjson", "--out", str(out), "--as", "operator", database_url=database_url
    )
    assert p.returncode == 0, p.stderr
    assert "exported 6 records" in p.stdout and "cursor" in p.stdout
    assert [orjson.loads(x) for x in out.read_text().splitlines()] == expected

    out = tmp_path / "r.csv"
    p = await asyncio.to_thread(run_cli, "export", "--periode", "2022", "--format", "csv", "--out", str(out), database_url=database_url)
    assert p.returncode == 0, p.stderr
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["submission_id"] for r in rows] == [e["submission_id"] for e in expected]
    kop = next(r for r in rows if r["jenis"] == "koperasi")
    assert kop["lokasi_lat"] == "-2.98765" and kop["aktif"] == "true" and kop["nama_usaha"] == ""

    out = tmp_path / "r.parquet"
    p = await asyncio.to_thread(
        run_cli, "export", "--periode", "2022", "--wilayah", "16.07", "--format", "parquet", "--out", str(out), database_url=database_url
    )
    assert p.returncode == 0, p.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(out).to_pylist()
    assert [t["submission_id"] for t in table] == [e["submission_id"] for e in expected]
    umkm_row = next(t for t in table if t["jenis"] == "umkm")
    assert umkm_row["modal_usaha"] == 25_000_000 and umkm_row["platform_digital"] is True
    assert umkm_row["captured_at"].isoformat() == "2022-06-01T02:30:00+00:00"

    logged = await pg.fetch("SELECT key_name, endpoint, rows FROM access_log WHERE endpoint = 'kumkm export' ORDER BY id")
    assert [(r["key_name"], r["rows"]) for r in logged][0] == ("operator", 6) and len(logged) == 3


async def test_export_rejects_bad_arguments(database_url, tmp_path):
    p = await asyncio.to_thread(
        run_cli, "export", "--periode", "1999", "--format", "csv", "--out", str(tmp_path / "x.csv"), database_url=database_url
    )
    assert p.returncode == 2 and "--periode" in p.stderr
    p = await asyncio.to_thread(
        run_cli,
        "export",
        "--periode",
        "2022",
        "--wilayah",
        "16.07.01",
        "--format",
        "csv",
        "--out",
        str(tmp_path / "x.csv"),
        database_url=database_url,
    )
    assert p.returncode == 2 and "--wilayah" in p.stderr
    assert not (tmp_path / "x.csv").exists()


async def test_import_ndjson_reports_bad_lines_and_keeps_idempotency(client, enum_key, database_url, pg, tmp_path):
    existing = umkm()
    r = await client.post("/api/v1/submissions", json=existing, headers=auth(enum_key))
    assert r.status_code == 201
    good = [umkm(), koperasi()]
    lines = [
        orjson.dumps(good[0]).decode(),  # 1 created
        "",  # 2 blank: skipped
        '{"submission_id": "broken',  # 3 not JSON
        orjson.dumps(umkm(nik_pemilik="123")).decode(),  # 4 bad NIK
        orjson.dumps(existing).decode(),  # 5 identical replay
        orjson.dumps({**existing, "nama_usaha": "Lain"}).decode(),  # 6 conflict
        orjson.dumps(good[1]).decode(),  # 7 created
        orjson.dumps(umkm(skala_usaha="kecil")).decode(),  # 8 derived field sent
    ]
    f = tmp_path / "legacy.ndjson"
    f.write_text("\n".join(lines) + "\n")
    p = await asyncio.to_thread(run_cli, "import", str(f), "--as", "impor-ods-sumsel", database_url=database_url)
    assert p.returncode == 1
    # in line order, whichever step refused the line, and naming the file as it was given
    err = p.stderr.splitlines()
    assert err[0].startswith(f"{f}: line 3: not valid JSON"), p.stderr
    assert err[1].startswith(f"{f}: line 4: nik_pemilik harus tepat 16 angka"), p.stderr
    assert err[2].startswith(f"{f}: line 6: submission_id: already stored"), p.stderr
    assert err[3].startswith(f"{f}: line 8: skala_usaha ditentukan oleh layanan"), p.stderr
    assert len(err) == 4, p.stderr
    assert "7 records read: 2 created, 1 already present, 4 rejected" in p.stdout
    stored = await pg.fetch("SELECT submission_id::text, dibuat_oleh FROM submissions WHERE dibuat_oleh <> 'enum-sumsel'")
    assert sorted(tuple(r) for r in stored) == sorted((g["submission_id"], "impor-ods-sumsel") for g in good)
    # Same file again: nothing new, the replays are harmless.
    p = await asyncio.to_thread(run_cli, "import", str(f), database_url=database_url)
    assert "0 created, 3 already present, 4 rejected" in p.stdout
    assert await pg.fetchval("SELECT count(*) FROM changes") == 3


async def test_export_csv_then_import_restores_the_same_content(client, enum_key, plain_admin, database_url, pg, tmp_path):
    await post_records(client, enum_key, 4)
    r = await client.post("/api/v1/submissions", json=koperasi(lokasi={"lat": -2.5, "lon": 104.25}), headers=auth(enum_key))
    assert r.status_code == 201
    before = {r["submission_id"]: r["data"] for r in await service_records(client, plain_admin)}
    out = tmp_path / "all.csv"
    p = await asyncio.to_thread(run_cli, "export", "--periode", "2022", "--format", "csv", "--out", str(out), database_url=database_url)
    assert p.returncode == 0, p.stderr
    await pg.execute(
        "TRUNCATE changes, submission_history, submission_versions, openrosa_instances, submissions, sync_records, rekap_status"
    )
    p = await asyncio.to_thread(run_cli, "import", str(out), database_url=database_url)
    assert p.returncode == 0, p.stderr
    assert "5 created" in p.stdout and "ignored columns" in p.stdout and "skala_usaha" in p.stdout
    after = {r["submission_id"]: r["data"] for r in await service_records(client, plain_admin)}
    assert after == before


async def test_import_csv_bad_cells_name_line_and_field(database_url, tmp_path):
    f = tmp_path / "ods.csv"
    good = umkm()
    header = [
        "submission_id",
        "periode",
        "jenis",
        "enumerator_id",
        "kode_wilayah",
        "captured_at",
        "nama_usaha",
        "nama_pemilik",
        "nik_pemilik",
        "alamat",
        "kbli",
        "status_tempat",
        "modal_usaha",
        "platform_digital",
    ]
    row = [good[h] if not isinstance(good[h], bool) else ("ya" if good[h] else "tidak") for h in header]
    bad_int = list(row)
    bad_int[0], bad_int[12] = umkm()["submission_id"], "dua juta"
    bad_bool = list(row)
    bad_bool[0], bad_bool[13] = umkm()["submission_id"], "mungkin"
    with open(f, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerows([header, row, bad_int, bad_bool, row + ["extra"]])
    p = await asyncio.to_thread(run_cli, "import", str(f), database_url=database_url)
    assert p.returncode == 1
    assert f"{f}: line 3: modal_usaha harus bilangan bulat" in p.stderr
    assert f"{f}: line 4: platform_digital harus true atau false" in p.stderr
    assert "ods.csv: line 5: 1 more cells than the header has columns" in p.stderr
    assert "4 records read: 1 created, 0 already present, 3 rejected" in p.stdout


async def test_export_parquet_then_import_restores_the_same_content(client, enum_key, plain_admin, database_url, pg, tmp_path):
    await post_records(client, enum_key, 3)
    r = await client.post("/api/v1/submissions", json=koperasi(lokasi={"lat": -2.5, "lon": 104.25}), headers=auth(enum_key))
    assert r.status_code == 201
    before = {r["submission_id"]: r["data"] for r in await service_records(client, plain_admin)}
    out = tmp_path / "all.parquet"
    p = await asyncio.to_thread(run_cli, "export", "--periode", "2022", "--format", "parquet", "--out", str(out), database_url=database_url)
    assert p.returncode == 0, p.stderr
    await pg.execute(
        "TRUNCATE changes, submission_history, submission_versions, openrosa_instances, submissions, sync_records, rekap_status"
    )
    p = await asyncio.to_thread(run_cli, "import", str(out), database_url=database_url)
    assert p.returncode == 0, p.stderr
    assert "4 records read: 4 created" in p.stdout and "ignored columns" in p.stdout
    after = {r["submission_id"]: r["data"] for r in await service_records(client, plain_admin)}
    assert after == before
    # the same file again is a replay, by content hash
    p = await asyncio.to_thread(run_cli, "import", str(out), database_url=database_url)
    assert "0 created, 4 already present" in p.stdout, p.stdout


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
async def test_a_masked_export_is_refused_alike_in_every_format(client, enum_key, database_url, tmp_path, fmt):
    await post_records(client, enum_key, 2)
    out = tmp_path / f"masked.{fmt}"
    p = await asyncio.to_thread(
        run_cli, "export", "--periode", "2022", "--format", fmt, "--out", str(out), "--mask-pii", database_url=database_url
    )
    assert p.returncode == 0, p.stderr
    p = await asyncio.to_thread(run_cli, "import", str(out), database_url=database_url)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert len(lines) == 2 and all("personal data is masked" in x for x in lines), p.stderr
    assert "NIK" not in p.stderr and "16 angka" not in p.stderr


async def test_a_file_that_is_neither_text_nor_parquet_is_a_usage_error(database_url, tmp_path):
    f = tmp_path / "records.csv"
    f.write_bytes(b"submission_id,periode\n\xff\xfe\x00garbage\n")
    p = await asyncio.to_thread(run_cli, "import", str(f), database_url=database_url)
    assert p.returncode == 2 and "not UTF-8 text" in p.stderr and "Traceback" not in p.stderr, p.stderr
    # a Parquet file forced as CSV is named as what it is
    pq_file = tmp_path / "x.parquet"
    pq_file.write_bytes(b"PAR1" + b"\x00" * 16 + b"PAR1")
    p = await asyncio.to_thread(run_cli, "import", str(pq_file), "--format", "csv", database_url=database_url)
    assert p.returncode == 2 and "Parquet" in p.stderr, p.stderr
    p = await asyncio.to_thread(run_cli, "import", str(pq_file), database_url=database_url)
    assert p.returncode == 2 and "cannot be read as Parquet" in p.stderr and "Traceback" not in p.stderr, p.stderr


async def test_import_of_a_missing_file_is_a_usage_error(database_url, tmp_path):
    p = await asyncio.to_thread(run_cli, "import", str(tmp_path / "none.ndjson"), database_url=database_url)
    assert p.returncode == 2 and "no such file" in p.stderr


async def test_import_shows_progress_on_a_terminal(database_url, tmp_path):
    """On a terminal the import draws a bar with rate and ETA (tqdm); piped, it stays quiet."""
    import pty

    f = tmp_path / "few.ndjson"
    f.write_text("".join(orjson.dumps(umkm()).decode() + "\n" for _ in range(30)))
    env = {**os.environ, "DATABASE_URL": database_url, "COLUMNS": "120"}

    def run_on_tty() -> str:
        import fcntl
        import struct
        import termios

        main, child = pty.openpty()
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        proc = subprocess.Popen([KUMKM, "import", str(f), "--batch", "10"], stdin=child, stdout=child, stderr=child, env=env)
        os.close(child)
        out = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        proc.wait(timeout=120)
        os.close(main)
        return out.decode(errors="replace")

    shown = await asyncio.to_thread(run_on_tty)
    assert "import few.ndjson" in shown and "rec/s" in shown and "30.0/30.0" in shown
    assert "30 records read: 30 created" in shown


async def test_sync_pull_during_concurrent_writes_equals_the_service(client, keys, plain_admin, live_server, database_url, pg, tmp_path):
    """The reference consumer, run again and again while writers post and decide, ends with
    a file that holds every change exactly once and records equal to the service's."""
    enum = await keys.make("enumerator", "16", name="enum-pull")
    walidata = await keys.make("walidata", name="kemenkop", pii=True)
    await post_records(client, enum, 30)
    state, out = tmp_path / "state" / "cursor.json", tmp_path / "bdt"

    def pull(*extra) -> int:
        return cli.main(
            ["sync", "pull", "--url", live_server.url, "--key", walidata, "--state", str(state), "--out", str(out), "--limit", "7", *extra]
        )

    async def writers():
        import asyncpg

        from tests.support.common import asyncpg_params

        conn = await asyncpg.connect(**asyncpg_params(database_url))
        try:
            for i in range(20):
                await asyncio.gather(*(post_records(client, enum, 5) for _ in range(3)))
                sid = await conn.fetchval("SELECT submission_id::text FROM submissions WHERE status = 'masuk' ORDER BY random() LIMIT 1")
                async with conn.transaction():
                    await raw_decide(conn, sid, "diterima" if i % 3 else "ditolak")
        finally:
            await conn.close()

    w = asyncio.create_task(writers())
    assert await asyncio.to_thread(pull, "--snapshot", "--max-pages", "1") == 0
    runs = 1
    while not w.done():
        assert await asyncio.to_thread(pull, "--max-pages", "2") == 0
        runs += 1
    await w
    # the service's linker has linked the records accepted (each link is a change of the feed too)
    assert await eventually(lambda: pg.fetchval("SELECT NOT EXISTS (SELECT 1 FROM kumkm_antrian)"), timeout=30)
    # A crash after appending a page but before storing its cursor leaves extra bytes...
    with open(out / "changes.ndjson", "ab") as f:
        f.write(b'{"cursor":"half a line')
    assert await asyncio.to_thread(pull) == 0  # ...which the next run cuts off and pulls again
    assert runs > 2

    snapshot_lines = [orjson.loads(x) for x in (out / "snapshot.ndjson").read_text().splitlines()]
    records = {r["submission_id"]: r for r in snapshot_lines if not r.get("end")}
    changes = [orjson.loads(x) for x in (out / "changes.ndjson").read_text().splitlines()]
    for ln in changes:
        records[ln["submission_id"]] = ln["record"]
    # Every change after the snapshot, once, in feed order.
    all_changes = await db_changes(pg)
    assert len(changes) == len({key_of(c) for c in changes})
    pulled = [key_of(c) for c in changes]
    assert pulled == [k for k in all_changes if k in set(pulled)]
    created_after = {c["submission_id"] for c in changes if c["jenis_perubahan"] == "dibuat"}
    in_snapshot = {r["submission_id"] for r in snapshot_lines if not r.get("end")}
    assert not created_after & in_snapshot
    assert created_after | in_snapshot == {r[0] for r in await pg.fetch("SELECT submission_id::text FROM submissions")}
    # And the records equal the service's, field for field.
    assert records == {r["submission_id"]: r for r in await service_records(client, walidata)}
    stored = orjson.loads(state.read_bytes())
    assert stored["offset"] == (out / "changes.ndjson").stat().st_size


async def test_export_cursors_of_an_unchanged_registry_continue_the_feed_alike(client, keys, live_server, database_url, tmp_path):
    """Two exports of an unchanged registry print different cursors (each names the snapshot's
    place in transaction order, which the export's own access-log entry moves; docs/sync.md),
    but the feed continues from either with the same changes: none while nothing changed, then
    exactly the new record."""
    enum = await keys.make("enumerator", "16", name="enum-cursor")
    walidata = await keys.make("walidata", name="kemenkop-cursor", pii=True)
    await post_records(client, enum, 3)

    def export_cursor() -> str:
        p = run_cli("export", "--periode", "2022", "--format", "ndjson", "--out", str(tmp_path / "e.ndjson"), database_url=database_url)
        assert p.returncode == 0, p.stderr
        return p.stdout.strip().splitlines()[-1].rsplit(" ", 1)[-1]

    async def after(cursor: str) -> list[str]:
        r = await client.get("/api/v1/sync/changes", params={"after": cursor}, headers=auth(walidata))
        lines, _ = parse_stream(r.text)
        return [ln["submission_id"] for ln in lines]

    first = await asyncio.to_thread(export_cursor)
    second = await asyncio.to_thread(export_cursor)
    assert await after(first) == [] and await after(second) == []
    (rec,) = await post_records(client, enum, 1)
    assert await after(first) == [rec["submission_id"]] == await after(second)


async def test_feed_snapshot_export_and_api_write_an_instant_as_the_same_text(client, keys, database_url, tmp_path):
    import re

    from tests.support.helpers import TIME_FIELDS, UTC_TEXT

    enum = await keys.make("enumerator", "16", name="enum-times")
    walidata = await keys.make("walidata", name="kemenkop-times", pii=True)
    (rec,) = await post_records(client, enum, 1, captured_at="2022-06-01T09:30:00.5+07:00")
    api = (await client.get(f"/api/v1/submissions/{rec['submission_id']}", headers=auth(enum))).json()
    assert api["captured_at"] == api["data"]["captured_at"] == "2022-06-01T02:30:00.500000Z"

    changes, _ = parse_stream((await client.get("/api/v1/sync/changes", headers=auth(walidata))).text)
    (change,) = [c for c in changes if c["submission_id"] == rec["submission_id"]]
    assert re.match(UTC_TEXT, change["pada"]) and change["pada"] == change["changed_at"] == api["dibuat_pada"]
    snapshot, _ = parse_stream((await client.get(SNAPSHOT, headers=auth(walidata))).text)
    (line,) = [s for s in snapshot if s["submission_id"] == rec["submission_id"]]
    out = tmp_path / "t.csv"
    p = await asyncio.to_thread(run_cli, "export", "--periode", "2022", "--format", "csv", "--out", str(out), database_url=database_url)
    assert p.returncode == 0, p.stderr
    with open(out, newline="") as f:
        (row,) = [r for r in csv.DictReader(f) if r["submission_id"] == rec["submission_id"]]
    for field in TIME_FIELDS:
        assert re.match(UTC_TEXT, api[field]), (field, api[field])
        assert change["record"][field] == line[field] == row[field] == api[field], field
    assert change["record"]["data"] == line["data"] == api["data"]
