"""The campaign's routes under /api/v1/kampanye (OpenAPI tag `kampanye`): one module per
subject, combined here into the one router app.main includes. /api/v1/me/kinerja lives in
kinerja too (an enumerator's own row of the enumerator table)."""

from __future__ import annotations

from fastapi import APIRouter

from app.kampanye.router import kemajuan, kinerja

router = APIRouter()
router.include_router(kemajuan.router)
router.include_router(kinerja.router)
