"""Keputusan: a verifikator's decision on a record (masuk -> diterima | ditolak, and reversals
between the two), one at a time or in a batch.

Concurrency rule: a keputusan names the version AND the state its decider saw (`version`,
`dari`). It applies only if the record is still exactly there, so of two verifikators who saw
the same thing, exactly one wins and the other gets 409 with the current state. A keputusan
does not change `version` (versions count content), which is why the state must be part of
the token: without it, a reversal could silently overrule a keputusan its author never saw."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from app.core.errors import INVALID, NOT_FOUND, OUTSIDE_SCOPE, STATE_CONFLICT, Problem, ProblemType, pydantic_errors
from app.infra import citus, db
from app.security.principal import Principal
from app.verification import queries
from app.verification.schemas import KeputusanItem

_item_adapter: TypeAdapter = TypeAdapter(KeputusanItem)


def rule_errors(k) -> list[dict]:
    """Rules that tie fields together; each names the field to fix."""
    errors: list[dict] = []

    def err(f: str, msg: str) -> None:
        errors.append({"field": f, "message": msg, "type": "value_error"})

    if k.dari == k.status:
        err("dari", f"dari sama dengan status ({k.status}): keputusan harus mengubah status rekaman")
    if k.status == "ditolak" and k.alasan_kode is None:
        err(
            "alasan_kode",
            "alasan_kode wajib diisi untuk ditolak: salah satu dari data_tidak_lengkap, "
            "data_tidak_valid, duplikat, di_luar_wilayah, bukan_kumkm atau lainnya",
        )
    if k.status == "diterima" and k.alasan_kode is not None:
        err("alasan_kode", "alasan_kode hanya untuk keputusan ditolak; alasan membatalkan penolakan ditulis di catatan")
    if k.alasan_kode == "lainnya" and not k.catatan:
        err("catatan", "catatan wajib diisi bila alasan_kode lainnya")
    elif k.dari != "masuk" and k.dari != k.status and not k.catatan:
        err("catatan", f"catatan wajib diisi untuk membatalkan keputusan {k.dari}: tulis alasannya")
    return errors


@dataclass
class Keputusan:
    """One keputusan as it is applied: checked against the rules above, with its place in the
    request (the body of a single POST, or an item of a batch: schemas.Keputusan, KeputusanItem)."""

    index: int
    submission_id: str
    ke: str
    dari: str
    version: int
    alasan_kode: str | None
    catatan: str | None


@dataclass
class KeputusanOutcome:
    index: int
    submission_id: str | None
    outcome: str  # decided | duplicate | rejected
    kind: ProblemType | None = None  # rejected: why (INVALID, OUTSIDE_SCOPE, NOT_FOUND, STATE_CONFLICT)
    errors: list[dict] = field(default_factory=list)
    result: dict | None = None  # decided / duplicate: the keputusan as stored
    current_status: str | None = None
    current_version: int | None = None

    @property
    def status(self) -> int:
        """The status a single keputusan would have been answered with."""
        return 200 if self.kind is None else self.kind.status

    def problem(self) -> Problem:
        assert self.kind is not None
        extra: dict = {"submission_id": self.submission_id}
        if self.kind is STATE_CONFLICT:
            extra.update(current_status=self.current_status, current_version=self.current_version)
        return self.kind("; ".join(e["message"] for e in self.errors), errors=self.errors, **extra)


def parse_items(items: list) -> tuple[list[Keputusan], list[KeputusanOutcome]]:
    ok: list[Keputusan] = []
    bad: list[KeputusanOutcome] = []
    for i, item in enumerate(items):
        raw_id = item.get("submission_id") if isinstance(item, dict) else None
        raw_id = raw_id if isinstance(raw_id, str) else None
        try:
            k = _item_adapter.validate_python(item)
        except ValidationError as exc:
            bad.append(KeputusanOutcome(i, raw_id, "rejected", INVALID, pydantic_errors(exc.errors())))
            continue
        errors = rule_errors(k)
        if errors:
            bad.append(KeputusanOutcome(i, str(k.submission_id), "rejected", INVALID, errors))
            continue
        ok.append(Keputusan(i, str(k.submission_id), k.status, k.dari, k.version, k.alasan_kode, k.catatan))
    return ok, bad


def _scope(principal: Principal) -> str | None:
    # Keys are scoped to a provinsi or a kabupaten/kota (see keys.service.create); the SQL
    # compares the record's kode_provinsi / kode_kabkota with it.
    return principal.kode_wilayah


async def decide(conn: AsyncConnection, keputusan: list[Keputusan], principal: Principal) -> list[KeputusanOutcome]:
    """Apply every keputusan that still matches what its decider saw, in one statement, then
    explain the others. Each keputusan is atomic on its own; none depends on another.

    `conn` is the route's unit of work (router.KeputusanUnit): on one server an autocommit
    connection, since DECIDE is one statement and so atomic without an explicit transaction
    (leaving out BEGIN and COMMIT saves two round trips per request on the single path, and
    the status counters' rows stay locked only while the statement runs); on Citus one
    transaction, which _decide_citus needs."""
    if not keputusan:
        return []
    # The same record twice in one batch: the first item is the keputusan, later ones are
    # judged against the state it left (a replay of it, or a conflict).
    first: dict[str, Keputusan] = {}
    for k in keputusan:
        first.setdefault(k.submission_id, k)
    if citus.enabled():
        done, current = await _decide_citus(conn, first, keputusan, principal)
        return _outcomes(keputusan, first, done, current, principal)
    payload = orjson.dumps(
        [
            {
                "submission_id": k.submission_id,
                "ke": k.ke,
                "dari": k.dari,
                "version": k.version,
                "alasan_kode": k.alasan_kode,
                "catatan": k.catatan,
            }
            for k in first.values()
        ]
    ).decode()
    done = {
        str(r.submission_id): r
        for r in await conn.execute(
            queries.DECIDE,
            {
                "items": payload,
                "scope": _scope(principal),
                "actor": principal.name,
                "actor_key": principal.id,
                "actor_role": principal.role,
            },
        )
    }
    rest = [k for k in keputusan if k.submission_id not in done or first[k.submission_id] is not k]
    current = {}
    if rest:
        ids = list({k.submission_id for k in rest})
        current = {str(r.submission_id): r for r in await conn.execute(queries.CURRENT_WITH_LAST, {"ids": ids})}
        # a replay is acknowledged only once the keputusan is on the synchronous standby
        await db.replay_barrier(conn)
    return _outcomes(keputusan, first, done, current, principal)


async def _decide_citus(
    conn: AsyncConnection, first: dict[str, Keputusan], keputusan: list[Keputusan], principal: Principal
) -> tuple[dict, dict]:
    """decide() on a Citus coordinator (app.infra.citus), in the route's transaction: the
    directory names every record's provinsi, then, per provinsi in a fixed order, the records
    are locked in submission_id order and decided by one statement routed to that provinsi's
    worker (queries.DECIDE_CITUS says why it differs). Same outcomes as on one server."""
    ids = list(first)
    done: dict = {}
    current: dict = {}
    where: dict[str, list[str]] = {}
    for sid, provinsi in await conn.execute(queries.DIRECTORY_CITUS, {"ids": ids}):
        where.setdefault(provinsi, []).append(str(sid))
    for provinsi, sids in sorted(where.items()):
        await conn.execute(queries.LOCK_CITUS, {"provinsi": provinsi, "ids": sids})
        payload = orjson.dumps(
            [
                {
                    "submission_id": sid,
                    "ke": first[sid].ke,
                    "dari": first[sid].dari,
                    "version": first[sid].version,
                    "alasan_kode": first[sid].alasan_kode,
                    "catatan": first[sid].catatan,
                }
                for sid in sids
            ]
        ).decode()
        done.update(
            {
                str(r.submission_id): r
                for r in await conn.execute(
                    queries.DECIDE_CITUS,
                    {
                        "items": payload,
                        "scope": _scope(principal),
                        "provinsi": provinsi,
                        "actor": principal.name,
                        "actor_key": principal.id,
                        "actor_role": principal.role,
                    },
                )
            }
        )
    rest = {k.submission_id for k in keputusan if k.submission_id not in done or first[k.submission_id] is not k}
    for provinsi, sids in sorted(where.items()):
        asked = [sid for sid in sids if sid in rest]
        if asked:
            current.update(
                {str(r.submission_id): r for r in await conn.execute(queries.CURRENT_WITH_LAST_CITUS, {"ids": asked, "provinsi": provinsi})}
            )
    return done, current


def _outcomes(
    keputusan: list[Keputusan], first: dict[str, Keputusan], done: dict, current: dict, principal: Principal
) -> list[KeputusanOutcome]:
    out = []
    for k in keputusan:
        row = done.get(k.submission_id)
        if row is not None and first[k.submission_id] is k:
            out.append(
                KeputusanOutcome(
                    k.index,
                    k.submission_id,
                    "decided",
                    result=_keputusan_out(
                        row.submission_id, row.status, row.version, row.dari, row.alasan_kode, row.catatan, principal.name, row.pada, False
                    ),
                )
            )
        else:
            out.append(_explain(k, current.get(k.submission_id), principal))
    return out


def _explain(k: Keputusan, cur, principal: Principal) -> KeputusanOutcome:
    sid = k.submission_id
    if cur is None:
        return KeputusanOutcome(
            k.index,
            sid,
            "rejected",
            NOT_FOUND,
            [{"field": "submission_id", "message": f"submission_id {sid} tidak ditemukan", "type": "not_found"}],
        )
    if not principal.covers(cur.kode_wilayah):
        # the record's own wilayah is not named (app.security.policy.scope_problem says why)
        return KeputusanOutcome(
            k.index,
            sid,
            "rejected",
            OUTSIDE_SCOPE,
            [
                {
                    "field": "submission_id",
                    "type": "scope",
                    "message": f"submission_id menunjuk rekaman di luar wilayah kunci ini ({principal.kode_wilayah} "
                    "dan wilayah di dalamnya)",
                }
            ],
        )
    if (
        cur.status == k.ke
        and cur.version == k.version
        and cur.aksi == "diverifikasi"
        and cur.oleh == principal.name
        and cur.dari == k.dari
        and cur.alasan_kode == k.alasan_kode
        and cur.catatan == k.catatan
    ):
        # The same decider sending the same keputusan again (a retry after a lost response).
        return KeputusanOutcome(
            k.index,
            sid,
            "duplicate",
            result=_keputusan_out(
                cur.submission_id, cur.status, cur.version, cur.dari, cur.alasan_kode, cur.catatan, cur.oleh, cur.pada, True
            ),
        )
    if cur.version != k.version:
        errors = [
            {
                "field": "version",
                "type": "stale",
                "message": f"version {k.version} sudah usang: rekaman kini di versi {cur.version} ({cur.status})",
            }
        ]
    elif cur.status == k.dari:
        # It would apply now, but it was judged against an earlier state: a later item for the
        # same record in one batch, or a record that changed back while this one was decided.
        errors = [
            {
                "field": "submission_id",
                "type": "stale",
                "message": "submission_id menunjuk rekaman yang berubah selama permintaan ini (paling "
                "banyak satu keputusan per rekaman dalam satu batch); kirim keputusannya lagi",
            }
        ]
    else:
        errors = [{"field": "dari", "type": "stale", "message": f"dari {k.dari} sudah usang: rekaman kini berstatus {cur.status}"}]
    return KeputusanOutcome(k.index, sid, "rejected", STATE_CONFLICT, errors, current_status=cur.status, current_version=cur.version)


def _keputusan_out(sid, status, version, dari, alasan_kode, catatan, oleh, pada, replay) -> dict:
    """The keputusan as stored, in the shape of schemas.KeputusanOut."""
    return {
        "submission_id": str(sid),
        "status": status,
        "version": version,
        "dari": dari,
        "alasan_kode": alasan_kode,
        "catatan": catatan,
        "diputuskan_oleh": oleh,
        "diputuskan_pada": pada,
        "replay": replay,
    }
