"""The submissions API's own shapes: pages and batch outcomes. The record itself is
app.record.model, shared with verification and sync."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.core.pagination import Page
from app.record.model import SubmissionIn, SubmissionKoperasi, SubmissionOut, SubmissionUmkm

__all__ = [
    "SubmissionIn",
    "SubmissionKoperasi",
    "SubmissionOut",
    "SubmissionUmkm",
    "SubmissionPage",
    "ItemError",
    "BatchOutcome",
    "BatchResult",
]


class SubmissionPage(Page[SubmissionOut]):
    pass


class ItemError(BaseModel):
    field: str
    message: str
    type: str | None = None


class BatchOutcome(BaseModel):
    index: int
    submission_id: str | None = None
    outcome: Literal["created", "duplicate", "rejected"]
    status: int = Field(description="the status a single POST would have given: 201, 200, 403, 409 or 422")
    errors: list[ItemError] | None = None


class BatchResult(BaseModel):
    created: int
    duplicate: int
    rejected: int
    items: list[BatchOutcome]
