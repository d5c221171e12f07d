"""profile: a row version on profiles, bumped by every update; room for HOT updates

The fold consumer keeps recently written profiles decoded in memory and reuses one only while
the stored row still has the version it wrote; the trigger makes every writer (the fold, the
rebuild, an operator's UPDATE) move the version on.

Every folded event rewrites its profile row. profiles_last_seen served no query, and as
last_seen_at changes with nearly every event it made every such rewrite touch all the
indexes; without it, a rewrite that leaves stage, segment and last purchase alone is a HOT
update (no index entries), given free room on the page (fillfactor 80).

Revision ID: 0005_profile_version
Revises: 0004_metrics
"""

from alembic import op

revision = "0005_profile_version"
down_revision = "0004_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE profile.profiles ADD COLUMN version bigint NOT NULL DEFAULT 1")
    op.execute("ALTER TABLE profile.profiles SET (fillfactor = 80)")
    op.execute("DROP INDEX profile.profiles_last_seen")
    op.execute(
        """
        CREATE FUNCTION profile.bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.version := OLD.version + 1;
            RETURN NEW;
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER profiles_version BEFORE UPDATE ON profile.profiles "
        "FOR EACH ROW EXECUTE FUNCTION profile.bump_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER profiles_version ON profile.profiles")
    op.execute("DROP FUNCTION profile.bump_version()")
    op.execute("ALTER TABLE profile.profiles DROP COLUMN version")
    op.execute("ALTER TABLE profile.profiles RESET (fillfactor)")
    op.execute("CREATE INDEX profiles_last_seen ON profile.profiles (last_seen_at) WHERE merged_into IS NULL")
