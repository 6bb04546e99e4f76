"""Set-based record generation for report tests: rows go straight into `submissions`, so the
statement triggers keep rekap_status exactly as the ingest path would."""

from __future__ import annotations

import itertools

_block = itertools.count(1)

INSERT = """
    INSERT INTO submissions (submission_id, periode, jenis, kode_wilayah, kode_provinsi, kode_kabkota,
                             kode_kecamatan, status, enumerator_id, captured_at, content_hash, dibuat_oleh)
    SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(s.blok * 10000000 + g), 12, '0'))::uuid,
           s.periode, 'umkm', s.kode, left(s.kode, 2), left(s.kode, 5),
           CASE WHEN length(s.kode) > 5 THEN left(s.kode, 8) END,
           CASE WHEN g <= s.diterima THEN 'diterima'
                WHEN g <= s.diterima + s.ditolak THEN 'ditolak'
                ELSE 'masuk' END,
           'ENUM-BULK', timestamptz '2022-06-01 09:00+07', '\\x00'::bytea, 'bulk'
    FROM unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::bigint[])
         AS s(periode, kode, masuk, diterima, ditolak, blok)
    CROSS JOIN LATERAL generate_series(1, s.masuk) AS g
"""


async def insert_records(pg, rows: list[tuple[str, int, int, int]], periode: str = "2022") -> None:
    """rows: (kode_wilayah (kabkota or desa), masuk, diterima, ditolak); the rest of masuk
    stays belum diverifikasi (status 'masuk')."""
    for kode, masuk, diterima, ditolak in rows:
        assert diterima + ditolak <= masuk, kode
    await pg.execute(
        INSERT,
        [periode] * len(rows),
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
        [r[3] for r in rows],
        [next(_block) for _ in rows],
    )
