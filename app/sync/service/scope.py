"""What a caller may pull."""
from __future__ import annotations

from dataclasses import dataclass, replace

from app.core import citus
from app.core.access import Principal, can_see_pii
from app.core.errors import NOT_ON_CLUSTER


@dataclass(frozen=True)
class Scope:
    """What a caller may pull: a wilayah (provinsi or kabkota; None = national), optionally
    one periode, with or without personal data; on a Citus coordinator also the provinsi whose
    worker serves it (on_cluster), None on one server."""
    wilayah: str | None
    periode: str | None
    pii: bool
    provinsi: str | None = None


def scope_of(principal: Principal, periode: str | None, what: str) -> Scope:
    """The scope of a `what` (change feed, snapshot) pulled with this key."""
    # Everything a sync returns lies inside the key's own wilayah, so one decision holds for
    # every row: the same rule as a single read of a record in that wilayah.
    pii = can_see_pii(principal, principal.kode_wilayah or "", None)
    return on_cluster(Scope(principal.kode_wilayah, periode, pii), what)


def on_cluster(scope: Scope, what: str) -> Scope:
    """On a Citus coordinator, the scope with the provinsi whose worker serves this feed or
    snapshot (the key's own provinsi); unchanged on one server. A national key is refused
    there: transaction ids are each worker's own, so there is no one horizon to page the
    whole nation by (docs/operations.md)."""
    if not citus.enabled():
        return scope
    if scope.wilayah is None:
        raise NOT_ON_CLUSTER(
            f"the national {what} is not served on this Citus cluster: it is served per provinsi, "
            f"to a key scoped to a provinsi or kabupaten/kota (one key per provinsi)",
            errors=[{"field": "kode_wilayah", "type": "value_error",
                     "message": "this key is national; use a key of one provinsi"}])
    return replace(scope, provinsi=scope.wilayah.split(".")[0])
