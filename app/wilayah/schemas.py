from pydantic import BaseModel


class Wilayah(BaseModel):
    kode: str
    nama: str
    level: int
    jenis: str


class WilayahList(BaseModel):
    parent: str | None
    items: list[Wilayah]
