from fastapi import APIRouter, Response

from app import db
from app.observability import metrics, queries

router = APIRouter(tags=["ops"])


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}})
async def prometheus_metrics():
    """Prometheus metrics: requests by route and status, latency, records by state, ingest and
    sync counts, database pool use."""
    async with db.connect() as conn:
        for status, n in (await conn.execute(queries.RECORDS_BY_STATUS)).all():
            metrics.RECORDS.labels(status).set(n)
    pool = db.get_engine().pool
    metrics.POOL_SIZE.set(pool.size())
    metrics.POOL_IN_USE.set(pool.checkedout())
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
