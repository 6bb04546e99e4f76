"""The FastAPI application: routers of every domain, one error shape, health checks."""

from __future__ import annotations

import asyncio
import gc
import logging
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from app.core import errors as problems
from app.core.settings import settings
from app.infra import db
from app.infra.health import ReadyGate
from app.web.limits import BodyGuard

log = logging.getLogger("kumkm")

API_VERSION = "0.1.0"


@asynccontextmanager
async def lifespan(app: FastAPI):
    from app.observability.logs import quiet_deliberate_cut_offs, redact_secret_paths

    if settings.json_logs:
        from app.observability.logs import configure

        configure(settings.json_logs)
    quiet_deliberate_cut_offs()
    redact_secret_paths()
    # Resolving the URL starts the embedded server when there is no DATABASE_URL; migrating
    # at start means a new release never runs against an old schema. A database that is not
    # there yet does not stop the start: the monitor keeps trying (with back-off, a log line a
    # try) while the API and /readyz answer 503, and the service is ready when it appears.
    await asyncio.to_thread(db.resolve_url)
    from app.infra.health import Monitor
    from app.record.reference import get_index
    from app.security.authn import KeyWatch

    monitor = Monitor(migrate=app.state.migrate_on_start, then=get_index)
    await monitor.start()
    # Revocations and rotations made anywhere (another worker, the CLI) apply here at once.
    watch = KeyWatch()
    watch.start()
    # Reports may read hot standbys (DATABASE_REPLICA_URL); measured from the start.
    from app.infra import replicas

    await replicas.start()
    # Accepted records get their entity (id_kumkm) in the background, one process of the
    # cluster at a time (app.registry.linker); it waits for readiness itself.
    from app.registry.linker import Linker

    linker = Linker()
    linker.start()
    # Everything loaded so far (the app, the schemas, the wilayah index) lives as long as the
    # process: out of the collector's sight, a full collection no longer walks it, which
    # showed as tens-of-milliseconds stalls in the single-POST p99.
    gc.collect()
    gc.freeze()
    yield
    await linker.stop()
    await watch.stop()
    await replicas.stop()
    await monitor.stop()
    await db.dispose_engine()


def create_app(*, migrate_on_start: bool = True) -> FastAPI:
    app = FastAPI(
        title="KUMKM registry (Basis Data Tunggal KUMKM)",
        version=API_VERSION,
        description="PL-KUMKM records, verification, capaian and the walidata feed. "
        "Every /api/v1 request needs `Authorization: Bearer <key>`. "
        "Errors are RFC 9457 problem details.",
        lifespan=lifespan,
        # Metrics are Prometheus (app/observability); FastAPI's OpenTelemetry hooks would only
        # look up (unconfigured) providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        # served from the installed wheel under a CSP instead of a CDN (app.web.apidocs)
        docs_url=None,
        redoc_url=None,
    )
    # `kumkm serve` migrates once before starting workers; each worker need not repeat it.
    app.state.migrate_on_start = migrate_on_start and not settings.skip_migrate
    problems.install(app)

    from app.aggregates.router import router as aggregates_router
    from app.indicators.router import router as indicators_router
    from app.kampanye.router import router as kampanye_router
    from app.keys.router import router as audit_router
    from app.mitra.router import lean_route as mitra_lean_route
    from app.mitra.router import router as mitra_router
    from app.registry.router import router as registry_router
    from app.submissions.router import lean_route
    from app.submissions.router import router as submissions_router
    from app.sync.router import router as sync_router
    from app.targets.router import router as targets_router
    from app.verification.router import router as verification_router
    from app.wilayah.router import router as wilayah_router

    # The hottest routes first, without FastAPI's routing and dependency layer (app.web.lean:
    # the single-record ingest, a partner's single look-up); their APIRoutes below still
    # document them.
    app.router.routes[0:0] = [lean_route(), mitra_lean_route()]
    # OpenRosa for ODK Collect / KoboCollect / Enketo (docs/openrosa.md): plain routes, not in
    # the OpenAPI document, matched early (the submission is a hot path too)
    from app.openrosa.router import routes as openrosa_routes

    app.router.routes[2:2] = openrosa_routes()
    app.include_router(wilayah_router)
    app.include_router(submissions_router)
    app.include_router(verification_router)
    app.include_router(targets_router)
    app.include_router(aggregates_router)
    app.include_router(indicators_router)
    app.include_router(sync_router)
    app.include_router(audit_router)
    app.include_router(registry_router)
    app.include_router(mitra_router)
    app.include_router(kampanye_router)

    @app.get("/healthz", tags=["ops"])
    async def healthz(details: bool = False):
        """Liveness: the process answers. With `details=true`, also `linker`: what this
        process's registry linker last saw and did, from memory (no database read): whether it
        holds the turn, how long work has waited for a busy service (`mengalah_s`; a batch is
        taken at least every KUMKM_LINKER_YIELD_SECONDS), when its last batch ended (the
        queue's length and lag are on /metrics)."""
        if not details:
            return {"status": "ok"}
        from app.registry.linker import keadaan

        return {"status": "ok", "linker": keadaan.ringkas()}

    @app.get(
        "/readyz",
        tags=["ops"],
        responses={503: {"description": "not ready: the database is unreachable or its schema is not at head; `detail` says why"}},
    )
    async def readyz():
        """Readiness: the database answers and its schema is at this release's head. While
        the database is down or read-only, or the schema behind, 503 with the cause in
        `detail` and Retry-After."""
        from app.infra import health

        retry = {"Retry-After": str(problems.RETRY_AFTER_SECONDS)}
        try:
            current = await db.schema_revision()
        except Exception as exc:  # any failure to reach or read the database means not ready
            return JSONResponse({"status": "unavailable", "detail": problems.describe(exc)}, status_code=503, headers=retry)
        head = db.head_revision()
        if current != head:
            return JSONResponse(
                {"status": "migrations pending", "current": current, "head": head, "detail": health.state.cause},
                status_code=503,
                headers=retry,
            )
        if not health.state.ready:
            # the database is back but this process has not finished its start (caches)
            return JSONResponse({"status": "starting", "detail": health.state.cause}, status_code=503, headers=retry)
        body = {"status": "ready", "schema": current}
        if health.state.disk_full_since is not None:
            # reads go on, so the instance stays in rotation; writes get 507 until space is freed
            body["writes"] = "refused: the database server's disk is full"
        return body

    from app.observability.middleware import Observe
    from app.observability.router import router as ops_router

    app.include_router(ops_router)
    from app.dashboard.router import install as install_dashboard

    install_dashboard(app)
    from app.verification.page import install as install_verifikasi_page

    install_verifikasi_page(app)
    from app.web.apidocs import install as install_apidocs

    install_apidocs(app)
    from app.security.authn import KeyFirst

    # a write without a valid key and role is refused before any of its body is read (inside
    # the body guard, whose 413 and 415 come from the headers alone too)
    app.add_middleware(KeyFirst, routes=lambda: app.routes)
    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    from app.infra.replicas import FreshnessHeaders

    # reports say where their data came from and how fresh it is (app.infra.replicas)
    app.add_middleware(FreshnessHeaders)
    # until the database was found ready at start, the API answers 503 without touching it
    app.add_middleware(ReadyGate)
    # outermost: the request id and timing cover everything, 413s included
    app.add_middleware(Observe)
    from app.web.openapi import install as install_openapi

    install_openapi(app)
    return app


app = create_app()
