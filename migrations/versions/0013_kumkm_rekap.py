"""A follow-up visit's finding on the usaha: `submissions.keadaan_usaha` (docs/registry-indikator.md).

    keadaan_usaha   'aktif', 'tutup' or 'pindah': what a follow-up record (the ODK Entities form
                    `pemutakhiran_kumkm`, docs/pemutakhiran.md) found at the usaha; NULL for a
                    census record, which by being filled in says the usaha is there. A record
                    found `tutup` or `pindah` is linked to its entity like any other, but the
                    entity counts as not found again in that periode (usaha_tidak_ditemukan).

The CHECK is added NOT VALID: the column is new, so every row holds NULL, which satisfies it;
scanning tens of millions of records under the ALTER's exclusive lock would prove nothing. New
and changed rows are checked as with any constraint.

Revision ID: 0013_kumkm_rekap
Revises: 0012_sync_id_kumkm
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0013_kumkm_rekap"
down_revision = "0012_sync_id_kumkm"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE submissions ADD COLUMN keadaan_usaha text;
        ALTER TABLE submissions ADD CONSTRAINT submissions_keadaan_usaha_check
            CHECK (keadaan_usaha IN ('aktif', 'tutup', 'pindah')) NOT VALID;
        """
    )


def downgrade() -> None:
    run_script(
        """
        ALTER TABLE submissions DROP COLUMN keadaan_usaha;
        """
    )
