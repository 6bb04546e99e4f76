"""Who may read and write indicators, by role and by the indikator's owner (pemilik): the
indicator rules of the policy in app.security.access, which also need the wilayah tree."""
from __future__ import annotations

from typing import Any

from app.core.errors import ALREADY_EXISTS, INVALID, NOT_FOUND, ROLE_FORBIDDEN, Problem
from app.record.reference import KODE_PATTERN, get_index
from app.security.access import Principal, roles, scope_problem

WRITERS = roles("indikator.write")
READERS = roles("indikator.read")
NASIONAL = "nasional"
LEVELS = {NASIONAL: 0, "provinsi": 1, "kabkota": 2}
_LEVEL_OF_INDEX = {1: "provinsi", 2: "kabkota"}




# ---------------------------------------------------------------------------------------------
# Wilayah and scope


async def level_of(kode: str | None, fld: str) -> str:
    """The reporting level of a wilayah code: nasional, provinsi or kabkota (422 otherwise)."""
    if kode == NASIONAL:
        return NASIONAL
    if not isinstance(kode, str) or not KODE_PATTERN.match(kode) or not (await get_index()).exists(kode):
        message = f"{fld} {kode} bukan kode wilayah yang ada (atau nasional)"
        raise INVALID(message, errors=[{"field": fld, "type": "value_error", "message": message}])
    lvl = (await get_index()).level[kode]
    if lvl not in _LEVEL_OF_INDEX:
        message = f"{fld} harus nasional, provinsi atau kabupaten/kota: indikator dicatat untuk tingkat itu saja"
        raise INVALID(message, errors=[{"field": fld, "type": "value_error", "message": message}])
    return _LEVEL_OF_INDEX[lvl]


def ancestors(kode: str) -> list[str]:
    """`16.07` -> [nasional, 16, 16.07]: the owners whose indicators may apply to it."""
    if kode == NASIONAL:
        return [NASIONAL]
    parts = kode.split(".")
    return [NASIONAL] + [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def within(kode: str, pemilik: str) -> bool:
    return pemilik == NASIONAL or kode == pemilik or kode.startswith(pemilik + ".")


def covers(principal: Principal, kode: str) -> bool:
    if kode == NASIONAL:
        return principal.kode_wilayah is None
    return principal.covers(kode)


def forbid(principal: Principal, field: str) -> Problem:
    """403 for a wilayah (or pemilik) outside the key's scope, named by its field only."""
    return scope_problem(principal, field)


def role_forbidden(principal: Principal, write: bool) -> Problem:
    allowed = WRITERS if write else READERS
    return ROLE_FORBIDDEN(f"peran {principal.role} tidak boleh {'mengubah' if write else 'membaca'} indikator; "
                          f"yang boleh: {', '.join(allowed)}")


def require_write(principal: Principal, pemilik: str, *, hidden: Problem | None = None,
                  field: str = "pemilik") -> None:
    """`hidden`: what to answer when the key cannot even see `pemilik`'s definitions (editing an
    existing one answers 404 as GET does, so a 403 never confirms that an id exists)."""
    if principal.role not in WRITERS:
        raise role_forbidden(principal, write=True)
    if hidden is not None and not visible(principal, pemilik):
        raise hidden
    if not covers(principal, pemilik):
        raise forbid(principal, field)


def require_read(principal: Principal, kode: str | None = None, field: str = "wilayah") -> None:
    if principal.role not in READERS:
        raise role_forbidden(principal, write=False)
    if kode is not None and not covers(principal, kode):
        raise forbid(principal, field)


def visible(principal: Principal, pemilik: str) -> bool:
    s = principal.kode_wilayah
    return s is None or pemilik in ancestors(s) or pemilik.startswith(s + ".")


def visibility(principal: Principal, pemilik: str | None) -> dict:
    if pemilik is not None:
        return {"semua": False, "pemilik": [pemilik], "dalam": None}
    s = principal.kode_wilayah
    if s is None:
        return {"semua": True, "pemilik": [], "dalam": None}
    return {"semua": False, "pemilik": ancestors(s), "dalam": s}


def not_found(what: str, ident: Any) -> Problem:
    """404 naming the path's id field (`tujuan_id`, `sasaran_id`, `indikator_id`)."""
    return NOT_FOUND(f"{what}_id {ident} tidak ditemukan")


def conflict_kode(what: str, kode: str, pemilik: str) -> Problem:
    message = f"kode {kode} sudah dipakai {what} lain milik pemilik {pemilik}"
    return ALREADY_EXISTS(message, errors=[{"field": "kode", "type": "conflict", "message": message}])


