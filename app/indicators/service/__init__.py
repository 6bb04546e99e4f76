"""Performance indicators (IKU/IKK): definitions under a dinas's Renstra, yearly targets and
realisasi with history, realisasi computed from the registry, capaian, predikat and the
LKjIP table.

Scope rules (roles: docs/domain.md):
- Writes (definitions, targets, realisasi, predikat scales): `dinas` and `admin` keys whose
  scope covers the indicator's owner (`pemilik`); `nasional` needs a key without a scope.
- Reads: `dinas`, `verifikator`, `walidata` and `admin`. Definitions are visible when their
  owner is the key's wilayah, one of its ancestors (a kabkota dinas reports on indicators set
  by its provinsi or the ministry) or inside it; values of a wilayah (targets, realisasi,
  capaian) only when the key covers that wilayah. Enumerators have no use for them: 403.
"""

from __future__ import annotations

from app.indicators.service.definitions import (
    create_indikator,
    create_sasaran,
    create_tujuan,
    get_indikator,
    list_indikator,
    list_sasaran,
    list_tujuan,
    patch_indikator,
    patch_sasaran,
    patch_tujuan,
)
from app.indicators.service.lkjip import lkjip
from app.indicators.service.predikat import delete_predikat, get_predikat, put_predikat
from app.indicators.service.values import get_realisasi, get_targets, put_realisasi, put_target

__all__ = [
    "create_indikator",
    "create_sasaran",
    "create_tujuan",
    "get_indikator",
    "list_indikator",
    "list_sasaran",
    "list_tujuan",
    "patch_indikator",
    "patch_sasaran",
    "patch_tujuan",
    "lkjip",
    "delete_predikat",
    "get_predikat",
    "put_predikat",
    "get_realisasi",
    "get_targets",
    "put_realisasi",
    "put_target",
]
