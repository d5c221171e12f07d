"""metrics: the metrics service's own schema

Revision ID: 0004_metrics
Revises: 0003_profile
"""

from alembic import op

revision = "0004_metrics"
down_revision = "0003_profile"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS metrics")


def downgrade() -> None:
    op.execute("DROP SCHEMA metrics CASCADE")
