"""The verifikasi queue oldest-first (`urut=terlama`) for decided records (issue 31 §3).

    submissions_antrian_terlama
                       the records of a kabupaten/kota and periode that are no longer waiting
                       (status diterima or ditolak), in the order the queue walks them: by the
                       moment they entered that status (diperbarui_pada), then submission_id.
                       The waiting records (masuk) have their own partial index,
                       submissions_masuk_umur of 0016_kampanye, which the backlog's age also
                       reads; together the two cover every status the queue can show.

Without it a page of `status=diterima&urut=terlama` read every decided record of the
kabupaten/kota and sorted them to show 50. Partial on `status <> 'masuk'` so that ingest, which
writes masuk records only, adds no entry to it: it costs one entry per decision, not one per
record received (the single-record POST path is the service's tightest budget). The queue's
statement names the status as a constant for this order (app/verification/queries.py), so
PostgreSQL can always prove which of the two partial indexes applies.

Revision ID: 0021_antrian_terlama
Revises: 0020_mitra_jendela
Create Date: 2026-12-06
"""

from migrations.helpers import run_script

revision = "0021_antrian_terlama"
down_revision = "0020_mitra_jendela"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE INDEX submissions_antrian_terlama
            ON submissions (kode_kabkota, periode, status, diperbarui_pada, submission_id) WHERE status <> 'masuk';
        """
    )


def downgrade() -> None:
    run_script("DROP INDEX submissions_antrian_terlama;")
