"""Property: whatever sequence of ingest, decisions (single and batch), reversals and
corrections is thrown at the service, every answer is the one a simple model of the rules
predicts, and the per-kabkota status counts equal a recount from the records."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from dataclasses import dataclass, field

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.verification.schemas import ALASAN_KODE
from tests.support.common import asyncpg_params, auth
from tests.support.factories import umkm
from tests.support.verification_helpers import DESA_BANYUASIN, KAB_MUARA_ENIM, KOTA_PALEMBANG, assert_consistent

WILAYAH = {"16.07": DESA_BANYUASIN, "16.71": KOTA_PALEMBANG, "16.03": KAB_MUARA_ENIM}
ACTORS = {  # name: (role, scope)
    "verif-banyuasin": ("verifikator", "16.07"),
    "verif-palembang": ("verifikator", "16.71"),
    "verif-sumsel": ("verifikator", "16"),
    "admin": ("admin", None),
}
ENUM = "enum-prop"
_counter = itertools.count()


@dataclass
class Rec:
    body: dict
    kabkota: str
    status: str = "masuk"
    version: int = 1
    last: tuple = ("dibuat", ENUM, None, "masuk", None, None)
    corrected: list = field(default_factory=list)


def covers(scope, kabkota):
    return scope is None or kabkota == scope or kabkota.startswith(scope + ".")


decision = st.tuples(
    st.integers(-1, 12),  # record index (mod count); -1: unknown record
    st.sampled_from(["diterima", "ditolak", "ditolak"]),
    st.sampled_from(["seen", "seen", "masuk", "diterima", "ditolak"]),  # seen: the record's state
    st.sampled_from([0, 0, 0, 0, -1, 1]),  # version offset from the current one
    st.sampled_from([*sorted(ACTORS), "verif-sumsel"]),
    st.sampled_from(sorted(ALASAN_KODE)),
)
operation = st.one_of(
    st.tuples(st.just("ingest"), st.sampled_from(sorted(WILAYAH)), st.integers(1, 3)),
    st.tuples(st.just("decide"), decision),
    st.tuples(st.just("decide"), decision),
    st.tuples(st.just("batch"), st.lists(decision, min_size=1, max_size=6)),
    st.tuples(
        st.just("correct"),
        st.one_of(st.just(-1), st.integers(0, 12)),  # -1: a ditolak one
        st.sampled_from([None, *sorted(WILAYAH)]),
        st.booleans(),
    ),
)


class Model:
    def __init__(self):
        self.recs: list[Rec] = []

    def pick(self, i):
        return None if i < 0 or not self.recs else self.recs[i % len(self.recs)]

    def decide(self, rec: Rec | None, ke, dari, v, actor, alasan) -> tuple[int, dict]:
        if dari == "seen":
            dari = rec.status if rec else "masuk"
        if dari == ke:
            dari = "masuk"
        alasan = alasan if ke == "ditolak" else None
        catatan = "cek ulang" if dari != "masuk" or alasan == "lainnya" else None
        sid = rec.body["submission_id"] if rec else str(uuid.uuid4())
        version = max(1, (rec.version if rec else 1) + v)
        body = {"submission_id": sid, "status": ke, "dari": dari, "version": version}
        if alasan:
            body["alasan_kode"] = alasan
        if catatan:
            body["catatan"] = catatan
        if rec is None:
            return 404, body
        if not covers(ACTORS[actor][1], rec.kabkota):
            return 403, body
        step = ("diverifikasi", actor, dari, ke, alasan, catatan)
        if rec.version == version and rec.status == dari:
            rec.status, rec.last = ke, step
            return 200, body
        if rec.status == ke and rec.version == version and rec.last == step:
            return 200, body  # a replay by the same decider
        return 409, body

    def correct(self, rec: Rec, kabkota, replay) -> tuple[int, dict]:
        if replay and rec.corrected:
            body = rec.corrected[-1]
        else:
            body = {**rec.body, "nama_usaha": f"Usaha {next(_counter)}"}
            if kabkota:
                body["kode_wilayah"] = WILAYAH[kabkota]
        if body == rec.body:
            return (200 if rec.version > 1 else 422), body
        if rec.status != "ditolak":
            return 409, body
        rec.body, rec.status, rec.version = body, "masuk", rec.version + 1
        rec.kabkota = next(k for k, w in WILAYAH.items() if w == body["kode_wilayah"])
        rec.last = ("dikoreksi", ENUM, "ditolak", "masuk", None, None)
        rec.corrected.append(body)
        return 200, body


@pytest.fixture
def prop_keys(keys):
    async def make():
        out = {name: await keys.make(role, scope, name=name) for name, (role, scope) in ACTORS.items()}
        out[ENUM] = await keys.make("enumerator", "16", name=ENUM)
        return out

    return asyncio.run(make())


async def run(url: str, database_url: str, key: dict, ops: list) -> None:
    model = Model()
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for op in ops:
            kind = op[0]
            if kind == "ingest":
                _, kabkota, n = op
                items = [umkm(kode_wilayah=WILAYAH[kabkota]) for _ in range(n)]
                r = await client.post("/api/v1/submissions/batch", json={"items": items}, headers=auth(key[ENUM]))
                assert r.status_code == 200 and r.json()["created"] == n, r.text
                model.recs += [Rec(body, kabkota) for body in items]
            elif kind == "decide":
                i, ke, dari, v, actor, alasan = op[1]
                expected, body = model.decide(model.pick(i), ke, dari, v, actor, alasan)
                sid = body.pop("submission_id")
                r = await client.post(f"/api/v1/submissions/{sid}/verifikasi", json=body, headers=auth(key[actor]))
                assert r.status_code == expected, (op, r.text)
            elif kind == "batch":
                actor = op[1][0][4]  # one key sends the whole batch
                expected, items, seen = [], [], set()
                for i, ke, dari, v, _, alasan in op[1]:
                    rec = model.pick(i)
                    sid = rec.body["submission_id"] if rec else None
                    if rec is not None and sid in seen:
                        # A later item for the same record is never applied; it can only be a replay.
                        before = (rec.status, rec.last)
                        code, body = model.decide(rec, ke, dari, v, actor, alasan)
                        if code == 200 and (rec.status, rec.last) != before:
                            rec.status, rec.last = before
                            code = 409
                    else:
                        code, body = model.decide(rec, ke, dari, v, actor, alasan)
                    seen.add(sid)
                    expected.append(code)
                    items.append(body)
                r = await client.post("/api/v1/verifikasi/batch", json={"items": items}, headers=auth(key[actor]))
                assert r.status_code == 200, r.text
                assert [o["status"] for o in r.json()["items"]] == expected, (op, r.text)
            elif kind == "correct" and model.recs:
                _, i, kabkota, replay = op
                rec = model.pick(i) if i >= 0 else next((r for r in model.recs if r.status == "ditolak"), model.recs[0])
                expected, body = model.correct(rec, kabkota, replay)
                r = await client.put(f"/api/v1/submissions/{body['submission_id']}", json=body, headers=auth(key[ENUM]))
                assert r.status_code == expected, (op, r.text)
    conn = await asyncpg.connect(**asyncpg_params(database_url))
    try:
        if model.recs:
            rows = await conn.fetch(
                "SELECT submission_id::text AS sid, status, version, kode_kabkota FROM submissions WHERE submission_id = ANY($1::uuid[])",
                [r.body["submission_id"] for r in model.recs],
            )
            got = {r["sid"]: (r["status"], r["version"], r["kode_kabkota"]) for r in rows}
            assert got == {r.body["submission_id"]: (r.status, r.version, r.kabkota) for r in model.recs}
        await assert_consistent(conn)
    finally:
        await conn.close()


@settings(max_examples=35, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ops=st.lists(operation, min_size=1, max_size=25))
def test_any_sequence_of_operations_keeps_answers_and_counts_right(live_server, database_url, prop_keys, ops):
    # Every sequence starts with records in two kabkota, so most operations have a target.
    start = [("ingest", "16.07", 3), ("ingest", "16.71", 2)]
    asyncio.run(run(live_server.url, database_url, prop_keys, start + ops))
