"""Basis Data Tunggal: one entry per usaha and koperasi (docs/registry.md).

Records stay as they were submitted. An entity (`kumkm`) is derived from links: every diterima
record is linked to exactly one entity (`kumkm_tautan`), so a wrong link is undone by moving
links, never by editing a record.

    kumkm              the entity: its national id (`id_kumkm`, with a check digit), jenis, the
                       kabupaten/kota of its latest linked record (the verifikator's scope), a
                       version every change bumps (the token of concurrent actions), and, once
                       merged into another, `digabung_ke` (the id stays valid: look-ups follow it)
    kumkm_tautan       record -> entity, with the rule that made the link (`dasar`)
    kumkm_pengenal     the hard identifiers an entity holds (nib; nik_koperasi, nomor_badan_hukum):
                       the index the linker looks records up in, rebuilt from the links of the
                       entities an action touches
    kumkm_kandidat     a proposed pair of entities, with a score and the reasons; decided by a
                       verifikator (ditautkan, bukan_sama) or made obsolete by another action (usang)
    kumkm_bukan_sama   pairs a verifikator said are not the same: never proposed again
    kumkm_peristiwa    what happened to an entity, append-only: the audit (who, when, why, what
                       moved, so every action can be undone) and the walidata's entity feed (its
                       `xid` orders it as `changes` orders the record feed)
    kumkm_antrian      records whose status moved into or out of `diterima`, waiting for the
                       linker (app/registry): filled by a statement trigger in the decision's own
                       transaction, so no acceptance is ever missed, and emptied by the linker in
                       the transaction that links them, so none is linked twice

Revision ID: 0011_kumkm_registry
Revises: 0010_audit_columns
Create Date: 2026-12-06
"""
from migrations.helpers import run_script

revision = "0011_kumkm_registry"
down_revision = "0010_audit_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        r"""
        CREATE SEQUENCE kumkm_nomor;

        CREATE TABLE kumkm (
            id_kumkm        text PRIMARY KEY,
            jenis           text NOT NULL CHECK (jenis IN ('umkm', 'koperasi')),
            kode_provinsi   text NOT NULL,
            kode_kabkota    text NOT NULL,
            versi           integer NOT NULL DEFAULT 1 CHECK (versi >= 1),
            digabung_ke     text REFERENCES kumkm (id_kumkm),
            dibuat_pada     timestamptz NOT NULL DEFAULT now(),
            diperbarui_pada timestamptz NOT NULL DEFAULT now(),
            CHECK (digabung_ke IS DISTINCT FROM id_kumkm)
        );
        CREATE INDEX kumkm_kabkota ON kumkm (kode_kabkota, jenis, id_kumkm) WHERE digabung_ke IS NULL;

        CREATE TABLE kumkm_tautan (
            submission_id uuid PRIMARY KEY,
            id_kumkm      text NOT NULL REFERENCES kumkm (id_kumkm),
            periode       text NOT NULL,
            dasar         text NOT NULL CHECK (dasar IN ('nib', 'nik_koperasi', 'nomor_badan_hukum', 'baru',
                                                         'gabung', 'pisah', 'pemutakhiran')),
            pada          timestamptz NOT NULL DEFAULT now(),
            -- the record's kabupaten/kota and, for a UMKM, its owner's NIK, copied by the linker:
            -- the soft evidence (same NIK pemilik in the same kabupaten/kota) is an index look-up
            -- here, never a scan of the records' stored versions
            kode_kabkota  text,
            nik_pemilik   text
        );
        CREATE INDEX kumkm_tautan_entitas ON kumkm_tautan (id_kumkm, periode);
        CREATE INDEX kumkm_tautan_pemilik ON kumkm_tautan (nik_pemilik, kode_kabkota) WHERE nik_pemilik IS NOT NULL;

        CREATE TABLE kumkm_pengenal (
            jenis_pengenal text NOT NULL CHECK (jenis_pengenal IN ('nib', 'nik_koperasi', 'nomor_badan_hukum')),
            nilai          text NOT NULL,
            id_kumkm       text NOT NULL REFERENCES kumkm (id_kumkm),
            PRIMARY KEY (jenis_pengenal, nilai)
        );
        CREATE INDEX kumkm_pengenal_entitas ON kumkm_pengenal (id_kumkm);

        CREATE TABLE kumkm_kandidat (
            id                  bigserial PRIMARY KEY,
            id_a                text NOT NULL REFERENCES kumkm (id_kumkm),
            id_b                text NOT NULL REFERENCES kumkm (id_kumkm),
            kode_kabkota        text NOT NULL,
            skor                numeric(4, 3) NOT NULL CHECK (skor >= 0 AND skor <= 1),
            alasan              jsonb NOT NULL,
            status              text NOT NULL DEFAULT 'terbuka'
                                CHECK (status IN ('terbuka', 'ditautkan', 'bukan_sama', 'usang')),
            versi               integer NOT NULL DEFAULT 1 CHECK (versi >= 1),
            dibuat_pada         timestamptz NOT NULL DEFAULT now(),
            diputuskan_oleh     text,
            diputuskan_oleh_key bigint,
            diputuskan_pada     timestamptz,
            catatan             text,
            CHECK (id_a < id_b)
        );
        CREATE UNIQUE INDEX kumkm_kandidat_terbuka ON kumkm_kandidat (id_a, id_b) WHERE status = 'terbuka';
        CREATE INDEX kumkm_kandidat_antrian ON kumkm_kandidat (kode_kabkota, status, skor DESC, id);
        CREATE INDEX kumkm_kandidat_b ON kumkm_kandidat (id_b) WHERE status = 'terbuka';

        CREATE TABLE kumkm_bukan_sama (
            id_a     text NOT NULL,
            id_b     text NOT NULL,
            oleh     text NOT NULL,
            oleh_key bigint,
            pada     timestamptz NOT NULL DEFAULT now(),
            alasan   text,
            PRIMARY KEY (id_a, id_b),
            CHECK (id_a < id_b)
        );

        CREATE TABLE kumkm_peristiwa (
            id       bigserial PRIMARY KEY,
            xid      xid8 NOT NULL DEFAULT pg_current_xact_id(),
            id_kumkm text NOT NULL,
            aksi     text NOT NULL CHECK (aksi IN ('dibuat', 'ditautkan', 'dilepas', 'digabung', 'dipisah',
                                                   'bukan_sama', 'bukan_sama_dibatalkan', 'profil')),
            detail   jsonb NOT NULL DEFAULT '{}'::jsonb,
            oleh     text NOT NULL,
            oleh_key bigint,
            pada     timestamptz NOT NULL DEFAULT now(),
            alasan   text
        );
        CREATE INDEX kumkm_peristiwa_entitas ON kumkm_peristiwa (id_kumkm, id);
        CREATE INDEX kumkm_peristiwa_order ON kumkm_peristiwa (xid, id);

        -- The audit is evidence, like a record's history: no row of it is changed or removed.
        CREATE FUNCTION kumkm_peristiwa_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'kumkm_peristiwa is append-only';
        END $$;
        CREATE TRIGGER kumkm_peristiwa_no_rewrite BEFORE UPDATE OR DELETE ON kumkm_peristiwa
            FOR EACH ROW EXECUTE FUNCTION kumkm_peristiwa_immutable();

        CREATE TABLE kumkm_antrian (
            submission_id uuid PRIMARY KEY,
            pada          timestamptz NOT NULL DEFAULT now()
        );

        -- Every record whose status moves into or out of `diterima` waits for the linker. A
        -- statement trigger with transition tables, as the status counters (rekap_apply_delta):
        -- one INSERT per decision statement, whatever its size, in the decision's transaction.
        CREATE FUNCTION kumkm_antrian_isi() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO kumkm_antrian (submission_id)
                SELECT n.submission_id FROM new_rows n WHERE n.status = 'diterima'
                ON CONFLICT DO NOTHING;
            ELSE
                INSERT INTO kumkm_antrian (submission_id)
                SELECT n.submission_id FROM new_rows n JOIN old_rows o USING (submission_id)
                WHERE (n.status = 'diterima') <> (o.status = 'diterima')
                ON CONFLICT DO NOTHING;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER submissions_kumkm_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kumkm_antrian_isi();
        CREATE TRIGGER submissions_kumkm_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION kumkm_antrian_isi();

        -- The records accepted before this migration wait for the linker too (`kumkm registry
        -- tautkan` links them in batches, resumable, beside the live service).
        INSERT INTO kumkm_antrian (submission_id)
        SELECT submission_id FROM submissions WHERE status = 'diterima';
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TRIGGER submissions_kumkm_upd ON submissions;
        DROP TRIGGER submissions_kumkm_ins ON submissions;
        DROP FUNCTION kumkm_antrian_isi();
        DROP TABLE kumkm_antrian;
        DROP TRIGGER kumkm_peristiwa_no_rewrite ON kumkm_peristiwa;
        DROP FUNCTION kumkm_peristiwa_immutable();
        DROP TABLE kumkm_peristiwa, kumkm_bukan_sama, kumkm_kandidat, kumkm_pengenal, kumkm_tautan, kumkm;
        DROP SEQUENCE kumkm_nomor;
        """
    )
