"""The FastAPI application: routers of every domain, one error shape, health checks."""
from __future__ import annotations

import asyncio
import os
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import db, problems
from app.config import settings
from app.limits import BodySizeLimit

log = logging.getLogger("kumkm")

API_VERSION = "0.1.0"


@asynccontextmanager
async def lifespan(app: FastAPI):
    # Resolving the URL starts the embedded server when there is no DATABASE_URL; migrating
    # at start means a new release never runs against an old schema.
    await asyncio.to_thread(db.resolve_url)
    if app.state.migrate_on_start:
        await asyncio.to_thread(db.migrate)
    from app.wilayah.service import get_index

    await get_index()
    yield
    await db.dispose_engine()


def create_app(*, migrate_on_start: bool = True) -> FastAPI:
    app = FastAPI(
        title="KUMKM registry (Basis Data Tunggal KUMKM)",
        version=API_VERSION,
        description="PL-KUMKM records, verification, capaian and the walidata feed. "
                    "Every /api/v1 request needs `Authorization: Bearer <key>`. "
                    "Errors are RFC 9457 problem details.",
        lifespan=lifespan,
    )
    # `kumkm serve` migrates once before starting workers; each worker need not repeat it.
    app.state.migrate_on_start = migrate_on_start and not os.environ.get("KUMKM_SKIP_MIGRATE")
    problems.install(app)

    from app.submissions.router import router as submissions_router
    from app.verification.router import router as verification_router
    from app.wilayah.router import router as wilayah_router

    app.include_router(wilayah_router)
    app.include_router(submissions_router)
    app.include_router(verification_router)

    @app.get("/healthz", tags=["ops"])
    async def healthz():
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "not ready"}})
    async def readyz():
        """Readiness: the database answers and its schema is at this release's head."""
        try:
            async with db.connect() as conn:
                current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception as exc:  # any failure to reach or read the database means not ready
            return JSONResponse({"status": "unavailable", "detail": type(exc).__name__}, status_code=503)
        head = db.head_revision()
        if current != head:
            return JSONResponse({"status": "migrations pending", "current": current, "head": head},
                                status_code=503)
        return {"status": "ready", "schema": current}

    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    return app


app = create_app()
