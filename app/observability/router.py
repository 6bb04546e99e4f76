import hashlib
import hmac

from fastapi import APIRouter, Request, Response

from app.core.errors import FORBIDDEN, UNAUTHORIZED, fault_kind
from app.core.settings import settings
from app.infra import db
from app.observability import metrics, queries

router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def prometheus_metrics(request: Request):
    """Prometheus metrics: requests by route and status, latency, records by state, ingest and
    sync counts, the registry linker's queue and its lag, database pool use, whether the database answers (kumkm_db_up), whether its
    disk is full (kumkm_db_disk_full) and restarts of the embedded server. With KUMKM_METRICS_TOKEN set, scrapers must send it as a
    bearer token (counts of records and traffic are not for everyone). Without a token it is
    open only while the service listens on loopback, or when KUMKM_METRICS_PUBLIC=1 says so."""
    token = settings.metrics_token
    if token is None and not settings.metrics_open:
        raise FORBIDDEN(
            "/metrics is closed: this service listens on "
            f"{settings.bind_host}, not loopback. Set KUMKM_METRICS_TOKEN (scrapers send it as "
            "a bearer token) or KUMKM_METRICS_PUBLIC=1"
        )
    if token is None and not settings.metrics_public and _through_a_proxy(request):
        # Listening on loopback says nothing once a reverse proxy on the same host forwards
        # the world's requests: those come from 127.0.0.1 too.
        raise FORBIDDEN(
            "/metrics is closed to requests through a reverse proxy: set "
            "KUMKM_METRICS_TOKEN (scrapers send it as a bearer token), or scrape the "
            "service's own address"
        )
    if token:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token}"
        if not hmac.compare_digest(hashlib.sha256(sent.encode()).digest(), hashlib.sha256(expected.encode()).digest()):
            raise UNAUTHORIZED("this service's /metrics needs its scrape token", headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    try:
        async with db.connect() as conn:
            for status, n in (await conn.execute(queries.RECORDS_BY_STATUS)).all():
                metrics.RECORDS.labels(status).set(n)
            queue = (await conn.execute(queries.LINKER_QUEUE)).one()
            metrics.LINKER_QUEUE.set(queue.n)
            metrics.LINKER_LAG.set(queue.lag)
    except Exception as exc:
        # A scrape is most wanted while the database is away: answer with what this process
        # knows (kumkm_db_up 0, the last record counts), never a 503.
        if fault_kind(exc) is None:
            raise
    pool = db.get_engine().pool
    metrics.POOL_SIZE.set(pool.size())
    metrics.POOL_IN_USE.set(pool.checkedout())
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)


# Headers a reverse proxy adds (nginx, HAProxy, Caddy, Apache as usually set up for the
# service, docs/operations.md): one of them means the request did not start on this host.
_PROXY_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-forwarded-host", b"x-forwarded-proto", b"x-real-ip", b"via"})


def _through_a_proxy(request: Request) -> bool:
    """Came through a reverse proxy: it says so in a header, or the service is configured as
    served behind one (KUMKM_PUBLIC_URL, a --root-path)."""
    if settings.public_url or request.scope.get("root_path"):
        return True
    return any(name in _PROXY_HEADERS for name, _ in request.scope["headers"])
