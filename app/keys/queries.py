from sqlalchemy import text

# identity_id NULL: a new holder (the trigger makes the key's own id its identity).
INSERT = text(
    """
    INSERT INTO api_keys (name, role, kode_wilayah, key_prefix, key_hash, pii, expires_at, identity_id,
                          mitra_tujuan, mitra_kuota_harian, mitra_per_detik)
    VALUES (:name, :role, :kode_wilayah, :prefix, :h, :pii, :expires_at, :identity_id,
            CAST(:mitra_tujuan AS text[]), :mitra_kuota_harian, :mitra_per_detik)
    RETURNING id
    """
)
REVOKE = text("UPDATE api_keys SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL RETURNING id, name")

# A key rotated away (its holder has a newer key) keeps working until its expiry: the grace.
_KEY_COLUMNS = """id, name, role, kode_wilayah, key_prefix, pii, created_at, expires_at, revoked_at,
    last_used_at, expires_at <= now() AS expired, mitra_tujuan, mitra_kuota_harian, mitra_per_detik,
    EXISTS (SELECT 1 FROM api_keys n WHERE n.identity_id = k.identity_id AND n.id > k.id) AS rotated"""
LIST = text(f"SELECT {_KEY_COLUMNS} FROM api_keys k ORDER BY id")
# The keys an operator's reference names: its id, or every key whose prefix starts with it.
MATCHING = text(
    f"""SELECT {_KEY_COLUMNS} FROM api_keys k
    WHERE id = CAST(:id AS bigint) OR starts_with(key_prefix, CAST(:prefix AS text))
    ORDER BY id"""
)
# The newest key of its holder, active or not (a revoked key's holder, e.g. after a lost
# phone, gets a successor that keeps their records); a working one expires after the grace.
ROTATE_OLD = text(
    """
    UPDATE api_keys k
       SET expires_at = CASE WHEN revoked_at IS NULL
                             THEN LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => :grace))
                             ELSE expires_at END
     WHERE id = :id
       AND NOT EXISTS (SELECT 1 FROM api_keys n WHERE n.identity_id = k.identity_id AND n.id > k.id)
     RETURNING id, identity_id, name, role, kode_wilayah, pii, mitra_tujuan, mitra_kuota_harian, mitra_per_detik
    """
)

# Newest first, keyset on id: the log only grows.
AUDIT_PAGE = text(
    """
    SELECT id, pada, key_id, key_name, role, endpoint, detail, rows FROM access_log
    WHERE (CAST(:before AS bigint) IS NULL OR id < :before)
      AND (CAST(:key_name AS text) IS NULL OR key_name = :key_name)
      AND (CAST(:endpoint AS text) IS NULL OR endpoint = :endpoint)
      AND (CAST(:since AS timestamptz) IS NULL OR pada >= :since)
      AND (CAST(:until AS timestamptz) IS NULL OR pada < :until)
    ORDER BY id DESC
    LIMIT :limit
    """
)

# Names are never issued twice: any key, working or not, that carried the name, or a name that
# differs from it only in case or spaces (a look-alike would read as the same holder in records,
# riwayat and the access log). Both sides go through one expression, so PostgreSQL alone
# decides what is alike; keys made before names were normalised are found too. Newest first:
# the first row of an identity is its newest key. (A scan: keys are few, and made rarely.)
_NAME_KEY = "lower(btrim(regexp_replace({}, '\\s+', ' ', 'g')))"
NAME_TAKEN = text(
    f"""SELECT {_KEY_COLUMNS}, identity_id FROM api_keys k
    WHERE {_NAME_KEY.format("name")} = {_NAME_KEY.format("CAST(:name AS text)")}
    ORDER BY id DESC"""
)
# Creating keys one at a time makes "is the name free?" and the insert one step.
LOCK_NAMES = text("SELECT pg_advisory_xact_lock(hashtext('api_keys:name'))")

EXPIRES = text("SELECT expires_at FROM api_keys WHERE id = :id")

# The key-change notification the api_keys trigger sends on one server, sent by the service on
# a Citus coordinator (app/keys/service.py, _notify_citus).
NOTIFY_KEYS_CITUS = text("SELECT pg_notify('kumkm_keys', 'UPDATE')")
