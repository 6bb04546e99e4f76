"""A key's holder is an identity, not a name; key changes reach every process at once.

`api_keys.identity_id`: the holder a key belongs to. A new key is a new identity (its own id);
a rotation hands the identity on. Records are owned by the identity of the key that created
them (`submissions.created_by_key` -> `api_keys.identity_id`), so a later key that happens to
carry the same name inherits nothing. Existing keys are grouped by name, the only link there
was (rotation kept the name, and names were unique among active keys).

`kumkm_keys`: every change to what a key may do (revoked, expiry, role, scope, pii, name, or a
deleted key) notifies the channel when its transaction commits; each service process listens
and drops its key cache at once (app.keys.watch), so a revocation takes effect immediately in
every worker. The last-used time is written without notifying: it changes nothing a cache holds.

Revision ID: 0005_key_identity
Revises: 0004_sync_records
Create Date: 2026-11-23
"""
from migrations.helpers import run_script

revision = "0005_key_identity"
down_revision = "0004_sync_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE api_keys ADD COLUMN identity_id bigint;
        UPDATE api_keys k SET identity_id = f.first_id
        FROM (SELECT name, min(id) AS first_id FROM api_keys GROUP BY name) f
        WHERE f.name = k.name;
        ALTER TABLE api_keys ALTER COLUMN identity_id SET NOT NULL;
        CREATE INDEX api_keys_identity ON api_keys (identity_id, id);
        CREATE INDEX api_keys_name ON api_keys (name);

        CREATE FUNCTION api_keys_new_identity() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.identity_id := COALESCE(NEW.identity_id, NEW.id);
            RETURN NEW;
        END $$;
        CREATE TRIGGER api_keys_identity BEFORE INSERT ON api_keys
            FOR EACH ROW EXECUTE FUNCTION api_keys_new_identity();

        CREATE FUNCTION api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('kumkm_keys', TG_OP);
            RETURN NULL;
        END $$;
        CREATE TRIGGER api_keys_changed
            AFTER UPDATE OF revoked_at, expires_at, role, kode_wilayah, pii, name, key_hash,
                            identity_id OR DELETE OR TRUNCATE ON api_keys
            FOR EACH STATEMENT EXECUTE FUNCTION api_keys_notify();
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TRIGGER api_keys_changed ON api_keys;
        DROP FUNCTION api_keys_notify();
        DROP TRIGGER api_keys_identity ON api_keys;
        DROP FUNCTION api_keys_new_identity();
        DROP INDEX api_keys_name;
        ALTER TABLE api_keys DROP COLUMN identity_id;
        """
    )
