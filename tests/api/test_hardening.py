"""What an attacker or a buggy client tries, and what it gets: ownership that no later key
inherits, CSV cells that never run as formulas, device ids that cannot be squatted, extreme
dates and numbers, bodies of the wrong media type or size. Each answer is a clear 4xx; nothing
stored is lost or half-written."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid

import pytest

from tests.support.common import ROOT, auth, eventually
from tests.support.factories import DESA, umkm
from tests.support.helpers import post_one
from tests.support.problems import assert_problem
from tests.support.serve_helpers import cli, environment
from tests.support.verification_helpers import tolak

OPENAPI = json.loads((ROOT / "openapi" / "openapi.json").read_text())


# ------------------------------------------------------------------ ownership is an identity


async def test_a_new_key_with_an_old_name_inherits_nothing(client, keys, pg, database_url):
    """A revoked enumerator's name cannot be given to a new key, and even a key that carries
    the name (made before the rule, or straight in the database) neither corrects nor reads
    the personal data of the old holder's records."""
    old = await keys.make("enumerator", "16.07", name="enum-budi")
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    rec = await post_one(client, old)
    sid = rec["submission_id"]
    nik_asli = rec["nik_pemilik"]
    assert (await tolak(client, verif, sid)).status_code == 200
    await pg.execute("UPDATE api_keys SET revoked_at = now() WHERE name = 'enum-budi'")

    # the CLI's way: the name is not issued again
    env = environment(database_url=database_url)
    p = await asyncio.to_thread(cli, env, "apikey", "create", "--role", "enumerator", "--wilayah", "16.71", "--name", "enum-budi")
    assert p.returncode == 2 and "never issued twice" in p.stderr and "apikey rotate" in p.stderr, p.stderr

    # a same-named key that exists anyway (e.g. inserted by hand) is another holder
    new = await keys.make("enumerator", "16.71", name="enum-budi")
    moved = {**umkm(), "submission_id": sid, "kode_wilayah": "16.71.01.1001", "nik_pemilik": rec["nik_pemilik"]}
    r = await client.put(f"/api/v1/submissions/{sid}", json=moved, headers=auth(new))
    assert_problem(r, "forbidden")
    assert "pemegang kunci yang membuatnya" in r.json()["detail"]
    r = await client.get(f"/api/v1/submissions/{sid}/versi/1", headers=auth(new))
    assert_problem(r, "outside-scope")  # 16.07 is outside the new key's scope
    row = await pg.fetchrow("SELECT status, version, kode_wilayah FROM submissions WHERE submission_id = $1", uuid.UUID(sid))
    assert tuple(row) == ("ditolak", 1, DESA)

    # the same holder, rotated, keeps the record (rotation works on a revoked holder's newest key)
    old_id = await pg.fetchval("SELECT id FROM api_keys WHERE name = 'enum-budi' ORDER BY id LIMIT 1")
    p = await asyncio.to_thread(cli, env, "apikey", "rotate", str(old_id))
    assert p.returncode == 0, p.stderr
    successor = p.stdout.strip().splitlines()[-1]
    r = await client.get(f"/api/v1/submissions/{sid}/versi/1", headers=auth(successor))
    assert r.status_code == 200 and r.json()["data"]["nik_pemilik"] == nik_asli
    fixed = {**umkm(), "submission_id": sid, "nik_pemilik": nik_asli, "alamat": "Jl. Baru 2"}
    r = await client.put(f"/api/v1/submissions/{sid}", json=fixed, headers=auth(successor))
    assert r.status_code == 200, r.text


async def test_a_correction_needs_the_record_inside_the_keys_scope(client, keys, pg):
    """The owner whose key no longer covers the record's wilayah cannot correct it."""
    key = await keys.make("enumerator", "16.07", name="enum-sari")
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    rec = await post_one(client, key)
    sid = rec["submission_id"]
    assert (await tolak(client, verif, sid)).status_code == 200
    await pg.execute("UPDATE api_keys SET kode_wilayah = '16.71' WHERE name = 'enum-sari'")

    # the change reaches the service's key cache through the database's notification: wait
    # until the key is seen with its new scope (its 16.07 record is then outside it)
    async def moved() -> bool:
        return (await client.get(f"/api/v1/submissions/{sid}", headers=auth(key))).status_code == 403

    await eventually(moved)
    fixed = {**umkm(), "submission_id": sid, "nik_pemilik": rec["nik_pemilik"], "kode_wilayah": "16.71.01.1001"}
    r = await client.put(f"/api/v1/submissions/{sid}", json=fixed, headers=auth(key))
    assert_problem(r, "outside-scope")
    assert "di luar wilayah kunci ini" in r.json()["detail"]


async def test_an_old_versions_personal_data_follows_that_versions_wilayah(client, keys, pg):
    """A record corrected from 16.07 into 16.71: a verifikator of 16.71 sees the new version
    unmasked but version 1, taken in 16.07, masked."""
    key = await keys.make("enumerator", "16", name="enum-sumsel")
    verif = await keys.make("verifikator", "16.07", name="verif-banyuasin")
    verif_plg = await keys.make("verifikator", "16.71", name="verif-palembang")
    rec = await post_one(client, key)
    sid = rec["submission_id"]
    assert (await tolak(client, verif, sid)).status_code == 200
    moved = {**umkm(), "submission_id": sid, "kode_wilayah": "16.71.01.1001", "nik_pemilik": rec["nik_pemilik"]}
    assert (await client.put(f"/api/v1/submissions/{sid}", json=moved, headers=auth(key))).status_code == 200
    v2 = (await client.get(f"/api/v1/submissions/{sid}/versi/2", headers=auth(verif_plg))).json()
    v1 = (await client.get(f"/api/v1/submissions/{sid}/versi/1", headers=auth(verif_plg))).json()
    assert v2["pii_masked"] is False and v2["data"]["nik_pemilik"] == rec["nik_pemilik"]
    assert v1["pii_masked"] is True and v1["data"]["nik_pemilik"] != rec["nik_pemilik"]


# ------------------------------------------------------------------ CSV formula injection

FORMULA = '=HYPERLINK("http://evil.example","klik")'


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_csv_cells_never_run_as_formulas(client, keys, tmp_path, database_url):
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    walidata = await keys.make("walidata", name="kemenkop", pii=True)
    rec = umkm(nama_usaha=FORMULA, alamat="@SUM(A1:A9)", nama_pemilik="-2+3*Siti", telepon="+62812345678")
    assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum))).status_code == 201
    snap = await client.get("/api/v1/sync/snapshot", params={"format": "csv"}, headers=auth(walidata))
    row = _rows(snap.text)[0]
    assert row["nama_usaha"] == "'" + FORMULA
    assert row["alamat"] == "'@SUM(A1:A9)"
    assert row["nama_pemilik"] == "'-2+3*Siti"
    assert row["telepon"] == "'+62812345678"
    assert row["modal_usaha"] == str(rec["modal_usaha"]) and row["version"] == "1"  # numbers stay numbers

    # kumkm export writes the same cells, and kumkm import reads them back as they were sent
    out = tmp_path / "ekspor.csv"
    p = await asyncio.to_thread(
        cli, environment(database_url=database_url), "export", "--periode", "2022", "--format", "csv", "--out", str(out)
    )
    assert p.returncode == 0, p.stderr
    exported = _rows(out.read_text())[0]
    assert exported["nama_usaha"] == "'" + FORMULA and exported["telepon"] == "'+62812345678"
    from app.record.flat import content_from_row

    content, _, _ = content_from_row(exported)
    assert content["nama_usaha"] == FORMULA and content["telepon"] == "+62812345678"


def test_text_cells_are_neutralised_and_numbers_are_not():
    from app.core.csvcell import read_cell, row, text_cell

    for bad in ("=1+1", "+1+1", "-1+1", "@A1", "\t=1", "\r=1", "=", "-cmd|' /C calc'!A0"):
        assert text_cell(bad) == "'" + bad
        assert read_cell(text_cell(bad)) == bad
    for ok in ("-", "-1.234.567", "-12,50%", "-0.25", "-5", "Kab. Banyuasin", "99,44%", "'quoted", ""):
        assert text_cell(ok) == ok
    assert row(["=x", 5, None, "-1.000"]) == ["'=x", 5, None, "-1.000"]


async def test_report_csvs_neutralise_names_people_typed(client, keys):
    """A tujuan and a sasaran named like formulas reach the LKjIP CSV as text."""
    admin = await keys.make("admin", name="admin")
    r = await client.post(
        "/api/v1/indikator/tujuan", headers=auth(admin), json={"pemilik": "16", "kode": "T1", "nama": "=cmd|'/C calc'!A0"}
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/indikator/sasaran",
        headers=auth(admin),
        json={"pemilik": "16", "kode": "S1", "nama": "+Sasaran=1", "tujuan_id": r.json()["id"]},
    )
    assert r.status_code == 201, r.text
    r = await client.post(
        "/api/v1/indikator",
        headers=auth(admin),
        json={
            "pemilik": "16",
            "kode": "IK1",
            "nama": "@Indikator",
            "sasaran_id": r.json()["id"],
            "satuan": "persen",
            "polaritas": "naik",
            "sumber": "manual",
            "renstra_mulai": 2019,
            "renstra_akhir": 2023,
        },
    )
    assert r.status_code == 201, r.text
    lkjip = await client.get("/api/v1/indikator/capaian", headers=auth(admin), params={"tahun": 2022, "wilayah": "16", "format": "csv"})
    assert lkjip.status_code == 200, lkjip.text
    cells = [c for line in csv.reader(io.StringIO(lkjip.text)) for c in line]
    assert {"'=cmd|'/C calc'!A0", "'+Sasaran=1", "'@Indikator"} <= set(cells), cells
    assert not any(c[:1] in ("=", "+", "@") for c in cells)


# ------------------------------------------------------------------ device ids


@pytest.mark.parametrize(
    "sid",
    [
        "00000000-0000-0000-0000-000000000000",  # nil
        "ffffffff-ffff-ffff-ffff-ffffffffffff",  # max
        "6ba7b810-9dad-11d1-80b4-00c04fd430c8",  # version 1 (MAC and time)
        str(uuid.uuid5(uuid.NAMESPACE_DNS, "kumkm")),  # version 5 (name-based: every device alike)
        "01890a5d-ac96-8ed1-ab3b-fe9c9f0d1e2f",  # version 8 (custom)
    ],
)
async def test_fixed_or_guessable_submission_ids_are_refused(client, keys, pg, sid):
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    r = await client.post("/api/v1/submissions", json=umkm(submission_id=sid), headers=auth(enum))
    assert_problem(r, "invalid-input")
    assert [e["field"] for e in r.json()["errors"]] == ["submission_id"]
    assert "versi 4 atau 7" in r.json()["errors"][0]["message"]
    batch = await client.post("/api/v1/submissions/batch", json={"items": [umkm(submission_id=sid)]}, headers=auth(enum))
    assert batch.json()["items"][0]["status"] == 422
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0


async def test_version_4_and_7_ids_are_accepted(client, keys):
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    v7 = "01890a5d-ac96-7ed1-ab3b-fe9c9f0d1e2f"
    for sid in (str(uuid.uuid4()), v7):
        r = await client.post("/api/v1/submissions", json=umkm(submission_id=sid), headers=auth(enum))
        assert r.status_code == 201, r.text


# ------------------------------------------------------------------ extreme values

EXTREME_INSTANTS = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00Z",
]
EXTREME_DATES = ["0001-01-01", "9999-12-31", "2022-02-29", "2024-02-29"]
EXTREME_INTS = [0, -1, 1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 10**30]


async def test_audit_time_bounds_out_of_range_are_named_422s(client, keys):
    admin = await keys.make("admin", name="admin")
    for param, value in (("since", "0001-01-01T00:00:00+14:00"), ("until", "9999-12-31T23:59:59-14:00")):
        r = await client.get("/api/v1/audit", params={param: value}, headers=auth(admin))
        assert_problem(r, "invalid-input")
        assert r.json()["errors"][0]["field"] == param and "di luar rentang" in r.json()["errors"][0]["message"]
    ok = await client.get("/api/v1/audit", params={"since": "0001-01-01T00:00:00Z", "until": "9999-12-31T23:59:59Z"}, headers=auth(admin))
    assert ok.status_code == 200


def _query_params():
    """Every (method, path, parameter, kind) of the API document whose value is a date, a time
    or an integer."""
    out = []
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            for p in op.get("parameters", []):
                schema = p.get("schema", {})
                kinds = {s.get("type"): s.get("format") for s in schema.get("anyOf", [schema])}
                if "integer" in kinds:
                    out.append((method.upper(), path, p, "int"))
                elif kinds.get("string") in ("date", "date-time"):
                    out.append((method.upper(), path, p, kinds["string"]))
    return out


PARAMS = _query_params()


# Valid-looking values for the path parameters of every route.
PATH_VALUES = {
    "submission_id": str(uuid.uuid4()),
    "periode": "2022",
    "kode_wilayah": "16",
    "tahun": 2022,
    "version": 1,
    "indikator_id": 1,
    "tujuan_id": 1,
    "sasaran_id": 1,
}


def _fill(path: str, values: dict) -> str:
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


async def test_every_date_and_integer_parameter_takes_extreme_values_without_a_5xx(client, keys):
    """The fuzz tests' extremes, sent to every date, time and integer parameter of the API
    document (path and query), each with the other path parameters valid-looking: answers are
    2xx or 4xx, never 5xx."""
    assert len(PARAMS) >= 20
    admin = await keys.make("admin", name="admin")
    failures = []
    for method, path, param, kind in PARAMS:
        if method not in ("GET", "DELETE"):
            continue  # writes are fuzzed with bodies elsewhere; their path ids are integers too
        values = {"int": EXTREME_INTS, "date": EXTREME_DATES, "date-time": EXTREME_INSTANTS}[kind]
        for v in values:
            path_values = dict(PATH_VALUES)
            query = {}
            if param["in"] == "path":
                path_values[param["name"]] = v
            else:
                query[param["name"]] = v
            if (
                "periode"
                in [
                    p["name"]
                    for p in OPENAPI["paths"][path][method.lower()].get("parameters", [])
                    if p.get("required") and p["in"] == "query"
                ]
                and param["name"] != "periode"
            ):
                query.setdefault("periode", "2022")
            if any(
                p["name"] == "tahun" and p.get("required") and p["in"] == "query"
                for p in OPENAPI["paths"][path][method.lower()].get("parameters", [])
            ):
                query.setdefault("tahun", 2022)
            r = await client.request(method, _fill(path, PATH_VALUES), params=query, headers=auth(admin))
            if r.status_code >= 500:
                failures.append(f"{method} {path} {param['name']}={v}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


async def test_database_range_errors_are_422_not_500(client, keys, pg):
    """Whatever slips past the edge (here a target beyond bigint) is the client's error."""
    admin = await keys.make("admin", name="admin")
    r = await client.put(
        "/api/v1/targets/2022/16.07",
        headers=auth(admin),
        json={"target": 10**30, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-01-01"},
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid-input", r.text


# ------------------------------------------------------------------ media type and size


def _json_writes():
    out = []
    for path, ops in OPENAPI["paths"].items():
        for method, op in ops.items():
            if path.startswith("/api/") and "application/json" in op.get("requestBody", {}).get("content", {}):
                out.append((method.upper(), path))
    return out


JSON_WRITES = _json_writes()


async def test_json_routes_refuse_other_media_types_with_415(client, keys, pg):
    assert len(JSON_WRITES) >= 10
    enum = await keys.make("enumerator", "16", name="enum-sumsel")
    body = json.dumps(umkm()).encode()
    for method, path in JSON_WRITES:
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx", None):
            headers = {**auth(enum)}
            if ctype:
                headers["content-type"] = ctype
            r = await client.request(method, _fill(path, PATH_VALUES), content=body, headers=headers)
            assert_problem(r, "unsupported-media-type")
            assert r.headers["content-type"] == "application/problem+json"
            assert "application/json" in r.json()["detail"]
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0
    for ctype in ("application/json", "application/json; charset=utf-8", "application/merge-patch+json"):
        r = await client.post("/api/v1/submissions", content=json.dumps(umkm()).encode(), headers={**auth(enum), "content-type": ctype})
        assert r.status_code == 201, (ctype, r.text)


async def test_oversized_chunked_bodies_are_413_on_every_route(client, keys, pg):
    from app.core.settings import settings

    admin = await keys.make("admin", name="admin")  # may call every route but a partner's: the body is read
    mitra = await keys.make("mitra", name="mitra")  # the partner's look-up (docs/mitra.md)
    chunk = b"[" + b"1," * (256 * 1024)

    async def body():  # no content-length: the limit is found while reading
        sent = 0
        while sent <= settings.max_body_bytes:
            yield chunk
            sent += len(chunk)

    for method, path in JSON_WRITES:
        r = await client.request(
            method,
            _fill(path, PATH_VALUES),
            content=body(),
            headers={**auth(mitra if path.startswith("/api/v1/kumkm/cek") else admin), "content-type": "application/json"},
        )
        assert_problem(r, "payload-too-large")
        assert str(settings.max_body_bytes) in r.json()["detail"]
    assert await pg.fetchval("SELECT count(*) FROM submissions") == 0
