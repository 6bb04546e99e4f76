"""Registry schema: wilayah, periode, API keys, records with versions and history, the
change feed, per-kabkota status counts kept by triggers, targets and the access log.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
from migrations.helpers import run_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE wilayah (
            kode          text PRIMARY KEY,
            nama          text NOT NULL,
            level         smallint NOT NULL CHECK (level BETWEEN 1 AND 4),
            jenis         text NOT NULL,
            parent_kode   text,
            kode_provinsi text NOT NULL
        );
        CREATE INDEX wilayah_parent ON wilayah (parent_kode, kode);

        CREATE TABLE periode (
            kode       text PRIMARY KEY CHECK (kode ~ '^[0-9]{4}$'),
            nama       text NOT NULL,
            dibuat_pada timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO periode (kode, nama)
        SELECT y::text, 'PL-KUMKM ' || y FROM generate_series(2021, 2027) AS y;

        CREATE TABLE api_keys (
            id           bigserial PRIMARY KEY,
            name         text NOT NULL,
            role         text NOT NULL
                         CHECK (role IN ('enumerator', 'verifikator', 'dinas', 'walidata', 'admin')),
            kode_wilayah text REFERENCES wilayah (kode),
            key_prefix   text NOT NULL,
            key_hash     bytea NOT NULL UNIQUE,
            pii          boolean NOT NULL DEFAULT false,
            created_at   timestamptz NOT NULL DEFAULT now(),
            expires_at   timestamptz,
            revoked_at   timestamptz,
            last_used_at timestamptz
        );

        -- One row per record, holding its current state and the columns aggregates read.
        -- The content of every version lives in submission_versions.
        CREATE TABLE submissions (
            submission_id   uuid PRIMARY KEY,
            periode         text NOT NULL REFERENCES periode (kode),
            jenis           text NOT NULL CHECK (jenis IN ('umkm', 'koperasi')),
            kode_wilayah    text NOT NULL,
            kode_provinsi   text NOT NULL,
            kode_kabkota    text NOT NULL,
            kode_kecamatan  text,
            status          text NOT NULL DEFAULT 'masuk'
                            CHECK (status IN ('masuk', 'diterima', 'ditolak')),
            version         integer NOT NULL DEFAULT 1 CHECK (version >= 1),
            enumerator_id   text NOT NULL,
            captured_at     timestamptz NOT NULL,
            content_hash    bytea NOT NULL,
            duplikat_kunci  text,
            -- UMKM
            skala_usaha     text CHECK (skala_usaha IN ('mikro', 'kecil', 'menengah', 'besar')),
            kbli            text,
            sektor          text,
            status_tempat   text,
            modal_usaha     bigint,
            hasil_penjualan bigint,
            aset            bigint,
            tenaga_kerja_l  integer,
            tenaga_kerja_p  integer,
            punya_nib       boolean,
            platform_digital boolean,
            izin_usaha      boolean,
            -- koperasi
            jenis_koperasi  text,
            kewenangan      text CHECK (kewenangan IN ('kabkota', 'provinsi', 'nasional')),
            aktif           boolean,
            tahun_rat_terakhir integer,
            punya_nik_koperasi boolean,
            anggota_l       integer,
            anggota_p       integer,
            manajer_l       integer,
            manajer_p       integer,
            karyawan_l      integer,
            karyawan_p      integer,
            modal_sendiri   bigint,
            modal_luar      bigint,
            volume_usaha    bigint,
            shu             bigint,
            kesehatan       text,
            -- who and when
            created_by      text NOT NULL,
            created_by_key  bigint,
            created_at      timestamptz NOT NULL DEFAULT now(),
            updated_at      timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX submissions_kabkota ON submissions (kode_kabkota, periode, status, submission_id);
        CREATE INDEX submissions_koperasi ON submissions (kode_provinsi, periode) WHERE jenis = 'koperasi';
        CREATE INDEX submissions_duplikat ON submissions (duplikat_kunci) WHERE duplikat_kunci IS NOT NULL;

        -- Versions and history rows are written by the same statement as their record (see
        -- app/submissions/queries.py), so a foreign key would only re-check, row by row on the
        -- hottest path, what that statement already guarantees.
        CREATE TABLE submission_versions (
            submission_id uuid NOT NULL,
            version       integer NOT NULL,
            data          jsonb NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            created_by    text NOT NULL,
            PRIMARY KEY (submission_id, version)
        );

        CREATE TABLE submission_history (
            id            bigserial PRIMARY KEY,
            submission_id uuid NOT NULL,
            version       integer NOT NULL,
            aksi          text NOT NULL CHECK (aksi IN ('dibuat', 'diverifikasi', 'dikoreksi')),
            dari          text,
            ke            text NOT NULL,
            oleh          text NOT NULL,
            oleh_key      bigint,
            oleh_role     text,
            pada          timestamptz NOT NULL DEFAULT now(),
            alasan_kode   text,
            catatan       text
        );
        CREATE INDEX submission_history_record ON submission_history (submission_id, id);

        -- History is evidence: no row of it is ever changed or removed.
        CREATE FUNCTION submission_history_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'submission_history is append-only';
        END $$;
        CREATE TRIGGER submission_history_no_rewrite BEFORE UPDATE OR DELETE ON submission_history
            FOR EACH ROW EXECUTE FUNCTION submission_history_immutable();

        -- The change feed. `xid` is the writing transaction; a change is delivered only once
        -- every transaction that could precede it has ended (see app/sync).
        CREATE TABLE changes (
            id            bigserial PRIMARY KEY,
            xid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
            submission_id uuid NOT NULL,
            version       integer NOT NULL,
            status        text NOT NULL,
            jenis_perubahan text NOT NULL CHECK (jenis_perubahan IN ('dibuat', 'dikoreksi', 'status')),
            periode       text NOT NULL,
            kode_provinsi text NOT NULL,
            kode_kabkota  text NOT NULL,
            changed_at    timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX changes_order ON changes (xid, id);

        -- Status counts per (periode, kabkota), split into shards by backend so concurrent
        -- writers do not queue on one counter row. Kept by statement triggers in the same
        -- transaction as the records, so they cannot drift from a recount.
        CREATE TABLE rekap_status (
            periode      text NOT NULL,
            kode_kabkota text NOT NULL,
            status       text NOT NULL,
            shard        smallint NOT NULL,
            n            bigint NOT NULL,
            PRIMARY KEY (periode, kode_kabkota, status, shard)
        );

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

        -- Targets: every revision is a row; a report takes the one in force on its date.
        CREATE TABLE target_pendataan (
            id            bigserial PRIMARY KEY,
            periode       text NOT NULL REFERENCES periode (kode),
            kode_wilayah  text NOT NULL REFERENCES wilayah (kode),
            target        bigint NOT NULL CHECK (target >= 0),
            dasar_hukum   text NOT NULL,
            berlaku_mulai date NOT NULL,
            dibuat_oleh   text NOT NULL,
            dibuat_pada   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX target_pendataan_lookup
            ON target_pendataan (periode, kode_wilayah, berlaku_mulai DESC, id DESC);

        -- Who saw personal data or pulled the feed: key, endpoint, range, rows.
        CREATE TABLE access_log (
            id        bigserial PRIMARY KEY,
            pada      timestamptz NOT NULL DEFAULT now(),
            key_id    bigint,
            key_name  text NOT NULL,
            role      text NOT NULL,
            endpoint  text NOT NULL,
            detail    jsonb NOT NULL DEFAULT '{}'::jsonb,
            rows      bigint
        );
        CREATE INDEX access_log_pada ON access_log (pada);
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE access_log, target_pendataan, rekap_status, changes, submission_history,
            submission_versions, submissions, api_keys, periode, wilayah CASCADE;
        DROP FUNCTION IF EXISTS rekap_apply_delta();
        DROP FUNCTION IF EXISTS submission_history_immutable();
        """
    )
