"""Operators create, rotate, expire and revoke keys with the CLI; the service honours it."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx

from tests.support.common import ROOT, auth, eventually
from tests.support.problems import assert_problem


def kumkm(*args: str, database_url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


async def test_create_rotate_revoke_with_the_cli(database_url, live_server, pg):
    from app.keys import service

    out = kumkm("apikey", "create", "--role", "verifikator", "--wilayah", "16.07", "--name", "verif-a", database_url=database_url)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("kumkm_")
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        assert (await c.get("/api/v1/wilayah", headers=auth(key))).status_code == 200
        row = await pg.fetchrow("SELECT id, key_prefix, role, kode_wilayah FROM api_keys WHERE name = 'verif-a'")
        assert (row["role"], row["kode_wilayah"]) == ("verifikator", "16.07")

        rotated = kumkm("apikey", "rotate", str(row["id"]), database_url=database_url)
        assert rotated.returncode == 0, rotated.stderr
        new_key = rotated.stdout.strip().splitlines()[-1]
        service.clear_cache()
        assert_problem(await c.get("/api/v1/wilayah", headers=auth(key)), "unauthorized")
        assert (await c.get("/api/v1/wilayah", headers=auth(new_key))).status_code == 200
        new = await pg.fetchrow("SELECT role, kode_wilayah FROM api_keys WHERE key_prefix = $1", new_key[:14])
        assert tuple(new) == ("verifikator", "16.07")

        listed = kumkm("apikey", "list", database_url=database_url)
        assert "verif-a" in listed.stdout and new_key not in listed.stdout and key not in listed.stdout

        assert kumkm("apikey", "revoke", new_key[:14], database_url=database_url).returncode == 0
        service.clear_cache()
        assert_problem(await c.get("/api/v1/wilayah", headers=auth(new_key)), "unauthorized")
        assert kumkm("apikey", "revoke", "nope", database_url=database_url).returncode == 1


async def test_rotation_with_grace_keeps_the_old_key_for_a_while(database_url, live_server):
    out = kumkm(
        "apikey", "create", "--role", "dinas", "--wilayah", "16", "--name", "dinas-g", "--expires-days", "30", database_url=database_url
    )
    key = out.stdout.strip().splitlines()[-1]
    rotated = kumkm("apikey", "rotate", key[:14], "--grace-hours", "24", database_url=database_url)
    new_key = rotated.stdout.strip().splitlines()[-1]
    async with httpx.AsyncClient(base_url=live_server.url) as c:
        assert (await c.get("/api/v1/wilayah", headers=auth(key))).status_code == 200
        assert (await c.get("/api/v1/wilayah", headers=auth(new_key))).status_code == 200


def test_bad_scope_is_refused(database_url):
    out = kumkm("apikey", "create", "--role", "dinas", "--wilayah", "16.07.01", database_url=database_url)
    assert out.returncode == 2 and "provinsi or kabupaten/kota" in out.stderr
    out = kumkm("apikey", "create", "--role", "raja", database_url=database_url)
    assert out.returncode == 2


async def test_last_used_time_is_recorded(client, keys, pg):
    k = await keys.make("dinas", "16", name="dinas-used")
    await client.get("/api/v1/wilayah", headers=auth(k))
    assert await eventually(lambda: pg.fetchval("SELECT last_used_at FROM api_keys WHERE name = 'dinas-used'"))


def test_keys_that_would_be_ambiguous_are_refused(database_url):
    cases = [
        (("--role", "admin", "--wilayah", "16", "--name", "adm-16"), "national"),
        (("--role", "enumerator", "--name", "enum-x"), "--wilayah"),
        (("--role", "enumerator", "--wilayah", "16.07"), "--name"),
    ]
    for args, fragment in cases:
        out = kumkm("apikey", "create", *args, database_url=database_url)
        assert out.returncode == 2 and fragment in out.stderr, (args, out.stderr)
    ok = kumkm("apikey", "create", "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-dup", database_url=database_url)
    assert ok.returncode == 0
    again = kumkm("apikey", "create", "--role", "enumerator", "--wilayah", "16.07", "--name", "enum-dup", database_url=database_url)
    assert again.returncode == 2 and "rotate" in again.stderr


def test_list_has_a_header_and_says_pii_expiry_and_status(database_url):
    def made(*args) -> str:
        out = kumkm("apikey", "create", *args, database_url=database_url)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip().splitlines()[-1]

    plain = made("--role", "dinas", "--wilayah", "16", "--name", "dinas-list")
    made("--role", "walidata", "--name", "walidata-list", "--pii", "--expires-days", "30")
    gone = made("--role", "verifikator", "--wilayah", "16.07", "--name", "verif-list")
    assert kumkm("apikey", "revoke", gone[:14], database_url=database_url).returncode == 0
    assert kumkm("apikey", "rotate", plain[:14], "--grace-hours", "24", database_url=database_url).returncode == 0

    listed = kumkm("apikey", "list", database_url=database_url)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["id", "prefix", "role", "wilayah", "name", "pii", "expires", "status", "last", "used", "mitra"]
    by_name = {}
    for row in rows:
        cells = row.split()
        by_name.setdefault(cells[4], []).append(cells)
    old, new = by_name["dinas-list"]
    assert old[7:9] == ["grace", "until"] and old[9].endswith("Z") and old[6] == old[9]  # expires = grace end
    assert new[7] == "active" and new[6] == "-" and new[5] == "no"
    (w,) = by_name["walidata-list"]
    assert w[5] == "yes" and w[6].endswith("Z") and w[7] == "active"
    (v,) = by_name["verif-list"]
    assert v[7] == "revoked"
    assert plain not in listed.stdout


def test_revoke_takes_a_prefix_with_or_without_kumkm_and_names_ambiguity(database_url):
    keys = []
    for i in range(2):
        out = kumkm("apikey", "create", "--role", "dinas", "--wilayah", "16", "--name", f"dinas-amb-{i}", database_url=database_url)
        keys.append(out.stdout.strip().splitlines()[-1])
    ambiguous = kumkm("apikey", "revoke", "kumkm_", database_url=database_url)
    assert ambiguous.returncode == 2
    assert "ambiguous" in ambiguous.stderr
    assert all(k[:14] in ambiguous.stderr for k in keys), ambiguous.stderr  # the candidates
    assert "dinas-amb-0" in ambiguous.stderr and "dinas-amb-1" in ambiguous.stderr
    # without kumkm_, as a user copies it from the secret's random part
    short = keys[0][len("kumkm_") : len("kumkm_") + 6]
    if keys[1].startswith("kumkm_" + short):  # astronomically unlikely; keep the test exact
        return
    # `--`: a key's random part may begin with "-" (base64url), which argparse reads as an option
    out = kumkm("apikey", "revoke", "--", short, database_url=database_url)
    assert out.returncode == 0 and "dinas-amb-0" in out.stdout, out.stderr
    again = kumkm("apikey", "revoke", keys[0][:14] + "…", database_url=database_url)
    assert again.returncode == 1 and "not yet revoked" in again.stderr and "revoked" in again.stderr
    assert kumkm("apikey", "revoke", "nope-nothing", database_url=database_url).returncode == 1
