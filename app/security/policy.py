"""Who may do what, where: the policy table (action -> the roles allowed it), the wilayah scope
checks and the problems they raise. Every domain asks here; none keeps its own list of roles.

A key has one role and at most one wilayah (a provinsi or kabupaten/kota; none = national).
Scope is the whole of a key's authority: a key acts on, and reads, only what lies inside its
wilayah. The full matrix (role x scope x endpoint) is docs/authorization.md, generated from
tests/authz_matrix.py, which walks it against the running service."""
from __future__ import annotations

from typing import Any

from app.core.errors import OUTSIDE_SCOPE, Problem
from app.security.principal import Principal

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


def can_see_duplicates(principal: Principal) -> bool:
    """Whether this caller is told *which* records are likely duplicates of a record (their
    ids), or only that one exists (`kemungkinan_duplikat`). The duplicate key is NIK pemilik +
    nama usaha: an enumerator posting a guessed pair would have the ids confirm that the
    registry holds that person's business, and which record it is. The roles that read the
    registry beyond their own records (those that read reports: verifikator, dinas, walidata,
    admin) get the ids, inside their scope like the record itself."""
    return principal.role in POLICY["report.read"]
