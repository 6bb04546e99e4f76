"""`kumkm serve` as an operator runs it: a separate process (one or more workers), on the
test database or on an embedded server of its own, stopped with real signals."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.common import ROOT, free_port

__all__ = ["PRIORITY", "ROOT", "Served", "ahead_of_other_work", "api_key", "cli", "environment", "free_port", "reachable_tmp"]


def environment(*, database_url: str | None = None, data_dir: str | Path | None = None, **extra) -> dict:
    """The service's environment: the test database, or (database_url None) the embedded
    server in data_dir."""
    env = {**os.environ, **{k: str(v) for k, v in extra.items()}}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    if data_dir is not None:
        env["KUMKM_DATA_DIR"] = str(data_dir)
    return env


# The niceness of the processes a test measures the latency of (the service and the client
# timing it), when the test may raise it (as root): the suites of other sessions on the same
# machine then wait for them rather than the other way round, so a bound in milliseconds says
# what the service does, not how busy the machine is.
PRIORITY = -10


@contextlib.contextmanager
def ahead_of_other_work():
    """The calling thread runs at PRIORITY meanwhile (Linux keeps a niceness per thread); says
    whether it does. What it starts meanwhile inherits the priority."""
    try:
        os.nice(PRIORITY)
    except PermissionError:
        yield False
        return
    try:
        yield True
    finally:
        os.nice(-PRIORITY)


class Served:
    """A running `kumkm serve`; its stderr is kept in a file for the test to read."""

    def __init__(self, env: dict, *args: str, log: Path, port: int | None = None, ahead: bool = False):
        """`ahead`: the process runs ahead of the machine's other work (see PRIORITY)."""
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = open(log, "ab")
        command = [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port), "--log-level", "warning", *args]
        # nice(1) runs the command anyway when it may not raise the priority (not root)
        self.proc = subprocess.Popen(
            ["nice", "-n", str(PRIORITY), *command] if ahead else command,
            cwd=ROOT,
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 120) -> Served:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kumkm serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError(f"kumkm serve did not become ready:\n{self.output()}")

    def signal(self, sig: int, timeout: float = 60) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log_file.close()

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self._log_file.close()


def cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def api_key(env: dict, *args: str) -> str:
    """A new API key made by `kumkm apikey create ARGS` (the key is its output's last line)."""
    done = cli(env, "apikey", "create", *args)
    assert done.returncode == 0, f"{done.args}: {done.stdout}\n{done.stderr}"
    return done.stdout.strip().splitlines()[-1]


def reachable_tmp(prefix: str) -> Path:
    """A fresh directory that the database's system user can reach (as root, the embedded
    server and the tools run as `embedded_postgres`). Not under pytest's tmp_path: pytest keeps
    its parent at mode 0700 and resets it whenever another run starts, which cut that user off
    in the middle of a test. The caller removes it (shutil.rmtree)."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path
