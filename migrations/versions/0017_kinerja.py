"""Enumerator performance (kinerja, issue 31 §2; docs/kampanye.md "Enumerators and quality").

    kinerja_enumerator records per (periode, kabupaten/kota, enumerator_id, the key that sent
                       them) by status: masuk, diterima, ditolak. Kept by statement triggers on
                       submissions in the writer's own statement, as rekap_status is, so it
                       cannot drift from a recount; the enumerator table of a provinsi with
                       millions of records reads one row per enumerator instead of the records.
    kinerja_tolak      one row per record now `ditolak`, with the reason of the decision that
                       made it so (the record's kabupaten/kota and enumerator copied): the
                       spread of rejection reasons without reading the history. Kept by a
                       statement trigger on submission_history: a decision to ditolak adds the
                       row, any transition out of ditolak (a reversal, a correction) removes it.
                       A record cannot move while it is ditolak (only a correction moves one, and
                       that takes it to masuk first), so the copied columns stay the record's.
    submissions.nik_kunci
                       the first 16 hex digits of SHA-256 of the NIK pemilik (UMKM; NULL for a
                       koperasi): the flag "the same NIK on many records" compares these, never
                       the NIK, and never reads the stored versions. It is no more than the
                       versions beside it already hold, and no answer shows it.
    submissions_kinerja
                       the index the table's per-enumerator details read for one page of
                       enumerators (median time from capture to arrival, last arrival, the
                       densest ten minutes, the most repeated NIK, days active) without touching
                       the heap.

A record's local day (days active) is its capture instant's date in its provinsi's zone (WIB,
WITA, WIT), by kumkm_zona_jam() of migration 0016 (the SQL twin of app/record/zona.py), read
with the page's details.

Revision ID: 0017_kinerja
Revises: 0016_kampanye
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0017_kinerja"
down_revision = "0016_kampanye"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE submissions ADD COLUMN nik_kunci text;
        UPDATE submissions s
           SET nik_kunci = left(encode(sha256(convert_to(v.data->>'nik_pemilik', 'UTF8')), 'hex'), 16)
          FROM submission_versions v
         WHERE v.submission_id = s.submission_id AND v.version = s.version AND s.jenis = 'umkm'
           AND v.data->>'nik_pemilik' IS NOT NULL;
        CREATE INDEX submissions_kinerja ON submissions (periode, kode_provinsi, enumerator_id, captured_at)
            INCLUDE (kode_kabkota, dibuat_pada, nik_kunci, dibuat_oleh_key);

        CREATE TABLE kinerja_enumerator (
            periode       text NOT NULL,
            kode_kabkota  text NOT NULL,
            enumerator_id text NOT NULL,
            kunci         bigint NOT NULL,   -- dibuat_oleh_key; 0 for records of the console
            masuk         bigint NOT NULL DEFAULT 0,
            diterima      bigint NOT NULL DEFAULT 0,
            ditolak       bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (periode, kode_kabkota, enumerator_id, kunci)
        );
        CREATE INDEX kinerja_enumerator_kunci ON kinerja_enumerator (kunci, periode);

        """
        # One function per event: each names only the transition tables its event has.
        + "".join(
            f"""
        CREATE FUNCTION kinerja_apply_{ev}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO kinerja_enumerator AS k (periode, kode_kabkota, enumerator_id, kunci, masuk, diterima, ditolak)
            SELECT periode, kode_kabkota, enumerator_id, kunci,
                   COALESCE(sum(d) FILTER (WHERE status = 'masuk'), 0),
                   COALESCE(sum(d) FILTER (WHERE status = 'diterima'), 0),
                   COALESCE(sum(d) FILTER (WHERE status = 'ditolak'), 0)
            FROM ({src}) AS x
            GROUP BY 1, 2, 3, 4
            -- an update that moved nothing here (a status unchanged, another column) writes nothing
            HAVING sum(d) FILTER (WHERE status = 'masuk') <> 0
                OR sum(d) FILTER (WHERE status = 'diterima') <> 0 OR sum(d) FILTER (WHERE status = 'ditolak') <> 0
            ORDER BY 1, 2, 3, 4
            ON CONFLICT (periode, kode_kabkota, enumerator_id, kunci) DO UPDATE
               SET masuk = k.masuk + excluded.masuk, diterima = k.diterima + excluded.diterima,
                   ditolak = k.ditolak + excluded.ditolak;
            RETURN NULL;
        END $$;"""
            for ev, src in (
                ("ins", _rows("new_rows", 1)),
                ("upd", _rows("new_rows", 1) + " UNION ALL " + _rows("old_rows", -1)),
                ("del", _rows("old_rows", -1)),
            )
        )
        + """
        CREATE TRIGGER submissions_kinerja_ins AFTER INSERT ON submissions
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kinerja_apply_ins();
        CREATE TRIGGER submissions_kinerja_upd AFTER UPDATE ON submissions
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION kinerja_apply_upd();
        CREATE TRIGGER submissions_kinerja_del AFTER DELETE ON submissions
            REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kinerja_apply_del();

        INSERT INTO kinerja_enumerator (periode, kode_kabkota, enumerator_id, kunci, masuk, diterima, ditolak)
        SELECT periode, kode_kabkota, enumerator_id, COALESCE(dibuat_oleh_key, 0),
               count(*) FILTER (WHERE status = 'masuk'), count(*) FILTER (WHERE status = 'diterima'),
               count(*) FILTER (WHERE status = 'ditolak')
        FROM submissions GROUP BY 1, 2, 3, 4;

        CREATE TABLE kinerja_tolak (
            submission_id uuid PRIMARY KEY,
            periode       text NOT NULL,
            kode_kabkota  text NOT NULL,
            enumerator_id text NOT NULL,
            kunci         bigint NOT NULL,
            alasan_kode   text
        );
        CREATE INDEX kinerja_tolak_enumerator ON kinerja_tolak (periode, kode_kabkota, enumerator_id, alasan_kode);

        -- After the whole statement (a decision's CTEs included), so the record as updated is
        -- visible: the history row says the transition, the record where it lies.
        CREATE FUNCTION kinerja_tolak_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            DELETE FROM kinerja_tolak t USING new_rows h
             WHERE h.dari = 'ditolak' AND t.submission_id = h.submission_id;
            INSERT INTO kinerja_tolak AS t (submission_id, periode, kode_kabkota, enumerator_id, kunci, alasan_kode)
            SELECT DISTINCT ON (h.submission_id) h.submission_id, s.periode, s.kode_kabkota, s.enumerator_id,
                   COALESCE(s.dibuat_oleh_key, 0), h.alasan_kode
            FROM new_rows h JOIN submissions s ON s.submission_id = h.submission_id
            WHERE h.ke = 'ditolak' AND s.status = 'ditolak'
            ORDER BY h.submission_id, h.id DESC
            ON CONFLICT (submission_id) DO UPDATE SET alasan_kode = excluded.alasan_kode;
            RETURN NULL;
        END $$;
        CREATE TRIGGER submission_history_kinerja AFTER INSERT ON submission_history
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kinerja_tolak_apply();

        INSERT INTO kinerja_tolak (submission_id, periode, kode_kabkota, enumerator_id, kunci, alasan_kode)
        SELECT s.submission_id, s.periode, s.kode_kabkota, s.enumerator_id, COALESCE(s.dibuat_oleh_key, 0), h.alasan_kode
        FROM submissions s
        CROSS JOIN LATERAL (
            SELECT alasan_kode FROM submission_history h
            WHERE h.submission_id = s.submission_id AND h.ke = 'ditolak'
            ORDER BY h.id DESC LIMIT 1
        ) h
        WHERE s.status = 'ditolak';
        """
    )


def _rows(table: str, d: int) -> str:
    return f"SELECT periode, kode_kabkota, enumerator_id, COALESCE(dibuat_oleh_key, 0) AS kunci, status, {d} AS d FROM {table}"


def downgrade() -> None:
    run_script(
        """
        DROP TRIGGER submission_history_kinerja ON submission_history;
        DROP FUNCTION kinerja_tolak_apply();
        DROP TABLE kinerja_tolak;
        DROP TRIGGER submissions_kinerja_del ON submissions;
        DROP TRIGGER submissions_kinerja_upd ON submissions;
        DROP TRIGGER submissions_kinerja_ins ON submissions;
        DROP FUNCTION kinerja_apply_ins();
        DROP FUNCTION kinerja_apply_upd();
        DROP FUNCTION kinerja_apply_del();
        DROP TABLE kinerja_enumerator;
        DROP INDEX submissions_kinerja;
        ALTER TABLE submissions DROP COLUMN nik_kunci;
        """
    )
