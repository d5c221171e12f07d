"""profile: stored documents as json, not jsonb; the fold bumps row versions itself

The profile state, the timeline's touchpoints and the outbox headers are documents the
service writes whole and reads whole (`::text`, decoded in Python); nothing queries into
them on a hot path. jsonb parses every written document into its binary form and prints
it back on every read; json only checks the syntax and keeps the text, which is all these
columns need (the `->` and `->>` operators still work for ad-hoc queries). The stored
profile text is canonical (sorted keys), so equal profiles are stored as equal text.

The version trigger now runs only for writers that leave the version alone (the rebuild,
an erasure, an operator's UPDATE); the fold bumps it in its own upsert and skips a PL/pgSQL
call per row.

Compatible both ways during a rolling update or a rollback: the previous release's statements
cast to jsonb, which is assigned to a json column by the built-in assignment cast, and its
upserts leave the version alone, so the trigger bumps it. Changing a column's type rewrites the
table under an exclusive lock: the timeline grows with every event, so on a large installation
run this migration in a quiet window (the consumers wait for it and then catch up; ingest is
not affected).

Revision ID: 0006_profile_json_documents
Revises: 0005_profile_version
"""

from alembic import op

revision = "0006_profile_json_documents"
down_revision = "0005_profile_version"
branch_labels = None
depends_on = None

_COLUMNS = (("profiles", "state"), ("timeline", "touchpoint"), ("outbox", "headers"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE profile.{table} ALTER COLUMN {column} TYPE json USING {column}::json")
    op.execute("DROP TRIGGER profiles_version ON profile.profiles")
    op.execute(
        "CREATE TRIGGER profiles_version BEFORE UPDATE ON profile.profiles "
        "FOR EACH ROW WHEN (NEW.version = OLD.version) EXECUTE FUNCTION profile.bump_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER profiles_version ON profile.profiles")
    op.execute(
        "CREATE TRIGGER profiles_version BEFORE UPDATE ON profile.profiles "
        "FOR EACH ROW EXECUTE FUNCTION profile.bump_version()"
    )
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE profile.{table} ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb")
