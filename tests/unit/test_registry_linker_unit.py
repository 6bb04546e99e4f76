"""The linker's pure parts (identifiers as the index holds them, their advisory lock keys) and
its background task's behaviour when the database fails: logged once, retried with growing
back-off, never ending the task (app/registry/linker.py)."""

from __future__ import annotations

import asyncio
import logging
import time

from app.infra import health
from app.registry import linker


def test_identifiers_as_the_index_holds_them():
    assert linker.normal_pengenal("nib", " 1234-5678-90123 ") == "1234567890123"
    assert linker.normal_pengenal("nik_koperasi", "1607.0100.0000.0001") == "1607010000000001"
    for typed in ("123/BH/XII/2010", "123 bh xii 2010", "123-BH-XII-2010", "123.bh.xii.2010"):
        assert linker.normal_pengenal("nomor_badan_hukum", typed) == "123BHXII2010"
    assert linker.normal_pengenal("nib", "-") is None
    assert linker.normal_pengenal("nib", None) is None


def test_the_order_that_decides_a_link():
    kop = {"nik_koperasi": "1607010000000001", "nomor_badan_hukum": "AHU-1", "nib": "1234567890123"}
    assert linker.pengenal("koperasi", kop) == [("nik_koperasi", "1607010000000001"), ("nomor_badan_hukum", "AHU1")]
    assert linker.pengenal("koperasi", {"nomor_badan_hukum": "AHU-1"}) == [("nomor_badan_hukum", "AHU1")]
    # a UMKM is found by its NIB only: a koperasi's numbers on a usaha's record say nothing
    assert linker.pengenal("umkm", kop) == [("nib", "1234567890123")]
    assert linker.pengenal("umkm", {"nib": None}) == []


def test_lock_keys_are_stable_bigints_apart_per_kind():
    k = linker.kunci("nib", "1234567890123")
    assert k == linker.kunci("nib", "1234567890123")
    assert -(2**63) <= k < 2**63
    assert k != linker.kunci("nik_koperasi", "1234567890123")
    assert len({linker.kunci("nib", f"{i:013d}") for i in range(10_000)}) == 10_000


async def test_the_background_task_survives_failures(monkeypatch, caplog):
    monkeypatch.setattr(health.state, "ready", True)
    calls: list[float] = []

    class Failing(linker.Linker):
        async def giliran(self):
            calls.append(time.monotonic())
            if len(calls) <= 3:
                raise ConnectionRefusedError("the database is away")
            return linker.Hasil()

    task = Failing(poll=0.05, max_backoff=0.5)
    with caplog.at_level(logging.DEBUG, logger="kumkm.registry"):
        task.start()
        deadline = time.monotonic() + 10
        while len(calls) < 6 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await task.stop()
    assert len(calls) >= 6
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    assert gaps[0] < gaps[1] < gaps[2]  # back-off: 0.1, 0.2, 0.4 s
    assert max(gaps[3:]) < gaps[2]  # back to the poll once it works
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [lv for lv, m in said if "failed" in m] == ["WARNING", "DEBUG", "DEBUG"]
    assert [lv for lv, m in said if "works again after 3 failures" in m] == ["WARNING"]
