"""All SQL of the OpenRosa transport: the map from an edit's instanceID to its record
(migration 0008), and whether an id is taken by a record or an edit. Records themselves are written by the
submissions and verification domains."""

from sqlalchemy import text

# An instanceID is either a record's submission_id or an edit's (with the record it belongs to).
RESOLVE = text("SELECT submission_id, encode(content_hash, 'hex') AS content_hash FROM openrosa_instances WHERE instance_id = :id")

# Whether an id is a record's submission_id (an edit's new instanceID must not be). On a Citus
# coordinator the directory answers, one routed query (ops/citus/distribute.sql).
IS_RECORD = text("SELECT EXISTS (SELECT 1 FROM submissions WHERE submission_id = :id)")
IS_RECORD_CITUS = text("SELECT EXISTS (SELECT 1 FROM submission_ids WHERE submission_id = :id)")

# Whether the edit remembered under an id came before the record with that id (a record made
# later under an edit's id squatted it). Only asked when an id is both, which is rare: on a
# Citus coordinator the records' side is a query over the shards.
EDIT_CAME_FIRST = text(
    "SELECT (SELECT dibuat_pada FROM openrosa_instances WHERE instance_id = :id) "
    "< (SELECT dibuat_pada FROM submissions WHERE submission_id = :id)"
)

REMEMBER = text(
    """
    INSERT INTO openrosa_instances (instance_id, submission_id, deprecated_id, content_hash, dibuat_oleh_key)
    VALUES (:id, :submission_id, :deprecated_id, decode(:content_hash, 'hex'), :key_id)
    ON CONFLICT (instance_id) DO NOTHING
    """
)

# The rows of the cascading selects: kabupaten/kota, kecamatan and desa inside a key's wilayah
# (all of them for a national key), in code order.
WILAYAH_ROWS = text(
    """
    SELECT kode, nama, level, parent_kode FROM wilayah
    WHERE level BETWEEN 2 AND 4
      AND (CAST(:scope AS text) IS NULL OR kode = :scope OR kode LIKE :scope || '.%')
    ORDER BY kode
    """
)
