"""One trigger per event on `submissions`, keeping every count the writes keep (docs/verification.md,
"One trigger per event for every kept table").

Until now each kept table had its own statement triggers on `submissions`, added one issue at a
time: rekap_status (0001), the linker's queue and pending marks kumkm_antrian / kumkm_rekap_tunda
(0011, 0013), rekap_harian (0016), kinerja_enumerator (0017). An insert of one record fired four
AFTER STATEMENT triggers, each a plpgsql call running its own statement over the same
transition table (the ingest regression of 2026-12-06 night, about +70 us of PostgreSQL per
single POST, came with them; what this change saves is measured in bench/README.md, "2026-12-06
late").

    submissions_pemicu()   the one function, fired by submissions_pemicu_ins / _upd / _del (AFTER
                           ... FOR EACH STATEMENT, with transition tables). Each event runs ONE
                           statement: a MATERIALIZED read of the transition table(s) as signed
                           rows (+1 new, -1 old), and data-modifying CTEs that add the deltas to
                           rekap_status, rekap_harian and kinerja_enumerator (each grouped, rows
                           that net to zero left out, in key order so concurrent writers lock
                           shared rows in one order) and write the queue:
                             insert   records inserted diterima are queued for the linker
                             update   records moving into or out of diterima (or, diterima,
                                      changed in a column an entity state reads) are queued, and
                                      the linked ones marked in kumkm_rekap_tunda (0013's rule)
                             delete   a deleted record's kinerja_tolak row goes with it (before,
                                      nothing removed it: the rejection reasons kept counting it)

The statements are those of the four functions this replaces, merged; the kept tables' contents
do not change, so nothing is rebuilt. `satu_pemicu()` returns the function's text for a subset of
the parts: the write-cost benches install a variant without one part and put the whole back.

Revision ID: 0019_satu_pemicu
Revises: 0018_lokasi
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0019_satu_pemicu"
down_revision = "0018_lokasi"
branch_labels = None
depends_on = None

BAGIAN = ("rekap_status", "rekap_harian", "kinerja", "antrian", "tolak")

# The columns every part reads, with the sign of the row: +1 a new row, -1 an old one.
_KOLOM = (
    "submission_id, periode, kode_provinsi, kode_kabkota, status, enumerator_id, "
    "COALESCE(dibuat_oleh_key, 0) AS kunci, captured_at, dibuat_pada"
)
_SUMBER = {
    "INSERT": f"SELECT {_KOLOM}, 1 AS d FROM new_rows",
    "UPDATE": f"SELECT {_KOLOM}, 1 AS d FROM new_rows UNION ALL SELECT {_KOLOM}, -1 FROM old_rows",
    "DELETE": f"SELECT {_KOLOM}, -1 AS d FROM old_rows",
}

_HARI = (
    "LATERAL (VALUES ('tangkap', ((captured_at AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date),"
    " ('terima', ((dibuat_pada AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date))"
    " AS m (menurut, hari)"
)

# What an entity state reads of its record (0013): a diterima record changed in one of these is
# queued and marked like one whose status moved.
_STATE_COLS = (
    "jenis, periode, kode_provinsi, kode_kabkota, skala_usaha, punya_nib, izin_usaha, platform_digital, "
    "modal_sendiri, modal_luar, keadaan_usaha, diperbarui_pada"
).split(", ")

# Each count's upsert of the grouped signed rows x (the same text for every event).
_TULIS = {
    "rekap_status": """
                INSERT INTO rekap_status AS r (periode, kode_kabkota, status, shard, n)
                SELECT periode, kode_kabkota, status, (pg_backend_pid() % 16)::smallint, sum(d)
                FROM x GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
                ON CONFLICT (periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n""",
    "rekap_harian": f"""
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, sum(d)
                FROM x, {_HARI}
                GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (periode, kode_kabkota, menurut, hari, status, shard) DO UPDATE SET n = r.n + excluded.n""",
    "kinerja": """
                INSERT INTO kinerja_enumerator AS k (periode, kode_kabkota, enumerator_id, kunci, masuk, diterima, ditolak)
                SELECT periode, kode_kabkota, enumerator_id, kunci,
                       COALESCE(sum(d) FILTER (WHERE status = 'masuk'), 0),
                       COALESCE(sum(d) FILTER (WHERE status = 'diterima'), 0),
                       COALESCE(sum(d) FILTER (WHERE status = 'ditolak'), 0)
                FROM x GROUP BY 1, 2, 3, 4
                -- an update that moved nothing here (a status unchanged, another column) writes nothing
                HAVING sum(d) FILTER (WHERE status = 'masuk') <> 0
                    OR sum(d) FILTER (WHERE status = 'diterima') <> 0 OR sum(d) FILTER (WHERE status = 'ditolak') <> 0
                ORDER BY 1, 2, 3, 4
                ON CONFLICT (periode, kode_kabkota, enumerator_id, kunci) DO UPDATE
                   SET masuk = k.masuk + excluded.masuk, diterima = k.diterima + excluded.diterima,
                       ditolak = k.ditolak + excluded.ditolak""",
}
_UBAH = f"""ubah AS MATERIALIZED (
                SELECT n.submission_id FROM new_rows n JOIN old_rows o USING (submission_id)
                WHERE (n.status = 'diterima') <> (o.status = 'diterima')
                   OR (n.status = 'diterima'
                       AND ({", ".join("n." + c for c in _STATE_COLS)}) IS DISTINCT FROM ({", ".join("o." + c for c in _STATE_COLS)}))
            )"""
# The linker's queue (and 0013's pending marks) per event; a delete's kinerja_tolak rows.
_ANTRIAN = {
    "INSERT": ["INSERT INTO kumkm_antrian (submission_id) SELECT submission_id FROM x WHERE status = 'diterima' ON CONFLICT DO NOTHING"],
    "UPDATE": [
        "INSERT INTO kumkm_antrian (submission_id) SELECT submission_id FROM ubah ON CONFLICT DO NOTHING",
        "INSERT INTO kumkm_rekap_tunda (submission_id) SELECT u.submission_id FROM ubah u JOIN kumkm_tautan t USING (submission_id)"
        " ON CONFLICT DO NOTHING",
    ],
    "DELETE": [],
}
_TOLAK = {"DELETE": ["DELETE FROM kinerja_tolak t USING x WHERE t.submission_id = x.submission_id"]}


def _statement(op: str, parts: tuple[str, ...]) -> str:
    """One statement: x, the transition table(s) read once, and every part's write; all but the
    last write are data-modifying CTEs (each runs to completion whether or not it is read)."""
    reads = [f"x AS MATERIALIZED ({_SUMBER[op]})"]
    writes = [_TULIS[p].strip() for p in ("rekap_status", "rekap_harian", "kinerja") if p in parts]
    if "antrian" in parts:
        writes += _ANTRIAN[op]
        if op == "UPDATE":
            reads.append(_UBAH)
    if "tolak" in parts:
        writes += _TOLAK.get(op, [])
    if not writes:
        return "NULL"
    ctes = reads + [f"w{i} AS (\n                {w}\n            )" for i, w in enumerate(writes[:-1])]
    return "WITH " + ",\n            ".join(ctes) + "\n            " + writes[-1]


def _statements(op: str, parts: tuple[str, ...]) -> str:
    """The alternative measured against _statement: one statement per part, in one function."""
    groups = [(p,) for p in ("rekap_status", "rekap_harian", "kinerja") if p in parts]
    groups += [("antrian",)] if "antrian" in parts and op != "DELETE" else []
    groups += [("tolak",)] if "tolak" in parts and op == "DELETE" else []
    return ";\n            ".join(_statement(op, g) for g in groups) or "NULL"


def satu_pemicu(parts: tuple[str, ...] = BAGIAN, *, terpisah: bool = False) -> str:
    """CREATE OR REPLACE of submissions_pemicu() keeping the tables of `parts` (all by default);
    `terpisah`: one statement per part instead of one for all (the benches' comparison)."""
    body = {op: (_statements if terpisah else _statement)(op, parts) for op in ("INSERT", "UPDATE", "DELETE")}
    return f"""
        CREATE OR REPLACE FUNCTION submissions_pemicu() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
            {body["INSERT"]};
            ELSIF TG_OP = 'UPDATE' THEN
            {body["UPDATE"]};
            ELSE
            {body["DELETE"]};
            END IF;
            RETURN NULL;
        END $$;
"""


SATU = """
        CREATE TRIGGER submissions_pemicu_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION submissions_pemicu();
        CREATE TRIGGER submissions_pemicu_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION submissions_pemicu();
        CREATE TRIGGER submissions_pemicu_del AFTER DELETE ON submissions
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION submissions_pemicu();
"""

TANPA_SATU = """
        DROP TRIGGER submissions_pemicu_ins ON submissions;
        DROP TRIGGER submissions_pemicu_upd ON submissions;
        DROP TRIGGER submissions_pemicu_del ON submissions;
"""

# The triggers this replaces, as 0001, 0013, 0016 and 0017 left them (their functions are
# dropped by the upgrade and made again by the downgrade, body for body).
_KINERJA_ROWS = "SELECT periode, kode_kabkota, enumerator_id, COALESCE(dibuat_oleh_key, 0) AS kunci, status, {d} AS d FROM {t}"


def _kinerja_lama(ev: str, src: str) -> str:
    return f"""
        CREATE FUNCTION kinerja_apply_{ev}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO kinerja_enumerator AS k (periode, kode_kabkota, enumerator_id, kunci, masuk, diterima, ditolak)
            SELECT periode, kode_kabkota, enumerator_id, kunci,
                   COALESCE(sum(d) FILTER (WHERE status = 'masuk'), 0),
                   COALESCE(sum(d) FILTER (WHERE status = 'diterima'), 0),
                   COALESCE(sum(d) FILTER (WHERE status = 'ditolak'), 0)
            FROM ({src}) AS x
            GROUP BY 1, 2, 3, 4
            HAVING sum(d) FILTER (WHERE status = 'masuk') <> 0
                OR sum(d) FILTER (WHERE status = 'diterima') <> 0 OR sum(d) FILTER (WHERE status = 'ditolak') <> 0
            ORDER BY 1, 2, 3, 4
            ON CONFLICT (periode, kode_kabkota, enumerator_id, kunci) DO UPDATE
               SET masuk = k.masuk + excluded.masuk, diterima = k.diterima + excluded.diterima,
                   ditolak = k.ditolak + excluded.ditolak;
            RETURN NULL;
        END $$;"""


LAMA = (
    """
        CREATE FUNCTION rekap_apply_delta() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO rekap_status AS r (periode, kode_kabkota, status, shard, n)
                SELECT periode, kode_kabkota, status, (pg_backend_pid() % 16)::smallint, count(*)
                FROM new_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO rekap_status AS r (periode, kode_kabkota, status, shard, n)
                SELECT periode, kode_kabkota, status, (pg_backend_pid() % 16)::smallint, sum(d)
                FROM (SELECT periode, kode_kabkota, status, 1 AS d FROM new_rows
                      UNION ALL
                      SELECT periode, kode_kabkota, status, -1 FROM old_rows) AS x
                GROUP BY 1, 2, 3 HAVING sum(d) <> 0 ORDER BY 1, 2, 3
                ON CONFLICT (periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO rekap_status AS r (periode, kode_kabkota, status, shard, n)
                SELECT periode, kode_kabkota, status, (pg_backend_pid() % 16)::smallint, -count(*)
                FROM old_rows GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                ON CONFLICT (periode, kode_kabkota, status, shard) DO UPDATE SET n = r.n + excluded.n;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER submissions_rekap_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rekap_apply_delta();
        CREATE TRIGGER submissions_rekap_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rekap_apply_delta();
        CREATE TRIGGER submissions_rekap_del AFTER DELETE ON submissions
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rekap_apply_delta();

        CREATE FUNCTION kumkm_antrian_isi() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO kumkm_antrian (submission_id)
                SELECT n.submission_id FROM new_rows n WHERE n.status = 'diterima'
                ON CONFLICT DO NOTHING;
            ELSE
                WITH ubah AS MATERIALIZED (
                    SELECT n.submission_id FROM new_rows n JOIN old_rows o USING (submission_id)
                    WHERE (n.status = 'diterima') <> (o.status = 'diterima')
                       OR (n.status = 'diterima'
                           AND ("""
    + ", ".join("n." + c for c in _STATE_COLS)
    + """)
                               IS DISTINCT FROM ("""
    + ", ".join("o." + c for c in _STATE_COLS)
    + f"""))
                ), antri AS (
                    INSERT INTO kumkm_antrian (submission_id) SELECT submission_id FROM ubah ON CONFLICT DO NOTHING
                )
                INSERT INTO kumkm_rekap_tunda (submission_id)
                SELECT u.submission_id FROM ubah u JOIN kumkm_tautan t USING (submission_id)
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER submissions_kumkm_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kumkm_antrian_isi();
        CREATE TRIGGER submissions_kumkm_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION kumkm_antrian_isi();

        CREATE FUNCTION rekap_harian_apply_delta() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, count(*)
                FROM new_rows, {_HARI}
                GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (periode, kode_kabkota, menurut, hari, status, shard) DO UPDATE SET n = r.n + excluded.n;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, sum(d)
                FROM (SELECT periode, kode_kabkota, kode_provinsi, status, captured_at, dibuat_pada, 1 AS d FROM new_rows
                      UNION ALL
                      SELECT periode, kode_kabkota, kode_provinsi, status, captured_at, dibuat_pada, -1 FROM old_rows) AS x,
                     {_HARI}
                GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (periode, kode_kabkota, menurut, hari, status, shard) DO UPDATE SET n = r.n + excluded.n;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, -count(*)
                FROM old_rows, {_HARI}
                GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (periode, kode_kabkota, menurut, hari, status, shard) DO UPDATE SET n = r.n + excluded.n;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER submissions_rekap_harian_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION rekap_harian_apply_delta();
        CREATE TRIGGER submissions_rekap_harian_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION rekap_harian_apply_delta();
        CREATE TRIGGER submissions_rekap_harian_del AFTER DELETE ON submissions
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION rekap_harian_apply_delta();
"""
    + _kinerja_lama("ins", _KINERJA_ROWS.format(d=1, t="new_rows"))
    + _kinerja_lama("upd", _KINERJA_ROWS.format(d=1, t="new_rows") + " UNION ALL " + _KINERJA_ROWS.format(d=-1, t="old_rows"))
    + _kinerja_lama("del", _KINERJA_ROWS.format(d=-1, t="old_rows"))
    + """
        CREATE TRIGGER submissions_kinerja_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kinerja_apply_ins();
        CREATE TRIGGER submissions_kinerja_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION kinerja_apply_upd();
        CREATE TRIGGER submissions_kinerja_del AFTER DELETE ON submissions
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kinerja_apply_del();
"""
)

TANPA_LAMA = """
        DROP TRIGGER submissions_rekap_ins ON submissions;
        DROP TRIGGER submissions_rekap_upd ON submissions;
        DROP TRIGGER submissions_rekap_del ON submissions;
        DROP TRIGGER submissions_kumkm_ins ON submissions;
        DROP TRIGGER submissions_kumkm_upd ON submissions;
        DROP TRIGGER submissions_rekap_harian_ins ON submissions;
        DROP TRIGGER submissions_rekap_harian_upd ON submissions;
        DROP TRIGGER submissions_rekap_harian_del ON submissions;
        DROP TRIGGER submissions_kinerja_ins ON submissions;
        DROP TRIGGER submissions_kinerja_upd ON submissions;
        DROP TRIGGER submissions_kinerja_del ON submissions;
        DROP FUNCTION rekap_apply_delta();
        DROP FUNCTION kumkm_antrian_isi();
        DROP FUNCTION rekap_harian_apply_delta();
        DROP FUNCTION kinerja_apply_ins();
        DROP FUNCTION kinerja_apply_upd();
        DROP FUNCTION kinerja_apply_del();
"""


def upgrade() -> None:
    # The records deleted before this migration left their kinerja_tolak rows behind.
    run_script(
        TANPA_LAMA
        + satu_pemicu()
        + SATU
        + """
        DELETE FROM kinerja_tolak t WHERE NOT EXISTS (SELECT 1 FROM submissions s WHERE s.submission_id = t.submission_id);
        """
    )


def downgrade() -> None:
    run_script(TANPA_SATU + "DROP FUNCTION submissions_pemicu();" + LAMA)
