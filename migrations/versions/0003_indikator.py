"""Performance indicators (IKU/IKK): tujuan and sasaran, indikator definitions, yearly targets
and entered realisasi with full history, and predikat scales per wilayah.

Owner and wilayah columns hold a Kemendagri code or the word `nasional`; they carry no foreign
key to `wilayah` because `nasional` is not a row there (the service checks codes against the
wilayah index instead).

Revision ID: 0003_indikator
Revises: 0002
Create Date: 2026-11-23
"""
from migrations.helpers import run_script

revision = "0003_indikator"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        -- A dinas's Renstra: tujuan -> sasaran -> indikator, all owned by one wilayah (pemilik).
        CREATE TABLE tujuan (
            id          bigserial PRIMARY KEY,
            pemilik     text NOT NULL,
            kode        text NOT NULL,
            nama        text NOT NULL,
            dibuat_oleh text NOT NULL,
            dibuat_pada timestamptz NOT NULL DEFAULT now(),
            diubah_pada timestamptz NOT NULL DEFAULT now(),
            UNIQUE (pemilik, kode)
        );

        CREATE TABLE sasaran (
            id          bigserial PRIMARY KEY,
            pemilik     text NOT NULL,
            tujuan_id   bigint REFERENCES tujuan (id),
            kode        text NOT NULL,
            nama        text NOT NULL,
            dibuat_oleh text NOT NULL,
            dibuat_pada timestamptz NOT NULL DEFAULT now(),
            diubah_pada timestamptz NOT NULL DEFAULT now(),
            UNIQUE (pemilik, kode)
        );

        CREATE TABLE indikator (
            id           bigserial PRIMARY KEY,
            pemilik      text NOT NULL,
            kode         text NOT NULL,
            nama         text NOT NULL,
            jenis        text NOT NULL DEFAULT 'iku' CHECK (jenis IN ('iku', 'ikk', 'lainnya')),
            sasaran_id   bigint NOT NULL REFERENCES sasaran (id),
            satuan       text NOT NULL CHECK (satuan IN ('persen', 'unit', 'orang', 'rupiah', 'indeks')),
            polaritas    text NOT NULL CHECK (polaritas IN ('naik', 'turun')),
            level        text NOT NULL CHECK (level IN ('nasional', 'provinsi', 'kabkota')),
            sumber       text NOT NULL CHECK (sumber IN ('manual', 'registry')),
            formula      text,
            parameter    jsonb NOT NULL DEFAULT '{}'::jsonb,
            renstra_mulai integer NOT NULL,
            renstra_akhir integer NOT NULL,
            aktif        boolean NOT NULL DEFAULT true,
            dibuat_oleh  text NOT NULL,
            dibuat_pada  timestamptz NOT NULL DEFAULT now(),
            diubah_pada  timestamptz NOT NULL DEFAULT now(),
            UNIQUE (pemilik, kode),
            CHECK ((sumber = 'registry') = (formula IS NOT NULL)),
            CHECK (renstra_akhir >= renstra_mulai)
        );
        CREATE INDEX indikator_sasaran ON indikator (sasaran_id);

        -- Targets and entered realisasi: every revision is a new row; the latest one counts.
        CREATE TABLE indikator_target (
            id            bigserial PRIMARY KEY,
            indikator_id  bigint NOT NULL REFERENCES indikator (id),
            kode_wilayah  text NOT NULL,
            tahun         integer NOT NULL,
            nilai         numeric NOT NULL,
            keterangan    text,
            dibuat_oleh   text NOT NULL,
            dibuat_key    bigint,
            dibuat_pada   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX indikator_target_lookup ON indikator_target (indikator_id, kode_wilayah, tahun, id DESC);

        CREATE TABLE indikator_realisasi (
            id            bigserial PRIMARY KEY,
            indikator_id  bigint NOT NULL REFERENCES indikator (id),
            kode_wilayah  text NOT NULL,
            tahun         integer NOT NULL,
            nilai         numeric NOT NULL,
            sumber        text NOT NULL,
            catatan       text,
            dibuat_oleh   text NOT NULL,
            dibuat_key    bigint,
            dibuat_pada   timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX indikator_realisasi_lookup
            ON indikator_realisasi (indikator_id, kode_wilayah, tahun, id DESC);

        CREATE FUNCTION indikator_riwayat_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END $$;
        CREATE TRIGGER indikator_target_no_rewrite BEFORE UPDATE OR DELETE ON indikator_target
            FOR EACH ROW EXECUTE FUNCTION indikator_riwayat_immutable();
        CREATE TRIGGER indikator_realisasi_no_rewrite BEFORE UPDATE OR DELETE ON indikator_realisasi
            FOR EACH ROW EXECUTE FUNCTION indikator_riwayat_immutable();

        -- Predikat bands. The default (Permendagri 86/2017) is reference data; a wilayah may
        -- set its own scale, which applies to it and to every wilayah under it that has none.
        -- `batas_bawah` is the lowest capaian (percent) of the band; NULL is the catch-all.
        CREATE TABLE predikat_bawaan (
            urutan      smallint PRIMARY KEY,
            batas_bawah numeric,
            predikat    text NOT NULL
        );
        INSERT INTO predikat_bawaan (urutan, batas_bawah, predikat) VALUES
            (1, 91, 'sangat tinggi'), (2, 76, 'tinggi'), (3, 66, 'sedang'), (4, 51, 'rendah'),
            (5, NULL, 'sangat rendah');

        -- Each change of a wilayah's scale is a new row (history kept); `dihapus` marks a
        -- return to the inherited scale.
        CREATE TABLE predikat_skala (
            id           bigserial PRIMARY KEY,
            kode_wilayah text NOT NULL,
            nama         text,
            dihapus      boolean NOT NULL DEFAULT false,
            dibuat_oleh  text NOT NULL,
            dibuat_pada  timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX predikat_skala_lookup ON predikat_skala (kode_wilayah, id DESC);

        CREATE TABLE predikat_skala_band (
            skala_id    bigint NOT NULL REFERENCES predikat_skala (id),
            urutan      smallint NOT NULL,
            batas_bawah numeric,
            predikat    text NOT NULL,
            PRIMARY KEY (skala_id, urutan)
        );
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE predikat_skala_band, predikat_skala, predikat_bawaan, indikator_realisasi,
            indikator_target, indikator, sasaran, tujuan CASCADE;
        DROP FUNCTION IF EXISTS indikator_riwayat_immutable();
        """
    )
