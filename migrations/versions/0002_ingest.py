"""ingest: the ingest service's own schema

Revision ID: 0002_ingest
Revises: 0001_auth
"""

from alembic import op

revision = "0002_ingest"
down_revision = "0001_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS ingest")
    op.execute(
        """
        CREATE TABLE ingest.suppressions (
            fingerprint text PRIMARY KEY,
            erased_profile_id text NOT NULL,
            suppressed_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA ingest CASCADE")
