"""One name for "last changed at": `diperbarui_pada`, as records have always said.

Tujuan, sasaran and indikator called it `diubah_pada`. The columns are renamed (a catalogue
change: no table is rewritten); the API answers both names for one release, the old one marked
deprecated in the OpenAPI document (docs/code.md, "Naming").

Revision ID: 0009_diperbarui_pada
Revises: 0008_openrosa
Create Date: 2026-11-23
"""
from migrations.helpers import run_script

revision = "0009_diperbarui_pada"
down_revision = "0008_openrosa"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        ALTER TABLE tujuan RENAME COLUMN diubah_pada TO diperbarui_pada;
        ALTER TABLE sasaran RENAME COLUMN diubah_pada TO diperbarui_pada;
        ALTER TABLE indikator RENAME COLUMN diubah_pada TO diperbarui_pada;
        """
    )


def downgrade() -> None:
    run_script(
        """
        ALTER TABLE tujuan RENAME COLUMN diperbarui_pada TO diubah_pada;
        ALTER TABLE sasaran RENAME COLUMN diperbarui_pada TO diubah_pada;
        ALTER TABLE indikator RENAME COLUMN diperbarui_pada TO diubah_pada;
        """
    )
