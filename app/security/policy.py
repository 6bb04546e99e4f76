"""Who may do what, where: the policy table (action -> the roles allowed it) and the one entry
that applies it, `authorize(principal, action, wilayah=...)`. It decides, in this order:

1. role: the key's role is one the action allows (else 403 `role-forbidden`);
2. own records: a role that acts only on the records its key holder created (an enumerator
   correcting) names the record's creator (else 403 `forbidden`);
3. scope: the wilayah acted on lies inside the key's wilayah (else 403 `outside-scope`);
4. personal data: whether the caller sees the record's personal data in full (`Grant.pii`,
   by the rule in app.security.personal).

Every domain asks here; none keeps its own list of roles. The routes' dependencies
(app.security.authn.require) ask for the role before the route runs (and KeyFirst before a
write's body is read); the services ask again with the wilayah once they know it.

A key has one role and at most one wilayah (a provinsi or kabupaten/kota; none = national).
Scope is the whole of a key's authority: a key acts on, and reads, only what lies inside its
wilayah. The full matrix (role x scope x endpoint) is docs/authorization.md, generated from
tests/support/authz_matrix.py, which walks it against the running service; docs/authorization-code.md
says where a new route declares its action."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.core.errors import FORBIDDEN, OUTSIDE_SCOPE, ROLE_FORBIDDEN, Problem
from app.security.personal import can_see_pii
from app.security.principal import STAFF_ROLES, Principal

# The policy: action -> the roles that may take it. GET /api/v1/me lists a key's actions from it.
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
    # a partner's look-up of one usaha or koperasi (app/mitra, docs/mitra.md): the partner's
    # own action, with its purposes and quota; no other role takes it
    "kumkm.cek": ("mitra",),
    # an enumerator's own row of the enumerator table (GET /api/v1/me/kinerja, app/kampanye)
    "kinerja.sendiri": ("enumerator",),
}

# What every key may do besides its role's actions, inside its wilayah: read records (their
# personal data as the personal-data rule says), their history and their versions. Not in
# POLICY, whose list /api/v1/me answers as what a role may do. "Every key" is every key of the
# registry's own people (STAFF_ROLES): a partner's key (mitra) reads no record, only looks up.
EVERY_KEY = ("record.read",)

# Roles whose wilayah does not bound an action: an admin key sets any wilayah's target, even
# when it is scoped.
ANY_WILAYAH: dict[str, tuple[str, ...]] = {"target.write": ("admin",)}

# Roles that take an action only on the records their key holder created (its rotated keys
# too; another key that merely carries the same name is another holder).
OWN_RECORDS: dict[str, tuple[str, ...]] = {"record.correct": ("enumerator",)}

# What a refusal of the role says was refused, where it says more than "melakukan ini".
_DOING = {
    "indikator.read": "membaca indikator",
    "indikator.write": "mengubah indikator",
    "record.read": "membaca rekaman, entitas atau data rujukan (kunci mitra hanya boleh POST /api/v1/kumkm/cek)",
    "kumkm.cek": "memakai cek KUMKM (khusus kunci mitra)",
    "kinerja.sendiri": "membaca kinerja sendiri (itu untuk kunci enumerator; tabel enumerator ada di /api/v1/kampanye/enumerator)",
}

# The whole nation named as a wilayah (indicators' pemilik, the LKjIP's wilayah): only keys
# without a wilayah cover it (Principal.covers says so: no scope is a prefix of it).
NASIONAL = "nasional"


def roles(action: str) -> tuple[str, ...]:
    return STAFF_ROLES if action in EVERY_KEY else POLICY[action]


@dataclass(frozen=True, slots=True)
class Grant:
    """authorize()'s answer to a caller that may go on."""

    principal: Principal
    action: str
    # the record's personal data is shown in full (else masked, app.security.personal)
    pii: bool


def authorize(
    principal: Principal,
    action: str,
    wilayah: str | None = None,
    *,
    field: str = "kode_wilayah",
    owner: int | None = None,
    was_in: str | None = None,
    nation_if_none: bool = False,
    doing: str | None = None,
    **extra: Any,
) -> Grant:
    """May `principal` take `action` on `wilayah`? Raises the 403 that says why not.

    `wilayah`: the wilayah acted on (a record's, or the one a parameter `field` names); None
    checks the role alone (a route's dependency, before the record is read), unless
    `nation_if_none` (a report left without a wilayah is the whole nation's). `owner`: the key
    holder (identity) that created the record acted on, for own-record actions (checked with
    the record's wilayah) and for personal data. `was_in`: where an earlier version of the record
    lay (a correction moved it): its personal data is shown only to whom may see it there
    too. `doing`: what the role refusal names as refused. `extra`: members of the problem."""
    allowed = roles(action)
    if principal.role not in allowed:
        raise ROLE_FORBIDDEN(
            f"role {principal.role} tidak boleh {doing or _DOING.get(action, 'melakukan ini')}; yang boleh: {', '.join(allowed)}"
        )
    if wilayah is not None and principal.role in OWN_RECORDS.get(action, ()) and (owner is None or owner != principal.identity):
        raise FORBIDDEN(
            "submission_id menunjuk rekaman yang dibuat pemegang kunci lain: hanya pemegang "
            "kunci yang membuatnya (atau admin) yang boleh mengoreksinya",
            **extra,
        )
    if wilayah is None:
        if nation_if_none and principal.kode_wilayah is not None:
            message = (
                f"{field} wajib diisi: kunci ini hanya mencakup {principal.kode_wilayah}, bukan seluruh "
                f"Indonesia; minta {field}={principal.kode_wilayah}"
            )
            raise OUTSIDE_SCOPE(message, errors=[{"field": field, "message": message, "type": "scope"}], **extra)
    elif not principal.covers(wilayah) and principal.role not in ANY_WILAYAH.get(action, ()):
        raise scope_problem(principal, field, **extra)
    where = (principal.kode_wilayah or "") if wilayah is None else wilayah
    pii = can_see_pii(principal, where, owner) and (was_in is None or can_see_pii(principal, was_in, owner))
    return Grant(principal, action, pii)


def scope_problem(principal: Principal, field: str, **extra: Any) -> Problem:
    """403 for a wilayah outside the key's scope, naming the key's own wilayah and never the
    one refused: when that is a record's, saying where the record lies would tell a key about
    a record it may not read."""
    message = f"{field} di luar wilayah kunci ini ({principal.kode_wilayah} dan wilayah di dalamnya)"
    return OUTSIDE_SCOPE(message, errors=[{"field": field, "message": message, "type": "scope"}], **extra)


def can_see_duplicates(principal: Principal) -> bool:
    """Whether this caller is told *which* records are likely duplicates of a record (their
    ids), or only that one exists (`kemungkinan_duplikat`). The duplicate key is NIK pemilik +
    nama usaha: an enumerator posting a guessed pair would have the ids confirm that the
    registry holds that person's business, and which record it is. The roles that read the
    registry beyond their own records (those that read reports: verifikator, dinas, walidata,
    admin) get the ids, inside their scope like the record itself."""
    return principal.role in POLICY["report.read"]
