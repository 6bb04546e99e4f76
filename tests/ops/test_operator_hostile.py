"""What an operator met (issue 26): files with personal data or a key readable by anyone on the
machine; `kumkm backup enable` fighting a running `kumkm serve`, restarting on every run and
accepting a directory the database server cannot write; `backup base` then `backup check`
failing on a quiet server; the README's worked example failing when run again; key names alike
but for case or spaces issued twice; a start-up buried under plugin lines and a warning on
`db status`. Each runs the CLI and `kumkm serve` as an operator does, on a real PostgreSQL."""

from __future__ import annotations

import asyncio
import getpass
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.common import auth
from tests.support.helpers import post_records
from tests.support.problems import assert_problem
from tests.support.serve_helpers import ROOT, Served, api_key, cli, environment, reachable_tmp

KUMKM = str(Path(sys.executable).with_name("kumkm"))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _ok(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 0, f"{done.args}: {done.stdout}\n{done.stderr}"
    return done.stdout


def _world_readable(path: Path, content: bytes = b"") -> Path:
    """A file as an older release left it: 0644."""
    path.write_bytes(content)
    path.chmod(0o644)
    return path


@pytest.fixture
def workdir():
    """Data and backup directories the server's system user reaches."""
    path = reachable_tmp("kumkm-operator-test-")
    yield path
    for d in path.rglob("*"):  # a test leaves read-only directories behind
        if d.is_dir() and not d.is_symlink():
            d.chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


# ------------------------------------------------------------------ 5. file modes


async def test_files_with_personal_data_or_a_key_are_their_owners_alone(client, enum_key, walidata, live_server, database_url, tmp_path):
    """0600 for every file the CLI writes that holds personal data or a key — made so from the
    start, and a file of an older release (0644) made so too — under the usual umask 022."""
    await post_records(client, enum_key, 3)
    env = environment(database_url=database_url)
    for fmt in ("csv", "ndjson", "parquet"):
        for out in (tmp_path / f"new.{fmt}", _world_readable(tmp_path / f"old.{fmt}")):
            _ok(await asyncio.to_thread(cli, env, "export", "--periode", "2022", "--format", fmt, "--out", str(out)))
            assert _mode(out) == 0o600, (out, oct(_mode(out)))
    assert "1607" in (tmp_path / "new.csv").read_text()  # full NIK: what is being protected

    # the walidata's nightly pull: a changes file an older release left at 0644, and a snapshot
    # into a directory of its own
    pulled = tmp_path / "pulled"
    pulled.mkdir()
    _world_readable(pulled / "changes.ndjson")
    _ok(
        await asyncio.to_thread(
            cli,
            env,
            "sync",
            "pull",
            "--url",
            live_server.url,
            "--key",
            walidata,
            "--state",
            str(tmp_path / "state.json"),
            "--out",
            str(pulled),
        )
    )
    assert (pulled / "changes.ndjson").stat().st_size > 0
    assert _mode(pulled / "changes.ndjson") == 0o600
    assert _mode(tmp_path / "state.json") == 0o600
    _ok(
        await asyncio.to_thread(
            cli,
            env,
            "sync",
            "pull",
            "--url",
            live_server.url,
            "--key",
            walidata,
            "--state",
            str(tmp_path / "snap" / "state.json"),
            "--out",
            str(tmp_path / "snap"),
            "--snapshot",
        )
    )
    assert _mode(tmp_path / "snap" / "snapshot.ndjson") == 0o600
    assert _mode(tmp_path / "snap") == 0o700

    # an OpenRosa settings QR code carries the key
    enumerator = await asyncio.to_thread(api_key, env, "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-qr")
    for out in (tmp_path / "new.png", _world_readable(tmp_path / "old.svg")):
        done = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "app.cli", "openrosa", "qr", "--url", "https://kumkm.example.go.id", "--out", str(out)],
            input=enumerator + "\n",
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        _ok(done)
        assert _mode(out) == 0o600, (out, oct(_mode(out)))
        assert out.stat().st_size > 100
    assert (tmp_path / "old.svg").read_text().startswith("<?xml")


# ------------------------------------------------------------------ 6. backup enable beside serve


def _postmaster_pid(env: dict) -> int:
    said = _ok(cli(env, "db", "status"))
    return int(re.search(r"running \(pid (\d+)\)", said).group(1))


def _answers(url: str, key: str, timeout: float = 30) -> None:
    """The service answers a request that needs the database (after a restart: within moments)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/api/v1/me", headers=auth(key), timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the service did not answer again"
        time.sleep(0.2)


def test_backup_enable_beside_a_running_serve_goes_through_its_supervisor(workdir):
    """The planned restart is not taken for a crash; a second run changes nothing (settings
    compared by value); then `backup base` and `backup check`, the documented order, pass at
    once on the quiet server; the supervisor still watches the new postmaster."""
    env = environment(data_dir=workdir / "data", KUMKM_BACKUP_DIR=workdir / "backups")
    served = Served(env, log=workdir / "serve.log").wait_ready()
    try:
        key = api_key(env, "--role", "admin", "--name", "admin-backup")
        first = _postmaster_pid(env)
        said = _ok(cli(env, "backup", "enable"))
        assert "WAL archiving on" in said and "restarted once" in said, said
        _answers(served.url, key)
        second = _postmaster_pid(env)
        assert second != first
        time.sleep(2 * 0.5 + 0.5)  # the supervisor polls every 0.5 s: it has looked by now
        log = served.output()
        assert "died" not in log and "left over" not in log and "did not start" not in log, log
        assert _postmaster_pid(env) == second  # nobody restarted it behind the command's back

        said = _ok(cli(env, "backup", "enable"))
        assert "nothing changed" in said, said
        assert _postmaster_pid(env) == second

        # item 9: a quiet server right after a base backup (which ends with a WAL switch)
        assert "verified" in _ok(cli(env, "backup", "base"))
        started = time.monotonic()
        assert "is in the archive" in _ok(cli(env, "backup", "check", "--timeout", "30"))
        assert time.monotonic() - started < 15

        # the supervisor watches the restarted postmaster: a crash of it is recovered
        os.kill(second, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while "running again" not in served.output():
            assert time.monotonic() < deadline, served.output()
            time.sleep(0.2)
        _answers(served.url, key)
    finally:
        served.stop()
    # and the serve that ended stopped the server it watched, the restarted one included
    assert cli(env, "db", "status").returncode == 3


def test_backup_enable_refuses_a_directory_the_database_server_cannot_write(workdir):
    env = environment(data_dir=workdir / "data")
    user = "embedded_postgres" if os.geteuid() == 0 else getpass.getuser()
    locked = workdir / "read-only"
    for d in (locked, locked / "wal", locked / "base"):
        d.mkdir()
    for d in (locked / "wal", locked / "base", locked):
        d.chmod(0o555)
    cases = [locked]
    if os.geteuid() == 0:  # as root: a directory the server's own user cannot even reach
        (workdir / "root-only").mkdir(mode=0o700)
        cases.append(workdir / "root-only" / "backups")
    for backup_dir in cases:
        started = time.monotonic()
        done = cli(env, "backup", "enable", "--dir", str(backup_dir))
        assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
        assert str(backup_dir / "wal") in done.stderr and repr(user) in done.stderr, done.stderr
        assert "cannot write" in done.stderr
        assert time.monotonic() - started < 30  # at once, not after a check's 60 s
    # and nothing was turned on
    done = cli(env, "backup", "check", "--dir", str(workdir / "elsewhere"), "--timeout", "5")
    assert done.returncode == 1 and "archiving is off" in done.stderr, done.stderr


# ------------------------------------------------------------------ 9. the README's worked example


def _readme_key_line() -> str:
    readme = (ROOT / "README.md").read_text()
    example = readme.split("## Worked example", 1)[1].split("\n## ", 1)[0]
    line = next(x for x in example.splitlines() if x.startswith("KEY=$(./dev kumkm apikey create"))
    return line.split("  #", 1)[0]


async def test_the_readme_worked_example_runs_again(database_url, live_server):
    """The example's key line, run twice (as a user who comes back to it does), gives a working
    key both times; the second replaces the first."""
    line = _readme_key_line().replace("./dev kumkm", shlex.quote(KUMKM))
    script = f"set -eu\n{line}\nprintf '%s\\n' \"$KEY\"\n"
    env = environment(database_url=database_url)
    got = []
    for _ in range(2):
        done = await asyncio.to_thread(
            subprocess.run, ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        got.append(done.stdout.strip())
    first, second = got
    assert first.startswith("kumkm_") and second.startswith("kumkm_") and first != second, got
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as c:
        me = await c.get("/api/v1/me", headers=auth(second))
        assert me.status_code == 200 and me.json()["name"] == "enum-banyuasin", me.text
        assert_problem(await c.get("/api/v1/me", headers=auth(first)), "unauthorized")


def test_a_name_given_before_fails_loudly_with_nothing_on_stdout(database_url):
    """`KEY=$(kumkm apikey create ... | tail -1)` must not take a line of an error for a key:
    the failure is an exit code and a sentence on stderr naming the way out."""
    env = environment(database_url=database_url)
    api_key(env, "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-twice")
    done = cli(env, "apikey", "create", "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-twice")
    assert done.returncode == 2 and done.stdout == "", done
    assert "already given to key #" in done.stderr and "--if-exists rotate" in done.stderr, done.stderr
    # rotating a holder into another role or scope is refused, not quietly done
    done = cli(env, "apikey", "create", "--role", "enumerator", "--wilayah", "16.71", "--name", "enum-twice", "--if-exists", "rotate")
    assert done.returncode == 2 and done.stdout == "" and "wilayah 16.07 (asked: 16.71)" in done.stderr, done


# ------------------------------------------------------------------ 7. key names alike


async def test_key_names_alike_but_for_case_or_spaces_are_one_name(database_url, live_server, keys, pg):
    env = environment(database_url=database_url)
    key = await asyncio.to_thread(api_key, env, "--role", "dinas", "--wilayah", "16", "--name", "  Dinas   Sumsel ")
    assert await pg.fetchval("SELECT name FROM api_keys") == "Dinas Sumsel"  # stored normalised
    first_id = await pg.fetchval("SELECT id FROM api_keys")
    for alike in ("Dinas Sumsel", "dinas sumsel", "DINAS SUMSEL", "Dinas\tSumsel", " dinas  sumsel", "Ｄｉｎａｓ Ｓｕｍｓｅｌ"):
        done = await asyncio.to_thread(cli, env, "apikey", "create", "--role", "dinas", "--wilayah", "16", "--name", alike)
        assert done.returncode == 2 and done.stdout == "", (alike, done)
        assert f"already given to key #{first_id}" in done.stderr, (alike, done.stderr)
    assert await pg.fetchval("SELECT count(*) FROM api_keys") == 1

    # a name alike, made before names were normalised (straight in the database), is found too
    await keys.make("enumerator", "16.07", name="enum  Lama ")
    done = await asyncio.to_thread(cli, env, "apikey", "create", "--role", "enumerator", "--wilayah", "16.07", "--name", "ENUM LAMA")
    assert done.returncode == 2 and "already given" in done.stderr, done

    # rotating by a look-alike hands the same holder on, under the name as first given
    new = await asyncio.to_thread(api_key, env, "--role", "dinas", "--wilayah", "16", "--name", "dinas SUMSEL", "--if-exists", "rotate")
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as c:
        me = await c.get("/api/v1/me", headers=auth(new))
        assert me.status_code == 200 and me.json()["name"] == "Dinas Sumsel", me.text
        assert_problem(await c.get("/api/v1/me", headers=auth(key)), "unauthorized")
    assert await pg.fetchval("SELECT count(DISTINCT identity_id) FROM api_keys WHERE name = 'Dinas Sumsel'") == 1


# ------------------------------------------------------------------ 9. a quiet start


def test_start_up_says_what_matters_and_db_status_warns_of_nothing(workdir):
    env = environment(data_dir=workdir / "data")
    env.pop("XDG_RUNTIME_DIR", None)  # as in a container, cron or sudo
    served = Served(env, "--log-level", "info", log=workdir / "serve.log").wait_ready()
    try:
        lines = served.output().splitlines()
        assert any("Uvicorn running on" in x for x in lines), lines
        assert any("database schema migrated to" in x for x in lines), lines
        assert not [x for x in lines if "alembic" in x or '"logger": "embedded_postgres"' in x], lines
        assert len(lines) <= 10, "\n".join(lines)
        status = cli(env, "db", "status")
        assert status.returncode == 0 and "running" in status.stdout
        assert status.stderr == "", status.stderr
    finally:
        served.stop()
