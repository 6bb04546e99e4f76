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
        DROP INDEX kumkm_berubah;
        DROP TABLE kumkm_pemutakhiran;
        DROP FUNCTION kumkm_pemutakhiran_isi();
        """
    )
