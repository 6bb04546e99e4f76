"""One timestamp text everywhere: RFC 3339 UTC with `Z` and six digits of microseconds
(app.core.timefmt), e.g. `2022-06-01T02:30:00.000000Z`.

Until now the walidata line rendered instants with PostgreSQL's to_json (trailing zeros of the
microseconds dropped, `+00:00`), the API with orjson or pydantic (six digits or none, `+00:00`
or `Z`), and a record's content kept `captured_at` as pydantic wrote it (`...:00Z`). This
redefines sync_record_line() with to_char, rewrites `captured_at` in the content of every stored
version, and rewrites every stored line from them. The content hashes are untouched: they are
computed from the content as it was always hashed (app.record.prepare), so a device
replaying a record sent before this release still gets its 200.

Revision ID: 0007_utc_text
Revises: 0005_key_identity
Create Date: 2026-11-24
"""
from migrations.helpers import run_script

revision = "0007_utc_text"
down_revision = "0006_verifikasi_antrian"
branch_labels = None
depends_on = None

_FMT = 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'   # app.core.timefmt.SQL_FORMAT, frozen as of this revision


def _line_function(ts: str) -> str:
    return r"""
        CREATE OR REPLACE FUNCTION sync_record_line(
            submission_id uuid, periode text, jenis text, kode_wilayah text, kode_provinsi text,
            kode_kabkota text, status text, version integer, enumerator_id text,
            captured_at timestamptz, skala_usaha text, sektor text, created_by text,
            created_at timestamptz, updated_at timestamptz, data jsonb)
        RETURNS text LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT '{"submission_id":"' || submission_id::text
                || '","periode":' || to_json(periode)::text
                || ',"jenis":' || to_json(jenis)::text
                || ',"kode_wilayah":' || to_json(kode_wilayah)::text
                || ',"kode_provinsi":' || to_json(kode_provinsi)::text
                || ',"kode_kabkota":' || to_json(kode_kabkota)::text
                || ',"status":' || to_json(status)::text
                || ',"version":' || version::text
                || ',"enumerator_id":' || to_json(enumerator_id)::text
                || ',"captured_at":"' || TS(captured_at) || '"'
                || ',"skala_usaha":' || COALESCE(to_json(skala_usaha)::text, 'null')
                || ',"sektor":' || COALESCE(to_json(sektor)::text, 'null')
                || ',"dibuat_oleh":' || to_json(created_by)::text
                || ',"dibuat_pada":"' || TS(created_at) || '"'
                || ',"diperbarui_pada":"' || TS(updated_at) || '"'
                || ',"pii_masked":false,"data":' || data::text || '}'
        $$;
    """.replace("TS(captured_at)", ts.format("captured_at")).replace(
        "TS(created_at)", ts.format("created_at")).replace("TS(updated_at)", ts.format("updated_at"))


_REWRITE_LINES = """
        UPDATE sync_records r
           SET line = sync_record_line(s.submission_id, s.periode, s.jenis, s.kode_wilayah,
                                       s.kode_provinsi, s.kode_kabkota, s.status, s.version,
                                       s.enumerator_id, s.captured_at, s.skala_usaha, s.sektor,
                                       s.created_by, s.created_at, s.updated_at, v.data)
          FROM submissions s
          JOIN submission_versions v ON v.submission_id = s.submission_id AND v.version = s.version
         WHERE r.submission_id = s.submission_id;
"""


def upgrade() -> None:
    run_script(
        _line_function(f"to_char({{}} AT TIME ZONE 'UTC', '{_FMT}')")
        + f"""
        UPDATE submission_versions
           SET data = jsonb_set(data, '{{captured_at}}',
                                to_jsonb(to_char((data->>'captured_at')::timestamptz AT TIME ZONE 'UTC',
                                                 '{_FMT}')))
         WHERE data ? 'captured_at'
           AND data->>'captured_at' !~ '^[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}T[0-9:]{{8}}\\.[0-9]{{6}}Z$';
        """
        + _REWRITE_LINES
    )


def downgrade() -> None:
    # The line as 0004 wrote it; the content keeps the new captured_at text (the same instant).
    run_script(
        _line_function("btrim(to_json({} AT TIME ZONE 'UTC')::text, '\"') || '+00:00'")
        + _REWRITE_LINES
    )
