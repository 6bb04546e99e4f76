"""Targets keep every revision; reports take the one in force on their date; the CSV import
is all or nothing and names the bad line."""

from __future__ import annotations

import asyncio
import os
import sys

import pytest

from tests.support.common import auth
from tests.support.problems import assert_problem

KEPDEP_53 = {"target": 489_000, "dasar_hukum": "Kepdep 53/2022", "berlaku_mulai": "2022-04-01"}
KEPDEP_63 = {"target": 337_410, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-08-01"}


async def test_revision_keeps_history_and_as_of_picks_the_value_in_force(client, admin, pg):
    r1 = await client.put("/api/v1/targets/2022/16", json=KEPDEP_53, headers=auth(admin))
    assert r1.status_code == 201, r1.text
    assert r1.json()["riwayat"][0]["dibuat_oleh"] == "admin-kemenkop"
    r2 = await client.put("/api/v1/targets/2022/16", json=KEPDEP_63, headers=auth(admin))
    assert r2.status_code == 201
    assert await pg.fetchval("SELECT count(*) FROM target_pendataan") == 2

    async def at(day):
        r = await client.get("/api/v1/targets/2022/16", params={"as_of": day} if day else {}, headers=auth(admin))
        assert r.status_code == 200, r.text
        return r.json()

    before, during, after, today = await at("2022-03-31"), await at("2022-05-01"), await at("2022-09-01"), await at(None)
    assert before["berlaku"] is None
    assert during["berlaku"]["target"] == 489_000 and during["berlaku"]["dasar_hukum"] == "Kepdep 53/2022"
    assert after["berlaku"]["target"] == 337_410 and after["berlaku"]["revisi"] == 2
    assert today["berlaku"]["target"] == 337_410
    assert [(h["revisi"], h["target"], h["berlaku_mulai"]) for h in after["riwayat"]] == [
        (1, 489_000, "2022-04-01"),
        (2, 337_410, "2022-08-01"),
    ]
    assert after["nama"] == "Sumatera Selatan"
    # the boundary day itself is already the new value
    assert (await at("2022-08-01"))["berlaku"]["target"] == 337_410
    assert (await at("2022-07-31"))["berlaku"]["target"] == 489_000


async def test_identical_put_adds_nothing_and_a_same_day_correction_wins(client, admin, pg):
    assert (await client.put("/api/v1/targets/2022/16.07", json={**KEPDEP_63, "target": 41_000}, headers=auth(admin))).status_code == 201
    again = await client.put("/api/v1/targets/2022/16.07", json={**KEPDEP_63, "target": 41_000}, headers=auth(admin))
    assert again.status_code == 200
    assert await pg.fetchval("SELECT count(*) FROM target_pendataan") == 1
    fixed = await client.put("/api/v1/targets/2022/16.07", json={**KEPDEP_63, "target": 41_910}, headers=auth(admin))
    assert fixed.status_code == 201
    body = fixed.json()
    assert [h["target"] for h in body["riwayat"]] == [41_000, 41_910]
    r = await client.get("/api/v1/targets/2022/16.07", params={"as_of": "2022-12-31"}, headers=auth(admin))
    assert r.json()["berlaku"]["target"] == 41_910


async def test_concurrent_identical_puts_store_one_revision(client, admin, pg):
    rs = await asyncio.gather(*[client.put("/api/v1/targets/2022/16.71", json=KEPDEP_63, headers=auth(admin)) for _ in range(8)])
    assert sorted(r.status_code for r in rs) == [200] * 7 + [201]
    assert await pg.fetchval("SELECT count(*) FROM target_pendataan") == 1


@pytest.mark.parametrize(
    "body,field",
    [
        ({**KEPDEP_63, "target": -1}, "target"),
        ({**KEPDEP_63, "target": 1.5}, "target"),
        ({**KEPDEP_63, "target": "337410"}, "target"),
        ({**KEPDEP_63, "target": 10**12}, "target"),
        ({"dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-08-01"}, "target"),
        ({**KEPDEP_63, "dasar_hukum": "   "}, "dasar_hukum"),
        ({**KEPDEP_63, "berlaku_mulai": "2022-02-30"}, "berlaku_mulai"),
        ({**KEPDEP_63, "berlaku_mulai": "kemarin"}, "berlaku_mulai"),
        ({**KEPDEP_63, "catatan": "x"}, "catatan"),
    ],
)
async def test_bad_target_body_names_the_field(client, admin, body, field):
    r = await client.put("/api/v1/targets/2022/16", json=body, headers=auth(admin))
    assert_problem(r, "invalid-input")
    assert field in {e["field"] for e in r.json()["errors"]}


@pytest.mark.parametrize(
    "path,field",
    [
        ("/api/v1/targets/2019/16", "periode"),
        ("/api/v1/targets/22/16", "periode"),
        ("/api/v1/targets/2022/99", "kode_wilayah"),
        ("/api/v1/targets/2022/16.07.01.9999", "kode_wilayah"),
        ("/api/v1/targets/2022/abc", "kode_wilayah"),
    ],
)
async def test_bad_target_path_names_the_field(client, admin, path, field):
    for r in (await client.put(path, json=KEPDEP_63, headers=auth(admin)), await client.get(path, headers=auth(admin))):
        assert_problem(r, "invalid-input")
        assert r.json()["errors"][0]["field"] == field


async def test_get_without_any_target_is_404(client, admin):
    r = await client.get("/api/v1/targets/2022/16.07", headers=auth(admin))
    assert_problem(r, "not-found")
    r = await client.get("/api/v1/targets/2022/16", params={"as_of": "1 Agustus"}, headers=auth(admin))
    assert_problem(r, "invalid-input")
    assert r.json()["errors"][0]["field"] == "as_of"


async def test_who_may_set_and_read_targets(client, keys, admin):
    dinas_prov = await keys.make("dinas", "16")
    dinas_kab = await keys.make("dinas", "16.07")
    # The first PUT of a target creates it (201); the same PUT again, from any key allowed to
    # make it, adds nothing (200).
    cases = [
        (dinas_prov, "16.07", 201),
        (dinas_prov, "16", 201),
        (dinas_prov, "17", 403),
        (dinas_kab, "16.07", 200),
        (dinas_kab, "16", 403),
        (dinas_kab, "16.71", 403),
        (await keys.make("verifikator", "16.07"), "16.07", 403),
        (await keys.make("walidata"), "16", 403),
        (await keys.make("enumerator", "16"), "16", 403),
    ]
    for key, kode, status in cases:
        r = await client.put(f"/api/v1/targets/2022/{kode}", json=KEPDEP_63, headers=auth(key))
        assert r.status_code == status, (kode, r.text)
    assert_problem(await client.put("/api/v1/targets/2022/16", json=KEPDEP_63), "unauthorized")
    # reading: report roles within their scope
    r = await client.get("/api/v1/targets/2022/16.07", headers=auth(dinas_kab))
    assert r.status_code == 200 and [h["dibuat_oleh"] for h in r.json()["riwayat"]] == ["dinas-16"]
    assert_problem(await client.get("/api/v1/targets/2022/16", headers=auth(dinas_kab)), "outside-scope")
    enum = await keys.make("enumerator", "16")
    assert_problem(await client.get("/api/v1/targets/2022/16", headers=auth(enum)), "role-forbidden")


# ---------------------------------------------------------------- CLI import


async def _kumkm(database_url, *args) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "DATABASE_URL": database_url},
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_cli_import_is_all_or_nothing_and_names_bad_lines(database_url, pg, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "periode,kode_wilayah,target,dasar_hukum,berlaku_mulai\n"
        "2022,16.07,41910,Kepdep 63/2022,2022-08-01\n"
        "2022,16.03,60.300,Kepdep 63/2022,2022-08-01\n"  # line 3: thousands separator
        "2022,16.99,100,Kepdep 63/2022,2022-08-01\n"  # line 4: no such kabkota
        "2022,16.71,82910,Kepdep 63/2022,2022-13-01\n"  # line 5: no month 13
        "2022,16.07,41000,Kepdep 63/2022,2022-08-01\n"
    )  # line 6: repeats line 2's key
    code, out, err = await _kumkm(database_url, "targets", "import", str(bad))
    assert code == 1, (out, err)
    assert "line 3: target" in err and "line 4: kode_wilayah" in err and "line 5: berlaku_mulai" in err
    assert "line 6" in err and "line 2" in err
    assert "line 2:" not in err
    assert await pg.fetchval("SELECT count(*) FROM target_pendataan") == 0

    good = tmp_path / "targets.csv"
    good.write_text(
        "periode,kode_wilayah,target,dasar_hukum,berlaku_mulai\n"
        "2022,16,489000,Kepdep 53/2022,2022-04-01\n"
        "2022,16,337410,Kepdep 63/2022,2022-08-01\n"
        '2022,16.07,41910,"Kepdep 63/2022, lampiran I",2022-08-01\n'
    )
    code, out, err = await _kumkm(database_url, "targets", "import", str(good), "--oleh", "operator-pusat")
    assert code == 0, err
    assert "3 revisions added" in out
    rows = await pg.fetch("SELECT kode_wilayah, target, dasar_hukum, berlaku_mulai::text, dibuat_oleh FROM target_pendataan ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("16", 489000, "Kepdep 53/2022", "2022-04-01", "operator-pusat"),
        ("16", 337410, "Kepdep 63/2022", "2022-08-01", "operator-pusat"),
        ("16.07", 41910, "Kepdep 63/2022, lampiran I", "2022-08-01", "operator-pusat"),
    ]
    code, out, _ = await _kumkm(database_url, "targets", "import", str(good))
    assert code == 0 and "0 revisions added, 3 already present" in out
    assert await pg.fetchval("SELECT count(*) FROM target_pendataan") == 3

    header = tmp_path / "header.csv"
    header.write_text("periode;kode;target\n2022;16;1\n")
    code, _, err = await _kumkm(database_url, "targets", "import", str(header))
    assert code == 1 and "line 1: header" in err and "kode_wilayah" in err


async def test_nul_in_any_text_field_is_a_4xx_not_a_500(client, keys):
    from tests.support.common import auth as _auth

    admin = await keys.make("admin", name="nul-admin")
    r = await client.put(
        "/api/v1/targets/2022/16.07",
        headers=_auth(admin),
        json={"target": 10, "dasar_hukum": "Kepdep\u000063/2022", "berlaku_mulai": "2022-08-01"},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid-input", r.text


async def test_deadline_is_part_of_the_revision(client, admin, pg):
    """batas_waktu follows the amount's rules: it belongs to a revision, a revision may change it,
    the one in force is the in-force revision's, and an equal PUT adds nothing."""
    first = {**KEPDEP_53, "batas_waktu": "2022-10-31"}
    r = await client.put("/api/v1/targets/2022/16", json=first, headers=auth(admin))
    assert r.status_code == 201, r.text
    assert r.json()["riwayat"][0]["batas_waktu"] == "2022-10-31"
    assert (await client.put("/api/v1/targets/2022/16", json=first, headers=auth(admin))).status_code == 200
    # the same amount and basis with another deadline is a revision of its own
    later = {**KEPDEP_53, "batas_waktu": "2022-11-30"}
    assert (await client.put("/api/v1/targets/2022/16", json=later, headers=auth(admin))).status_code == 201
    assert (await client.put("/api/v1/targets/2022/16", json=KEPDEP_63, headers=auth(admin))).status_code == 201
    doc = (await client.get("/api/v1/targets/2022/16", params={"as_of": "2022-05-01"}, headers=auth(admin))).json()
    assert doc["berlaku"]["batas_waktu"] == "2022-11-30"
    assert [h["batas_waktu"] for h in doc["riwayat"]] == ["2022-10-31", "2022-11-30", None]
    doc = (await client.get("/api/v1/targets/2022/16", params={"as_of": "2022-09-01"}, headers=auth(admin))).json()
    assert doc["berlaku"]["batas_waktu"] is None  # Kepdep 63 set no deadline
    assert await pg.fetchval("SELECT count(*) FROM target_pendataan WHERE batas_waktu IS NOT NULL") == 2


@pytest.mark.parametrize("batas", ["2022-03-31", "31-10-2022", 20221031])
async def test_bad_deadline_names_the_field(client, admin, batas):
    r = await client.put("/api/v1/targets/2022/16", json={**KEPDEP_53, "batas_waktu": batas}, headers=auth(admin))
    problem = assert_problem(r, "invalid-input")
    assert any("batas_waktu" in str(e) for e in problem["errors"]), problem


async def test_cli_import_takes_the_optional_deadline(database_url, pg, tmp_path):
    f = tmp_path / "t.csv"
    f.write_text(
        "periode,kode_wilayah,target,dasar_hukum,berlaku_mulai,batas_waktu\n"
        "2022,16,489000,Kepdep 53/2022,2022-04-01,2022-10-31\n"
        "2022,16.07,41910,Kepdep 63/2022,2022-08-01,\n"
    )
    code, out, err = await _kumkm(database_url, "targets", "import", str(f))
    assert code == 0, err
    rows = await pg.fetch("SELECT kode_wilayah, batas_waktu::text FROM target_pendataan ORDER BY id")
    assert [tuple(r) for r in rows] == [("16", "2022-10-31"), ("16.07", None)]
    code, out, _ = await _kumkm(database_url, "targets", "import", str(f))
    assert code == 0 and "0 revisions added, 2 already present" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("periode,kode_wilayah,target,dasar_hukum,berlaku_mulai,batas_waktu\n2022,16,1,K 1/2022,2022-08-01,2022-07-01\n")
    code, _, err = await _kumkm(database_url, "targets", "import", str(bad))
    assert code == 1 and "line 2: batas_waktu" in err
