"""Follow-up visits (pemutakhiran) with ODK Entities: a record that names the entity it updates
(docs/pemutakhiran.md).

    kumkm_pemutakhiran   one row per follow-up record: the entity it names (`id_kumkm`, the live
                         one when the phone named a merged id), the entity version the phone's
                         list carried (`versi_dasar`, the form's baseVersion; NULL when not sent),
                         the entity's version when the record arrived (`versi_entitas`), and
                         `konflik` when the record may have been made from an out-of-date view of
                         the entity:
                           versi_lama   versi_dasar older than the entity's version: it changed
                                        after the phone downloaded its list
                           bersamaan    an earlier follow-up of the same entity, made from the
                                        same or a newer version, is already stored and not yet
                                        in the entity (two phones, one usaha)
                         `nomor` orders follow-ups by arrival: of two concurrent ones the later
                         is the one marked.
    kumkm_pemutakhiran_isi()
                         BEFORE INSERT, per row: takes a transaction advisory lock per entity, so
                         two follow-ups of one entity are judged one after the other (the second
                         sees the first once it committed: plpgsql takes a new snapshot per
                         statement in READ COMMITTED, and a row-level BEFORE trigger sees the rows
                         its own statement inserted before), reads the entity's version and sets
                         `versi_entitas` and `konflik`. Only follow-ups of the same entity wait
                         for one another; the ingest statement inserts them in id_kumkm order, so
                         two statements never take these locks in opposite orders.
    kumkm_daftar         the entity list itself: one narrow row per live entity with a linked
                         record (its latest record's desa, name, skala, periode, keadaan and the
                         entity's versi), refreshed by a statement trigger on every UPDATE of
                         `kumkm` (the linker's, a merge's, a split's), so a kabupaten/kota's list
                         of 100,000 entities is one index range, not 300,000 look-ups
    kumkm_berubah        an index of kumkm by kabupaten/kota and last change: the change key
                         the entity list (usaha.csv) is cached under.

The linker (app/registry/linker.py) links an accepted follow-up to the entity named here with
`dasar` 'pemutakhiran' (already allowed by 0011), without looking its identifiers up. A
conflict is open while its record waits for a decision (status masuk); the verifikator's
decision, accept or reject, is what settles it.

Revision ID: 0014_pemutakhiran
Revises: 0013_kumkm_rekap
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0014_pemutakhiran"
down_revision = "0013_kumkm_rekap"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        r"""
        CREATE TABLE kumkm_pemutakhiran (
            submission_id uuid PRIMARY KEY,
            nomor         bigint GENERATED ALWAYS AS IDENTITY,
            id_kumkm      text NOT NULL REFERENCES kumkm (id_kumkm),
            versi_dasar   integer CHECK (versi_dasar >= 1),
            versi_entitas integer NOT NULL DEFAULT 1,
            konflik       text CHECK (konflik IN ('versi_lama', 'bersamaan')),
            dibuat_pada   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX kumkm_pemutakhiran_entitas ON kumkm_pemutakhiran (id_kumkm, nomor);
        CREATE INDEX kumkm_pemutakhiran_konflik ON kumkm_pemutakhiran (submission_id) WHERE konflik IS NOT NULL;

        -- The change key of a kabupaten/kota's entity list (app/registry/daftar.py): how many,
        -- their latest change and highest versi, read from the index alone.
        CREATE INDEX kumkm_berubah ON kumkm (kode_kabkota, diperbarui_pada) INCLUDE (versi);

        -- The entity list of follow-up visits (usaha.csv, GET /api/v1/kumkm/daftar): one narrow
        -- row per live entity with a linked record, from its latest record, kept by the trigger
        -- below in the transaction of every change of the entity, so that a kabupaten/kota's
        -- list is one index range of this table, never a look-up per entity.
        CREATE TABLE kumkm_daftar (
            id_kumkm          text PRIMARY KEY REFERENCES kumkm (id_kumkm),
            kode_kabkota      text NOT NULL,
            desa              text NOT NULL,
            kecamatan         text,
            jenis             text NOT NULL,
            versi             integer NOT NULL,
            nama_usaha        text,
            nama_koperasi     text,
            nomor_badan_hukum text,
            kbli              text,
            skala_usaha       text,
            sektor            text,
            periode_terakhir  text NOT NULL,
            keadaan_terakhir  text
        );
        CREATE INDEX kumkm_daftar_kabkota ON kumkm_daftar (kode_kabkota, id_kumkm);

        CREATE FUNCTION kumkm_daftar_segarkan(ids text[]) RETURNS void LANGUAGE sql AS $$
            DELETE FROM kumkm_daftar WHERE id_kumkm = ANY(ids);
            INSERT INTO kumkm_daftar (id_kumkm, kode_kabkota, desa, kecamatan, jenis, versi, nama_usaha, nama_koperasi,
                                      nomor_badan_hukum, kbli, skala_usaha, sektor, periode_terakhir, keadaan_terakhir)
            SELECT k.id_kumkm, k.kode_kabkota, s.kode_wilayah, s.kode_kecamatan, k.jenis, k.versi,
                   v.data->>'nama_usaha', v.data->>'nama_koperasi', v.data->>'nomor_badan_hukum',
                   s.kbli, s.skala_usaha, s.sektor, s.periode, s.keadaan_usaha
            FROM kumkm k
            CROSS JOIN LATERAL (
                SELECT t.submission_id FROM kumkm_tautan t JOIN submissions s2 USING (submission_id)
                WHERE t.id_kumkm = k.id_kumkm
                ORDER BY t.periode DESC, s2.diperbarui_pada DESC, t.submission_id
                LIMIT 1
            ) t
            JOIN submissions s ON s.submission_id = t.submission_id
            JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
            WHERE k.id_kumkm = ANY(ids) AND k.digabung_ke IS NULL;
        $$;

        -- Every change of an entity is an UPDATE of its row (the linker's versi and wilayah after
        -- links move, a merge, a split): one refresh per statement, set-based.
        CREATE FUNCTION kumkm_daftar_isi() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM kumkm_daftar_segarkan(ARRAY(SELECT id_kumkm FROM new_rows));
            RETURN NULL;
        END $$;
        CREATE TRIGGER kumkm_daftar_upd AFTER UPDATE ON kumkm
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kumkm_daftar_isi();

        -- the entities already there
        SELECT kumkm_daftar_segarkan(ARRAY(SELECT id_kumkm FROM kumkm WHERE digabung_ke IS NULL));

        CREATE FUNCTION kumkm_pemutakhiran_isi() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            v integer;
        BEGIN
            PERFORM pg_advisory_xact_lock(hashtextextended('kumkm-pemutakhiran:' || NEW.id_kumkm, 0));
            SELECT versi INTO v FROM kumkm WHERE id_kumkm = NEW.id_kumkm;
            NEW.versi_entitas := COALESCE(v, 1);
            NEW.konflik := NULL;
            IF NEW.versi_dasar IS NOT NULL AND NEW.versi_dasar < NEW.versi_entitas THEN
                NEW.konflik := 'versi_lama';
            ELSIF EXISTS (
                SELECT 1 FROM kumkm_pemutakhiran p JOIN submissions s USING (submission_id)
                WHERE p.id_kumkm = NEW.id_kumkm
                  AND COALESCE(p.versi_dasar, p.versi_entitas) >= COALESCE(NEW.versi_dasar, NEW.versi_entitas)
                  AND s.status <> 'ditolak'
            ) THEN
                NEW.konflik := 'bersamaan';
            END IF;
            RETURN NEW;
        END $$;
        CREATE TRIGGER kumkm_pemutakhiran_isi BEFORE INSERT ON kumkm_pemutakhiran
            FOR EACH ROW EXECUTE FUNCTION kumkm_pemutakhiran_isi();
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TRIGGER kumkm_daftar_upd ON kumkm;
        DROP FUNCTION kumkm_daftar_isi();
        DROP FUNCTION kumkm_daftar_segarkan(text[]);
        DROP TABLE kumkm_daftar;
        DROP INDEX kumkm_berubah;
        DROP TABLE kumkm_pemutakhiran;
        DROP FUNCTION kumkm_pemutakhiran_isi();
        """
    )
