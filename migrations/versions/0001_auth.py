"""auth: API keys shared by every service

Revision ID: 0001_auth
Revises:
"""

from alembic import op

revision = "0001_auth"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS auth")
    op.execute(
        """
        CREATE TABLE auth.api_keys (
            key_id text PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('write', 'read', 'admin')),
            source text NOT NULL,
            secret_sha256 text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP SCHEMA auth CASCADE")
