"""A partner's look-up in one statement (issue 30 §2, docs/mitra.md): the rate as GCRA, and the
registry's name normalisation in SQL.

    mitra_batas.jadwal      the holder's GCRA state (generic cell rate algorithm, a token bucket
                            kept as one number): the theoretical arrival time, in epoch seconds,
                            of its next request. A key of rate r may send r requests at once and
                            then one every 1/r s; a request is refused while jadwal - now > 1 - 1/r.
                            Replaces the fixed one-second window (detik, jumlah_detik), which let
                            2r through in a few milliseconds across a second's edge.
    mitra_batas.diterima    how many of the look-ups the row's latest statement counted: a
                            statement carrying several look-ups of one holder (group commit,
                            app/mitra/service.py) reads what it was given from RETURNING.
    kumkm_nama_normal(text) app/record/nama.py's normalise() in SQL: the look-up by NIK pemilik
                            compares the stored nama usaha with the one asked inside the
                            statement that also counts and records the look-up, so the answer
                            needs one round trip. tests/api/test_mitra_cepat.py checks it equals
                            the Python function on names with accents, punctuation, initials and
                            every prefix and suffix; a change to nama.py needs one here too.

Revision ID: 0020_mitra_jendela
Revises: 0018_lokasi
Create Date: 2026-12-06
"""

import unicodedata

from migrations.helpers import run_script

revision = "0020_mitra_jendela"
down_revision = "0018_lokasi"
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
    )


def downgrade() -> None:
    run_script(
        """
        DROP FUNCTION kumkm_nama_normal(text);
        ALTER TABLE mitra_batas
            DROP COLUMN jadwal,
            DROP COLUMN diterima,
            ADD COLUMN detik bigint NOT NULL DEFAULT 0,
            ADD COLUMN jumlah_detik integer NOT NULL DEFAULT 0 CHECK (jumlah_detik >= 0);
        """
    )
