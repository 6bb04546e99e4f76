"""The authorization matrix as data: for every operation of the service, the roles that may
call it and the wilayah-scope rule that applies, with a request builder that makes a valid
request for it. `tests/api/test_authorization.py` walks it against the running app (every role,
with national, provinsi, kabupaten/kota and out-of-scope keys) and
`docs/authorization.md` is rendered from it:

    python -m tests.support.authz_matrix > docs/authorization.md

The rules here are what the code does today (read from the routers and services, see
`app/*/router.py`); a new endpoint needs an entry, or the coverage test fails.

The walk's fixed geography: every request aims at kabupaten Banyuasin (`16.07`, in provinsi
Sumatera Selatan `16`): records in desa `16.07.01.2001` created by the enumerator key
`enumerator@16.07`, a capaian target for `16.07`, and tujuan, sasaran and an indikator owned
(`pemilik`) by provinsi `16`, reported per kabupaten/kota. Keys are made per role with no
scope (national), scope `16`, `16.07`, and out of scope `15` (Jambi) and `15.01`.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

ROLES = ("enumerator", "verifikator", "dinas", "walidata", "admin", "mitra")
ALL = ROLES  # every key, a partner's (mitra) too: only GET /api/v1/me
# Every key of the registry's own people: what EVERY_KEY grants (records, entities, wilayah); a
# partner's key (mitra) takes only its look-up (docs/mitra.md).
STAFF = tuple(r for r in ROLES if r != "mitra")
KEY_SCOPES = (None, "16", "16.07", "15", "15.01")

# The geography every request aims at (see the module docstring).
DESA = "16.07.01.2001"
AREA = "16.07"
OTHER_DESA = "15.01.01.2001"  # Selam Paung, Kab. Kerinci, Jambi: a record out of scope
PEMILIK = "16"
PERIODE = "2022"
TAHUN = 2022
OWNER_NAME = "enumerator@16.07"  # the key that created the context's records


def key_name(role: str, scope: str | None) -> str:
    return f"{role}@{scope or 'nasional'}"


def covers(scope: str | None, kode: str) -> bool:
    """The same test as app.keys.service.Principal.covers."""
    return scope is None or kode == scope or kode.startswith(scope + ".")


def _ancestors(kode: str) -> list[str]:
    parts = kode.split(".")
    return ["nasional"] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def indikator_visible(scope: str | None, pemilik: str) -> bool:
    """A definition is visible when its pemilik is the key's wilayah, an ancestor or inside it."""
    return scope is None or pemilik in _ancestors(scope) or pemilik.startswith(scope + ".")


# ------------------------------------------------------------------------------ scope rules


@dataclass(frozen=True)
class Rule:
    """A wilayah-scope rule. `decide(role, key_scope, key_name)` gives None when a key of an
    allowed role gets through, else the status it is refused with."""

    name: str
    meaning: str
    decide: Callable[[str, str | None, str], int | None]


def _in(kode: str, status: int = 403):
    return lambda role, scope, name: None if covers(scope, kode) else status


NONE = Rule("none", "any key of an allowed role, whatever its wilayah", lambda r, s, n: None)
FILTERED = Rule("filtered", "never refused for scope: the answer holds only what lies inside the key's wilayah", lambda r, s, n: None)
RECORD = Rule("record", "the record's `kode_wilayah` must lie inside the key's wilayah (else 403)", _in(DESA))
PARAM = Rule(
    "param", "the wilayah named in the path or query (`wilayah`, `kode_wilayah`) must lie inside the key's wilayah (else 403)", _in(AREA)
)
ITEM = Rule(
    "item",
    "per item: each record's `kode_wilayah` must lie inside the key's wilayah; an item outside "
    "it is refused in the 200 answer with `status: 403`, the others still apply",
    _in(DESA),
)
OWNER = Rule(
    "owner",
    "enumerator: only the holder of the key that created the record (its rotated successor keys "
    "too; a key that merely carries the same name is another holder); admin: any; and the "
    "record's current and corrected `kode_wilayah` must lie inside the key's wilayah (else 403)",
    lambda r, s, n: None if (r == "admin" or n == OWNER_NAME) and covers(s, DESA) else 403,
)
TARGET_WRITE = Rule(
    "param (admin: any)",
    "dinas: the wilayah in the path must lie inside the key's wilayah (else 403); admin keys "
    "may set any wilayah's target, even when scoped",
    lambda r, s, n: None if r == "admin" or covers(s, AREA) else 403,
)
PEMILIK_WRITE = Rule(
    "pemilik",
    "the key's wilayah must cover the `pemilik` (owner) of the tujuan/sasaran/indikator (else 403); `nasional` needs an unscoped key",
    _in(PEMILIK),
)
PEMILIK_VALUES_WRITE = Rule(
    "pemilik (hidden)",
    "the indikator must be visible to the key (else 404) and the key's wilayah must cover its "
    "`pemilik` (else 403): values of a wilayah are set by the indicator's owner",
    lambda r, s, n: 404 if not indikator_visible(s, PEMILIK) else (None if covers(s, PEMILIK) else 403),
)
PEMILIK_EDIT = Rule(
    "pemilik (edit)",
    "the definition must be visible to the key (else 404, as GET answers) and the key's wilayah must cover its `pemilik` (else 403)",
    lambda r, s, n: 404 if not indikator_visible(s, PEMILIK) else (None if covers(s, PEMILIK) else 403),
)
VISIBLE = Rule(
    "visible",
    "the definition's `pemilik` must be the key's wilayah, one of its ancestors or inside it (else 404)",
    lambda r, s, n: None if indikator_visible(s, PEMILIK) else 404,
)
VISIBLE_403 = Rule(
    "visible (403)",
    "with `?pemilik=`: it must be the key's wilayah, an ancestor or inside it (else 403); "
    "without: the list holds only the visible definitions",
    lambda r, s, n: None if indikator_visible(s, PEMILIK) else 403,
)
VALUES_READ = Rule(
    "visible + param",
    "the indikator must be visible to the key (else 404) and the wilayah in the path must lie inside the key's wilayah (else 403)",
    lambda r, s, n: 404 if not indikator_visible(s, PEMILIK) else (None if covers(s, AREA) else 403),
)

NATIONAL_ONLY = Rule(
    "national-only",
    "only keys without a wilayah (national) may ask for the whole nation (else 403)",
    lambda r, s, n: None if s is None else 403,
)
OWN = Rule("own wilayah", "never refused for scope: the key's own wilayah is used (the nation for unscoped keys)", lambda r, s, n: None)

OWN_KABKOTA = Rule(
    "own kabkota",
    "a key scoped to a kabupaten/kota gets its own; a provinsi or national key must name one (else 422 naming `kabkota`)",
    lambda r, s, n: None if s is not None and s.count(".") == 1 else 422,
)

ENTITAS = Rule(
    "entitas", "the entity's kabupaten/kota (for a pair, both entities') must lie inside the key's wilayah (else 403)", _in(AREA)
)

RULES = (
    NONE,
    FILTERED,
    OWN,
    OWN_KABKOTA,
    NATIONAL_ONLY,
    RECORD,
    PARAM,
    ITEM,
    OWNER,
    TARGET_WRITE,
    PEMILIK_WRITE,
    PEMILIK_EDIT,
    PEMILIK_VALUES_WRITE,
    VISIBLE,
    VISIBLE_403,
    VALUES_READ,
    ENTITAS,
)


# ------------------------------------------------------------------------------ requests


@dataclass
class Req:
    method: str
    url: str
    params: dict | None = None
    json: object = None
    content: bytes | None = None  # a body that is not JSON (with its Content-Type in headers)
    headers: dict | None = None


class Context:
    """What the request builders need; made by test_authorization.py (`setup`). The fields are
    filled there; `fresh_record` and `fresh_scale` make a new object for one request."""

    record_id: str
    target_kode: str
    tujuan_id: int
    sasaran_id: int
    indikator_id: int
    _seq = itertools.count(1)

    def seq(self) -> int:
        return next(self._seq)

    async def fresh_record(self, status: str = "masuk") -> dict:  # pragma: no cover - set by the test
        raise NotImplementedError

    async def fresh_scale(self) -> None:  # pragma: no cover - set by the test
        raise NotImplementedError

    async def fresh_entitas(self, records: int = 1) -> tuple[str, list[str], int]:  # pragma: no cover - set by the test
        """A new entity in AREA of `records` accepted records: (id_kumkm, submission_ids, versi)."""
        raise NotImplementedError

    async def fresh_kandidat(self) -> tuple[int, str, str]:  # pragma: no cover - set by the test
        """An open candidate between two new entities in AREA: (id, id_a, id_b)."""
        raise NotImplementedError

    async def fresh_bukan_sama(self) -> tuple[str, str]:  # pragma: no cover - set by the test
        """A pair of new entities in AREA said not the same."""
        raise NotImplementedError


Builder = Callable[[Context], Awaitable[Req]]


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    roles: tuple[str, ...]
    scope: Rule
    build: Builder | None = field(default=None, compare=False)
    note: str = ""
    # The same operation asked differently (e.g. without `wilayah`): (what, rule, builder).
    also: tuple[tuple[str, Rule, Builder], ...] = field(default=(), compare=False)
    # The requests act on one shared object (a DELETE), or share a bounded resource (sync
    # streams: more at once than the service admits get 429): the walk sends them one at a time.
    serial: bool = False
    # The answer lists records: the walk checks it holds the context's record in 16.07 and the
    # one in 15.01 exactly when the key's wilayah (and the asked kode_wilayah) covers them.
    lists_records: bool = False

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def variants(self) -> list[tuple[str, Rule, Builder]]:
        return [("", self.scope, self.build), *self.also]

    @staticmethod
    def expect(roles: tuple[str, ...], rule: Rule, role: str, scope: str | None, name: str) -> int | None:
        """None: allowed; else the status the key is refused with."""
        if role not in roles:
            return 403
        return rule.decide(role, scope, name)


def _req(method: str, url: str, **kw) -> Builder:
    async def build(ctx: Context) -> Req:
        return Req(method, url.format(ctx=ctx), **kw)

    return build


def _umkm(desa: str = DESA, **over) -> dict:
    from tests.support.factories import nik, umkm

    return umkm(kode_wilayah=desa, nik_pemilik=nik(desa[:8].replace(".", ""), perempuan=True), **over)


async def _post_submission(ctx):
    return Req("POST", "/api/v1/submissions", json=_umkm())


async def _post_batch(ctx):
    return Req("POST", "/api/v1/submissions/batch", json={"items": [_umkm()]})


async def _correct(ctx):
    rec = await ctx.fresh_record("ditolak")
    return Req("PUT", f"/api/v1/submissions/{rec['submission_id']}", json={**rec, "nama_usaha": "Warung Makan Sederhana Jaya"})


async def _decide(ctx):
    rec = await ctx.fresh_record()
    return Req("POST", f"/api/v1/submissions/{rec['submission_id']}/verifikasi", json={"status": "diterima", "version": 1})


async def _decide_batch(ctx):
    rec = await ctx.fresh_record()
    return Req(
        "POST", "/api/v1/verifikasi/batch", json={"items": [{"submission_id": rec["submission_id"], "status": "diterima", "version": 1}]}
    )


async def _put_target(ctx):
    return Req(
        "PUT",
        f"/api/v1/targets/{PERIODE}/{AREA}",
        json={"target": 100 + ctx.seq(), "dasar_hukum": "Kepdep 63/2022", "berlaku_mulai": "2022-01-01"},
    )


async def _post_tujuan(ctx):
    return Req("POST", "/api/v1/indikator/tujuan", json={"pemilik": PEMILIK, "kode": f"T-{ctx.seq()}", "nama": "Tujuan uji"})


async def _post_sasaran(ctx):
    return Req(
        "POST",
        "/api/v1/indikator/sasaran",
        json={"pemilik": PEMILIK, "kode": f"S-{ctx.seq()}", "nama": "Sasaran uji", "tujuan_id": ctx.tujuan_id},
    )


def indikator_body(kode: str, sasaran_id: int) -> dict:
    return {
        "pemilik": PEMILIK,
        "kode": kode,
        "nama": f"Indikator {kode}",
        "sasaran_id": sasaran_id,
        "satuan": "persen",
        "polaritas": "naik",
        "level": "kabkota",
        "sumber": "manual",
        "renstra_mulai": 2019,
        "renstra_akhir": 2023,
    }


async def _post_indikator(ctx):
    return Req("POST", "/api/v1/indikator", json=indikator_body(f"I-{ctx.seq()}", ctx.sasaran_id))


SCALE = {"nama": "Skala uji", "bands": [{"batas_bawah": None, "predikat": "belum"}, {"batas_bawah": 100, "predikat": "tercapai"}]}


async def _delete_scale(ctx):
    await ctx.fresh_scale()
    return Req("DELETE", f"/api/v1/indikator/predikat/{AREA}")


async def _kandidat_action(ctx, action: str):
    kid, _, _ = await ctx.fresh_kandidat()
    return Req("POST", f"/api/v1/kumkm/kandidat/{kid}/{action}", json={"versi_a": 1, "versi_b": 1})


async def _tautkan_kandidat(ctx):
    return await _kandidat_action(ctx, "tautkan")


async def _bukan_sama(ctx):
    return await _kandidat_action(ctx, "bukan-sama")


async def _batal_bukan_sama(ctx):
    a, b = await ctx.fresh_bukan_sama()
    return Req("DELETE", f"/api/v1/kumkm/bukan-sama/{a}/{b}")


async def _tautkan(ctx):
    a, _, va = await ctx.fresh_entitas()
    b, _, vb = await ctx.fresh_entitas()
    return Req("POST", f"/api/v1/kumkm/{a}/tautkan", json={"versi": va, "dengan": b, "versi_dengan": vb})


async def _pisahkan(ctx):
    e, sids, v = await ctx.fresh_entitas(2)
    return Req("POST", f"/api/v1/kumkm/{e}/pisahkan", json={"versi": v, "submission_ids": sids[:1]})


async def _entitas(ctx):
    e, _, _ = await ctx.fresh_entitas()
    return Req("GET", f"/api/v1/kumkm/{e}")


READERS = ("verifikator", "dinas", "walidata", "admin")  # capaian, agregat, indikator reads
WRITERS = ("dinas", "admin")  # targets, indikator writes
I = "/api/v1/indikator"  # noqa: E741 (short: every indicator row below uses it)

MATRIX: tuple[Op, ...] = (
    Op("GET", "/api/v1/wilayah", STAFF, NONE, _req("GET", "/api/v1/wilayah", params={"parent": "16"}), "reference data"),
    Op(
        "GET",
        "/api/v1/me",
        ALL,
        NONE,
        _req("GET", "/api/v1/me"),
        "the calling key: role, wilayah, personal-data grant, expiry, the actions its role may take",
    ),
    # records
    Op("POST", "/api/v1/submissions", ("enumerator", "admin"), RECORD, _post_submission, "the posted `kode_wilayah`"),
    Op("POST", "/api/v1/submissions/batch", ("enumerator", "admin"), ITEM, _post_batch),
    Op(
        "GET",
        "/api/v1/submissions",
        STAFF,
        PARAM,
        _req("GET", "/api/v1/submissions", params={"kode_wilayah": AREA, "periode": PERIODE}),
        "personal data masked unless the key may see it",
        lists_records=True,
        also=(("no `kode_wilayah`", OWN, _req("GET", "/api/v1/submissions", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/submissions/{submission_id}",
        STAFF,
        RECORD,
        _req("GET", "/api/v1/submissions/{ctx.record_id}"),
        "personal data masked unless the key may see it",
    ),
    Op("PUT", "/api/v1/submissions/{submission_id}", ("enumerator", "admin"), OWNER, _correct, "correction of a `ditolak` record"),
    # verification
    Op("POST", "/api/v1/submissions/{submission_id}/verifikasi", ("verifikator", "admin"), RECORD, _decide),
    Op("POST", "/api/v1/verifikasi/batch", ("verifikator", "admin"), ITEM, _decide_batch),
    Op(
        "GET",
        "/api/v1/verifikasi/rekap",
        ("verifikator", "admin"),
        PARAM,
        _req("GET", "/api/v1/verifikasi/rekap", params={"periode": PERIODE, "kabkota": AREA}),
        "counts per status from the status counters",
        also=(("no `kabkota`", FILTERED, _req("GET", "/api/v1/verifikasi/rekap", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/verifikasi/antrian",
        ("verifikator", "admin"),
        PARAM,
        _req("GET", "/api/v1/verifikasi/antrian", params={"periode": PERIODE, "kabkota": AREA}),
        "the verifikator's queue (no personal data in it)",
        also=(("no `kabkota`", OWN_KABKOTA, _req("GET", "/api/v1/verifikasi/antrian", params={"periode": PERIODE})),),
    ),
    Op("GET", "/api/v1/submissions/{submission_id}/riwayat", STAFF, RECORD, _req("GET", "/api/v1/submissions/{ctx.record_id}/riwayat")),
    Op("GET", "/api/v1/submissions/{submission_id}/versi", STAFF, RECORD, _req("GET", "/api/v1/submissions/{ctx.record_id}/versi")),
    Op(
        "GET",
        "/api/v1/submissions/{submission_id}/versi/{version}",
        STAFF,
        RECORD,
        _req("GET", "/api/v1/submissions/{ctx.record_id}/versi/1"),
        "personal data masked as for the record",
    ),
    # targets, capaian, aggregates
    Op("PUT", "/api/v1/targets/{periode}/{kode_wilayah}", WRITERS, TARGET_WRITE, _put_target),
    Op("GET", "/api/v1/targets/{periode}/{kode_wilayah}", READERS, PARAM, _req("GET", f"/api/v1/targets/{PERIODE}/{AREA}")),
    Op(
        "GET",
        "/api/v1/periode",
        READERS,
        FILTERED,
        _req("GET", "/api/v1/periode"),
        "every periode with the records inside the key's wilayah; the pages open on the newest with data",
    ),
    Op(
        "GET",
        "/api/v1/capaian-pendataan",
        READERS,
        PARAM,
        _req("GET", "/api/v1/capaian-pendataan", params={"periode": PERIODE, "wilayah": AREA}),
        also=(("no `wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/capaian-pendataan", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/kampanye/kemajuan",
        READERS,
        PARAM,
        _req("GET", "/api/v1/kampanye/kemajuan", params={"periode": PERIODE, "kode_wilayah": AREA}),
        "progress over time (docs/kampanye.md)",
        also=(("no `kode_wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/kampanye/kemajuan", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/kampanye/antrian-umur",
        READERS,
        PARAM,
        _req("GET", "/api/v1/kampanye/antrian-umur", params={"periode": PERIODE, "kode_wilayah": AREA}),
        "the backlog's age (docs/kampanye.md)",
        also=(("no `kode_wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/kampanye/antrian-umur", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/agregat/keragaan-koperasi",
        READERS,
        PARAM,
        _req("GET", "/api/v1/agregat/keragaan-koperasi", params={"periode": PERIODE, "wilayah": AREA}),
        also=(("no `wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/agregat/keragaan-koperasi", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/agregat/umkm",
        READERS,
        PARAM,
        _req("GET", "/api/v1/agregat/umkm", params={"periode": PERIODE, "wilayah": AREA}),
        also=(("no `wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/agregat/umkm", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/agregat/entitas",
        READERS,
        PARAM,
        _req("GET", "/api/v1/agregat/entitas", params={"periode": PERIODE, "wilayah": AREA}),
        also=(("no `wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/agregat/entitas", params={"periode": PERIODE})),),
    ),
    Op(
        "GET",
        "/api/v1/agregat",
        READERS,
        PARAM,
        _req("GET", "/api/v1/agregat", params={"periode": PERIODE, "wilayah": AREA, "by": "jenis"}),
        also=(("no `wilayah`", NATIONAL_ONLY, _req("GET", "/api/v1/agregat", params={"periode": PERIODE, "by": "jenis"})),),
    ),
    Op(
        "GET",
        "/api/v1/kampanye/titik",
        READERS,
        PARAM,
        _req("GET", "/api/v1/kampanye/titik", params={"periode": PERIODE, "kode_wilayah": AREA}),
        "the map's points of a kabupaten/kota (clusters above KUMKM_MAP_MAX_POINTS); lokasi rounded without the personal-data grant",
    ),
    # indikator kinerja
    Op("GET", I + "/formula", READERS, NONE, _req("GET", I + "/formula")),
    Op(
        "GET",
        I + "/capaian",
        READERS,
        PARAM,
        _req("GET", I + "/capaian", params={"tahun": TAHUN, "wilayah": AREA}),
        "the LKjIP table",
        also=(
            ("no `wilayah`", OWN, _req("GET", I + "/capaian", params={"tahun": TAHUN})),
            ("`wilayah=nasional`", NATIONAL_ONLY, _req("GET", I + "/capaian", params={"tahun": TAHUN, "wilayah": "nasional"})),
        ),
    ),
    Op(
        "GET",
        I + "/predikat/{kode_wilayah}",
        READERS,
        PARAM,
        _req("GET", f"{I}/predikat/{AREA}"),
        also=(("`nasional`", NATIONAL_ONLY, _req("GET", f"{I}/predikat/nasional")),),
    ),
    Op(
        "PUT",
        I + "/predikat/{kode_wilayah}",
        WRITERS,
        PARAM,
        _req("PUT", f"{I}/predikat/{AREA}", json=SCALE),
        also=(("`nasional`", NATIONAL_ONLY, _req("PUT", f"{I}/predikat/nasional", json=SCALE)),),
    ),
    Op("DELETE", I + "/predikat/{kode_wilayah}", WRITERS, PARAM, _delete_scale, serial=True),
    Op(
        "GET",
        I + "/tujuan",
        READERS,
        VISIBLE_403,
        _req("GET", I + "/tujuan", params={"pemilik": PEMILIK}),
        also=(("no `pemilik`", FILTERED, _req("GET", I + "/tujuan")),),
    ),
    Op("POST", I + "/tujuan", WRITERS, PEMILIK_WRITE, _post_tujuan),
    Op(
        "PATCH",
        I + "/tujuan/{tujuan_id}",
        WRITERS,
        PEMILIK_EDIT,
        _req("PATCH", I + "/tujuan/{ctx.tujuan_id}", json={"nama": "Tujuan uji diubah"}),
    ),
    Op(
        "GET",
        I + "/sasaran",
        READERS,
        VISIBLE_403,
        _req("GET", I + "/sasaran", params={"pemilik": PEMILIK}),
        also=(("no `pemilik`", FILTERED, _req("GET", I + "/sasaran")),),
    ),
    Op("POST", I + "/sasaran", WRITERS, PEMILIK_WRITE, _post_sasaran),
    Op(
        "PATCH",
        I + "/sasaran/{sasaran_id}",
        WRITERS,
        PEMILIK_EDIT,
        _req("PATCH", I + "/sasaran/{ctx.sasaran_id}", json={"nama": "Sasaran uji diubah"}),
    ),
    Op("GET", I, READERS, VISIBLE_403, _req("GET", I, params={"pemilik": PEMILIK}), also=(("no `pemilik`", FILTERED, _req("GET", I)),)),
    Op("POST", I, WRITERS, PEMILIK_WRITE, _post_indikator),
    Op("GET", I + "/{indikator_id}", READERS, VISIBLE, _req("GET", I + "/{ctx.indikator_id}")),
    Op(
        "PATCH",
        I + "/{indikator_id}",
        WRITERS,
        PEMILIK_EDIT,
        _req("PATCH", I + "/{ctx.indikator_id}", json={"nama": "Indikator uji diubah"}),
    ),
    Op("GET", I + "/{indikator_id}/target/{kode_wilayah}", READERS, VALUES_READ, _req("GET", I + "/{ctx.indikator_id}/target/" + AREA)),
    Op(
        "PUT",
        I + "/{indikator_id}/target/{kode_wilayah}/{tahun}",
        WRITERS,
        PEMILIK_VALUES_WRITE,
        _req("PUT", I + "/{ctx.indikator_id}/target/" + f"{AREA}/{TAHUN}", json={"nilai": "80"}),
    ),
    Op(
        "GET",
        I + "/{indikator_id}/realisasi/{kode_wilayah}/{tahun}",
        READERS,
        VALUES_READ,
        _req("GET", I + "/{ctx.indikator_id}/realisasi/" + f"{AREA}/{TAHUN}"),
    ),
    Op(
        "PUT",
        I + "/{indikator_id}/realisasi/{kode_wilayah}/{tahun}",
        WRITERS,
        PEMILIK_VALUES_WRITE,
        _req("PUT", I + "/{ctx.indikator_id}/realisasi/" + f"{AREA}/{TAHUN}", json={"nilai": "70", "sumber": "laporan dinas"}),
    ),
    # walidata sync
    Op(
        "GET",
        "/api/v1/sync/changes",
        ("dinas", "walidata", "admin"),
        FILTERED,
        _req("GET", "/api/v1/sync/changes", params={"limit": 10}),
        "personal data masked unless the key may see it; every call is in the access log",
        lists_records=True,
        serial=True,
    ),
    Op(
        "GET",
        "/api/v1/sync/snapshot",
        ("dinas", "walidata", "admin"),
        FILTERED,
        _req("GET", "/api/v1/sync/snapshot", params={"periode": PERIODE}),
        "personal data masked unless the key may see it; every call is in the access log",
        lists_records=True,
        serial=True,
    ),
    Op(
        "GET",
        "/api/v1/sync/entitas/feed",
        ("dinas", "walidata", "admin"),
        FILTERED,
        _req("GET", "/api/v1/sync/entitas/feed", params={"limit": 10}),
        "entities whose current kabupaten/kota lies in the key's wilayah; every call is in the access log",
        serial=True,
    ),
    Op(
        "GET",
        "/api/v1/sync/entitas/snapshot",
        ("dinas", "walidata", "admin"),
        FILTERED,
        _req("GET", "/api/v1/sync/entitas/snapshot"),
        "entities whose current kabupaten/kota lies in the key's wilayah; every call is in the access log",
        serial=True,
    ),
    # registry (Basis Data Tunggal): entities and the verifikator's work on them
    Op(
        "GET",
        "/api/v1/kumkm/kandidat",
        ("verifikator", "admin"),
        PARAM,
        _req("GET", "/api/v1/kumkm/kandidat", params={"kabkota": AREA}),
        "candidate pairs of a kabupaten/kota; alamat masked unless the key may see it (access-logged when shown)",
        also=(("no `kabkota`", OWN_KABKOTA, _req("GET", "/api/v1/kumkm/kandidat")),),
    ),
    Op(
        "POST",
        "/api/v1/kumkm/kandidat/{kandidat_id}/tautkan",
        ("verifikator", "admin"),
        ENTITAS,
        _tautkan_kandidat,
        "merge the candidate's two entities",
    ),
    Op(
        "POST",
        "/api/v1/kumkm/kandidat/{kandidat_id}/bukan-sama",
        ("verifikator", "admin"),
        ENTITAS,
        _bukan_sama,
        "the pair is never proposed again",
    ),
    Op("DELETE", "/api/v1/kumkm/bukan-sama/{id_a}/{id_b}", ("verifikator", "admin"), ENTITAS, _batal_bukan_sama, "undo of bukan-sama"),
    Op("POST", "/api/v1/kumkm/{id_kumkm}/tautkan", ("verifikator", "admin"), ENTITAS, _tautkan, "merge two entities without a candidate"),
    Op(
        "POST",
        "/api/v1/kumkm/{id_kumkm}/pisahkan",
        ("verifikator", "admin"),
        ENTITAS,
        _pisahkan,
        "split records out of an entity (the undo of a merge)",
    ),
    Op(
        "GET",
        "/api/v1/kumkm/daftar",
        STAFF,
        PARAM,
        _req("GET", "/api/v1/kumkm/daftar", params={"kode_wilayah": AREA}),
        "the follow-up visits' entity list of a desa or kabupaten/kota, paged with an ETag (no personal data)",
    ),
    Op("GET", "/api/v1/kumkm/{id_kumkm}", STAFF, ENTITAS, _entitas, "profile, links, peristiwa; personal data masked as for a record"),
    Op(
        "GET",
        "/api/v1/kumkm",
        STAFF,
        PARAM,
        _req("GET", "/api/v1/kumkm", params={"wilayah": AREA}),
        "the entities of a wilayah (no personal data)",
        also=(
            ("no `wilayah`", OWN, _req("GET", "/api/v1/kumkm")),
            ("`nib=` look-up", FILTERED, _req("GET", "/api/v1/kumkm", params={"nib": "9120001234567"})),
        ),
    ),
    # the campaign: enumerators and quality (app/kampanye, docs/kampanye.md)
    Op(
        "GET",
        "/api/v1/kampanye/enumerator",
        READERS,
        PARAM,
        _req("GET", "/api/v1/kampanye/enumerator", params={"periode": PERIODE, "kode_wilayah": AREA}),
        "the enumerator table of a provinsi or kabupaten/kota; no `kode_wilayah`: the key's own",
    ),
    Op(
        "GET",
        "/api/v1/me/kinerja",
        ("enumerator",),
        FILTERED,
        _req("GET", "/api/v1/me/kinerja", params={"periode": PERIODE}),
        "the calling enumerator's own rows (its holder's records only; another `enumerator_id`: 403)",
        also=(("`kode_wilayah=`", PARAM, _req("GET", "/api/v1/me/kinerja", params={"periode": PERIODE, "kode_wilayah": AREA})),),
    ),
    # access audit
    Op("GET", "/api/v1/audit", ("admin",), NONE, _req("GET", "/api/v1/audit"), "who saw personal data unmasked or pulled the feed"),
    # partner programs (docs/mitra.md)
    Op(
        "POST",
        "/api/v1/kumkm/cek",
        ("mitra",),
        FILTERED,
        _req("POST", "/api/v1/kumkm/cek", json={"tujuan": "kur", "nib": "9120001234567"}),
        "a partner's look-up: registered or not, and a profile without personal data; only what lies inside the key's wilayah is found",
    ),
    Op(
        "POST",
        "/api/v1/kumkm/cek/batch",
        ("mitra",),
        FILTERED,
        _req(
            "POST",
            "/api/v1/kumkm/cek/batch",
            params={"tujuan": "kur"},
            content=b"nib\n9120001234567\n",
            headers={"Content-Type": "text/csv"},
        ),
        "the same for a CSV of up to 10,000 questions",
    ),
    Op("GET", "/api/v1/audit/mitra", ("admin",), NONE, _req("GET", "/api/v1/audit/mitra"), "partners' look-ups per purpose per day"),
)


@dataclass(frozen=True)
class Public:
    method: str
    path: str
    url: str
    note: str


# Served without a key (outside /api/v1).
PUBLIC: tuple[Public, ...] = (
    Public("GET", "/healthz", "/healthz", "liveness"),
    Public("GET", "/readyz", "/readyz", "readiness (database and schema)"),
    Public("GET", "/metrics", "/metrics", "Prometheus metrics (counts only, no records)"),
    Public("GET", "/dashboard", "/dashboard", "the dashboard page; it calls /api/v1 with the user's key"),
    Public("GET", "/dashboard/static", "/dashboard/static/dashboard.js", "the page's CSS and JavaScript"),
    Public("GET", "/verifikasi", "/verifikasi", "the verifikator's work page; it calls /api/v1 with the user's key"),
    Public("GET", "/verifikasi/static", "/verifikasi/static/verifikasi.js", "the work page's CSS and JavaScript"),
    Public("GET", "/static/kumkm", "/static/kumkm/kumkm.js", "what both pages share (app/web/pages): base CSS, the key and API script"),
    Public("GET", "/static/leaflet", "/static/leaflet/leaflet.js", "the map's Leaflet (its own dist files, from the installed wheel)"),
    Public("GET", "/openapi.json", "/openapi.json", "the OpenAPI document"),
    Public("GET", "/docs", "/docs", "Swagger UI"),
    Public("GET", "/redoc", "/redoc", "ReDoc"),
    Public("GET", "/static/apidocs", "/static/apidocs/swagger-init.js", "the docs pages' own start-up scripts (app/web/apidocs)"),
    Public(
        "GET",
        "/static/apidocs/vendor",
        "/static/apidocs/vendor/swagger-ui-bundle.js",
        "Swagger UI and ReDoc, from the fastapi-offline wheel",
    ),
)


# OpenRosa (docs/openrosa.md): the key is the first path segment, as ODK Central does for app
# users, so a phone is configured by one URL. Roles that may post records (enumerator, admin);
# unknown, revoked or expired key: 401; another role: 403. A submission's kode_wilayah must lie
# inside the key's wilayah (403); the media file lists only the key's wilayah.
KEY_IN_PATH_ROLES = ("enumerator", "admin")
KEY_IN_PATH: tuple[Public, ...] = (
    Public("GET", "/openrosa/{key}/formList", "/openrosa/{key}/formList", "OpenRosa form list"),
    Public("GET", "/openrosa/{key}/forms/{form_id}/form.xml", "/openrosa/{key}/forms/pl_kumkm/form.xml", "the PL-KUMKM XForm"),
    Public("GET", "/openrosa/{key}/forms/{form_id}/manifest", "/openrosa/{key}/forms/pl_kumkm/manifest", "the form's media manifest"),
    Public(
        "GET",
        "/openrosa/{key}/forms/{form_id}/media/{filename}",
        "/openrosa/{key}/forms/pl_kumkm/media/wilayah.csv",
        "wilayah.csv: the key's kabupaten/kota, kecamatan and desa",
    ),
    Public(
        "POST",
        "/openrosa/{key}/submission",
        "/openrosa/{key}/submission",
        "a submission (multipart, `xml_submission_file`); `HEAD` gives the size limit. The record's "
        "scope rule is `record` (an edit with `deprecatedID`: `owner`)",
    ),
)


def op_ids() -> list[str]:
    return [op.id for op in MATRIX]


# ------------------------------------------------------------------------------ the document


def _outcome(rule: Rule, role: str, scope: str | None) -> str:
    name = OWNER_NAME if (role, scope) == ("enumerator", "16.07") else key_name(role, scope)
    got = rule.decide(role, scope, name)
    return "ok" if got is None else str(got)


def render() -> str:
    """docs/authorization.md, from MATRIX, RULES and PUBLIC."""
    out = [
        "# Authorization matrix",
        "",
        "<!-- Generated from tests/support/authz_matrix.py: `python -m tests.support.authz_matrix > docs/authorization.md`."
        " Do not edit by hand; tests/api/test_authorization.py fails when this file is stale. -->",
        "",
        "Every `/api/v1` request needs `Authorization: Bearer <key>` (none, unknown, revoked or "
        "expired: **401**). A key has one role (docs/domain.md; `mitra`, a partner program, "
        "takes only its look-up, docs/mitra.md) and a wilayah scope: a provinsi "
        "(`16`), a kabupaten/kota (`16.07`) or none (national). A key covers its own wilayah and "
        "everything inside it. A role not ticked below gets **403**; a ticked role then passes the "
        "operation's scope rule or is refused as the rule says.",
        "",
        "`tests/api/test_authorization.py` walks this whole table against the running service for every "
        "role with keys scoped nasional, `16`, `16.07`, `15` and `15.01`, checks each allowed call "
        "succeeds (2xx) and each refused one gets exactly the status below, and fails when an "
        "endpoint has no row here.",
        "",
        "| method | path | " + " | ".join(ROLES) + " | scope rule | notes |",
        "|---|---|" + "---|" * len(ROLES) + "---|---|",
    ]
    for op in MATRIX:
        ticks = " | ".join("✓" if r in op.roles else "–" for r in ROLES)
        rule = "; ".join([op.scope.name] + [f"{what}: {r.name}" for what, r, _ in op.also])
        out.append(f"| {op.method} | `{op.path}` | {ticks} | {rule} | {op.note} |")
    used = [r for r in RULES if any(v[1] is r for op in MATRIX for v in op.variants())]
    scopes = ["nasional" if s is None else f"`{s}`" for s in KEY_SCOPES]
    out += [
        "",
        "## Scope rules",
        "",
        f"Outcome for keys of an allowed role (dinas; enumerator for `owner`) on the walk's objects: "
        f"records in desa `{DESA}` created by the enumerator key of `{AREA}` (and one in "
        f"`{OTHER_DESA}`, which lists must leave out for keys of `16` and `16.07`), wilayah `{AREA}` in "
        f"the path or query, tujuan/sasaran/indikator owned by `{PEMILIK}` and reported per "
        "kabupaten/kota.",
        "",
        "| rule | meaning | " + " | ".join(scopes) + " |",
        "|---|---|" + "---|" * len(scopes),
    ]
    for rule in used:
        role = "enumerator" if rule is OWNER else "dinas"
        cells = " | ".join(_outcome(rule, role, s) for s in KEY_SCOPES)
        out.append(f"| {rule.name} | {rule.meaning} | {cells} |")
    out += [
        "",
        "Personal data (NIK, nama pemilik, telepon, exact alamat) in records, versions and the sync "
        "is shown in full only to admin, verifikator and dinas of the record's wilayah, the "
        "enumerator that owns it and walidata keys with `pii`; the others get it masked (see "
        "`docs/decisions.md`, Access).",
        "",
        "## Without a key",
        "",
        "| method | path | what |",
        "|---|---|---|",
    ]
    for p in PUBLIC:
        out.append(f"| {p.method} | `{p.path}` | {p.note} |")
    out += [
        "",
        "## Key in the path (OpenRosa)",
        "",
        "ODK Collect, KoboCollect and Enketo are configured with one URL that carries the key "
        "(docs/openrosa.md). Allowed roles: " + ", ".join(KEY_IN_PATH_ROLES) + "; another role gets "
        "**403**, an unknown, revoked or expired key **401**. Answers are OpenRosa XML documents.",
        "",
        "| method | path | what |",
        "|---|---|---|",
    ]
    for p in KEY_IN_PATH:
        out.append(f"| {p.method} | `{p.path}` | {p.note} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
