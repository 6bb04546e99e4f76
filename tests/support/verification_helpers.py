"""Shared steps for the verification tests: decide, correct, and the recount
that every count invariant is checked against."""

from __future__ import annotations

from tests.support.common import auth

DESA_BANYUASIN = "16.07.01.2001"  # kabkota 16.07
KOTA_PALEMBANG = "16.71"  # a kabkota code is a valid kode_wilayah too
KAB_MUARA_ENIM = "16.03"


async def decide(client, key, sid: str, status: str, version: int = 1, **body):
    return await client.post(
        f"/api/v1/submissions/{sid}/verifikasi", json={"status": status, "version": version, **body}, headers=auth(key)
    )


async def tolak(client, key, sid: str, version: int = 1, alasan: str = "data_tidak_lengkap", **body):
    return await decide(client, key, sid, "ditolak", version, alasan_kode=alasan, **body)


async def correct(client, key, rec: dict, **change):
    body = {**rec, **change}
    return await client.put(f"/api/v1/submissions/{rec['submission_id']}", json=body, headers=auth(key))


async def rekap(pg) -> dict:
    rows = await pg.fetch("SELECT periode, kode_kabkota, status, sum(n)::bigint AS n FROM rekap_status GROUP BY 1, 2, 3 HAVING sum(n) <> 0")
    return {(r["periode"], r["kode_kabkota"], r["status"]): r["n"] for r in rows}


async def recount(pg) -> dict:
    rows = await pg.fetch("SELECT periode, kode_kabkota, status, count(*) AS n FROM submissions GROUP BY 1, 2, 3")
    return {(r["periode"], r["kode_kabkota"], r["status"]): r["n"] for r in rows}


async def assert_consistent(pg) -> None:
    """The counts equal a recount, and every record's trail agrees with its state: its last
    history row ends in its status, one change-feed row per history row (besides the changes of
    its link to an entity, which are not in its history), one stored version
    per content version."""
    assert await rekap(pg) == await recount(pg)
    bad = await pg.fetch(
        """
        SELECT s.submission_id, s.status, s.version, last.ke, h.n AS history, c.n AS changes,
               v.n AS versions, v.max AS max_version
        FROM submissions s
        JOIN LATERAL (SELECT ke FROM submission_history h WHERE h.submission_id = s.submission_id
                      ORDER BY id DESC LIMIT 1) last ON true
        JOIN LATERAL (SELECT count(*) AS n FROM submission_history h
                      WHERE h.submission_id = s.submission_id) h ON true
        JOIN LATERAL (SELECT count(*) AS n FROM changes c WHERE c.submission_id = s.submission_id
                      AND c.jenis_perubahan NOT IN ('ditautkan', 'dilepas')) c ON true
        JOIN LATERAL (SELECT count(*) AS n, max(version) AS max FROM submission_versions v
                      WHERE v.submission_id = s.submission_id) v ON true
        WHERE last.ke <> s.status OR h.n <> c.n OR v.n <> s.version OR v.max <> s.version
        """
    )
    assert not bad, [dict(b) for b in bad[:5]]
    # The walidata's stored line of every record is the record as it is now.
    from tests.support.sync_helpers import STALE_LINES

    stale = await pg.fetch(STALE_LINES)
    assert not stale, [r[0] for r in stale[:5]]
