"""Every error carries a stable `code` from one catalog (app/core/errors.py), so an app can
branch on it; the catalog is documented in docs/errors.md and nowhere else picks a status."""

from __future__ import annotations

import re
import uuid

from app.core.errors import CATALOG, catalog_markdown
from tests.support.common import ROOT, auth
from tests.support.factories import umkm
from tests.support.helpers import post_one


def test_the_catalog_document_is_current():
    assert (ROOT / "docs" / "errors.md").read_text() == catalog_markdown(), "run: .venv/bin/python -m app.core.errors > docs/errors.md"


def test_only_the_catalog_builds_problems():
    """Domains raise catalog entries (NOT_FOUND(...), INVALID(...)); a bare Problem(status, ...)
    would be a status picked by hand outside the catalog."""
    offenders = []
    for path in sorted((ROOT / "app").rglob("*.py")):
        if path.relative_to(ROOT).as_posix() in ("app/core/errors.py", "app/web/limits.py"):
            continue
        for no, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"\bProblem\(", line):
                offenders.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def _code(r, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["code"] in CATALOG and body["type"] == f"urn:kumkm:problem:{body['code']}"
    assert CATALOG[body["code"]].status == status
    return body["code"]


async def test_each_failure_names_its_kind(client, enum_key, enum_banyuasin, verif):
    rec = await post_one(client, enum_key)
    sid = rec["submission_id"]
    assert _code(await client.get(f"/api/v1/submissions/{uuid.uuid4()}", headers=auth(verif)), 404) == "not-found"
    assert _code(await client.get("/api/v1/submissions", headers={}), 401) == "unauthorized"
    changed = {**rec, "nama_usaha": rec["nama_usaha"] + " lain"}
    assert _code(await client.post("/api/v1/submissions", json=changed, headers=auth(enum_key)), 409) == "content-conflict"
    assert _code(await client.post("/api/v1/submissions", json={**umkm(), "kbli": "x"}, headers=auth(enum_key)), 422) == "invalid-input"
    assert (
        _code(await client.post("/api/v1/submissions", content=b"{", headers={**auth(enum_key), "content-type": "application/json"}), 400)
        == "malformed-json"
    )
    # the same 403 status for two different reasons, told apart by the code
    assert _code(await client.get("/api/v1/capaian-pendataan?periode=2022&wilayah=16", headers=auth(enum_key)), 403) == "role-forbidden"
    stale = {"status": "diterima", "dari": "masuk", "version": 7}
    assert _code(await client.post(f"/api/v1/submissions/{sid}/verifikasi", json=stale, headers=auth(verif)), 409) == "state-conflict"
    palembang = await post_one(client, enum_key, kode_wilayah="16.71.01.1001")
    assert (
        _code(await client.get(f"/api/v1/submissions/{palembang['submission_id']}", headers=auth(enum_banyuasin)), 403) == "outside-scope"
    )
