"""What a caller may pull."""
from __future__ import annotations

from dataclasses import dataclass

from app.core.access import Principal, can_see_pii


@dataclass(frozen=True)
class Scope:
    """What a caller may pull: a wilayah (provinsi or kabkota; None = national), optionally
    one periode, with or without personal data."""
    wilayah: str | None
    periode: str | None
    pii: bool


def scope_of(principal: Principal, periode: str | None) -> Scope:
    # Everything a sync returns lies inside the key's own wilayah, so one decision holds for
    # every row: the same rule as a single read of a record in that wilayah.
    pii = can_see_pii(principal, principal.kode_wilayah or "", None)
    return Scope(principal.kode_wilayah, periode, pii)


