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


def downgrade() -> None:
    op.execute("DROP SCHEMA ingest CASCADE")
