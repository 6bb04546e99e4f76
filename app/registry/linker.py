"""The linker: every accepted record to exactly one KUMKM entity (docs/registry.md, "Linking").

The decision's transaction queues every record whose status moved into or out of `diterima`
(`kumkm_antrian`, a statement trigger of migration 0011); the linker empties the queue in
batches, one transaction each, so a batch is linked completely or not at all (a process killed
in the middle leaves its queue rows to be taken again). For each record, in this order:

1. no longer `diterima` (a decision reversed): its link is removed (`dilepas`), the entity's
   identifiers and wilayah recomputed from what is left; the entity stays, with its history;
2. `diterima` and linked already: nothing (a queue row may repeat);
0. a follow-up visit (docs/pemutakhiran.md): linked to the entity its enumerator picked, no
   look-up and no candidate (rules 3, 4 and 6 do not apply; rule 5 does);
3. its hard identifiers (koperasi: nik_koperasi, then nomor_badan_hukum; UMKM: nib), looked up
   in `kumkm_pengenal`: the first that finds a live entity of the record's jenis decides the
   link; another identifier pointing at a different entity makes a candidate, never a merge;
4. nothing found: a new entity;
5. its identifiers no entity holds yet are registered for its entity;
6. UMKM: other entities with a record of the same NIK pemilik in the same kabupaten/kota and a
   similar name (app.registry.nama) make a candidate with a score and its reasons;
7. every link is a `kumkm_tautan` row and a `ditautkan` event; the entity's version moves on
   and its wilayah is that of its latest-periode record.

Concurrency: queue rows are taken FOR UPDATE SKIP LOCKED (two linkers never take one record);
every identifier value of the batch is locked with a transaction-level advisory lock, in key
order, before it is looked up (two linkers never make two entities for one NIB: the second
waits, then finds the first's entity); the entities the batch changes are locked FOR UPDATE in
id order after that (a verifikator's merge and a link never interleave on one entity).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.registry import idkumkm, nama
from app.registry import queries as q

log = logging.getLogger("kumkm.registry")

OLEH = "sistem"  # the actor of the rules' events (a verifikator's actions name their key)
BATAS = 5000  # records per batch of `kumkm registry tautkan`
BATAS_LATAR = 1000  # per batch of the background task: short transactions beside decisions
SKOR_PENGENAL = 1.0  # two hard identifiers of one record on two entities: as strong as it gets

# The identifiers of each jenis, in the order that decides a link.
URUTAN = {"koperasi": ("nik_koperasi", "nomor_badan_hukum"), "umkm": ("nib",)}

_NOT_DIGITS = re.compile(r"[^0-9]")
_NOT_ALNUM = re.compile(r"[^0-9A-Za-z]")


def normal_pengenal(jenis_pengenal: str, nilai: str | None) -> str | None:
    """An identifier as the index holds it: digits only for nib and nik_koperasi; upper case
    ASCII letters and digits for nomor_badan_hukum ("123/BH/XII/2010" = "123 bh xii 2010").
    None when nothing is left."""
    if nilai is None:
        return None
    if jenis_pengenal == "nomor_badan_hukum":
        out = _NOT_ALNUM.sub("", nilai).upper()
    else:
        out = _NOT_DIGITS.sub("", nilai)
    return out or None


def pengenal(jenis: str, data: Any) -> list[tuple[str, str]]:
    """A record's hard identifiers, normalised, in the order that decides its link. `data`
    maps the identifier fields (a row of queries.BACA_CATATAN, or a record's content)."""
    out = []
    for jp in URUTAN.get(jenis, ()):
        nilai = normal_pengenal(jp, data[jp] if jp in data else None)
        if nilai is not None:
            out.append((jp, nilai))
    return out


def kunci(jenis_pengenal: str, nilai: str) -> int:
    """The advisory lock key of one identifier value (64 bits of its hash, signed as bigint)."""
    digest = hashlib.blake2b(f"kumkm:{jenis_pengenal}:{nilai}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


async def kunci_pengenal(conn: Any, values: Iterable[tuple[str, str]]) -> None:
    """Take the transaction-level advisory locks of these identifier values, in key order.
    Whoever creates an entity for an identifier, or moves one between entities (a merge or a
    split), holds its lock first."""
    keys = sorted({kunci(jp, nilai) for jp, nilai in values})
    if keys:
        await conn.execute(q.KUNCI_PENGENAL, {"keys": keys})


@dataclass
class Hasil:
    """What a run did: records taken from the queue, links made, entities created, links
    removed, candidates proposed."""

    diambil: int = 0
    ditautkan: int = 0
    dibuat: int = 0
    dilepas: int = 0
    kandidat: int = 0

    def tambah(self, other: Hasil) -> None:
        for f in ("diambil", "ditautkan", "dibuat", "dilepas", "kandidat"):
            setattr(self, f, getattr(self, f) + getattr(other, f))


@dataclass
class _Pasangan:
    kabkota: str
    skor: float
    alasan: list[dict[str, Any]] = field(default_factory=list)


def _pair(x: str, y: str) -> tuple[str, str]:
    return (x, y) if x < y else (y, x)


async def _cari(conn: Any, values: Sequence[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """Identifier value -> (live id_kumkm, jenis) for those some entity holds."""
    if not values:
        return {}
    rows = (await conn.execute(q.CARI_PENGENAL, {"jenis_pengenal": [v[0] for v in values], "nilai": [v[1] for v in values]})).all()
    return {(r.jenis_pengenal, r.nilai): (r.id_kumkm, r.jenis) for r in rows}


async def _hidup(conn: Any, ids: Sequence[str]) -> dict[str, str]:
    """id_kumkm -> the live entity it is or was merged into, for those that exist."""
    if not ids:
        return {}
    return {r.asal: r.id_kumkm for r in (await conn.execute(q.HIDUP, {"ids": list(ids)})).all()}


async def pengenal_ulang(conn: Any, ids: Iterable[str]) -> None:
    """Rebuild the identifiers the entities `ids` hold from their linked records' current
    content (after a record left, a merge or a split): each record's identifiers, older periode
    first, unless another entity holds the value. The caller holds the advisory locks of the
    values that may move (kunci_pengenal) and the entities' row locks."""
    ids = sorted(set(ids))
    if not ids:
        return
    rows = (await conn.execute(q.BACA_TAUTAN_ENTITAS, {"ids": ids})).mappings().all()
    await conn.execute(q.HAPUS_PENGENAL_ENTITAS, {"ids": ids})
    seen: dict[tuple[str, str], str] = {}
    for r in rows:
        for value in pengenal(r["jenis"], r):
            seen.setdefault(value, r["id_kumkm"])
    if seen:
        await conn.execute(
            q.DAFTAR_PENGENAL, {"jenis_pengenal": [v[0] for v in seen], "nilai": [v[1] for v in seen], "ids": list(seen.values())}
        )


async def tautkan_batch(conn: Any, batas: int = BATAS) -> Hasil:
    """Link one batch of the queue in the transaction `conn` is in (the caller commits). An
    empty Hasil (diambil 0) when the queue has nothing this linker may take."""
    antrian = [r[0] for r in (await conn.execute(q.AMBIL_ANTRIAN, {"batas": batas})).all()]
    hasil = Hasil(diambil=len(antrian))
    if not antrian:
        return hasil
    rows = (await conn.execute(q.BACA_CATATAN, {"ids": antrian})).mappings().all()
    rows = sorted(rows, key=lambda r: (r["periode"], r["submission_id"]))  # older periode first
    perlu = [r for r in rows if r["status"] == "diterima" and r["id_kumkm"] is None]
    lepas = [r for r in rows if r["status"] != "diterima" and r["id_kumkm"] is not None]
    milik = {r["submission_id"]: pengenal(r["jenis"], r) for r in (*perlu, *lepas)}

    # Locks: identifier values first (in key order), then the entities they lead to (in id
    # order); then look again, since what was found before a lock was granted may have moved.
    await kunci_pengenal(conn, (v for vs in milik.values() for v in vs))
    values = sorted({v for r in perlu for v in milik[r["submission_id"]]})
    index = await _cari(conn, values)
    # Follow-up visits name their entity (rule 0 below): where it lives now, past merges.
    dinamai = sorted({r["pemutakhiran"] for r in perlu if r["pemutakhiran"] is not None})
    hidup = await _hidup(conn, dinamai)
    locked: set[str] = set()
    for _ in range(10):
        wanted = {e for e, _j in index.values()} | {r["id_kumkm"] for r in lepas} | set(hidup.values())
        if wanted <= locked:
            break
        await conn.execute(q.KUNCI_ENTITAS, {"ids": sorted(wanted - locked)})
        locked |= wanted
        index = await _cari(conn, values)
        hidup = await _hidup(conn, dinamai)
    else:
        raise RuntimeError("entities kept moving while the linker locked them; the batch is retried")

    # Rules 3-5, one record after the other (older periode first), over an index that learns
    # the batch's own entities: two records of one new NIB in one batch make one entity.
    idx: dict[tuple[str, str], tuple[str, str]] = dict(index)
    baru: list[tuple[str, str, str, str]] = []  # placeholder, jenis, provinsi, kabkota
    tautan: list[dict[str, Any]] = []
    daftar: dict[tuple[str, str], str] = {}
    pasangan: dict[tuple[str, str], _Pasangan] = {}
    for r in perlu:
        sid = r["submission_id"]
        found = [(jp, nilai, idx[(jp, nilai)][0]) for jp, nilai in milik[sid] if (jp, nilai) in idx and idx[(jp, nilai)][1] == r["jenis"]]
        if r["pemutakhiran"] in hidup:
            # Rule 0: a follow-up visit is linked to the entity the enumerator picked from its
            # list (dasar 'pemutakhiran'): no look-up, no candidate. Identifiers of its record
            # that another entity holds stay there (rule 5), as for any record.
            target = hidup[r["pemutakhiran"]]
            dasar = "pemutakhiran"
        elif found:
            dasar_jp, dasar_nilai, target = found[0]
            dasar = dasar_jp
            for jp, nilai, other in found[1:]:
                if other == target:
                    continue
                p = pasangan.setdefault((target, other), _Pasangan(r["kode_kabkota"], SKOR_PENGENAL))
                p.alasan.append(
                    {
                        "kode": "pengenal_bertentangan",
                        "pengenal": jp,
                        "nilai": nilai,
                        "id_kumkm": other,
                        "pengenal_tautan": dasar_jp,
                        "nilai_tautan": dasar_nilai,
                        "id_kumkm_tautan": target,
                        "submission_id": str(sid),
                    }
                )
        else:
            target = f"#{len(baru)}"
            dasar = "baru"
            baru.append((target, r["jenis"], r["kode_provinsi"], r["kode_kabkota"]))
        for value in milik[sid]:
            if value not in idx:
                idx[value] = (target, r["jenis"])
                daftar[value] = target
        tautan.append(
            {
                "sid": sid,
                "id": target,
                "periode": r["periode"],
                "dasar": dasar,
                "kabkota": r["kode_kabkota"],
                "nik": r["nik_pemilik"] if r["jenis"] == "umkm" else None,
                "nama": r["nama_usaha"],
                # soft evidence (rule 6) is not looked for: the enumerator named the entity
                "lunak": dasar != "pemutakhiran",
            }
        )

    # The new entities' ids, from the sequence with their check digit.
    nyata: dict[str, str] = {}
    if baru:
        nomor = [n for (n,) in (await conn.execute(q.NOMOR_BARU, {"n": len(baru)})).all()]
        for (placeholder, jenis, _p, _k), n in zip(baru, nomor, strict=True):
            nyata[placeholder] = idkumkm.make(jenis, n)
        await conn.execute(
            q.BUAT_ENTITAS,
            {
                "ids": [nyata[b[0]] for b in baru],
                "jenis": [b[1] for b in baru],
                "provinsi": [b[2] for b in baru],
                "kabkota": [b[3] for b in baru],
            },
        )

    def real(i: str) -> str:
        return nyata.get(i, i)

    peristiwa: list[tuple[str, str, dict[str, Any]]] = []
    for t in tautan:
        t["id"] = real(t["id"])
        if t["dasar"] == "baru":
            peristiwa.append((t["id"], "dibuat", {"submission_id": str(t["sid"]), "periode": t["periode"]}))
        peristiwa.append((t["id"], "ditautkan", {"submission_id": str(t["sid"]), "periode": t["periode"], "dasar": t["dasar"]}))
    if tautan:
        await conn.execute(
            q.TAUTKAN,
            {
                "submission_ids": [t["sid"] for t in tautan],
                "ids": [t["id"] for t in tautan],
                "periode": [t["periode"] for t in tautan],
                "dasar": [t["dasar"] for t in tautan],
                "kabkota": [t["kabkota"] for t in tautan],
                "nik": [t["nik"] for t in tautan],
            },
        )
    if daftar:
        await conn.execute(
            q.DAFTAR_PENGENAL,
            {"jenis_pengenal": [v[0] for v in daftar], "nilai": [v[1] for v in daftar], "ids": [real(i) for i in daftar.values()]},
        )

    # Rule 1: records no longer accepted leave their entity.
    dilepas: set[str] = set()
    gone: Sequence[Any] = ()
    if lepas:
        gone = (await conn.execute(q.LEPAS, {"submission_ids": [r["submission_id"] for r in lepas]})).all()
        status = {r["submission_id"]: r["status"] for r in lepas}
        for g in gone:
            dilepas.add(g.id_kumkm)
            peristiwa.append(
                (g.id_kumkm, "dilepas", {"submission_id": str(g.submission_id), "periode": g.periode, "status": status[g.submission_id]})
            )
        await pengenal_ulang(conn, dilepas)

    pasangan = {_pair(real(x), real(y)): p for (x, y), p in pasangan.items()}

    # Rule 6: soft evidence, on the few linked records of the same owners in the same kabkota.
    umkm = [t for t in tautan if t["nik"] and t["lunak"]]
    if umkm:
        others = (await conn.execute(q.SAMA_PEMILIK, {"nik": [t["nik"] for t in umkm], "kabkota": [t["kabkota"] for t in umkm]})).all()
        by_owner: dict[tuple[str, str], list[Any]] = {}
        for o in others:
            by_owner.setdefault((o.nik, o.kabkota), []).append(o)
        for t in umkm:
            mine = nama.normalise(t["nama"] or "")
            for o in by_owner.get((t["nik"], t["kabkota"]), ()):
                if o.id_kumkm == t["id"]:
                    continue
                theirs = nama.normalise(o.nama_usaha or "")
                sim = nama.similarity(mine, theirs)
                if sim < nama.AMBANG:
                    continue
                a, b = _pair(t["id"], o.id_kumkm)
                na, nb = (mine, theirs) if a == t["id"] else (theirs, mine)
                skor = round(0.5 + 0.5 * sim, 3)
                p = pasangan.setdefault((a, b), _Pasangan(t["kabkota"], skor))
                # the most similar pair of names of the two entities speaks for them
                kemiripan = round(sim, 3)
                soft: list[dict[str, Any]] = [{"kode": "nik_pemilik_sama"}, {"kode": "nama_mirip", "nilai": kemiripan, "a": na, "b": nb}]
                old = next((x for x in p.alasan if x["kode"] == "nama_mirip"), None)
                if old is None or old["nilai"] < kemiripan:
                    p.alasan = soft + [x for x in p.alasan if x["kode"] not in ("nik_pemilik_sama", "nama_mirip")]
                    p.skor = max(p.skor, skor)

    if pasangan:
        rows_k = [(a, b, p) for (a, b), p in sorted(pasangan.items())]
        hasil.kandidat = (
            await conn.execute(
                q.USULKAN_KANDIDAT,
                {
                    "id_a": [k[0] for k in rows_k],
                    "id_b": [k[1] for k in rows_k],
                    "kabkota": [k[2].kabkota for k in rows_k],
                    "skor": [f"{min(k[2].skor, 1.0):.3f}" for k in rows_k],
                    "alasan": [json.dumps(k[2].alasan, ensure_ascii=False) for k in rows_k],
                },
            )
        ).rowcount

    if peristiwa:
        await conn.execute(
            q.CATAT_PERISTIWA,
            {
                "ids": [e[0] for e in peristiwa],
                "aksi": [e[1] for e in peristiwa],
                "detail": [json.dumps(e[2]) for e in peristiwa],
                "oleh": OLEH,
            },
        )
    touched = sorted({t["id"] for t in tautan} | dilepas)
    if touched:
        await conn.execute(q.PERBARUI_ENTITAS, {"ids": touched, "baru": sorted(nyata.values())})
    berubah = sorted({t["sid"] for t in tautan} | {g.submission_id for g in gone})
    if berubah:
        await conn.execute(q.TAUTAN_BERUBAH, {"ids": berubah})
    await conn.execute(q.SELESAI_ANTRIAN, {"ids": antrian})
    hasil.ditautkan = len(tautan)
    hasil.dibuat = len(baru)
    hasil.dilepas = len(gone)
    return hasil


async def tautkan_semua(
    batas: int = BATAS, *, transaction: Callable[[], Any] | None = None, kemajuan: Callable[[Hasil], None] | None = None
) -> Hasil:
    """Batches until the queue has nothing left this linker may take, each in a transaction of
    its own (`transaction()`: app.infra.db.transaction unless given): the migration job of
    `kumkm registry tautkan`, and the background task's turn. `kemajuan` hears every batch."""
    if transaction is None:
        from app.infra import db

        transaction = db.transaction
    total = Hasil()
    while True:
        async with transaction() as conn:
            hasil = await tautkan_batch(conn, batas)
        if not hasil.diambil:
            return total
        total.tambah(hasil)
        if kemajuan is not None:
            kemajuan(hasil)


# ---------------------------------------------------------------- the background task
#
# `kumkm serve` links in the background: every worker process runs a Linker, and one at a time
# links (a session advisory lock, taken for a turn and given back when the queue is empty, so
# a worker that stops or dies hands over at once). The others find the lock taken and look
# again a second later. Woken by polling, every POLL_SECONDS: one index probe of an empty
# queue, cheaper than a NOTIFY in the decision's transaction (NOTIFY serialises the commits of
# every notifying transaction on one lock, the decisions' hot path; docs/registry.md).

# The session advisory lock of a turn (any constant no other lock of the service uses:
# "kumkm-linker" in ASCII, 8 bytes).
KUNCI_LATAR = int.from_bytes(b"kumkmlnk", "big", signed=True)
POLL_SECONDS = 1.0
MAX_BACKOFF = 30.0

_GILIRAN = f"SELECT CASE WHEN EXISTS (SELECT 1 FROM kumkm_antrian) THEN pg_try_advisory_lock({KUNCI_LATAR}) ELSE false END"
# all of this connection's session locks: the turn's, however many times a failed turn left it taken
_LEPAS_GILIRAN = "SELECT pg_advisory_unlock_all()"


class Linker:
    """The background linker of one process (app.main's lifespan): start() returns at once
    (start-up and readiness never wait for it), stop() cancels it (a batch in flight rolls back
    and is taken again by the next turn, here or in another process)."""

    def __init__(self, poll: float = POLL_SECONDS, batas: int = BATAS_LATAR, max_backoff: float = MAX_BACKOFF):
        self.poll = poll
        self.batas = batas
        self.max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._engine: Any = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="kumkm-registry-linker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def _get_engine(self) -> Any:
        from app.infra import db

        if self._engine is None:
            # Its own two connections, to the server itself (a session lock does not survive a
            # transaction pooler): one holds the turn, one runs the batches. Never the requests'.
            self._engine = db.make_engine(db.direct_url(), pool_size=2, application_name="kumkm-linker")
        return self._engine

    async def _run(self) -> None:
        from app.infra import citus, health

        delay = self.poll
        failures = 0
        while True:
            await asyncio.sleep(delay)
            # Not before the schema is there; not on Citus, whose distribute.sql drops the
            # queue's trigger (the registry is not kept there yet: docs/registry.md).
            if not health.state.ready or citus.enabled():
                delay = self.poll
                continue
            try:
                await self.giliran()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = min(self.poll * 2**failures, self.max_backoff)
                # the first failure loudly, the repeats quietly (the database's own outage is
                # logged by app.infra.health); the batch rolled back and waits in the queue
                (log.warning if failures == 1 else log.debug)(
                    "registry linker failed (%s: %s); trying again in %.0f s", type(exc).__name__, exc, delay
                )
                continue
            if failures:
                log.warning("registry linker works again after %d failures", failures)
            failures = 0
            delay = self.poll

    async def giliran(self) -> Hasil:
        """One turn: if the queue has rows and no other process holds the turn, link until it
        is empty. What it did (nothing when another process had the turn)."""
        from sqlalchemy import text

        engine = self._get_engine()
        async with engine.connect() as holder:
            holder = await holder.execution_options(isolation_level="AUTOCOMMIT")
            if not (await holder.execute(text(_GILIRAN))).scalar():
                return Hasil()
            try:
                started = time.monotonic()
                hasil = await tautkan_semua(self.batas, transaction=engine.begin)
                if hasil.diambil:
                    # a line per turn only when a backlog was worked off; a decision or two, quietly
                    say = log.info if hasil.diambil >= self.batas else log.debug
                    say(
                        "registry linker: %d records, %d links, %d entities created, %d links removed, %d candidates in %.2f s",
                        hasil.diambil,
                        hasil.ditautkan,
                        hasil.dibuat,
                        hasil.dilepas,
                        hasil.kandidat,
                        time.monotonic() - started,
                    )
                return hasil
            finally:
                await holder.execute(text(_LEPAS_GILIRAN))
