"""OpenRosa edits: which phone instance is which version of a record.

An edit made in ODK Collect or Enketo is a new instance (a new `meta/instanceID`) that names
the one it replaces in `meta/deprecatedID`; the registry keeps one record (the first
instanceID is its `submission_id`) and stores the edit as a correction. This table maps every
edit's instanceID to its record, with the hash of what was sent, so a replayed edit is
recognised (the same instance again: accepted, nothing new) or refused (the same instanceID
with other content: 409), and an edit of an edit still finds its record. First submissions
need no row: their instanceID is the record's submission_id.

Revision ID: 0008_openrosa
Revises: 0007_utc_text
Create Date: 2026-11-24
"""
from migrations.helpers import run_script

revision = "0008_openrosa"
down_revision = "0007_utc_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_script(
        """
        CREATE TABLE openrosa_instances (
            instance_id    uuid PRIMARY KEY,
            submission_id  uuid NOT NULL REFERENCES submissions (submission_id),
            deprecated_id  uuid NOT NULL,
            content_hash   bytea NOT NULL,
            created_by_key bigint,
            created_at     timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX openrosa_instances_record ON openrosa_instances (submission_id);
        """
    )


def downgrade() -> None:
    run_script("DROP TABLE openrosa_instances;")
