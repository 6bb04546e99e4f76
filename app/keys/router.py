from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.core import pagination
from app.core.params import Instant
from app.keys import schemas, service
from app.security.authn import AnyRole, require
from app.security.principal import Principal

router = APIRouter(prefix="/api/v1")

# Who reads the access log (admin); any key asks who it is.
CanReadAudit = Annotated[Principal, Depends(require("audit.read"))]


_ENTRY_ID = pagination.int_field(1, 2**62)


def _older_cursor(text: str) -> tuple[int] | None:
    """The cursor this list gave before it had a tag (app.core.pagination): the last entry's id."""
    return (_ENTRY_ID.read(text),) if text.isascii() and text.isdigit() else None


# The access log's keyset, newest first: the id of the last entry given.
AUDIT_CURSOR = pagination.Keyset("audit.1", _ENTRY_ID, older=_older_cursor)


@router.get("/me", response_model=schemas.Me, tags=["auth"])
async def me(principal: AnyRole):
    """The calling key: its holder's name, role, wilayah scope, personal-data grant, expiry and
    the actions its role may take (the policy of docs/authorization.md; the wilayah scope
    applies to each); a partner's key (mitra) also its purposes, daily quota and rate. Any
    valid key may ask, a partner's too (the one route besides its look-up); a dashboard
    starts from it."""
    return await service.me(principal)


@router.get("/audit", response_model=schemas.AuditPage, tags=["audit"])
async def audit_log(
    _: CanReadAudit,
    key_name: str | None = Query(None, max_length=200),
    endpoint: str | None = Query(None, max_length=200, description="e.g. `GET /api/v1/submissions`"),
    since: Instant | None = Query(None, description="from this time (inclusive); without an offset, UTC"),
    until: Instant | None = Query(None, description="before this time; without an offset, UTC"),
    cursor: str | None = Query(None, max_length=200, description="next_cursor of the previous page"),
    limit: int = Query(100, ge=1, le=1000),
):
    """Who saw personal data unmasked or pulled the feed: key, endpoint, records or range, time.
    Admin only; newest first."""
    before = AUDIT_CURSOR.decode(cursor)
    items = await service.audit_page(
        key_name=key_name, endpoint=endpoint, since=since, until=until, before=before[0] if before else None, limit=limit
    )
    return {"items": items, "next_cursor": AUDIT_CURSOR.encode(items[-1]["id"]) if len(items) == limit else None}
