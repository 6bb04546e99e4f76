from fastapi import APIRouter, Depends, Query

from app.core.errors import NOT_FOUND
from app.record.reference import KODE_PATTERN
from app.security.authn import require_key
from app.wilayah import schemas, service

router = APIRouter(prefix="/api/v1/wilayah", tags=["wilayah"])


@router.get("", response_model=schemas.WilayahList, dependencies=[Depends(require_key)])
async def list_children(
    parent: str | None = Query(None, description="Kode induk, e.g. `16`; omit for the 38 provinsi"),
):
    if parent is not None and (not KODE_PATTERN.match(parent) or await service.get(parent) is None):
        message = f"parent {parent} bukan kode wilayah yang ada"
        raise NOT_FOUND(message, errors=[{"field": "parent", "type": "not_found", "message": message}])
    return {"parent": parent, "items": await service.children(parent)}
