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
    op.execute(
        """
        CREATE TABLE profile.profiles (
            id uuid PRIMARY KEY,
            merged_into uuid,
            customer_id text,
            state jsonb,
            stage text,
            segment text,
            first_seen_at timestamptz,
            last_seen_at timestamptz,
            last_purchase_at timestamptz,
            explicitly_churned boolean NOT NULL DEFAULT false,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CHECK ((merged_into IS NULL) = (state IS NOT NULL))
        )
        """
    )
    op.execute("CREATE INDEX profiles_stage ON profile.profiles (stage, id) WHERE merged_into IS NULL")
    op.execute("CREATE INDEX profiles_segment ON profile.profiles (segment, id) WHERE merged_into IS NULL")
    op.execute("CREATE INDEX profiles_last_seen ON profile.profiles (last_seen_at) WHERE merged_into IS NULL")
    op.execute("CREATE INDEX profiles_last_purchase ON profile.profiles (last_purchase_at) WHERE merged_into IS NULL")
    op.execute("CREATE INDEX profiles_merged_into ON profile.profiles (merged_into) WHERE merged_into IS NOT NULL")
    op.execute(
        """
        CREATE TABLE profile.identities (
            kind text NOT NULL,
            value text NOT NULL,
            profile_id uuid NOT NULL,
            linked_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (kind, value)
        )
        """
    )
    op.execute("CREATE INDEX identities_profile ON profile.identities (profile_id)")
    op.execute(
        """
        CREATE TABLE profile.timeline (
            profile_id uuid NOT NULL,
            occurred_at timestamptz NOT NULL,
            event_key text NOT NULL,
            type text NOT NULL,
            touchpoint jsonb NOT NULL,
            PRIMARY KEY (profile_id, occurred_at, event_key)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE profile.merges (
            id bigserial PRIMARY KEY,
            survivor_id uuid NOT NULL,
            merged_id uuid NOT NULL,
            reason text NOT NULL,
            event_key text NOT NULL,
            occurred_at timestamptz NOT NULL,
            merged_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX merges_survivor ON profile.merges (survivor_id)")
    op.execute("CREATE INDEX merges_merged ON profile.merges (merged_id)")
    op.execute(
        """
        CREATE TABLE profile.identity_conflicts (
            id bigserial PRIMARY KEY,
            kind text NOT NULL,
            value text NOT NULL,
            held_by uuid NOT NULL,
            event_profile_id uuid NOT NULL,
            event_key text NOT NULL,
            occurred_at timestamptz NOT NULL,
            detected_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX identity_conflicts_held_by ON profile.identity_conflicts (held_by)")
    op.execute("CREATE INDEX identity_conflicts_event_profile ON profile.identity_conflicts (event_profile_id)")
    op.execute("CREATE TABLE profile.processed_events (key text PRIMARY KEY)")
    op.execute(
        """
        CREATE TABLE profile.consumer_offsets (
            group_id text NOT NULL,
            topic text NOT NULL,
            partition integer NOT NULL,
            next_offset bigint NOT NULL,
            PRIMARY KEY (group_id, topic, partition)
        )
        """
    )
    op.execute(
        """
        CREATE TABLE profile.outbox (
            id bigserial PRIMARY KEY,
            topic text NOT NULL,
            key bytea,
            value bytea NOT NULL,
            headers jsonb NOT NULL DEFAULT '[]',
            created_at timestamptz NOT NULL DEFAULT now(),
            published_at timestamptz
        )
        """
    )
    op.execute("CREATE INDEX outbox_pending ON profile.outbox (id) WHERE published_at IS NULL")
    op.execute("CREATE INDEX outbox_published ON profile.outbox (published_at) WHERE published_at IS NOT NULL")


def downgrade() -> None:
    op.execute("DROP SCHEMA profile CASCADE")
