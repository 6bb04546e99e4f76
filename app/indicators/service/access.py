"""Which indicators a key sees and writes, by the indikator's owner (pemilik): the indicator
rules on top of the policy (app.security.policy.authorize decides role and scope; these add
the wilayah tree: levels, ancestors, what a key may see)."""

from __future__ import annotations

from typing import Any

from app.core.errors import ALREADY_EXISTS, INVALID, NOT_FOUND, Problem
from app.record.reference import KODE_PATTERN, get_index
from app.security.policy import NASIONAL, authorize
from app.security.principal import Principal

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


def require_write(principal: Principal, pemilik: str, *, hidden: Problem | None = None, field: str = "pemilik") -> None:
    """The key's wilayah covers `pemilik` (app.security.policy.authorize; the route's dependency
    has checked the role). `hidden`: what to answer when the key cannot even see `pemilik`'s
    definitions (editing an existing one answers 404 as GET does, so a 403 never confirms that
    an id exists)."""
    if hidden is not None and not visible(principal, pemilik):
        raise hidden
    authorize(principal, "indikator.write", pemilik, field=field)


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
