from pydantic import BaseModel, Field

from app.core.pagination import Page
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


class AuditPage(Page[AuditEntry]):
    next_cursor: str | None = Field(None, description="pass as `cursor` for older entries; null at the end")


class KeyWilayah(BaseModel):
    kode: str
    nama: str
    level: int = Field(description="1 provinsi, 2 kabupaten/kota")


class Me(BaseModel):
    name: str = Field(description="the key holder's name, as it stands in records and the access log")
    role: str = Field(description="enumerator, verifikator, dinas, walidata, admin or mitra (a partner program, docs/mitra.md)")
    wilayah: KeyWilayah | None = Field(description="the key's scope; null: national")
    pii: bool = Field(description="a walidata key granted personal data (other roles: by role and scope)")
    expires_at: UtcTime | None = Field(description="when the key stops working (e.g. after a rotation's grace period); null: no expiry")
    actions: list[str] = Field(
        description="the policy's actions this role may take, inside the key's wilayah: "
        "record.post, record.correct, record.decide, report.read, "
        "target.write, sync.pull, audit.read, indikator.read, indikator.write, kumkm.cek"
    )
    tujuan: list[str] | None = Field(None, description="a partner's key (mitra): the purposes it may look up for; null otherwise")
    kuota_harian: int | None = Field(None, description="a partner's key: look-ups per day (WIB, a batch row is one); null otherwise")
    per_detik: int | None = Field(None, description="a partner's key: requests per second; null otherwise")
