"""Enumerator-app and dinas-dashboard developers start from a client generated from the
committed openapi/openapi.json: the document is valid OpenAPI 3.1 with plain schema names, and
openapi-python-client (with openapi/openapi-python-client.yaml, as the README says) makes a
client from it without dropping a schema or a response, which then runs the worked example
against the live service with typed models."""

from __future__ import annotations

import datetime as dt
import importlib
import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.support.common import ROOT, auth
from tests.support.factories import umkm

OPENAPI = ROOT / "openapi" / "openapi.json"
CONFIG = ROOT / "openapi" / "openapi-python-client.yaml"
PACKAGE = "kumkm_client"
# What the generator prints when it leaves something out ("Unable to process schema ...",
# "... has resulted in the removal of ...", "... response will be omitted ...", "Could not find
# reference ...", "Endpoint will not be generated"); --fail-on-warning also makes it exit 1.
DROPPED = re.compile(
    r"warning\(s\)|WARNING parsing|unable to|removal of|omitted|could not find|"
    r"not be generated",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def doc() -> dict:
    return json.loads(OPENAPI.read_text())


def test_document_validates_against_openapi_3_1(doc):
    assert doc["openapi"].startswith("3.1.")
    validate(doc, cls=OpenAPIV31SpecValidator)


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_every_schema_has_a_plain_name_and_every_ref_resolves(doc):
    schemas = doc["components"]["schemas"]
    # FastAPI names a schema after its module (app__targets__schemas__TargetIn) when two models
    # share a class name; generators then drop it and everything that refers to it.
    assert [n for n in schemas if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", n)] == []
    assert {n for n, s in schemas.items() if s.get("title", n) != n} == set()
    assert {
        "CapaianOut",
        "TargetIn",
        "TargetOut",
        "TargetRevisi",
        "IndikatorTargetIn",
        "IndikatorTargetRevisi",
        "SyncRecord",
        "ChangeLine",
        "EndLine",
    } <= set(schemas)
    assert {r for r in _refs(doc) if r.removeprefix("#/components/schemas/") not in schemas} == set()


@pytest.mark.parametrize("path, line", [("/api/v1/sync/changes", "ChangeLine"), ("/api/v1/sync/snapshot", "SyncRecord")])
def test_ndjson_streams_name_their_lines(doc, path, line):
    media = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/x-ndjson"]
    assert media["schema"]["type"] == "string"
    assert f"`{line}`" in media["schema"]["description"] and "`EndLine`" in media["schema"]["description"]
    assert media["x-itemSchema"] == {"anyOf": [{"$ref": f"#/components/schemas/{line}"}, {"$ref": "#/components/schemas/EndLine"}]}


@pytest.fixture(scope="module")
def kumkm_client(tmp_path_factory):
    """The client package, generated as the README says (into a temporary directory, without
    packaging metadata) and imported."""
    out = tmp_path_factory.mktemp("client")
    bin_dir = Path(sys.executable).parent
    run = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(OPENAPI),
            "--config",
            str(CONFIG),
            "--meta",
            "none",
            "--output-path",
            str(out / PACKAGE),
            "--fail-on-warning",
        ],
        cwd=out,
        capture_output=True,
        text=True,
        timeout=300,
        # its post-hooks format the code with ruff, installed beside it
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert not DROPPED.search(report), report
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def test_generated_client_has_every_operation(kumkm_client, doc):
    api = Path(kumkm_client.__file__).parent / "api"
    generated = {p.stem for p in api.rglob("*.py") if p.stem != "__init__"}
    # one module per operation, named after its operationId in snake case
    in_doc = {re.sub("_+", "_", op["operationId"]) for ops in doc["paths"].values() for op in ops.values()}
    assert in_doc == generated


async def test_generated_client_runs_the_worked_example(kumkm_client, live_server, keys):
    from kumkm_client import AuthenticatedClient
    from kumkm_client.api.capaian import capaian_pendataan_api_v1_capaian_pendataan_get as capaian_pendataan
    from kumkm_client.api.capaian import put_target_api_v1_targets_periode_kode_wilayah_put as put_target
    from kumkm_client.api.submissions import create_submission_api_v1_submissions_post as create_submission
    from kumkm_client.api.submissions import get_submission_api_v1_submissions_submission_id_get as get_submission
    from kumkm_client.models import (
        CapaianOut,
        CapaianPersen,
        CapaianRow,
        ProblemDetails,
        SubmissionOut,
        SubmissionOutStatus,
        SubmissionUmkm,
        SubmissionUmkmStatusTempat,
        TargetIn,
        TargetOut,
        TargetRevisi,
        WilayahRef,
    )

    # Keys are made by `kumkm apikey create`, not over HTTP; the fixture makes them the same way.
    enum_key = await keys.make("enumerator", "16.07", name="enum-banyuasin")
    dinas_key = await keys.make("dinas", "16", name="dinas-kumkm-sumsel")
    enumerator = AuthenticatedClient(base_url=live_server.url, token=enum_key, timeout=60)
    dinas = AuthenticatedClient(base_url=live_server.url, token=dinas_key, timeout=60)

    # The README's record.
    sid = uuid.UUID("7b0d6c1e-4a8e-4b55-9a3f-2f1d8e6b9c01")
    record = SubmissionUmkm(
        submission_id=sid,
        periode="2022",
        jenis="umkm",
        enumerator_id="ENUM-7",
        kode_wilayah="16.07.01.2001",
        captured_at=dt.datetime.fromisoformat("2022-06-01T09:30:00+07:00"),
        nama_usaha="Warung Bu Siti",
        nama_pemilik="Siti Aminah",
        nik_pemilik="1607015205850001",
        alamat="Jl. Merdeka 1",
        kbli="56101",
        status_tempat=SubmissionUmkmStatusTempat.MENETAP,
        modal_usaha=25_000_000,
    )
    async with enumerator:
        created = await create_submission.asyncio_detailed(client=enumerator, body=record)
        assert created.status_code == 201, created.content
        out = created.parsed
        assert isinstance(out, SubmissionOut)
        assert (out.submission_id, out.status, out.version, out.skala_usaha, out.sektor) == (
            sid,
            SubmissionOutStatus.MASUK,
            1,
            "mikro",
            "I",
        )
        assert (out.kode_wilayah, out.kode_kabkota, out.dibuat_oleh, out.pii_masked) == ("16.07.01.2001", "16.07", "enum-banyuasin", False)
        assert out.data["nama_usaha"] == "Warung Bu Siti" and out.data["nik_pemilik"] == "1607015205850001"

        replay = await create_submission.asyncio_detailed(client=enumerator, body=record)
        assert replay.status_code == 200 and replay.parsed.to_dict() == out.to_dict()
        other = SubmissionUmkm.from_dict({**record.to_dict(), "modal_usaha": 30_000_000})
        conflict = await create_submission.asyncio_detailed(client=enumerator, body=other)
        assert conflict.status_code == 409 and isinstance(conflict.parsed, ProblemDetails)
        assert conflict.parsed.status == 409

        read = await get_submission.asyncio(sid, client=enumerator)
        assert isinstance(read, SubmissionOut) and read.to_dict() == out.to_dict()

    async with dinas:
        target = await put_target.asyncio_detailed(
            "2022", "16.07", client=dinas, body=TargetIn(target=41_910, dasar_hukum="Kepdep 63/2022", berlaku_mulai=dt.date(2022, 8, 1))
        )
        assert target.status_code == 201, target.content
        assert isinstance(target.parsed, TargetOut) and isinstance(target.parsed.berlaku, TargetRevisi)
        assert (target.parsed.nama, target.parsed.berlaku.target, target.parsed.berlaku.revisi) == ("Kabupaten Banyuasin", 41_910, 1)

        capaian = await capaian_pendataan.asyncio(client=dinas, periode="2022", wilayah="16", as_of=dt.date(2022, 12, 31))
        assert isinstance(capaian, CapaianOut)
        assert capaian.wilayah == WilayahRef(kode="16", nama="Sumatera Selatan", level=1)
        assert (
            capaian.periode,
            capaian.tingkat,
            capaian.as_of,
            capaian.target_wilayah,
            capaian.rows_tanpa_target,
            capaian.target_jumlah_dari,
            capaian.target_sebagian,
        ) == ("2022", "kabkota", dt.date(2022, 12, 31), None, 16, "baris", False)
        assert len(capaian.rows) == 17  # every kabupaten/kota of the provinsi
        (row,) = [r for r in capaian.rows if r.kode == "16.07"]
        assert isinstance(row, CapaianRow) and isinstance(row.persen, CapaianPersen)
        assert (row.kode, row.nama, row.target, row.masuk, row.belum_diverifikasi, row.diterima, row.ditolak, row.total_terverifikasi) == (
            "16.07",
            "Kabupaten Banyuasin",
            41_910,
            1,
            1,
            0,
            0,
            0,
        )
        # 1 / 41 910, 8 places
        assert (row.masuk_vs_target, row.diterima_vs_target, row.diterima_vs_masuk) == ("0.00002386", "0.00000000", "0.00000000")
        assert (capaian.jumlah.kode, capaian.jumlah.target, capaian.jumlah.masuk) == (None, 41_910, 1)


async def test_generated_client_reads_the_sync_feed_with_its_line_models(kumkm_client, live_server, keys, client):
    """The NDJSON streams come back as text (see openapi/openapi-python-client.yaml); each line
    parses into the generated model the document names for it."""
    from kumkm_client import AuthenticatedClient
    from kumkm_client.api.sync import changes_api_v1_sync_changes_get as changes
    from kumkm_client.api.sync import snapshot_api_v1_sync_snapshot_get as snapshot
    from kumkm_client.models import ChangeLine, EndLine, SyncRecord

    enum_key = await keys.make("enumerator", "16.07", name="enum-banyuasin")
    posted = [umkm(), umkm()]
    for rec in posted:
        assert (await client.post("/api/v1/submissions", json=rec, headers=auth(enum_key))).status_code == 201
    async with AuthenticatedClient(base_url=live_server.url, token=await keys.make("walidata"), timeout=60) as walidata:
        feed = await changes.asyncio(client=walidata, limit=10)
        *lines, end = [json.loads(x) for x in feed.splitlines()]
        changed = [ChangeLine.from_dict(x) for x in lines]
        assert [str(c.submission_id) for c in changed] == [r["submission_id"] for r in posted]
        assert all(isinstance(c.record, SyncRecord) and c.record.pii_masked for c in changed)
        end = EndLine.from_dict(end)
        assert (end.end, end.count, end.more, end.cursor) == (True, 2, False, changed[-1].cursor)

        body = await snapshot.asyncio(client=walidata, periode="2022")
        *records, end = [json.loads(x) for x in body.splitlines()]
        assert sorted(str(SyncRecord.from_dict(r).submission_id) for r in records) == sorted(r["submission_id"] for r in posted)
        assert EndLine.from_dict(end).count == 2
