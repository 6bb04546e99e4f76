"""Log lines are written off the request path: a request never waits for stderr, so a log
reader that stops reading does not stop the service, and every line made before a stop is
written before the process ends."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx

from tests.support.serve_helpers import ROOT, environment, free_port


def _access_lines(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if doc.get("logger") == "kumkm.access":
            out.append(doc)
    return out


def _serve_at_info(database_url: str, stderr) -> tuple[subprocess.Popen, str]:
    """`kumkm serve --log-level info` (the tests' Served runs at warning, without access lines)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "info"],
        cwd=ROOT,
        env=environment(database_url=database_url),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            raise AssertionError("kumkm serve did not start")
        time.sleep(0.2)


def test_a_log_reader_that_stops_reading_does_not_stop_the_service(database_url):
    """stderr is a pipe nobody reads (a stuck log shipper): its 64 KiB fill after a few hundred
    lines, and the service goes on answering."""
    proc, url = _serve_at_info(database_url, subprocess.PIPE)
    try:
        with httpx.Client(base_url=url, timeout=5) as c:
            start = time.monotonic()
            for i in range(1500):  # about 300 KB of access lines
                assert c.get("/healthz", headers={"X-Request-ID": f"r{i}"}).status_code == 200
            assert time.monotonic() - start < 60
    finally:
        proc.kill()
        proc.wait(30)
        proc.stderr.close()


def test_every_line_made_before_a_stop_is_written(database_url, tmp_path):
    with open(tmp_path / "info.log", "wb") as out:
        proc, url = _serve_at_info(database_url, out)
        with httpx.Client(base_url=url, timeout=5) as c:
            for i in range(400):
                assert c.get("/healthz", headers={"X-Request-ID": f"stop-{i}"}).status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    mine = {
        x["request_id"]
        for x in _access_lines((tmp_path / "info.log").read_text(errors="replace"))
        if str(x.get("request_id", "")).startswith("stop-")
    }
    assert len(mine) == 400, len(mine)
