"""What a caller may pull."""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.infra import citus
from app.security.policy import authorize
from app.security.principal import Principal


@dataclass(frozen=True)
class Scope:
    """What a caller may pull: a wilayah (provinsi or kabkota; None = national), optionally
    one periode, with or without personal data; on a Citus coordinator (`cluster`) also the
    provinsi whose worker serves it, None for a national key, whose streams go through every
    provinsi, each on its own worker."""

    wilayah: str | None
    periode: str | None
    pii: bool
    provinsi: str | None = None
    cluster: bool = False

    @property
    def national_on_cluster(self) -> bool:
        """The national feed or snapshot of a cluster: a position per provinsi (ClusterCursor)."""
        return self.cluster and self.provinsi is None


def scope_of(principal: Principal, periode: str | None, cluster: bool = True) -> Scope:
    """The scope of a feed or snapshot pulled with this key; `cluster` False for what a Citus
    coordinator keeps itself (the registry of entities), read there as on one server."""
    # Everything a sync returns lies inside the key's own wilayah, so one decision holds for
    # every row: the same rule as a single read of a record in that wilayah (authorize, with no
    # wilayah named, decides personal data for the key's own).
    pii = authorize(principal, "sync.pull").pii
    scope = Scope(principal.kode_wilayah, periode, pii)
    return on_cluster(scope) if cluster else scope


def on_cluster(scope: Scope) -> Scope:
    """On a Citus coordinator, the scope marked so, with the provinsi whose worker serves a
    key of a provinsi or kabupaten/kota (a national key's provinsi stays None); unchanged on
    one server."""
    if not citus.enabled():
        return scope
    return replace(scope, cluster=True, provinsi=scope.wilayah.split(".")[0] if scope.wilayah is not None else None)
