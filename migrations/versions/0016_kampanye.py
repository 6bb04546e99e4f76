"""The pendataan campaign (issue 31, docs/kampanye.md): a target's deadline, per-day counts,
and the backlog's order.

- `kumkm_zona_jam(kode_provinsi)`: the provinsi's offset from UTC in hours (WIB 7, WITA 8,
  WIT 9); the same mapping as app/record/zona.py, which a test compares. A record's day is
  its local date there.
- `target_pendataan.batas_waktu` (date, NULL): the round's deadline, part of a revision like
  the amount (same dasar hukum and berlaku_mulai); NULL where none was set.
- `rekap_harian`: counts per (periode, kabkota, menurut, hari, status), menurut `tangkap`
  (the local day of captured_at) or `terima` (of dibuat_pada), sharded by backend as
  rekap_status is, and kept the same way: statement triggers with transition tables in the
  writer's own transaction, so they cannot drift from a recount. The progress endpoint reads
  at most a few hundred rows per kabupaten/kota instead of its records.
- `submissions_masuk_umur`: a partial index of the records waiting in masuk by the time they
  entered it (diperbarui_pada: their arrival, or the correction that sent them back), for the
  backlog's age and the oldest-first queue; it holds only the backlog, so a decision takes a
  record out of it.

Revision ID: 0016_kampanye
Revises: 0012_sync_id_kumkm
Create Date: 2026-12-06
"""
from migrations.helpers import run_script

revision = "0016_kampanye"
down_revision = "0015_mitra"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE FUNCTION kumkm_zona_jam(kode_provinsi text) RETURNS integer
            LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE
                WHEN left(kode_provinsi, 2) IN ('51','52','53','63','64','65','71','72','73','74','75','76') THEN 8
                WHEN left(kode_provinsi, 2) IN ('81','82','91','92','93','94','95','96','97') THEN 9
                ELSE 7 END
        $$;

        ALTER TABLE target_pendataan ADD COLUMN batas_waktu date;

        CREATE TABLE rekap_harian (
            periode      text NOT NULL,
            kode_kabkota text NOT NULL,
            menurut      text NOT NULL CHECK (menurut IN ('tangkap', 'terima')),
            hari         date NOT NULL,
            status       text NOT NULL,
            shard        smallint NOT NULL,
            n            bigint NOT NULL,
            PRIMARY KEY (periode, kode_kabkota, menurut, hari, status, shard)
        );

        CREATE FUNCTION rekap_harian_apply_delta() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, count(*)
                FROM new_rows,
                     LATERAL (VALUES ('tangkap', ((captured_at AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date),
                                     ('terima', ((dibuat_pada AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date)) AS m (menurut, hari)
                GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (periode, kode_kabkota, menurut, hari, status, shard) DO UPDATE SET n = r.n + excluded.n;
            ELSIF TG_OP = 'UPDATE' THEN
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, sum(d)
                FROM (SELECT periode, kode_kabkota, kode_provinsi, status, captured_at, dibuat_pada, 1 AS d FROM new_rows
                      UNION ALL
                      SELECT periode, kode_kabkota, kode_provinsi, status, captured_at, dibuat_pada, -1 FROM old_rows) AS x,
                     LATERAL (VALUES ('tangkap', ((captured_at AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date),
                                     ('terima', ((dibuat_pada AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date)) AS m (menurut, hari)
                GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
                ON CONFLICT (periode, kode_kabkota, menurut, hari, status, shard) DO UPDATE SET n = r.n + excluded.n;
            ELSIF TG_OP = 'DELETE' THEN
                INSERT INTO rekap_harian AS r (periode, kode_kabkota, menurut, hari, status, shard, n)
                SELECT periode, kode_kabkota, m.menurut, m.hari, status, (pg_backend_pid() % 16)::smallint, -count(*)
                FROM old_rows,
                     LATERAL (VALUES ('tangkap', ((captured_at AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date),
                                     ('terima', ((dibuat_pada AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date)) AS m (menurut, hari)
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

        -- the records already there, counted once (shard 0)
        INSERT INTO rekap_harian (periode, kode_kabkota, menurut, hari, status, shard, n)
        SELECT periode, kode_kabkota, m.menurut, m.hari, status, 0, count(*)
        FROM submissions,
             LATERAL (VALUES ('tangkap', ((captured_at AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date),
                             ('terima', ((dibuat_pada AT TIME ZONE 'UTC') + make_interval(hours => kumkm_zona_jam(kode_provinsi)))::date)) AS m (menurut, hari)
        GROUP BY 1, 2, 3, 4, 5;

        CREATE INDEX submissions_masuk_umur
            ON submissions (kode_kabkota, periode, diperbarui_pada, submission_id) WHERE status = 'masuk';
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP INDEX submissions_masuk_umur;
        DROP TRIGGER submissions_rekap_harian_del ON submissions;
        DROP TRIGGER submissions_rekap_harian_upd ON submissions;
        DROP TRIGGER submissions_rekap_harian_ins ON submissions;
        DROP FUNCTION rekap_harian_apply_delta();
        DROP TABLE rekap_harian;
        ALTER TABLE target_pendataan DROP COLUMN batas_waktu;
        DROP FUNCTION kumkm_zona_jam(text);
        """
    )
