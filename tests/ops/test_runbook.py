"""The failover runbook of docs/operations.md, run as written (issue 27, part 2): its `sh`
blocks are read from the document, so the document and this test cannot drift. One bash runs
them in order, as an operator's terminal would (variables and background jobs of a block are
there for the next), under `set -e -o pipefail`; only /srv/kumkm, /srv/kumkm-standby and the
service's port 8000 are put in the test's own. Throughout, four enumerator apps write through
the service (single records and batches of 10, each sent again unchanged until acknowledged).

set up (primary under `kumkm db start`, synchronous standby, service) -> writes -> kill -9 of
the primary's postmaster (its supervisor running) -> confirm -> promote -> writes -> rejoin the
old primary as the standby -> fail back -> stop. Shown: no acknowledged record lost, no write
waiting 10 s or more, writes resumed within 30 s."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.common import ARTIFACTS
from tests.support.ha_helpers import Load, connect_dir, enumerator, stop_servers, writable
from tests.support.serve_helpers import ROOT, api_key, environment, free_port, reachable_tmp

DOC = ROOT / "docs" / "operations.md"
ORDER = ["setup", "confirm", "promote", "rejoin", "failback", "stop"]
CLIENTS = 4

pytestmark = pytest.mark.skipif(
    shutil.which("curl") is None or shutil.which("bash") is None, reason="the runbook's commands need bash and curl"
)


def runbook() -> dict[str, str]:
    """The `sh runbook=NAME` blocks of the Failover section, by name, in the document's order."""
    text = DOC.read_text()
    start = text.index("\n## Failover\n")
    end = text.find("\n## ", start + 1)
    section = text[start : end if end != -1 else None]
    blocks = re.findall(r"^```sh runbook=(\w+)\n(.*?)^```$", section, re.M | re.S)
    assert [name for name, _ in blocks] == ORDER, f"the runbook's blocks changed: {[n for n, _ in blocks]}"
    return dict(blocks)


class Terminal:
    """One bash for the whole runbook; each block's output is kept, and a failing command ends
    it (set -e), which fails the test with what it printed."""

    def __init__(self, env: dict, places: dict[str, str], log: Path):
        self.places = places
        self.log = open(log, "a")
        self.proc = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self._send("set -e -o pipefail\n")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.log.write(line)
            self.log.flush()
            self.lines.put(line)
        self.lines.put(None)

    def _send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text)
        self.proc.stdin.flush()

    def run(self, name: str, block: str, timeout: float = 300) -> str:
        for placeholder, value in self.places.items():
            block = block.replace(placeholder, value)
        done = f"__runbook_{name}_done__"
        self.log.write(f"\n$ # runbook={name}\n{block}")
        self._send(f"{block}\necho {done}\n")
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"runbook block {name!r} still running after {timeout:.0f} s:\n" + "".join(out)) from None
            if line is None:
                raise AssertionError(f"runbook block {name!r} failed (exit {self.proc.wait()}):\n{block}\n" + "".join(out))
            if line.strip() == done:
                return "".join(out)
            out.append(line)

    def close(self) -> None:
        """Whatever the runbook left running (its background jobs share the shell's process
        group) is ended."""
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


async def test_the_failover_runbook_runs_as_written_and_loses_nothing(tmp_path):
    blocks = runbook()
    root = reachable_tmp("kumkm-rb-")
    primary_dir, standby_dir = root / "p" / "pgdata", root / "s"
    port = free_port()
    places = {
        "/srv/kumkm-standby": str(standby_dir),
        "/srv/kumkm": str(root / "p"),
        "--port 8000": f"--port {port}",
        "127.0.0.1:8000": f"127.0.0.1:{port}",
    }
    env = environment(PATH=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    env.pop("KUMKM_DATA_DIR", None)
    term = Terminal(env, places, tmp_path / "runbook.log")
    said: dict[str, str] = {}
    load = Load()
    tasks: list[asyncio.Task] = []
    marks: dict[str, float] = {}
    try:
        said["setup"] = await asyncio.to_thread(term.run, "setup", blocks["setup"])
        assert "synchronous: a commit is acknowledged once this standby has it" in said["setup"]
        # pg_rewind needs data checksums or wal_log_hints: a new data directory has both
        conn = await connect_dir(primary_dir)
        try:
            assert await conn.fetchval("SHOW data_checksums") == "on"
            assert await conn.fetchval("SHOW wal_log_hints") == "on"
        finally:
            await conn.close()
        url = re.findall(r"^DATABASE_URL=(\S+)$", said["setup"], re.M)[-1]  # replica create's: both servers
        assert "target_session_attrs=read-write" in url, said["setup"]
        service_env = environment(database_url=url)
        keys = [
            await asyncio.to_thread(api_key, service_env, "--role", "enumerator", "--wilayah", "16.07", "--name", f"enum-runbook-{i}")
            for i in range(CLIENTS)
        ]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            tasks = [asyncio.create_task(enumerator(c, k, i, load)) for i, k in enumerate(keys)]
            await asyncio.sleep(3)
            assert load.acked, f"nothing acknowledged before the kill: {load.statuses}"

            # the fault: the primary's postmaster killed, its supervisor (`kumkm db start`) running
            marks["kill"] = load.kill_at = time.monotonic()
            os.kill(int((primary_dir / "postmaster.pid").read_text().split()[0]), signal.SIGKILL)
            said["confirm"] = await asyncio.to_thread(term.run, "confirm", blocks["confirm"])
            marks["promote"] = time.monotonic()
            said["promote"] = await asyncio.to_thread(term.run, "promote", blocks["promote"])
            marks["promoted"] = time.monotonic()
            assert "fenced the old primary" in said["promote"], said["promote"]
            assert "FENCED" in said["promote"]  # replica status after it
            await _writes_after(load, marks["promoted"])
            assert not await writable(primary_dir) and await writable(standby_dir)
            await asyncio.sleep(2)

            marks["rejoin"] = time.monotonic()
            said["rejoin"] = await asyncio.to_thread(term.run, "rejoin", blocks["rejoin"])
            assert "pg_rewind: servers diverged at WAL location" in said["rejoin"], said["rejoin"]
            assert re.search(rf"^standby  {re.escape(str(primary_dir))} ", said["rejoin"], re.M), said["rejoin"]
            assert re.search(r"streams to kumkm_\w+: streaming, sync", said["rejoin"]), said["rejoin"]
            await _writes_after(load, time.monotonic())

            marks["failback"] = time.monotonic()
            said["failback"] = await asyncio.to_thread(term.run, "failback", blocks["failback"])
            marks["failed_back"] = time.monotonic()
            assert re.search(rf"^primary  {re.escape(str(primary_dir))} ", said["failback"], re.M), said["failback"]
            assert re.search(r"streams to kumkm_\w+: streaming, sync", said["failback"]), said["failback"]
            await _writes_after(load, marks["failed_back"])
            await asyncio.sleep(2)
            load.stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            marks["end"] = time.monotonic()

        # nothing acknowledged is lost: every record on the primary failed back to, and on its
        # standby, exactly once
        for d in (primary_dir, standby_dir):
            conn = await connect_dir(d)
            try:
                await _caught_up(conn, d, primary_dir)
                rows = [str(r[0]) for r in await conn.fetch("SELECT submission_id FROM submissions")]
            finally:
                await conn.close()
            assert len(rows) == len(set(rows))
            missing = set(load.acked) - set(rows)
            when = sorted({round(load.acked_at[sid] - marks["kill"], 2) for sid in missing})
            assert not missing, (
                f"{d}: {len(missing)} acknowledged records missing, acknowledged at {when} s "
                f"from the kill; marks { ({k: round(v - marks['kill'], 2) for k, v in marks.items()}) }"
            )
            assert set(rows) == set(load.acked), f"{d}: {len(set(rows) - set(load.acked))} never acknowledged"

        failover_gap = load.longest_gap(marks["kill"], marks["rejoin"])
        failback_gap = load.longest_gap(marks["failback"], marks["end"])
        figures = {
            "records_acknowledged": len(load.acked),
            "answers": load.statuses,
            # the first write sent after the kill and acknowledged (the supervisor restarts the
            # primary before the promotion: writes may resume on it, until the promotion fences it)
            "kill_to_first_write_seconds": round(load.first_write_after_kill - marks["kill"], 2),
            "kill_to_promoted_seconds": round(marks["promoted"] - marks["kill"], 2),
            "promoted_to_first_write_seconds": round(load.first_write_after(marks["promoted"]) - marks["promoted"], 2),
            "longest_pause_in_failover_seconds": round(failover_gap, 2),
            "fail_back_seconds": round(marks["failed_back"] - marks["failback"], 2),
            "longest_pause_in_fail_back_seconds": round(failback_gap, 2),
            "slowest_answer_seconds": round(load.slowest, 2),
            "rejoin": re.findall(r"^pg_rewind: (.*)$", said["rejoin"], re.M),
            "fail_back_rejoin": re.findall(r"^pg_rewind: (.*)$", said["failback"], re.M),
        }
        print(f"\nrunbook: {json.dumps(figures)}")
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "runbook.json").write_text(json.dumps(figures, indent=1))
        assert load.slowest < 10, f"a write waited {load.slowest:.1f} s"
        assert failover_gap < 30 and failback_gap < 30, figures

        said["stop"] = await asyncio.to_thread(term.run, "stop", blocks["stop"])
        assert "stopped the embedded PostgreSQL" in (root / "p" / "db.log").read_text()
    finally:
        load.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.to_thread(term.close)
        await asyncio.to_thread(stop_servers, standby_dir, primary_dir)
        shutil.rmtree(root, ignore_errors=True)


async def _writes_after(load: Load, t: float, within: float = 30) -> None:
    deadline = t + within
    while load.first_write_after(t) is None:
        assert time.monotonic() < deadline, f"no write acknowledged within {within:.0f} s: {load.statuses}"
        await asyncio.sleep(0.1)


async def _caught_up(conn, d: Path, primary_dir: Path, timeout: float = 30) -> None:
    """A standby has replayed what the primary had when it was asked."""
    if d == primary_dir:
        return
    primary = await connect_dir(primary_dir)
    try:
        target = await primary.fetchval("SELECT pg_current_wal_lsn()")
    finally:
        await primary.close()
    deadline = time.monotonic() + timeout
    while not await conn.fetchval("SELECT pg_last_wal_replay_lsn() >= $1", target):
        assert time.monotonic() < deadline, f"{d} did not replay the primary's WAL"
        await asyncio.sleep(0.1)
