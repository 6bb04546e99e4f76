"""Progress over time and the backlog's age (docs/kampanye.md)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/kampanye", tags=["kampanye"])
