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
    """The scope of a `what` (feed perubahan, snapshot: in the users' words, for a refusal)
    pulled with this key."""
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
            f"{what} nasional tidak dilayani di klaster Citus ini: dilayani per provinsi, kepada kunci "
            f"berwilayah provinsi atau kabupaten/kota (satu kunci per provinsi)",
            errors=[{"field": "kode_wilayah", "type": "value_error",
                     "message": "kode_wilayah kunci ini nasional; pakai kunci satu provinsi"}])
    return replace(scope, provinsi=scope.wilayah.split(".")[0])
