from pydantic import BaseModel, Field

from app.core.timefmt import UtcTime


class AuditEntry(BaseModel):
    id: int
    pada: UtcTime
    key_id: int | None
    key_name: str
    role: str
    endpoint: str
    detail: dict = Field(description="which records or range was read")
    rows: int | None


class AuditPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = Field(None, description="pass as `cursor` for older entries; null at the end")
