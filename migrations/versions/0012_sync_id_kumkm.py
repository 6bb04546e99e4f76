"""The walidata's record line says which entity the record belongs to: `id_kumkm` (docs/sync.md).

    sync_record_line()      one parameter more, `id_kumkm` (text, NULL until linked), rendered as
                            `"id_kumkm":...` right before `"pii_masked"`: every field a consumer
                            knows keeps its place and order, and the line still ends with
                            `,"pii_masked":false,"data":{...}}`, the shape the service masks by
                            (app.record.flat.mask_lines)
    sync_records.id_kumkm   the id the stored line carries, so that a decision or a correction,
                            which rewrites the line from the record, keeps it (`r.id_kumkm` of the
                            row it updates: no look-up on the decision's path)
    sync_line_id_kumkm()    the stored line with another id_kumkm, changed in place by replace()
                            (the rest of the line is as stored)
    changes                 two more kinds of change: `ditautkan` (the record got an id_kumkm or
                            another one: linked, merged, split) and `dilepas` (its link was removed)
    kumkm_tautan_berubah()  the one call every writer of `kumkm_tautan` makes in its own
                            transaction, with the submission_ids whose link it may have changed:
                            for each record whose line says another id than kumkm_tautan now does,
                            the line gets the new id and the feed a change, so the walidata gets
                            the record again with its id, exactly once per linking

Why a function the linker calls rather than a trigger on kumkm_tautan: a merge moves many links
in one statement and a split moves them back; the function runs once per batch, set-based, and
the writers (the linker, the verifikator's actions) say when their links are final.

Why the line is changed in place rather than rendered again from the record: the function locks
the named lines first (in key order, so two callers cannot deadlock), and the stored line is then
the current one (a decision on one of these records either committed before, and is in it, or
waits for this transaction, then rewrites the line from its own record with the new
`r.id_kumkm`); rendering again would read each record's current version and content for nothing.

Every stored line is given `"id_kumkm":null` here (one UPDATE of sync_records, like 0007); the
linker's migration job (`kumkm registry tautkan`) then sets the ids of the accepted records.

`changes`' CHECK is replaced NOT VALID: the rows already there satisfy the old, narrower list,
so scanning them proves nothing, and a table of tens of millions of changes is not read under an
exclusive lock for it.

Revision ID: 0012_sync_id_kumkm
Revises: 0011_kumkm_registry
Create Date: 2026-12-06
"""
from migrations.helpers import run_script

revision = "0012_sync_id_kumkm"
down_revision = "0011_kumkm_registry"
branch_labels = None
depends_on = None

_FMT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'   # app.core.timefmt.SQL_FORMAT, frozen as of this revision

_ARGS = ("submission_id uuid, periode text, jenis text, kode_wilayah text, kode_provinsi text, "
         "kode_kabkota text, status text, version integer, enumerator_id text, "
         "captured_at timestamptz, skala_usaha text, sektor text, dibuat_oleh text, "
         "dibuat_pada timestamptz, diperbarui_pada timestamptz, data jsonb")
_SIGNATURE = ("uuid, text, text, text, text, text, text, integer, text, timestamptz, text, text, "
              "text, timestamptz, timestamptz, jsonb")


def _line_function(with_id: bool) -> str:
    """sync_record_line() as 0010 defined it, with `id_kumkm` before `pii_masked` when with_id."""
    ts = f"to_char({{}} AT TIME ZONE 'UTC', '{_FMT}')"
    args = _ARGS + (", id_kumkm text" if with_id else "")
    id_field = "|| ',\"id_kumkm\":' || COALESCE(to_json(id_kumkm)::text, 'null')" if with_id else ""
    return f"""
        CREATE FUNCTION sync_record_line({args})
        RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT '{{"submission_id":"' || submission_id::text
                || '","periode":' || to_json(periode)::text
                || ',"jenis":' || to_json(jenis)::text
                || ',"kode_wilayah":' || to_json(kode_wilayah)::text
                || ',"kode_provinsi":' || to_json(kode_provinsi)::text
                || ',"kode_kabkota":' || to_json(kode_kabkota)::text
                || ',"status":' || to_json(status)::text
                || ',"version":' || version::text
                || ',"enumerator_id":' || to_json(enumerator_id)::text
                || ',"captured_at":"' || {ts.format("captured_at")} || '"'
                || ',"skala_usaha":' || COALESCE(to_json(skala_usaha)::text, 'null')
                || ',"sektor":' || COALESCE(to_json(sektor)::text, 'null')
                || ',"dibuat_oleh":' || to_json(dibuat_oleh)::text
                || ',"dibuat_pada":"' || {ts.format("dibuat_pada")} || '"'
                || ',"diperbarui_pada":"' || {ts.format("diperbarui_pada")} || '"'
                {id_field}
                || ',"pii_masked":false,"data":' || data::text || '}}'
        $$;
    """


def upgrade() -> None:
    run_script(
        f"""
        DROP FUNCTION sync_record_line({_SIGNATURE});
        {_line_function(with_id=True)}

        -- The stored line with another id: `,"id_kumkm":<lama>,"pii_masked":false,"data":` is in a
        -- stored line once, as the record's own fields. Nowhere else: inside a JSON string a quote
        -- is escaped (`,"` cannot occur), and in the content (jsonb, whose keys are written
        -- shortest first) no key "data" can follow a key "pii_masked". replace() works on bytes
        -- (about 0.5 µs a line; the same with strpos/substr, which count characters, cost 35 µs).
        CREATE FUNCTION sync_line_id_kumkm(line text, lama text, baru text)
        RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT replace(line,
                           ',"id_kumkm":' || COALESCE(to_json(lama)::text, 'null') || ',"pii_masked":false,"data":',
                           ',"id_kumkm":' || COALESCE(to_json(baru)::text, 'null') || ',"pii_masked":false,"data":')
        $$;

        -- Every stored line gets "id_kumkm":null before its flag (the same uniqueness as above).
        ALTER TABLE sync_records ADD COLUMN id_kumkm text;
        UPDATE sync_records
           SET line = replace(line, ',"pii_masked":false,"data":', ',"id_kumkm":null,"pii_masked":false,"data":');

        ALTER TABLE changes DROP CONSTRAINT changes_jenis_perubahan_check;
        ALTER TABLE changes ADD CONSTRAINT changes_jenis_perubahan_check
            CHECK (jenis_perubahan IN ('dibuat', 'dikoreksi', 'status', 'ditautkan', 'dilepas')) NOT VALID;

        CREATE FUNCTION kumkm_tautan_berubah(ids uuid[]) RETURNS integer LANGUAGE plpgsql AS $$
        DECLARE
            n integer;
        BEGIN
            -- The lines first, in key order: from here on each is the record's current line.
            PERFORM 1 FROM sync_records WHERE submission_id = ANY(ids) ORDER BY submission_id FOR UPDATE;
            -- A new statement, a new snapshot: the records as of the locks.
            WITH cur AS (
                SELECT s.submission_id, s.version, s.status, s.periode, s.kode_provinsi, s.kode_kabkota,
                       (SELECT t.id_kumkm FROM kumkm_tautan t WHERE t.submission_id = s.submission_id) AS id_kumkm
                FROM submissions s
                WHERE s.submission_id = ANY(ids)
            ), upd AS (
                UPDATE sync_records r
                   SET id_kumkm = cur.id_kumkm, line = sync_line_id_kumkm(r.line, r.id_kumkm, cur.id_kumkm)
                FROM cur
                WHERE r.submission_id = cur.submission_id AND r.id_kumkm IS DISTINCT FROM cur.id_kumkm
                RETURNING cur.*
            )
            INSERT INTO changes (submission_id, version, status, jenis_perubahan, periode,
                                 kode_provinsi, kode_kabkota)
            SELECT submission_id, version, status,
                   CASE WHEN id_kumkm IS NULL THEN 'dilepas' ELSE 'ditautkan' END,
                   periode, kode_provinsi, kode_kabkota
            FROM upd ORDER BY submission_id;
            GET DIAGNOSTICS n = ROW_COUNT;
            RETURN n;
        END $$;
        """
    )


def downgrade() -> None:
    run_script(
        f"""
        DROP FUNCTION kumkm_tautan_berubah(uuid[]);
        DELETE FROM changes WHERE jenis_perubahan IN ('ditautkan', 'dilepas');
        ALTER TABLE changes DROP CONSTRAINT changes_jenis_perubahan_check;
        ALTER TABLE changes ADD CONSTRAINT changes_jenis_perubahan_check
            CHECK (jenis_perubahan IN ('dibuat', 'dikoreksi', 'status'));
        UPDATE sync_records
           SET line = replace(line, ',"id_kumkm":' || COALESCE(to_json(id_kumkm)::text, 'null') || ',"pii_masked":false,"data":',
                              ',"pii_masked":false,"data":');
        ALTER TABLE sync_records DROP COLUMN id_kumkm;
        DROP FUNCTION sync_line_id_kumkm(text, text, text);
        DROP FUNCTION sync_record_line({_SIGNATURE}, text);
        {_line_function(with_id=False)}
        """
    )
