"""What a caller may pull."""
from __future__ import annotations

from dataclasses import dataclass

from app.core import citus
from app.core.access import Principal, can_see_pii
from app.core.errors import NOT_ON_CLUSTER


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


def cluster_provinsi(scope: Scope, what: str) -> str | None:
    """On a Citus coordinator, the provinsi whose worker serves this feed or snapshot (the
    key's own provinsi); None on one server. A national key is refused there: transaction ids
    are each worker's own, so there is no one horizon to page the whole nation by
    (docs/operations.md)."""
    if not citus.enabled():
        return None
    if scope.wilayah is None:
        raise NOT_ON_CLUSTER(
            f"the national {what} is not served on this Citus cluster: it is served per provinsi, "
            f"to a key scoped to a provinsi or kabupaten/kota (one key per provinsi)",
            errors=[{"field": "kode_wilayah", "type": "value_error",
                     "message": "this key is national; use a key of one provinsi"}])
    return scope.wilayah.split(".")[0]

