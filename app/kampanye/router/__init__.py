"""The campaign's routes under /api/v1/kampanye (OpenAPI tag `kampanye`): one module per
subject, combined here into the one router app.main includes."""

from __future__ import annotations

from fastapi import APIRouter

from app.kampanye.router import antrian_umur, kemajuan, kinerja, titik

router = APIRouter()
router.include_router(kemajuan.router)
router.include_router(antrian_umur.router)
router.include_router(kinerja.router)
router.include_router(titik.router)
