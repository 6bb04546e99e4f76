from fastapi import APIRouter, Depends, Query

from app.auth import schemas, service
from app.core.access import roles
from app.core.authn import require_role
from app.core.params import Instant

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", response_model=schemas.AuditPage)
async def audit_log(
    _=Depends(require_role(*roles("audit.read"))),
    key_name: str | None = Query(None, max_length=200),
    endpoint: str | None = Query(None, max_length=200, description="e.g. `GET /api/v1/submissions`"),
    since: Instant | None = Query(None, description="from this time (inclusive); without an offset, UTC"),
    until: Instant | None = Query(None, description="before this time; without an offset, UTC"),
    cursor: int | None = Query(None, ge=1, le=2**62, description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
):
    """Who saw personal data unmasked or pulled the feed: key, endpoint, records or range, time.
    Admin only; newest first."""
    items = await service.audit_page(key_name=key_name, endpoint=endpoint, since=since, until=until,
                                     before=cursor, limit=limit)
    return {"items": items, "next_cursor": str(items[-1]["id"]) if len(items) == limit else None}
