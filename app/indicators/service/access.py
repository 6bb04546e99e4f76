"""Who may read and write indicators, by role and by the indikator's owner (pemilik): the
indicator rules of the policy in app.core.access, which also need the wilayah tree."""
from __future__ import annotations

from typing import Any

from app.core.access import Principal, roles
from app.core.errors import ALREADY_EXISTS, INVALID, NOT_FOUND, OUTSIDE_SCOPE, ROLE_FORBIDDEN, Problem
from app.core.reference import KODE_PATTERN, get_index

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
        raise INVALID(f"unknown wilayah {kode!r}",
                      errors=[{"field": fld, "message": "not an existing wilayah code (or `nasional`)"}])
    lvl = (await get_index()).level[kode]
    if lvl not in _LEVEL_OF_INDEX:
        raise INVALID("indicators are kept for nasional, provinsi and kabupaten/kota",
                      errors=[{"field": fld, "message": "must be `nasional`, a provinsi or a kabupaten/kota"}])
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


def forbid(principal: Principal, kode: str) -> Problem:
    return OUTSIDE_SCOPE(f"wilayah {kode} is outside this key's scope "
                                     f"({principal.kode_wilayah or NASIONAL})")


def require_write(principal: Principal, pemilik: str, *, hidden: Problem | None = None) -> None:
    """`hidden`: what to answer when the key cannot even see `pemilik`'s definitions (editing an
    existing one answers 404 as GET does, so a 403 never confirms that an id exists)."""
    if principal.role not in WRITERS:
        raise ROLE_FORBIDDEN(f"role {principal.role!r} may not change indicators; "
                                        f"allowed: {', '.join(WRITERS)}")
    if hidden is not None and not visible(principal, pemilik):
        raise hidden
    if not covers(principal, pemilik):
        raise forbid(principal, pemilik)


def require_read(principal: Principal, kode: str | None = None) -> None:
    if principal.role not in READERS:
        raise ROLE_FORBIDDEN(f"role {principal.role!r} may not read indicators; "
                                        f"allowed: {', '.join(READERS)}")
    if kode is not None and not covers(principal, kode):
        raise forbid(principal, kode)


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
    return NOT_FOUND(f"no {what} with id {ident}")


def conflict_kode(what: str, kode: str, pemilik: str) -> Problem:
    return ALREADY_EXISTS(f"{what} {kode!r} already exists for pemilik {pemilik}",
                   errors=[{"field": "kode", "message": "already used by this pemilik"}])


