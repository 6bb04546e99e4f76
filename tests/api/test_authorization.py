"""The authorization matrix (tests/support/authz_matrix.py) walked against the running service: every
operation with every role, keyed nasional, in scope (`16`, `16.07`) and out of scope (`15`,
`15.01`); allowed calls must succeed, refused ones get exactly the matrix's status. An
endpoint without a matrix entry fails `test_every_route_has_a_rule`."""

from __future__ import annotations

import asyncio

import pytest
from starlette.routing import Mount

from app.keys import service as auth_service
from tests.support import authz_matrix as m
from tests.support import registry_helpers
from tests.support.common import ROOT, auth

DOC = ROOT / "docs" / "authorization.md"


# ------------------------------------------------------------------------------ coverage


def _routes(routes, prefix: str = ""):
    """(METHOD, path) of every route of the app, through included routers (FastAPI >= 0.16x
    keeps them nested) and mounts."""
    for r in routes:
        sub = getattr(r, "original_router", None)
        if sub is not None:
            ctx = getattr(r, "include_context", None)
            yield from _routes(sub.routes, prefix + (getattr(ctx, "prefix", "") or ""))
        elif isinstance(r, Mount):
            yield "GET", prefix + r.path
        else:
            for method in sorted(getattr(r, "methods", None) or ()):
                if method != "HEAD":
                    yield method, prefix + r.path


@pytest.fixture(scope="module")
def app():
    from app.main import create_app

    return create_app(migrate_on_start=False)


def test_every_route_has_a_rule(app):
    """A new endpoint needs a row in tests/support/authz_matrix.py (MATRIX, or PUBLIC when it is served
    without a key); a row for an endpoint that is gone fails too."""
    documented = {op.id for op in m.MATRIX} | {f"{p.method} {p.path}" for p in m.PUBLIC + m.KEY_IN_PATH}
    assert len(documented) == len(m.MATRIX) + len(m.PUBLIC) + len(m.KEY_IN_PATH), "an operation is listed twice"
    served = {f"{method} {path}" for method, path in _routes(app.routes)}
    assert served - documented == set(), "endpoints without an authorization rule in tests/support/authz_matrix.py"
    assert documented - served == set(), "matrix rows for endpoints the app does not serve"
    in_doc = {f"{method.upper()} {path}" for path, ops in app.openapi()["paths"].items() for method in ops}
    assert in_doc - documented == set()
    assert {op.id for op in m.MATRIX} <= in_doc, "every /api/v1 operation is in the OpenAPI document"
    assert all(op.path.startswith("/api/v1/") or op.path == "/api/v1" for op in m.MATRIX)
    assert not any(p.path.startswith("/api/") for p in m.PUBLIC), "nothing under /api is served without a key"


def test_docs_table_is_current():
    want = m.render()
    got = DOC.read_text(encoding="utf-8") if DOC.exists() else ""
    assert got == want, (
        "docs/authorization.md differs from the matrix; regenerate it with "
        "`.venv/bin/python -m tests.support.authz_matrix > docs/authorization.md`"
    )


# ------------------------------------------------------------------------------ the walk


class Walk(m.Context):
    def __init__(self, client, keys: dict, pg=None):
        self.client = client
        self.keys = keys
        self.pg = pg
        # the builders run side by side; one database connection serves them one at a time
        self.pg_lock = asyncio.Lock()
        self.admin = keys[("admin", None)]
        self.owner = keys[("enumerator", "16.07")]

    async def call(self, key, method, url, *, json=None, params=None, want=(200, 201)):
        r = await self.client.request(method, url, json=json, params=params, headers=auth(key))
        assert r.status_code in want, f"setup {method} {url}: {r.status_code} {r.text}"
        return r.json()

    async def fresh_record(self, status: str = "masuk") -> dict:
        rec = m._umkm()
        await self.call(self.owner, "POST", "/api/v1/submissions", json=rec)
        if status != "masuk":
            reason = {"alasan_kode": "data_tidak_lengkap"} if status == "ditolak" else {}
            await self.call(
                self.admin,
                "POST",
                f"/api/v1/submissions/{rec['submission_id']}/verifikasi",
                json={"status": status, "version": 1, **reason},
            )
        return rec

    async def fresh_scale(self) -> None:
        await self.call(self.admin, "PUT", f"/api/v1/indikator/predikat/{m.AREA}", json=m.SCALE)

    async def fresh_entitas(self, records: int = 1) -> tuple[str, list[str], int]:
        """Accepted records of one usaha (one NIB), linked into one entity by the service's linker."""
        nib = f"{self.seq():013d}"
        recs = [m._umkm(nib=nib) for _ in range(records)]
        for rec in recs:
            await self.call(self.owner, "POST", "/api/v1/submissions", json=rec)
            await self.call(
                self.admin, "POST", f"/api/v1/submissions/{rec['submission_id']}/verifikasi", json={"status": "diterima", "version": 1}
            )
        async with self.pg_lock:
            e = await registry_helpers.entitas(self.pg, recs)
            return e, [r["submission_id"] for r in recs], await registry_helpers.versi(self.pg, e)

    async def fresh_kandidat(self) -> tuple[int, str, str]:
        (a, _, _), (b, _, _) = await self.fresh_entitas(), await self.fresh_entitas()
        async with self.pg_lock:
            return await registry_helpers.kandidat(self.pg, a, b, kabkota=m.AREA), a, b

    async def fresh_bukan_sama(self) -> tuple[str, str]:
        (a, _, _), (b, _, _) = await self.fresh_entitas(), await self.fresh_entitas()
        x, y = sorted((a, b))
        async with self.pg_lock:
            await self.pg.execute("INSERT INTO kumkm_bukan_sama (id_a, id_b, oleh) VALUES ($1, $2, 'uji')", x, y)
        return a, b

    async def setup(self) -> Walk:
        self.record_id = (await self.fresh_record())["submission_id"]
        other = m._umkm(m.OTHER_DESA)
        await self.call(self.keys[("enumerator", "15.01")], "POST", "/api/v1/submissions", json=other)
        self.other_record_id = other["submission_id"]
        await self.call(
            self.admin,
            "PUT",
            f"/api/v1/targets/{m.PERIODE}/{m.AREA}",
            json={"target": 50, "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-01-01"},
        )
        i = "/api/v1/indikator"
        self.tujuan_id = (await self.call(self.admin, "POST", i + "/tujuan", json={"pemilik": m.PEMILIK, "kode": "T1", "nama": "Tujuan"}))[
            "id"
        ]
        self.sasaran_id = (
            await self.call(
                self.admin,
                "POST",
                i + "/sasaran",
                json={"pemilik": m.PEMILIK, "kode": "S1", "nama": "Sasaran", "tujuan_id": self.tujuan_id},
            )
        )["id"]
        self.indikator_id = (await self.call(self.admin, "POST", i, json=m.indikator_body("IKU-1", self.sasaran_id)))["id"]
        return self


async def make_keys(pg) -> dict:
    """One key per role and scope, named role@scope (the owner of the walk's records is
    enumerator@16.07)."""
    out, rows = {}, []
    for role in m.ROLES:
        for scope in m.KEY_SCOPES:
            key = auth_service.new_key()
            out[(role, scope)] = key
            # a partner's key carries its purposes and bounds (none that the walk would reach)
            partner = (["kur"], 100_000, 10_000) if role == "mitra" else (None, None, None)
            rows.append((m.key_name(role, scope), role, scope, key[:14], auth_service.hash_key(key), *partner))
    await pg.executemany(
        "INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash, mitra_tujuan, mitra_kuota_harian, mitra_per_detik) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        rows,
    )
    return out


def _item_status(r) -> int | None:
    try:
        return r.json()["items"][0]["status"]
    except Exception:  # not a batch answer
        return None


@pytest.mark.parametrize("op", m.MATRIX, ids=m.op_ids())
async def test_matrix(op: m.Op, client, pg):
    """Every role x key scope against one operation: allowed -> 2xx (a batch: its item 2xx),
    refused -> the matrix's status (a batch refusing for scope: 200 with the item's 403).
    Then no key and an unknown key -> 401."""
    walk = await Walk(client, await make_keys(pg), pg).setup()

    async def one(what, rule, build, role, scope) -> str | None:
        name = m.key_name(role, scope)
        req = await build(walk)
        r = await client.request(
            req.method,
            req.url,
            params=req.params,
            json=req.json,
            content=req.content,
            headers={**(req.headers or {}), **auth(walk.keys[(role, scope)])},
        )
        want = m.Op.expect(op.roles, rule, role, scope, name)
        batch = rule is m.ITEM and role in op.roles
        if want is None:
            ok = 200 <= r.status_code < 300 and (not batch or 200 <= (_item_status(r) or 0) < 300)
            wanted = "2xx"
        elif batch:
            ok = r.status_code == 200 and _item_status(r) == want
            wanted = f"200 with item status {want}"
        else:
            ok = r.status_code == want
            wanted = str(want)
        if ok and want is None and op.lists_records:
            asked = (req.params or {}).get("kode_wilayah")
            for sid, desa in ((walk.record_id, m.DESA), (walk.other_record_id, m.OTHER_DESA)):
                listed = sid in r.text
                if listed != (m.covers(scope, desa) and m.covers(asked, desa)):
                    ok, wanted = False, f"record in {desa} {'left out' if listed else 'listed'}"
        if ok:
            return None
        return (
            f"{name}: {req.method} {req.url} {req.params or ''} ({what or rule.name}) wanted {wanted}, got {r.status_code} {r.text[:300]}"
        )

    calls = [(what, rule, build, role, scope) for what, rule, build in op.variants() for role in m.ROLES for scope in m.KEY_SCOPES]
    if op.serial:
        results = [await one(*c) for c in calls]
    else:
        # Each request stands alone (writes get fresh objects from the builder), so they may
        # run side by side.
        results = await asyncio.gather(*(one(*c) for c in calls))
    failures = [f for f in results if f]
    req = await op.build(walk)
    for headers in ({}, {"Authorization": "Bearer kumkm_not-a-key"}, {"Authorization": "Basic eDp5"}):
        r = await client.request(
            req.method, req.url, params=req.params, json=req.json, content=req.content, headers={**(req.headers or {}), **headers}
        )
        if r.status_code != 401:
            failures.append(f"{headers or 'no key'}: {req.method} {req.url} wanted 401, got {r.status_code}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("public", m.PUBLIC, ids=[p.path for p in m.PUBLIC])
async def test_public_without_key(public: m.Public, client):
    r = await client.get(public.url)
    assert r.status_code == 200, r.text[:300]


@pytest.mark.parametrize("route", m.KEY_IN_PATH, ids=[p.path for p in m.KEY_IN_PATH])
async def test_key_in_path_by_role(route: m.Public, client, keys):
    """Every role with a key scoped to the walk's kabupaten/kota: the allowed roles get the
    document (a submission without a body: 415, past the key check), the others 403; a key that
    is not one gets 401."""
    got = {}
    for role in m.ROLES:
        key = await keys.make(role, m.AREA, name=f"openrosa-{role}")
        r = await client.request(route.method, route.url.replace("{key}", key))
        got[role] = r.status_code
    want = {role: (415 if route.method == "POST" else 200) if role in m.KEY_IN_PATH_ROLES else 403 for role in m.ROLES}
    assert got == want
    r = await client.request(route.method, route.url.replace("{key}", "kumkm_not-a-key"))
    assert r.status_code == 401


def test_a_new_route_without_rule_is_caught():
    """The coverage check sees routes added to an included router, not only the app's own."""
    from fastapi import APIRouter

    from app.main import create_app

    app = create_app(migrate_on_start=False)
    extra = APIRouter(prefix="/api/v1/baru")

    @extra.get("/{x}")
    async def baru(x: str):
        return {}

    app.include_router(extra)
    documented = {op.id for op in m.MATRIX} | {f"{p.method} {p.path}" for p in m.PUBLIC + m.KEY_IN_PATH}
    assert {f"{meth} {path}" for meth, path in _routes(app.routes)} - documented == {"GET /api/v1/baru/{x}"}
