"""A partner's look-up in one statement (issue 30 §2, docs/mitra.md): the rate as GCRA, and the
registry's name normalisation in SQL.

    mitra_batas.jadwal      the holder's GCRA state (generic cell rate algorithm, a token bucket
                            kept as one number): the theoretical arrival time, in epoch seconds,
                            of its next request. A key of rate r may send r requests at once and
                            then one every 1/r s; a request is refused while jadwal - now > 1 - 1/r.
                            Replaces the fixed one-second window (detik, jumlah_detik), which let
                            2r through in a few milliseconds across a second's edge.
    mitra_batas.diterima    how many of the look-ups the row's latest statement counted: a
                            CALL carrying several look-ups of one holder (group commit,
                            app/mitra/service.py) reads what it was given from RETURNING.
    mitra_cek(...)          the single look-ups of a group in one CALL: the bounds committed
                            without waiting for the disk, then the look-up and its record,
                            committed durably when the CALL ends (MITRA_CEK below says why)
    kumkm_nama_normal(text) app/record/nama.py's normalise() in SQL: the look-up by NIK pemilik
                            compares the stored nama usaha with the one asked inside the
                            statement that also counts and records the look-up, so the answer
                            needs one round trip. tests/api/test_mitra_cepat.py checks it equals
                            the Python function on names with accents, punctuation, initials and
                            every prefix and suffix; a change to nama.py needs one here too.

Revision ID: 0020_mitra_jendela
Revises: 0019_satu_pemicu
Create Date: 2026-12-06
"""

import unicodedata

from migrations.helpers import run_script

revision = "0020_mitra_jendela"
down_revision = "0019_satu_pemicu"
branch_labels = None
depends_on = None


def _combining_class() -> str:
    """A regex bracket of the code points Python's unicodedata.combining() calls combining
    (912 in 188 ranges in Unicode 14): normalise() drops them after NFKD, whatever they are."""
    ranges: list[list[int]] = []
    for cp in range(0x110000):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "[" + "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]"


# The single look-ups of a group (app/mitra/service.py) in one CALL, one round trip, in two
# transactions: (1) each holder's bounds, committed WITHOUT waiting for the disk, so the
# holder's mitra_batas row is locked for microseconds, not across a disk flush (concurrent
# groups of one partner would otherwise queue one flush apiece); (2) the look-up of those let
# through and their access-log rows and audit counts, committed when the CALL ends, durably,
# before the service answers. A crash between the two forgets nothing answered: the look-ups
# counted in (1) were never answered (a little quota spent). p_soal: a jsonb array of {i,
# identity, kuota, per_detik, key_id, key_name, role, tujuan, dengan, nilai, nama, jenis,
# wilayah, alasan}; `alasan` set for a question the rules refused (counted and recorded, never
# looked up); `nama` normalised (kumkm_nama_normal's output). p_jawaban: one object per
# question, in `i` order: `hasil` null when beyond its holder's bounds (not counted, not
# recorded), else terdaftar / tidak_terdaftar / ditolak with what was found. Within a group a
# holder's look-ups pass in `i` order while its rate (GCRA, burst r) and quota allow.
MITRA_CEK = """
CREATE PROCEDURE mitra_cek(INOUT p_jawaban jsonb, p_soal jsonb, p_endpoint text)
LANGUAGE plpgsql AS $p$
DECLARE
    v_batas jsonb;
    v_hari date;
    v_sisa int;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    WITH kini AS MATERIALIZED (
        SELECT (clock_timestamp() AT TIME ZONE INTERVAL '+07:00')::date AS hari,
               extract(epoch FROM clock_timestamp())::float8 AS t,
               ceil(extract(epoch FROM (date_trunc('day', clock_timestamp() AT TIME ZONE INTERVAL '+07:00') + interval '1 day')
                    - (clock_timestamp() AT TIME ZONE INTERVAL '+07:00')))::int AS sisa_detik
    ),
    pemegang AS (
        SELECT q.identity, min(q.kuota) AS kuota, GREATEST(min(q.per_detik), 1)::float8 AS r, count(*) AS m
        FROM jsonb_to_recordset(p_soal) AS q(identity bigint, kuota bigint, per_detik int)
        GROUP BY q.identity
    ),
    naik AS (
        INSERT INTO mitra_batas AS b (identity_id, hari, jumlah_hari, jadwal, diterima)
        SELECT p.identity, kini.hari, n.n, kini.t + n.n / p.r, n.n
        FROM pemegang p CROSS JOIN kini
        CROSS JOIN LATERAL (SELECT LEAST(p.m, GREATEST(p.kuota, 0), floor(p.r + 1e-6))::int AS n) n
        ORDER BY p.identity
        ON CONFLICT (identity_id) DO UPDATE SET (hari, jumlah_hari, jadwal, diterima) = (
            SELECT g.hari, g.sudah + g.n, g.dasar + g.n / g.r, g.n
            FROM (
                SELECT s.*, LEAST(s.m, GREATEST(s.kuota - s.sudah, 0), GREATEST(floor(s.r * (1 - (s.dasar - s.t)) + 1e-6), 0))::int AS n
                FROM (
                    SELECT kini.hari, kini.t, p.r, p.m, p.kuota,
                           CASE WHEN b.hari = kini.hari THEN b.jumlah_hari ELSE 0 END AS sudah,
                           GREATEST(b.jadwal, kini.t) AS dasar
                    FROM pemegang p CROSS JOIN kini WHERE p.identity = b.identity_id
                ) s
            ) g
        )
        RETURNING b.identity_id, b.diterima, b.jumlah_hari - b.diterima AS sudah
    )
    SELECT (SELECT jsonb_agg(jsonb_build_object('identity', identity_id, 'diterima', diterima, 'sudah', sudah)) FROM naik),
           kini.hari, kini.sisa_detik
    INTO v_batas, v_hari, v_sisa
    FROM kini;
    COMMIT;

    WITH q AS MATERIALIZED (
        SELECT q.*, row_number() OVER (PARTITION BY q.identity ORDER BY q.i) AS ke
        FROM jsonb_to_recordset(p_soal) AS q(i int, identity bigint, kuota bigint, per_detik int, key_id bigint, key_name text,
                                             role text, tujuan text, dengan text, nilai text, nama text, jenis text,
                                             wilayah text, alasan text)
    ),
    naik AS MATERIALIZED (SELECT * FROM jsonb_to_recordset(v_batas) AS n(identity bigint, diterima int, sudah bigint)),
    izin AS MATERIALIZED (SELECT q.* FROM q JOIN naik ON naik.identity = q.identity WHERE q.ke <= naik.diterima),
    hit AS (
        SELECT z.i, p.id_kumkm
        FROM izin z JOIN kumkm_pengenal p ON p.jenis_pengenal = z.dengan AND p.nilai = z.nilai
        WHERE z.alasan IS NULL AND z.dengan <> 'nik_pemilik'
        UNION ALL
        SELECT z.i, t.id_kumkm
        FROM izin z
        JOIN kumkm_tautan t ON t.nik_pemilik = z.nilai
        JOIN submissions s ON s.submission_id = t.submission_id
        JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
        WHERE z.alasan IS NULL AND z.dengan = 'nik_pemilik' AND kumkm_nama_normal(coalesce(v.data->>'nama_usaha', '')) = z.nama
    ),
    -- of several entities (one NIK and name, two entries not yet merged): the latest periode,
    -- then the lowest id; only the key's jenis and wilayah; past its merges to the live entity
    ketemu AS (
        SELECT DISTINCT ON (h.i) h.i, k.id_kumkm, k.jenis, k.kode_kabkota, w.nama AS nama_kabkota,
               x.periode, x.status, x.skala_usaha, x.sektor
        FROM hit h
        JOIN izin z ON z.i = h.i
        JOIN kumkm k0 ON k0.id_kumkm = h.id_kumkm
        JOIN kumkm k ON k.id_kumkm = CASE WHEN k0.digabung_ke IS NULL THEN k0.id_kumkm ELSE (
            WITH RECURSIVE r AS (
                SELECT k0.digabung_ke AS id, 0 AS langkah
                UNION ALL
                SELECT m.digabung_ke, r.langkah + 1 FROM r JOIN kumkm m ON m.id_kumkm = r.id
                WHERE m.digabung_ke IS NOT NULL AND r.langkah < 1000
            )
            SELECT id FROM r ORDER BY langkah DESC LIMIT 1) END
        LEFT JOIN wilayah w ON w.kode = k.kode_kabkota
        LEFT JOIN LATERAL (
            SELECT t.periode, s.status, s.skala_usaha, s.sektor
            FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id
            WHERE t.id_kumkm = k.id_kumkm
            ORDER BY t.periode DESC, s.diperbarui_pada DESC, t.submission_id
            LIMIT 1
        ) x ON true
        WHERE k.jenis = z.jenis
          AND (z.wilayah IS NULL OR k.kode_kabkota = z.wilayah OR starts_with(k.kode_kabkota, z.wilayah || '.'))
        ORDER BY h.i, coalesce(x.periode, '') COLLATE "C" DESC, k.id_kumkm COLLATE "C"
    ),
    hasil AS MATERIALIZED (
        SELECT z.*, f.id_kumkm AS f_id, f.jenis AS f_jenis, f.kode_kabkota, f.nama_kabkota, f.periode, f.status,
               f.skala_usaha, f.sektor,
               CASE WHEN z.alasan IS NOT NULL THEN 'ditolak' WHEN f.i IS NULL THEN 'tidak_terdaftar' ELSE 'terdaftar' END AS hasil
        FROM izin z LEFT JOIN ketemu f ON f.i = z.i
    ),
    -- one access-log row per look-up (key, purpose, outcome; never a NIK or a name)
    log AS (
        INSERT INTO access_log (key_id, key_name, role, endpoint, detail, rows)
        SELECT key_id, key_name, role, p_endpoint,
               jsonb_strip_nulls(jsonb_build_object(
                   'tujuan', tujuan, 'hasil', hasil, 'dengan', dengan,
                   'nilai', CASE WHEN dengan <> 'nik_pemilik' THEN nilai END, 'id_kumkm', f_id, 'alasan', alasan)),
               1
        FROM hasil ORDER BY i
    ),
    pakai AS (
        INSERT INTO mitra_pemakaian AS p (identity_id, hari, tujuan, slot, terdaftar, tidak, ditolak)
        SELECT identity, v_hari, tujuan, pg_backend_pid() % 16, count(*) FILTER (WHERE hasil = 'terdaftar'),
               count(*) FILTER (WHERE hasil = 'tidak_terdaftar'), count(*) FILTER (WHERE hasil = 'ditolak')
        FROM hasil GROUP BY identity, tujuan ORDER BY identity, tujuan
        ON CONFLICT (identity_id, hari, tujuan, slot) DO UPDATE SET
            terdaftar = p.terdaftar + excluded.terdaftar,
            tidak = p.tidak + excluded.tidak,
            ditolak = p.ditolak + excluded.ditolak
    )
    SELECT jsonb_agg(jsonb_build_object(
               'i', q.i, 'hasil', h.hasil, 'lewat_kuota', q.kuota - n.sudah < q.ke, 'sudah_hari', n.sudah, 'sisa_detik', v_sisa,
               'id_kumkm', h.f_id, 'jenis', h.f_jenis, 'kode_kabkota', h.kode_kabkota, 'nama_kabkota', h.nama_kabkota,
               'periode', h.periode, 'status', h.status, 'skala_usaha', h.skala_usaha, 'sektor', h.sektor) ORDER BY q.i)
    INTO p_jawaban
    FROM q JOIN naik n ON n.identity = q.identity LEFT JOIN hasil h ON h.i = q.i;
END
$p$;
"""


def upgrade() -> None:
    run_script(
        f"""
        ALTER TABLE mitra_batas
            ADD COLUMN jadwal double precision NOT NULL DEFAULT 0,
            ADD COLUMN diterima integer NOT NULL DEFAULT 0,
            DROP COLUMN detik,
            DROP COLUMN jumlah_detik;

        CREATE FUNCTION kumkm_nama_normal(nama text) RETURNS text
        LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $f$
        DECLARE
            teks text;
            tokens text[];
            joined text[] := '{{}}';
            run text[] := '{{}}';
            tok text;
            p text;
            n int;
            changed boolean := true;
        BEGIN
            teks := regexp_replace(normalize(nama, NFKD), '{_combining_class()}', '', 'g');
            teks := btrim(regexp_replace(lower(teks), '[^0-9a-z]+', ' ', 'g'));
            IF teks = '' THEN
                RETURN '';
            END IF;
            -- runs of single letters are one abbreviation ("u d" is "ud")
            FOREACH tok IN ARRAY string_to_array(teks, ' ') || ARRAY[''] LOOP
                IF length(tok) = 1 AND tok ~ '^[a-z]$' THEN
                    run := run || tok;
                    CONTINUE;
                END IF;
                IF cardinality(run) > 1 THEN
                    joined := joined || array_to_string(run, '');
                ELSE
                    joined := joined || run;
                END IF;
                run := '{{}}';
                IF tok <> '' THEN
                    joined := joined || tok;
                END IF;
            END LOOP;
            tokens := joined;
            -- nama.AWALAN, longest first, then nama.AKHIRAN; again until nothing changes
            WHILE changed LOOP
                changed := false;
                FOREACH p IN ARRAY ARRAY['warung makan', 'rumah makan', 'toko', 'warung', 'wr', 'warmak', 'kedai', 'ud',
                                         'cv', 'pt', 'koperasi', 'kop', 'ksp', 'kud', 'bumdes', 'usaha', 'rm'] LOOP
                    n := cardinality(string_to_array(p, ' '));
                    IF cardinality(tokens) > n AND array_to_string(tokens[1:n], ' ') = p THEN
                        tokens := tokens[n + 1:];
                        changed := true;
                        EXIT;
                    END IF;
                END LOOP;
                IF cardinality(tokens) > 1 AND tokens[cardinality(tokens)] = 'tbk' THEN
                    tokens := tokens[1:cardinality(tokens) - 1];
                    changed := true;
                END IF;
            END LOOP;
            RETURN array_to_string(tokens, ' ');
        END
        $f$;
        """
        + MITRA_CEK
    )


def downgrade() -> None:
    run_script(
        """
        DROP PROCEDURE mitra_cek(jsonb, jsonb, text);
        DROP FUNCTION kumkm_nama_normal(text);
        ALTER TABLE mitra_batas
            DROP COLUMN jadwal,
            DROP COLUMN diterima,
            ADD COLUMN detik bigint NOT NULL DEFAULT 0,
            ADD COLUMN jumlah_detik integer NOT NULL DEFAULT 0 CHECK (jumlah_detik >= 0);
        """
    )
