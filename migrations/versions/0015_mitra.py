"""Partner programs' look-ups (issue 30 section 2, docs/mitra.md).

    api_keys.role           one role more, `mitra`: a partner program (a bank checking KUR
                            eligibility, a ministry choosing participants) that may take only
                            the look-up `kumkm.cek`
    api_keys.mitra_tujuan   the purposes the partner agreed to (text[]: kur, pembiayaan,
                            bantuan, pelatihan, pendampingan, pengadaan); every look-up names one
    api_keys.mitra_kuota_harian, mitra_per_detik
                            its daily quota of look-ups (a batch row is one) and its rate of
                            requests per second; both set only on mitra keys (a CHECK says so:
                            a key that is not a partner's carries none, a partner's all three)
    mitra_batas             per key holder (identity, so a rotation keeps its count): the day
                            (WIB) and its look-ups so far, the second and its requests so far;
                            one row, checked and counted by one statement for every process of
                            the service (app/mitra/queries.py, BATAS)
    mitra_pemakaian         look-ups per holder, WIB day and purpose, by outcome (terdaftar,
                            tidak, ditolak): what GET /api/v1/audit/mitra answers without scanning
                            the access log

The key-change trigger (migration 0005) also fires when a partner's purposes or bounds change,
so every process's key cache forgets the old ones at once.

Revision ID: 0015_mitra
Revises: 0012_sync_id_kumkm
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0015_mitra"
down_revision = "0014_pemutakhiran"
branch_labels = None
depends_on = None

# app.mitra.rules.TUJUAN, frozen as of this revision
_TUJUAN = "ARRAY['kur', 'pembiayaan', 'bantuan', 'pelatihan', 'pendampingan', 'pengadaan']::text[]"


def upgrade() -> None:
    run_script(
        f"""
        ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
            CHECK (role IN ('enumerator', 'verifikator', 'dinas', 'walidata', 'admin', 'mitra'));
        ALTER TABLE api_keys
            ADD COLUMN mitra_tujuan text[],
            ADD COLUMN mitra_kuota_harian integer CHECK (mitra_kuota_harian > 0),
            ADD COLUMN mitra_per_detik integer CHECK (mitra_per_detik > 0),
            ADD CONSTRAINT api_keys_mitra_check CHECK (
                CASE WHEN role = 'mitra'
                     THEN cardinality(mitra_tujuan) > 0 AND mitra_tujuan <@ {_TUJUAN}
                          AND mitra_kuota_harian IS NOT NULL AND mitra_per_detik IS NOT NULL
                     ELSE mitra_tujuan IS NULL AND mitra_kuota_harian IS NULL AND mitra_per_detik IS NULL
                END);

        DROP TRIGGER api_keys_changed ON api_keys;
        CREATE TRIGGER api_keys_changed
            AFTER UPDATE OF revoked_at, expires_at, role, kode_wilayah, pii, name, key_hash,
                            identity_id, mitra_tujuan, mitra_kuota_harian, mitra_per_detik
                  OR DELETE OR TRUNCATE ON api_keys
            FOR EACH STATEMENT EXECUTE FUNCTION api_keys_notify();

        CREATE TABLE mitra_batas (
            identity_id  bigint PRIMARY KEY,
            hari         date NOT NULL,
            jumlah_hari  bigint NOT NULL CHECK (jumlah_hari >= 0),
            detik        bigint NOT NULL,
            jumlah_detik integer NOT NULL CHECK (jumlah_detik >= 0)
        );

        CREATE TABLE mitra_pemakaian (
            identity_id bigint NOT NULL,
            hari        date NOT NULL,
            tujuan      text NOT NULL,
            terdaftar   bigint NOT NULL DEFAULT 0,
            tidak       bigint NOT NULL DEFAULT 0,
            ditolak     bigint NOT NULL DEFAULT 0,
            -- the writer's slot (its backend pid mod 16): concurrent look-ups of one partner
            -- update different rows, so none waits on another's row lock across its commit's
            -- disk flush (the audit sums the slots)
            slot        smallint NOT NULL DEFAULT 0,
            PRIMARY KEY (identity_id, hari, tujuan, slot)
        );
        CREATE INDEX mitra_pemakaian_hari ON mitra_pemakaian (hari);
        """
    )


def downgrade() -> None:
    run_script(
        """
        DROP TABLE mitra_pemakaian, mitra_batas;
        DROP TRIGGER api_keys_changed ON api_keys;
        CREATE TRIGGER api_keys_changed
            AFTER UPDATE OF revoked_at, expires_at, role, kode_wilayah, pii, name, key_hash,
                            identity_id OR DELETE OR TRUNCATE ON api_keys
            FOR EACH STATEMENT EXECUTE FUNCTION api_keys_notify();
        DELETE FROM api_keys WHERE role = 'mitra';
        ALTER TABLE api_keys DROP CONSTRAINT api_keys_mitra_check,
            DROP COLUMN mitra_tujuan, DROP COLUMN mitra_kuota_harian, DROP COLUMN mitra_per_detik;
        ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
        ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
            CHECK (role IN ('enumerator', 'verifikator', 'dinas', 'walidata', 'admin'));
        """
    )
