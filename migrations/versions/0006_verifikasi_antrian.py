"""The verifikator's queue: a kabupaten/kota's records of one status, oldest capture first.

`GET /api/v1/verifikasi/antrian` walks one of these indexes in (captured_at, submission_id)
order from the page's keyset cursor, so the first page and every later one read only the
rows they show, whatever the size of the backlog:

- `submissions_antrian`: the kabupaten/kota's queue (the default page, and the filters on
  jenis, enumerator, captured date and likely duplicates, applied while walking it);
- `submissions_antrian_kecamatan`: the same queue for one kecamatan (and its desa), which
  the kabupaten/kota-wide walk would otherwise have to step through.

Both are plain b-trees without INCLUDE columns: the other filters read the heap row, and a
request walks at most a bounded number of rows (app/verification/queries.py), so a rare
filter costs more requests, never a long one. Two more indexes on the ingest path were the
price to pay; an enumerator index was left out for that reason (see docs/verification.md).

Revision ID: 0006_verifikasi_antrian
Revises: 0005_key_identity
Create Date: 2026-11-23
"""
from migrations.helpers import run_script

revision = "0006_verifikasi_antrian"
down_revision = "0005_key_identity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE INDEX submissions_antrian
            ON submissions (kode_kabkota, periode, status, captured_at, submission_id);
        CREATE INDEX submissions_antrian_kecamatan
            ON submissions (kode_kecamatan, periode, status, captured_at, submission_id)
            WHERE kode_kecamatan IS NOT NULL;
        """
    )


def downgrade() -> None:
    run_script("DROP INDEX submissions_antrian_kecamatan; DROP INDEX submissions_antrian;")
