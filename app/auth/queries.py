from sqlalchemy import text

BY_HASH = text(
    """
    SELECT id, name, role, kode_wilayah, pii, expires_at, revoked_at
    FROM api_keys WHERE key_hash = :h
    """
)
INSERT = text(
    """
    INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash, pii, expires_at)
    VALUES (:name, :role, :kode_wilayah, :prefix, :h, :pii, :expires_at)
    RETURNING id
    """
)
TOUCH = text("UPDATE api_keys SET last_used_at = now() WHERE id = ANY(:ids)")
REVOKE = text(
    "UPDATE api_keys SET revoked_at = now() WHERE (id::text = :ref OR key_prefix = :ref) "
    "AND revoked_at IS NULL RETURNING id, name"
)
LIST = text(
    "SELECT id, name, role, kode_wilayah, key_prefix, pii, created_at, expires_at, revoked_at, "
    "last_used_at FROM api_keys ORDER BY id"
)
LOG_ACCESS = text(
    """
    INSERT INTO access_log (key_id, key_name, role, endpoint, detail, rows)
    VALUES (:key_id, :key_name, :role, :endpoint, CAST(:detail AS jsonb), :rows)
    """
)

ROTATE_OLD = text(
    """
    UPDATE api_keys
       SET expires_at = LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => :grace))
     WHERE (id::text = :ref OR key_prefix = :ref) AND revoked_at IS NULL
     RETURNING id, name, role, kode_wilayah, pii
    """
)
