"""The campaign's routes, one module per subject, combined here for app.main."""

from fastapi import APIRouter

from app.kampanye.router.kinerja import router as kinerja_router

router = APIRouter()
router.include_router(kinerja_router)
