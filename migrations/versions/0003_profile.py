"""profile: the profile service's own schema

Revision ID: 0003_profile
Revises: 0002_ingest
"""

from alembic import op

revision = "0003_profile"
down_revision = "0002_ingest"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS profile")


def downgrade() -> None:
    op.execute("DROP SCHEMA profile CASCADE")
