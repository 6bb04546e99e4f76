"""Who may do what, where: the calling key (Principal), the policy table of actions and the
roles allowed them, the wilayah scope rules, the personal-data rule, and the access log.
Every domain asks here; none keeps its own list of roles.

A key has one role and at most one wilayah (a provinsi or kabupaten/kota; none = national).
Scope is the whole of a key's authority: a key acts on, and reads, only what lies inside its
wilayah. The full matrix (role x scope x endpoint) is docs/authorization.md, generated from
tests/authz_matrix.py, which walks it against the running service."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import text

from app.core.errors import OUTSIDE_SCOPE, Problem
from app.infra import db

ROLES = ("enumerator", "verifikator", "dinas", "walidata", "admin")

# The policy: action -> the roles that may take it. Scope (the wilayah) is checked besides,
# by covers()/require_scope()/require_area() or, for indicators, by their pemilik rules.
POLICY: dict[str, tuple[str, ...]] = {
    "record.post": ("enumerator", "admin"),
    "record.correct": ("enumerator", "admin"),
    "record.decide": ("verifikator", "admin"),
    "report.read": ("verifikator", "dinas", "walidata", "admin"),
    "target.write": ("admin", "dinas"),
    "sync.pull": ("walidata", "admin", "dinas"),
    "audit.read": ("admin",),
    "indikator.read": ("dinas", "verifikator", "walidata", "admin"),
    "indikator.write": ("dinas", "admin"),
}


def roles(action: str) -> tuple[str, ...]:
    return POLICY[action]


@dataclass(frozen=True)
class Principal:
    id: int | None      # the API key; None for an operator at the console
    name: str
    role: str
    kode_wilayah: str | None
    pii: bool = False
    # The holder: the same across rotations of a key, new for every key created. Records
    # belong to it, never to the name.
    identity: int | None = None

    @classmethod
    def operator(cls, name: str) -> Principal:
        """Someone at the server's console (`kumkm import`, `kumkm export`): national scope and
        the admin role, no API key; the name goes on record as the actor."""
        return cls(id=None, name=name, role="admin", kode_wilayah=None)

    def covers(self, kode: str) -> bool:
        s = self.kode_wilayah
        return s is None or kode == s or kode.startswith(s + ".")


def can(principal: Principal, action: str, kode: str | None = None) -> bool:
    """The role may take the action, and (when a wilayah is named) the key's scope covers it."""
    return principal.role in POLICY[action] and (kode is None or principal.covers(kode))


def scope_problem(principal: Principal, field: str, **extra: Any) -> Problem:
    """403 for a wilayah outside the key's scope, naming the key's own wilayah and never the
    one refused: when that is a record's, saying where the record lies would tell a key about
    a record it may not read."""
    message = f"{field} di luar wilayah kunci ini ({principal.kode_wilayah} dan wilayah di dalamnya)"
    return OUTSIDE_SCOPE(message, errors=[{"field": field, "message": message, "type": "scope"}], **extra)


def require_scope(principal: Principal, kode: str, field: str = "kode_wilayah") -> None:
    """The key's scope covers `kode`; else 403 naming `field` (a record's `kode_wilayah`, or
    the parameter that asked for it)."""
    if not principal.covers(kode):
        raise scope_problem(principal, field)


def require_area(principal: Principal, kode: str | None, field: str = "wilayah") -> None:
    """Scope check for reports: `None` is the whole nation, which only unscoped keys cover."""
    if kode is None:
        if principal.kode_wilayah is not None:
            message = (f"{field} wajib diisi: kunci ini hanya mencakup {principal.kode_wilayah}, bukan seluruh "
                       f"Indonesia; minta {field}={principal.kode_wilayah}")
            raise OUTSIDE_SCOPE(message, errors=[{"field": field, "message": message, "type": "scope"}])
    else:
        require_scope(principal, kode, field)


# ------------------------------------------------------------------ personal data
# UU 27/2022 Pelindungan Data Pribadi: NIK, nama pemilik, telepon and the exact alamat are
# shown in full only to the roles that need them; everyone else gets them masked, and every
# response that reveals them is written to the access log.

PII_FIELDS = ("nik_pemilik", "nama_pemilik", "telepon", "alamat")


def can_see_pii(principal: Principal, kode_wilayah: str, owner_identity: int | None) -> bool:
    """Whether this caller sees a record's personal data, for a record (or one version of
    it) in `kode_wilayah` created by the key holder `owner_identity`."""
    role = principal.role
    if role == "admin":
        return True
    if role in ("verifikator", "dinas"):
        return principal.covers(kode_wilayah)
    if role == "enumerator":
        return (owner_identity is not None and owner_identity == principal.identity
                and principal.covers(kode_wilayah))
    if role == "walidata":
        return principal.pii
    return False


def can_see_duplicates(principal: Principal) -> bool:
    """Whether this caller is told *which* records are likely duplicates of a record (their
    ids), or only that one exists (`kemungkinan_duplikat`). The duplicate key is NIK pemilik +
    nama usaha: an enumerator posting a guessed pair would have the ids confirm that the
    registry holds that person's business, and which record it is. The roles that read the
    registry beyond their own records (those that read reports: verifikator, dinas, walidata,
    admin) get the ids, inside their scope like the record itself."""
    return principal.role in POLICY["report.read"]


def mask_nik(nik: str) -> str:
    return nik[:4] + "*" * max(len(nik) - 6, 0) + nik[-2:] if len(nik) > 6 else "*" * len(nik)


def mask_nama(nama: str) -> str:
    return " ".join(w[0] + "*" * (len(w) - 1) for w in nama.split())


_NOT_DIGIT = re.compile(r"\D")


def mask_telepon(tel: str) -> str:
    # once per masked line of a feed page or snapshot: a regex, not a loop over characters
    digits = _NOT_DIGIT.sub("", tel)
    return "*" * max(len(digits) - 3, 0) + digits[-3:]


def mask_record_data(data: dict) -> dict:
    out = dict(data)
    if out.get("nik_pemilik"):
        out["nik_pemilik"] = mask_nik(out["nik_pemilik"])
    if out.get("nama_pemilik"):
        out["nama_pemilik"] = mask_nama(out["nama_pemilik"])
    if out.get("telepon"):
        out["telepon"] = mask_telepon(out["telepon"])
    if out.get("alamat"):
        out["alamat"] = "(disamarkan)"
    if out.get("lokasi"):
        # A GPS point to 5 decimals is a front door; two decimals (about 1 km) is not.
        out["lokasi"] = {k: round(v, 2) for k, v in out["lokasi"].items()}
    return out


def reveals_pii(data: dict) -> bool:
    return any(data.get(f) for f in PII_FIELDS)


# ------------------------------------------------------------------ access log

_LOG_ACCESS = text(
    """
    INSERT INTO access_log (key_id, key_name, role, endpoint, detail, rows)
    VALUES (:key_id, :key_name, :role, :endpoint, CAST(:detail AS jsonb), :rows)
    """
)


async def log_access(principal: Principal, endpoint: str, detail: dict, rows: int | None = None,
                     conn=None) -> None:
    """Append to the access log: who saw personal data or pulled the feed, and what."""
    params = {"key_id": principal.id, "key_name": principal.name, "role": principal.role,
              "endpoint": endpoint, "detail": orjson.dumps(detail).decode(), "rows": rows}
    if conn is not None:
        await conn.execute(_LOG_ACCESS, params)
    else:
        async with db.transaction() as c:
            await c.execute(_LOG_ACCESS, params)
