"""A follow-up visit's finding, and the entity terms' counts kept by the writes (docs/registry-indikator.md).

    submissions.keadaan_usaha
                    'aktif', 'tutup' or 'pindah': what a follow-up record (the ODK Entities form
                    `pemutakhiran_kumkm`, docs/pemutakhiran.md) found at the usaha; NULL for a
                    census record, which by being filled in says the usaha is there. A record
                    found `tutup` or `pindah` is linked to its entity like any other, but the
                    entity counts as not found in that periode (`ada` false: usaha tidak
                    ditemukan), and its measures (skala, modal, the yes/no fields) are not read.
    kumkm_keadaan   each entity's state per periode: its latest decided linked diterima record
                    of that periode (diperbarui_pada, then submission_id, both descending: the
                    record the profile shows), with what the terms read of it
    kumkm_rekap     per (periode, kode_kabkota, jenis): every entity term's count or exact sum,
                    each entity counted in the wilayah of its state in the periode (of its state
                    in the periode before when it has none: tidak ditemukan)
    kumkm_rekap_tunda
                    linked records whose status moved into or out of diterima (or, diterima,
                    changed in a column a state reads: the service never does) and the linker
                    has not taken yet (filled by the decision's trigger, emptied by the refresh):
                    a read adds, for their entities, the state computed now minus the state kept,
                    so that a read is exact before the linker ran
    kumkm_rekap_segarkan(ids)
                    the refresh: the entities of these records (their link now, and the entity
                    whose kept state is one of them) get their states computed again, and every
                    count moves by (new contribution - old contribution), set-based, in the
                    caller's transaction; called by a statement trigger on kumkm_tautan (every
                    writer: the linker's batch, merge, split, and any to come) and by the
                    linker for the records of its batch whose link did not change
    kumkm_rekap_bangun()
                    everything above rebuilt from the links (this migration, `kumkm registry
                    rekap --bangun-ulang`)

Why counts kept by the writes: a national read of the terms computed from the links is linear
in the records of two rounds (671 ms at 300,000 records, tens of seconds at 10M); read from
kumkm_rekap it sums a few hundred rows per periode. The writers already lock the entities they
change; the refresh takes one transaction-level advisory lock (KUNCI_REKAP) so that two
refreshes never update the shared count rows in two orders (no deadlock), and computes each
entity's states after taking it (a new snapshot that sees every earlier refresh).

The CHECK of keadaan_usaha is added NOT VALID: the column is new, so every row holds NULL,
which satisfies it; scanning tens of millions of records under the ALTER's exclusive lock would
prove nothing. New and changed rows are checked as with any constraint.

Revision ID: 0013_kumkm_rekap
Revises: 0012_sync_id_kumkm
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0013_kumkm_rekap"
down_revision = "0012_sync_id_kumkm"
branch_labels = None
depends_on = None

# "kumkmrkp" in ASCII, 8 bytes: no other lock of the service uses it (the linker's turn is "kumkmlnk").
KUNCI_REKAP = int.from_bytes(b"kumkmrkp", "big", signed=True)

_KEADAAN_COLS = (
    "id_kumkm, periode, submission_id, jenis, kode_provinsi, kode_kabkota, ada, skala, punya_nib, izin_usaha, platform_digital, modal"
)

# Each state of the entities `{ids}` computed from the links now (the definition of
# app.indicators.queries.entitas_statement, which stays as the recount).
_SEGAR = """
    SELECT DISTINCT ON (t.id_kumkm, t.periode)
           t.id_kumkm, t.periode, t.submission_id, s.jenis, s.kode_provinsi, s.kode_kabkota,
           COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true) AS ada,
           CASE WHEN COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true) THEN s.skala_usaha END AS skala,
           CASE WHEN COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true) THEN s.punya_nib END AS punya_nib,
           CASE WHEN COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true) THEN s.izin_usaha END AS izin_usaha,
           CASE WHEN COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true) THEN s.platform_digital END AS platform_digital,
           CASE WHEN COALESCE(s.keadaan_usaha NOT IN ('tutup', 'pindah'), true)
                 AND (s.modal_sendiri IS NOT NULL OR s.modal_luar IS NOT NULL)
                THEN CAST(COALESCE(s.modal_sendiri, 0) AS numeric) + COALESCE(s.modal_luar, 0) END AS modal
    FROM kumkm_tautan t JOIN submissions s ON s.submission_id = t.submission_id AND s.status = 'diterima'
    WHERE {where}
    ORDER BY t.id_kumkm, t.periode, s.diperbarui_pada DESC, s.submission_id DESC
"""

_RANK = "array_position(ARRAY['mikro', 'kecil', 'menengah'], {0})"

# What each entity gives each periode t from a set of states `{src}` (columns _KEADAAN_COLS):
# its state in t paired with its state in t - 1, counted where the state in t is (in t - 1 when
# it has none in t). Integers 0/1 and exact numerics, so that rows add up.
_SUMBANGAN = f"""
    SELECT COALESCE(kini.periode, lalu.periode_berikut) AS periode,
           COALESCE(kini.kode_provinsi, lalu.kode_provinsi) AS kode_provinsi,
           COALESCE(kini.kode_kabkota, lalu.kode_kabkota) AS kode_kabkota,
           COALESCE(kini.jenis, lalu.jenis) AS jenis,
           CAST((kini.jenis = 'umkm' AND {_RANK.format("kini.skala")} > {_RANK.format("lalu.skala")}) IS TRUE AS integer) AS naik_kelas,
           CAST((kini.jenis = 'umkm' AND kini.ada AND lalu.skala = 'kecil') IS TRUE AS integer) AS kecil_ditemukan,
           CAST((kini.jenis = 'umkm' AND lalu.skala = 'kecil' AND kini.skala = 'menengah') IS TRUE AS integer) AS kecil_naik_kelas,
           CAST((kini.jenis = 'koperasi' AND kini.modal IS NOT NULL AND lalu.modal IS NOT NULL) IS TRUE AS integer) AS modal_n,
           CASE WHEN kini.jenis = 'koperasi' THEN kini.modal - lalu.modal END AS modal_kenaikan,
           CASE WHEN kini.jenis = 'koperasi' AND kini.modal IS NOT NULL THEN lalu.modal END AS modal_lalu,
           CAST((kini.ada AND kini.periode = kini.pertama) IS TRUE AS integer) AS baru,
           CAST((lalu.ada AND kini.ada IS NOT TRUE) IS TRUE AS integer) AS tidak_ditemukan,
           CAST((kini.jenis = 'umkm' AND kini.punya_nib AND lalu.punya_nib IS FALSE) IS TRUE AS integer) AS meningkat_punya_nib,
           CAST((kini.jenis = 'umkm' AND kini.izin_usaha AND lalu.izin_usaha IS FALSE) IS TRUE AS integer) AS meningkat_izin_usaha,
           CAST((kini.jenis = 'umkm' AND kini.platform_digital AND lalu.platform_digital IS FALSE) IS TRUE AS integer)
               AS meningkat_platform_digital
    FROM (SELECT k.*, min(k.periode) OVER (PARTITION BY k.id_kumkm) AS pertama FROM {{src}} k) kini
    FULL JOIN (SELECT k.*, CAST(CAST(k.periode AS integer) + 1 AS text) AS periode_berikut FROM {{src}} k) lalu
           ON lalu.id_kumkm = kini.id_kumkm AND lalu.periode_berikut = kini.periode
"""

_JUMLAH = (
    "naik_kelas, kecil_ditemukan, kecil_naik_kelas, modal_n, modal_kenaikan, modal_lalu, baru, tidak_ditemukan, "
    "meningkat_punya_nib, meningkat_izin_usaha, meningkat_platform_digital"
)
_JUMLAH_LIST = [c.strip() for c in _JUMLAH.split(",")]


def _sum(tanda: str = "") -> str:
    return ", ".join(f"sum({tanda}{c}) AS {c}" for c in _JUMLAH_LIST)


# The refresh and the rebuild (see the module's text).
_FUNCTIONS = f"""
    CREATE FUNCTION kumkm_keadaan_segar(ids text[]) RETURNS SETOF kumkm_keadaan LANGUAGE sql STABLE AS $$
        {_SEGAR.format(where="t.id_kumkm = ANY(ids)")}
    $$;

    CREATE FUNCTION kumkm_sumbangan_segar(ids text[])
    RETURNS TABLE (periode text, kode_provinsi text, kode_kabkota text, jenis text, naik_kelas integer,
                   kecil_ditemukan integer, kecil_naik_kelas integer, modal_n integer, modal_kenaikan numeric,
                   modal_lalu numeric, baru integer, tidak_ditemukan integer, meningkat_punya_nib integer,
                   meningkat_izin_usaha integer, meningkat_platform_digital integer)
    LANGUAGE sql STABLE AS $$
        WITH s AS MATERIALIZED (SELECT * FROM kumkm_keadaan_segar(ids))
        {_SUMBANGAN.format(src="s")}
    $$;

    CREATE FUNCTION kumkm_sumbangan_tersimpan(ids text[])
    RETURNS TABLE (periode text, kode_provinsi text, kode_kabkota text, jenis text, naik_kelas integer,
                   kecil_ditemukan integer, kecil_naik_kelas integer, modal_n integer, modal_kenaikan numeric,
                   modal_lalu numeric, baru integer, tidak_ditemukan integer, meningkat_punya_nib integer,
                   meningkat_izin_usaha integer, meningkat_platform_digital integer)
    LANGUAGE sql STABLE AS $$
        WITH s AS MATERIALIZED (SELECT * FROM kumkm_keadaan WHERE id_kumkm = ANY(ids))
        {_SUMBANGAN.format(src="s")}
    $$;

    CREATE FUNCTION kumkm_rekap_segarkan(ids uuid[]) RETURNS integer LANGUAGE plpgsql AS $$
    DECLARE
        e text[];
        segar kumkm_keadaan[];
    BEGIN
        IF ids IS NULL OR cardinality(ids) = 0 THEN
            RETURN 0;
        END IF;
        PERFORM pg_advisory_xact_lock({KUNCI_REKAP});
        -- Their pending marks first: a decision committed after this statement either is seen
        -- by the computation below (a later statement, a later snapshot) or writes its own mark.
        DELETE FROM kumkm_rekap_tunda WHERE submission_id = ANY(ids);
        e := ARRAY(SELECT t.id_kumkm FROM kumkm_tautan t WHERE t.submission_id = ANY(ids)
                   UNION SELECT k.id_kumkm FROM kumkm_keadaan k WHERE k.submission_id = ANY(ids));
        IF cardinality(e) = 0 THEN
            RETURN 0;
        END IF;
        segar := ARRAY(SELECT x FROM kumkm_keadaan_segar(e) x);
        WITH s AS (SELECT * FROM unnest(segar)), lama AS (SELECT * FROM kumkm_keadaan WHERE id_kumkm = ANY(e)),
        delta AS (
            SELECT periode, kode_kabkota, jenis, max(kode_provinsi) AS kode_provinsi, {_sum()}
            FROM ({_SUMBANGAN.format(src="s")}
                  UNION ALL
                  SELECT periode, kode_provinsi, kode_kabkota, jenis, -naik_kelas, -kecil_ditemukan, -kecil_naik_kelas,
                         -modal_n, -modal_kenaikan, -modal_lalu, -baru, -tidak_ditemukan, -meningkat_punya_nib,
                         -meningkat_izin_usaha, -meningkat_platform_digital
                  FROM ({_SUMBANGAN.format(src="lama")}) l) x
            GROUP BY periode, kode_kabkota, jenis
        )
        INSERT INTO kumkm_rekap (periode, kode_kabkota, jenis, kode_provinsi, {_JUMLAH})
        SELECT periode, kode_kabkota, jenis, kode_provinsi, {", ".join(f"COALESCE({c}, 0)" for c in _JUMLAH_LIST)}
        FROM delta
        WHERE {" OR ".join(f"COALESCE({c}, 0) <> 0" for c in _JUMLAH_LIST)}
        ORDER BY periode, kode_kabkota, jenis
        ON CONFLICT (periode, kode_kabkota, jenis) DO UPDATE SET
            {", ".join(f"{c} = kumkm_rekap.{c} + EXCLUDED.{c}" for c in _JUMLAH_LIST)};
        DELETE FROM kumkm_keadaan WHERE id_kumkm = ANY(e);
        INSERT INTO kumkm_keadaan ({_KEADAAN_COLS}) SELECT {_KEADAAN_COLS} FROM unnest(segar);
        RETURN cardinality(e);
    END $$;

    CREATE FUNCTION kumkm_rekap_bangun() RETURNS bigint LANGUAGE plpgsql AS $$
    DECLARE
        n bigint;
    BEGIN
        PERFORM pg_advisory_xact_lock({KUNCI_REKAP});
        DELETE FROM kumkm_rekap_tunda;
        DELETE FROM kumkm_rekap;
        DELETE FROM kumkm_keadaan;
        INSERT INTO kumkm_keadaan ({_KEADAAN_COLS})
        {_SEGAR.format(where="true")};
        GET DIAGNOSTICS n = ROW_COUNT;
        INSERT INTO kumkm_rekap (periode, kode_kabkota, jenis, kode_provinsi, {_JUMLAH})
        SELECT periode, kode_kabkota, jenis, max(kode_provinsi), {", ".join(f"COALESCE(sum({c}), 0)" for c in _JUMLAH_LIST)}
        FROM ({_SUMBANGAN.format(src="kumkm_keadaan")}) x
        GROUP BY periode, kode_kabkota, jenis;
        RETURN n;
    END $$;
"""

# Every statement that writes kumkm_tautan refreshes the entities of the records it wrote: the
# linker's batch, a merge, a split, and any writer to come, without having to know.
_TAUTAN_TRIGGER = """
    CREATE FUNCTION kumkm_tautan_rekap() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM kumkm_rekap_segarkan(ARRAY(SELECT n.submission_id FROM new_rows n));
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM kumkm_rekap_segarkan(ARRAY(SELECT o.submission_id FROM old_rows o));
        ELSE
            PERFORM kumkm_rekap_segarkan(ARRAY(
                SELECT n.submission_id FROM new_rows n JOIN old_rows o USING (submission_id)
                WHERE n.id_kumkm IS DISTINCT FROM o.id_kumkm OR n.periode IS DISTINCT FROM o.periode));
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER kumkm_tautan_rekap_ins AFTER INSERT ON kumkm_tautan
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kumkm_tautan_rekap();
    CREATE TRIGGER kumkm_tautan_rekap_upd AFTER UPDATE ON kumkm_tautan
        REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kumkm_tautan_rekap();
    CREATE TRIGGER kumkm_tautan_rekap_del AFTER DELETE ON kumkm_tautan
        REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kumkm_tautan_rekap();
"""

# kumkm_antrian_isi() of 0011; with `tunda`, a linked record whose status moved also gets its mark.
_ANTRIAN = """
    CREATE OR REPLACE FUNCTION kumkm_antrian_isi() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO kumkm_antrian (submission_id)
            SELECT n.submission_id FROM new_rows n WHERE n.status = 'diterima'
            ON CONFLICT DO NOTHING;
        ELSE
            {ubah}
        END IF;
        RETURN NULL;
    END $$;
"""
_ANTRIAN_LAMA = """
            INSERT INTO kumkm_antrian (submission_id)
            SELECT n.submission_id FROM new_rows n JOIN old_rows o USING (submission_id)
            WHERE (n.status = 'diterima') <> (o.status = 'diterima')
            ON CONFLICT DO NOTHING;
"""
# What a state reads of its record: a diterima record changed in any of these without a status
# change (the service never does that: only ditolak records are corrected; a writer to come
# might) is queued and marked too, so the read stays exact and the linker refreshes its entity.
_STATE_COLS = (
    "jenis, periode, kode_provinsi, kode_kabkota, skala_usaha, punya_nib, izin_usaha, platform_digital, "
    "modal_sendiri, modal_luar, keadaan_usaha, diperbarui_pada"
)
_ANTRIAN_TUNDA = f"""
            WITH ubah AS MATERIALIZED (
                SELECT n.submission_id FROM new_rows n JOIN old_rows o USING (submission_id)
                WHERE (n.status = 'diterima') <> (o.status = 'diterima')
                   OR (n.status = 'diterima'
                       AND ({", ".join("n." + c for c in _STATE_COLS.split(", "))})
                           IS DISTINCT FROM ({", ".join("o." + c for c in _STATE_COLS.split(", "))}))
            ), antri AS (
                INSERT INTO kumkm_antrian (submission_id) SELECT submission_id FROM ubah ON CONFLICT DO NOTHING
            )
            INSERT INTO kumkm_rekap_tunda (submission_id)
            SELECT u.submission_id FROM ubah u JOIN kumkm_tautan t USING (submission_id)
            ON CONFLICT DO NOTHING;
"""


def upgrade() -> None:
    run_script(
        f"""
        ALTER TABLE submissions ADD COLUMN keadaan_usaha text;
        ALTER TABLE submissions ADD CONSTRAINT submissions_keadaan_usaha_check
            CHECK (keadaan_usaha IN ('aktif', 'tutup', 'pindah')) NOT VALID;

        CREATE TABLE kumkm_keadaan (
            id_kumkm         text NOT NULL,
            periode          text NOT NULL,
            submission_id    uuid NOT NULL,
            jenis            text NOT NULL,
            kode_provinsi    text NOT NULL,
            kode_kabkota     text NOT NULL,
            ada              boolean NOT NULL,
            skala            text,
            punya_nib        boolean,
            izin_usaha       boolean,
            platform_digital boolean,
            modal            numeric,
            PRIMARY KEY (id_kumkm, periode)
        );
        CREATE INDEX kumkm_keadaan_rekaman ON kumkm_keadaan (submission_id);

        CREATE TABLE kumkm_rekap (
            periode                    text NOT NULL,
            kode_kabkota               text NOT NULL,
            jenis                      text NOT NULL,
            kode_provinsi              text NOT NULL,
            naik_kelas                 bigint NOT NULL DEFAULT 0,
            kecil_ditemukan            bigint NOT NULL DEFAULT 0,
            kecil_naik_kelas           bigint NOT NULL DEFAULT 0,
            modal_n                    bigint NOT NULL DEFAULT 0,
            modal_kenaikan             numeric NOT NULL DEFAULT 0,
            modal_lalu                 numeric NOT NULL DEFAULT 0,
            baru                       bigint NOT NULL DEFAULT 0,
            tidak_ditemukan            bigint NOT NULL DEFAULT 0,
            meningkat_punya_nib        bigint NOT NULL DEFAULT 0,
            meningkat_izin_usaha       bigint NOT NULL DEFAULT 0,
            meningkat_platform_digital bigint NOT NULL DEFAULT 0,
            PRIMARY KEY (periode, kode_kabkota, jenis)
        );

        CREATE TABLE kumkm_rekap_tunda (
            submission_id uuid PRIMARY KEY,
            pada          timestamptz NOT NULL DEFAULT now()
        );

        {_FUNCTIONS}
        {_TAUTAN_TRIGGER}
        {_ANTRIAN.format(ubah=_ANTRIAN_TUNDA)}

        SELECT kumkm_rekap_bangun();
        """
    )


def downgrade() -> None:
    run_script(
        f"""
        {_ANTRIAN.format(ubah=_ANTRIAN_LAMA)}
        DROP TRIGGER kumkm_tautan_rekap_ins ON kumkm_tautan;
        DROP TRIGGER kumkm_tautan_rekap_upd ON kumkm_tautan;
        DROP TRIGGER kumkm_tautan_rekap_del ON kumkm_tautan;
        DROP FUNCTION kumkm_tautan_rekap();
        DROP FUNCTION kumkm_rekap_bangun();
        DROP FUNCTION kumkm_rekap_segarkan(uuid[]);
        DROP FUNCTION kumkm_sumbangan_tersimpan(text[]);
        DROP FUNCTION kumkm_sumbangan_segar(text[]);
        DROP FUNCTION kumkm_keadaan_segar(text[]);
        DROP TABLE kumkm_rekap_tunda, kumkm_rekap, kumkm_keadaan;
        ALTER TABLE submissions DROP COLUMN keadaan_usaha;
        """
    )
