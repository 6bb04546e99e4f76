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
   similar name (app.record.nama) make a candidate with a score and its reasons;
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

from app.infra.load import load
from app.record import nama
from app.registry import idkumkm
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


def _dicts(result: Any) -> list[dict[str, Any]]:
    """A result's rows as plain dicts: `in` and [] on a dict cost a tenth of a RowMapping's (its
    abc checks were a tenth of the linker's Python time, py-spy, bench/README.md)."""
    keys = list(result.keys())
    return [dict(zip(keys, row, strict=True)) for row in result.all()]


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
    rows = _dicts(await conn.execute(q.BACA_TAUTAN_ENTITAS, {"ids": ids}))
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
    rows = _dicts(await conn.execute(q.BACA_CATATAN, {"ids": antrian}))
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
    # The indicator counts of the entities whose links changed were refreshed by the trigger on
    # kumkm_tautan. The batch's other records changed no link; one linked already whose status left diterima
    # and came back before this batch may have changed which record is its entity's state (the
    # latest decided): its entity's counts are refreshed too, and every pending mark of the
    # batch (kumkm_rekap_tunda) is cleared (migration 0013).
    tetap = sorted({r["submission_id"] for r in rows} - set(berubah))
    if tetap:
        await conn.execute(q.REKAP_SEGARKAN, {"ids": tetap})
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
#
# It yields to the service's own work (docs/registry.md, "How the linker runs"): on two cores a
# linker linking beside a stream of decisions took a fifth of their rate. While the service is
# busy (requests in flight in this process on average, or other statements running in the
# database) it waits, but never longer than KUMKM_LINKER_YIELD_SECONDS between batches, so it
# always moves on; idle, it links back to back in batches that grow while they come back full.
# Its own PostgreSQL backend runs at KUMKM_LINKER_NICE when it is a process of this host and
# user (the embedded server), so a batch it must take while the service is busy gets what CPU
# the requests leave.

# The session advisory lock of a turn (any constant no other lock of the service uses:
# "kumkm-linker" in ASCII, 8 bytes).
KUNCI_LATAR = int.from_bytes(b"kumkmlnk", "big", signed=True)
POLL_SECONDS = 1.0
LOAD_WINDOW = 0.25  # seconds of requests in flight averaged at a look
POLL_SIBUK = 0.25  # how often a linker that yields looks again (the service may be idle by then)
MAX_BACKOFF = 30.0
# Busy: this process had at least this many requests in flight on average since the last look,
# or the database runs at least SIBUK_DB statements of other sessions at the look.
SIBUK_PERMINTAAN = 1.0
SIBUK_DB = 2

_GILIRAN = f"SELECT pg_try_advisory_lock({KUNCI_LATAR})"
# A bigint advisory lock shows in pg_locks as its high and low 32 bits (classid, objid).
_KUNCI_TINGGI = (KUNCI_LATAR & 0xFFFF_FFFF_FFFF_FFFF) >> 32
_KUNCI_RENDAH = KUNCI_LATAR & 0xFFFF_FFFF
# Whether there is work, the database's other running statements (this server's, every
# worker's), and whether another process holds the turn, in one round trip; pg_stat_activity
# and pg_locks are shared memory, no table but the queue is read.
_LIHAT = f"""
    SELECT EXISTS (SELECT 1 FROM kumkm_antrian) AS ada,
           (SELECT count(*) FROM pg_stat_activity
            WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
              AND application_name IS DISTINCT FROM 'kumkm-linker') AS aktif,
           EXISTS (SELECT 1 FROM pg_locks
                   WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND pid <> pg_backend_pid()
                     AND classid = {_KUNCI_TINGGI} AND objid = {_KUNCI_RENDAH}) AS lain
"""
# how long the oldest record in the queue has waited, seconds (NULL: empty)
_UMUR_TERTUA = "SELECT extract(epoch FROM clock_timestamp() - min(pada))::float8 FROM kumkm_antrian"
# all of this connection's session locks: the turn's, however many times a failed turn left it taken
_LEPAS_GILIRAN = "SELECT pg_advisory_unlock_all()"


@dataclass
class Keadaan:
    """What this process's linker last saw and did (/healthz shows it; /metrics has the queue's
    length and its oldest record's age from the database)."""

    giliran: bool = False  # holding the turn now
    menunggu_sejak: float | None = None  # monotonic: work waiting while the service was busy, since
    batch_terakhir: float | None = None  # monotonic: the end of the last batch
    beban_permintaan: float = 0.0
    beban_db: int = 0
    batas: int = 0  # the size of the last batch taken
    dipaksa: int = 0  # batches taken while busy because the wait reached its bound
    diperlambat: bool | None = None  # its backend's nice value set (None: not tried yet)

    def ringkas(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "giliran": self.giliran,
            "mengalah_s": None if self.menunggu_sejak is None else round(now - self.menunggu_sejak, 1),
            "batch_terakhir_s_lalu": None if self.batch_terakhir is None else round(now - self.batch_terakhir, 1),
            "beban_permintaan": round(self.beban_permintaan, 2),
            "beban_db": self.beban_db,
            "batas": self.batas,
            "dipaksa": self.dipaksa,
            "backend_nice": self.diperlambat,
        }


keadaan = Keadaan()


def _renice(pid: int, nice: int, data_directory: str) -> bool:
    """Lower the priority of the linker's PostgreSQL backend `pid`: only a process of this host
    and user whose working directory is the server's data directory (PostgreSQL's processes run
    there), so a pid of a remote server is never taken for a local process."""
    import os

    try:
        if os.path.realpath(os.readlink(f"/proc/{pid}/cwd")) != os.path.realpath(data_directory):
            return False
        os.setpriority(os.PRIO_PROCESS, pid, max(os.getpriority(os.PRIO_PROCESS, pid), nice))
        return True
    except (OSError, AttributeError):  # not ours, not here, not Linux
        return False


class Linker:
    """The background linker of one process (app.main's lifespan): start() returns at once
    (start-up and readiness never wait for it), stop() cancels it (a batch in flight rolls back
    and is taken again by the next turn, here or in another process)."""

    def __init__(
        self,
        poll: float = POLL_SECONDS,
        batas: int = BATAS_LATAR,
        max_backoff: float = MAX_BACKOFF,
        *,
        batas_maks: int = BATAS,
        mengalah: float | None = None,
        nice: int | None = None,
    ):
        from app.core.settings import settings

        self.poll = poll
        self.batas = batas
        self.batas_maks = max(batas, batas_maks)
        self.max_backoff = max_backoff
        self._mengalah = mengalah
        self.nice = settings.linker_nice if nice is None else nice
        self._task: asyncio.Task[None] | None = None
        self._engine: Any = None
        self._reniced: set[int] = set()
        self._data_directory: str | None = None
        self._mark = load.mark()
        self.keadaan = keadaan

    @property
    def mengalah(self) -> float:
        """Seconds work may wait for a busy service before a batch is taken anyway."""
        from app.core.settings import settings

        return settings.linker_yield_seconds if self._mengalah is None else self._mengalah

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
            # the load it yields to is the last LOAD_WINDOW before it looks (a look after an
            # idle second must not average a burst that just began with the idle time)
            await asyncio.sleep(max(delay - LOAD_WINDOW, 0.0))
            self._mark = load.mark()
            await asyncio.sleep(min(delay, LOAD_WINDOW))
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
            # work left waiting for the service: looked at again soon, it may be idle by then
            delay = min(self.poll, POLL_SIBUK) if self.keadaan.menunggu_sejak is not None else self.poll

    async def _sibuk(self, holder: Any) -> tuple[bool, bool]:
        """(work waiting, the service busy): one look at the queue and the database's other
        statements, and this process's requests in flight on average since the last look. A
        turn another process holds counts as a batch of the bound: with several workers the
        queue gets one batch per bound, not one per worker."""
        from sqlalchemy import text

        row = (await holder.execute(text(_LIHAT))).one()
        k = self.keadaan
        k.beban_permintaan = load.average_since(self._mark)
        self._mark = load.mark()
        k.beban_db = int(row.aktif)
        if row.lain and k.menunggu_sejak is not None:
            k.menunggu_sejak = time.monotonic()
        return bool(row.ada), k.beban_permintaan >= SIBUK_PERMINTAAN or k.beban_db >= SIBUK_DB

    async def _perlambat(self, holder: Any, conn: Any) -> None:
        """The batch connection's backend at self.nice, once per backend (module docstring).
        The server's data directory is read on the turn's connection (autocommit: a refusal
        there, for a user not allowed to read it, leaves no transaction aborted)."""
        if self.nice <= 0:
            return
        raw = await conn.get_raw_connection()
        pid = raw.driver_connection.get_server_pid()
        if pid in self._reniced:
            return
        self._reniced.add(pid)
        if self._data_directory is None:
            from sqlalchemy import text

            try:
                self._data_directory = str((await holder.execute(text("SELECT current_setting('data_directory')"))).scalar())
            except Exception:  # neither a superuser nor pg_read_all_settings: left alone
                self._data_directory = ""
        self.keadaan.diperlambat = bool(self._data_directory) and _renice(pid, self.nice, self._data_directory)

    async def giliran(self) -> Hasil:
        """One turn: if the queue has rows, no other process holds the turn, and the service is
        idle or has made the queue wait long enough (self.mengalah), link: until the queue is
        empty while the service stays idle, one batch while it is busy. What it did (nothing
        when another process had the turn or the linker yielded)."""
        from sqlalchemy import text

        k = self.keadaan
        engine = self._get_engine()
        async with engine.connect() as holder:
            holder = await holder.execution_options(isolation_level="AUTOCOMMIT")
            ada, sibuk = await self._sibuk(holder)
            now = time.monotonic()
            if not ada:
                k.menunggu_sejak = None
                return Hasil()
            if sibuk:
                # the service first; the queue waits at most self.mengalah for a batch
                if k.menunggu_sejak is None:
                    k.menunggu_sejak = now
                if now - k.menunggu_sejak < self.mengalah:
                    return Hasil()
                # The wait is counted from what this linker saw; a queue emptied by another
                # process (or a TRUNCATE) between two looks leaves that mark older than the work
                # now waiting. Read once per bound, when a batch would be forced: the oldest
                # waiting record's age (a scan of the queue, never on the looks every poll).
                umur = (await holder.execute(text(_UMUR_TERTUA))).scalar()
                if umur is not None and umur < self.mengalah:
                    k.menunggu_sejak = now - umur
                    return Hasil()
            if not (await holder.execute(text(_GILIRAN))).scalar():
                return Hasil()
            k.giliran = True
            try:
                started = time.monotonic()
                total = Hasil()
                batas = self.batas
                while True:
                    if sibuk:
                        k.dipaksa += 1
                    k.batas = batas = self.batas if sibuk else batas
                    async with engine.begin() as conn:
                        await self._perlambat(holder, conn)
                        hasil = await tautkan_batch(conn, batas)
                    k.batch_terakhir = time.monotonic()
                    total.tambah(hasil)
                    if not hasil.diambil:
                        k.menunggu_sejak = None  # the queue is empty (or what is left another linker's)
                        break
                    ada, sibuk = await self._sibuk(holder)
                    if not ada:
                        k.menunggu_sejak = None
                        break
                    if sibuk:
                        # the service has work: hand the CPU back, and wait from now
                        k.menunggu_sejak = k.batch_terakhir
                        break
                    if hasil.diambil == batas:
                        batas = min(batas * 2, self.batas_maks)  # a long queue: fewer, larger batches
                if total.diambil:
                    # a line per turn only when a backlog was worked off; a decision or two, quietly
                    say = log.info if total.diambil >= self.batas else log.debug
                    say(
                        "registry linker: %d records, %d links, %d entities created, %d links removed, %d candidates in %.2f s",
                        total.diambil,
                        total.ditautkan,
                        total.dibuat,
                        total.dilepas,
                        total.kandidat,
                        time.monotonic() - started,
                    )
                return total
            finally:
                k.giliran = False
                await holder.execute(text(_LEPAS_GILIRAN))
