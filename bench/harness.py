"""Shared bench plumbing: a real service process on a fresh embedded database, keys made
with the CLI, record generators and latency statistics."""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# The services benchmarked log as in production (level info, every request's access line),
# into a file rather than the bench's terminal: the figures include writing the logs.
SERVE_LOG = ("--log-level", "info")


def service_log():
    """Where a benchmarked service's log lines go: one file a run, named on stderr once."""
    global _service_log
    if _service_log is None:
        path = Path(tempfile.gettempdir()) / f"kumkm-bench-service-{os.getpid()}.log"
        _service_log = open(path, "ab")
        print(f"bench: the service's log (level info) goes to {path}", file=sys.stderr)
    return _service_log


_service_log = None

KUMKM = [sys.executable, "-m", "app.cli"]

# docs/domain.md: the eight kabupaten/kota of Sumatera Selatan's 2022 round and their masuk.
SUMSEL_2022 = {
    "16.07": 41_675,
    "16.03": 62_137,
    "16.06": 24_480,
    "16.05": 18_357,
    "16.10": 42_706,
    "16.02": 21_386,
    "16.01": 38_114,
    "16.71": 85_015,
}


class RssSampler(threading.Thread):
    """The largest resident set of the service's own processes (the server and its uvicorn
    workers; never the PostgreSQL processes the embedded database runs under it, whose shared
    buffers would show as the service's), sampled every 100 ms."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process(pid)
        self.peak = 0
        self.last = 0
        self.stop = threading.Event()

    def sample(self) -> int:
        import psutil

        rss = self.proc.memory_info().rss  # raises once the service itself is gone
        for p in self.proc.children(recursive=True):
            try:
                if "postgres" not in p.name():
                    rss = max(rss, p.memory_info().rss)
            except psutil.Error:  # a process that ended between the two calls
                pass
        return rss

    def run(self):
        import psutil

        while not self.stop.is_set():
            try:
                self.last = self.sample()
            except psutil.Error:
                break
            self.peak = max(self.peak, self.last)
            time.sleep(0.1)

    def reset(self) -> None:
        self.peak = 0


class Service:
    """`kumkm serve` in its own process group on a fresh data directory."""

    def __init__(self, workers: int = 1, data_dir: str | None = None, env: dict | None = None):
        self.tmp = data_dir or tempfile.mkdtemp(prefix="kumkm-bench-")
        self.own_tmp = data_dir is None
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "KUMKM_DATA_DIR": self.tmp, **(env or {})}
        self.env.pop("DATABASE_URL", None)
        self.workers = workers
        self.proc: subprocess.Popen | None = None

    def start(self) -> Service:
        self.proc = subprocess.Popen(
            [*KUMKM, "serve", "--port", str(self.port), "--workers", str(self.workers), *SERVE_LOG],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=service_log(),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("service exited during start-up")
            time.sleep(0.3)
        raise RuntimeError("service did not become ready")

    def key(self, role: str, wilayah: str | None = None, name: str | None = None) -> str:
        cmd = [*KUMKM, "apikey", "create", "--role", role, "--name", name or role]
        if wilayah:
            cmd += ["--wilayah", wilayah]
        out = subprocess.run(cmd, cwd=ROOT, env=self.env, check=True, capture_output=True, text=True)
        return out.stdout.strip().splitlines()[-1]

    def pids(self) -> list[int]:
        import psutil

        parent = psutil.Process(self.proc.pid)
        return [parent.pid] + [c.pid for c in parent.children(recursive=True) if "postgres" not in c.name()]

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self.own_tmp:
            # the embedded server stops with the service (atexit); give it a moment, then clean up
            time.sleep(1)
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _desa_by_kabkota() -> dict[str, list[str]]:
    from lokal import wilayah as lw

    out: dict[str, list[str]] = {}
    for kode in lw._desa():
        out.setdefault(kode[:5], []).append(kode)
    return out


_DESA = None


def desa_of(kabkota: str) -> list[str]:
    global _DESA
    if _DESA is None:
        _DESA = _desa_by_kabkota()
    return _DESA[kabkota]


def record(kabkota: str, rng: random.Random, periode: str = "2022") -> dict:
    desa = rng.choice(desa_of(kabkota))
    kec6 = desa.replace(".", "")[:6]
    day = rng.randint(1, 28) + (40 if rng.random() < 0.5 else 0)
    nik = f"{kec6}{day:02d}{rng.randint(1, 12):02d}{rng.randint(60, 99):02d}{rng.randint(1, 9999):04d}"
    if rng.random() < 0.05:
        return {
            "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "periode": periode,
            "jenis": "koperasi",
            "enumerator_id": f"E{rng.randint(1, 5000)}",
            "kode_wilayah": desa,
            "captured_at": "2022-06-01T09:30:00+07:00",
            "nama_koperasi": f"Koperasi {rng.randint(1, 10**6)}",
            "nomor_badan_hukum": f"{rng.randint(1, 999)}/BH/2015",
            "jenis_koperasi": rng.choice(["konsumen", "produsen", "simpan_pinjam", "pemasaran", "jasa"]),
            "kewenangan": rng.choice(["kabkota"] * 8 + ["provinsi", "nasional"]),
            "aktif": rng.random() < 0.6,
            "tahun_rat_terakhir": rng.choice([2019, 2020, 2021, None]),
            "anggota_laki_laki": rng.randint(20, 400),
            "anggota_perempuan": rng.randint(20, 400),
            "modal_sendiri": rng.randint(10**7, 10**10),
            "modal_luar": rng.randint(0, 10**10),
            "volume_usaha": rng.randint(10**7, 10**11),
            "shu": rng.randint(-(10**8), 10**9),
        }
    return {
        "submission_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "periode": periode,
        "jenis": "umkm",
        "enumerator_id": f"E{rng.randint(1, 5000)}",
        "kode_wilayah": desa,
        "captured_at": "2022-06-01T09:30:00+07:00",
        "nama_usaha": f"Usaha {rng.randint(1, 10**7)}",
        "nama_pemilik": "Pemilik Usaha",
        "nik_pemilik": nik,
        "alamat": f"Jl. Contoh {rng.randint(1, 500)}",
        "telepon": f"08{rng.randint(10**9, 10**10 - 1)}",
        "kbli": rng.choice(["56101", "47111", "10792", "96021"]),
        "status_tempat": rng.choice(["menetap", "tidak_menetap"]),
        "modal_usaha": rng.randint(10**6, 6 * 10**9),
        "hasil_penjualan_tahunan": rng.randint(10**6, 10**10),
        "tenaga_kerja_laki_laki": rng.randint(0, 5),
        "tenaga_kerja_perempuan": rng.randint(0, 5),
        "platform_digital": rng.random() < 0.3,
        "izin_usaha": rng.random() < 0.2,
        **({"nib": f"{rng.randint(10**12, 10**13 - 1)}"} if rng.random() < 0.3 else {}),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100 * (len(s) - 1)))))
    return s[k]


def fmt(n: float) -> str:
    return f"{n:,.0f}".replace(",", ".")


async def at_rate(total: int, rate: float, fire: Callable[[int, float, int], Coroutine[Any, Any, None] | None]) -> tuple[float, float]:
    """An open loop: `fire(i, planned, in_flight)` at t0 + i/rate (t0 0.2 s from now) for each
    i < total, whatever the answers so far; the coroutine it returns runs as a task (None: the
    caller dropped that request). Every task is awaited before returning (elapsed since t0,
    the scheduler's worst lag behind the plan)."""
    in_flight: set[asyncio.Task] = set()
    lag = 0.0
    t0 = time.monotonic() + 0.2
    for i in range(total):
        at = t0 + i / rate
        delay = at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        else:
            lag = max(lag, -delay)
        coro = fire(i, at, len(in_flight))
        if coro is None:
            continue
        task = asyncio.create_task(coro)
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)
    return time.monotonic() - t0, lag
