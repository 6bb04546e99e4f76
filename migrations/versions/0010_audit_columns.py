"""The record tables' audit columns under the names the API already shows (docs/code.md, "Naming").

A record and its versions are things: `dibuat_oleh`, `dibuat_pada`, `diperbarui_pada`, and the
key that made them `dibuat_oleh_key` (as a history entry's key is `oleh_key`). A change of the
feed is an event: `changes.pada`, as `submission_history.pada` and `access_log.pada`.

    submissions          created_by -> dibuat_oleh, created_by_key -> dibuat_oleh_key,
                         created_at -> dibuat_pada, updated_at -> diperbarui_pada
    submission_versions  created_by -> dibuat_oleh, created_at -> dibuat_pada
    openrosa_instances   created_by_key -> dibuat_oleh_key, created_at -> dibuat_pada
    changes              changed_at -> pada

`RENAME COLUMN` changes the catalogue only: no table is rewritten or scanned, whatever its
size, and indexes, constraints and defaults follow by attribute number (the NOT NULL
constraints PostgreSQL 18 names after their column are renamed to match, also catalogue-only). Function bodies do
not (plpgsql and SQL bodies are text): of the registry's functions only sync_record_line()
names these words, as its parameter names. It is re-created with the new names (a parameter
cannot be renamed by CREATE OR REPLACE) and renders exactly the same line, so no stored
`sync_records.line` changes. The status-counter trigger function, the append-only guard, the
key triggers and the queue indexes of 0006 name none of the renamed columns
(tests/test_service.py checks the catalogue for any left).

api_keys keeps `created_at`: keys are plumbing and say English throughout (`expires_at`,
`revoked_at`, `last_used_at`).

The walidata feed line's `changed_at` is a contract with the ministry's consumer: the feed
renders both `pada` and `changed_at` at read time (app/sync/queries.py), the old name
deprecated for one release (docs/sync.md).

Revision ID: 0010_audit_columns
Revises: 0009_diperbarui_pada
Create Date: 2026-11-25
"""
from migrations.helpers import run_script

revision = "0010_audit_columns"
down_revision = "0009_diperbarui_pada"
branch_labels = None
depends_on = None

_FMT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'   # app.core.timefmt.SQL_FORMAT, frozen as of this revision

_RENAMES = (
    ("submissions", "created_by", "dibuat_oleh"),
    ("submissions", "created_by_key", "dibuat_oleh_key"),
    ("submissions", "created_at", "dibuat_pada"),
    ("submissions", "updated_at", "diperbarui_pada"),
    ("submission_versions", "created_by", "dibuat_oleh"),
    ("submission_versions", "created_at", "dibuat_pada"),
    ("openrosa_instances", "created_by_key", "dibuat_oleh_key"),
    ("openrosa_instances", "created_at", "dibuat_pada"),
    ("changes", "changed_at", "pada"),
)

_SIGNATURE = ("uuid, text, text, text, text, text, text, integer, text, timestamptz, text, text, "
              "text, timestamptz, timestamptz, jsonb")


def _line_function(by: str, at: str, updated: str) -> str:
    """sync_record_line() as 0007 defined it, its audit parameters named `by`, `at`, `updated`:
    the body is the same line, key for key."""
    ts = f"to_char({{}} AT TIME ZONE 'UTC', '{_FMT}')"
    return f"""
        DROP FUNCTION sync_record_line({_SIGNATURE});
        CREATE FUNCTION sync_record_line(
            submission_id uuid, periode text, jenis text, kode_wilayah text, kode_provinsi text,
            kode_kabkota text, status text, version integer, enumerator_id text,
            captured_at timestamptz, skala_usaha text, sektor text, {by} text,
            {at} timestamptz, {updated} timestamptz, data jsonb)
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
                || ',"dibuat_oleh":' || to_json({by})::text
                || ',"dibuat_pada":"' || {ts.format(at)} || '"'
                || ',"diperbarui_pada":"' || {ts.format(updated)} || '"'
                || ',"pii_masked":false,"data":' || data::text || '}}'
        $$;
    """


def _rename(renames: list[tuple[str, str, str]]) -> str:
    """The columns, and their NOT NULL constraints' names: PostgreSQL 18 keeps a NOT NULL as a
    constraint named `<table>_<column>_not_null`, which follows the column but keeps its
    name. Renamed only where it exists (older servers have no such constraint)."""
    sql = "".join(f"ALTER TABLE {t} RENAME COLUMN {a} TO {b};\n" for t, a, b in renames)
    for t, a, b in renames:
        sql += f"""
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM pg_constraint
                        WHERE conrelid = '{t}'::regclass AND conname = '{t}_{a}_not_null') THEN
                ALTER TABLE {t} RENAME CONSTRAINT {t}_{a}_not_null TO {t}_{b}_not_null;
            END IF;
        END $$;"""
    return sql + "\n"


def upgrade() -> None:
    run_script(_rename(list(_RENAMES)) + _line_function("dibuat_oleh", "dibuat_pada", "diperbarui_pada"))


def downgrade() -> None:
    # Back to 0007's parameter names too: its downgrade redefines the function with
    # CREATE OR REPLACE, which cannot rename a parameter.
    run_script(_rename([(t, b, a) for t, a, b in _RENAMES])
               + _line_function("created_by", "created_at", "updated_at"))
