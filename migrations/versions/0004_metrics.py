"""metrics: the metrics service's own schema

Revision ID: 0004_metrics
Revises: 0003_profile
"""

from alembic import op

revision = "0004_metrics"
down_revision = "0003_profile"
branch_labels = None
depends_on = None

HORIZONS = (3, 6, 12, 24, 36)
CLV_COLUMNS = ",\n".join(f"clv_{h}m double precision NOT NULL DEFAULT 0" for h in HORIZONS)

STATEMENTS = [
    "CREATE SCHEMA IF NOT EXISTS metrics",
    """
    CREATE TABLE metrics.consumer_offsets (
        group_id text NOT NULL,
        topic text NOT NULL,
        partition int NOT NULL,
        next_offset bigint NOT NULL,
        PRIMARY KEY (group_id, topic, partition)
    )
    """,
    "CREATE TABLE metrics.processed_facts (key text PRIMARY KEY)",
    # one row per profile the metrics have heard of; acquired_on IS NULL for prospects
    """
    CREATE TABLE metrics.customers (
        profile_id uuid PRIMARY KEY,
        acquired_on date,
        last_purchase_on date,
        frequency int NOT NULL DEFAULT 0,
        recency_days int NOT NULL DEFAULT 0,
        repeat_spend double precision NOT NULL DEFAULT 0,
        orders int NOT NULL DEFAULT 0,
        gross_revenue numeric NOT NULL DEFAULT 0,
        refunded numeric NOT NULL DEFAULT 0,
        cancelled_amount numeric NOT NULL DEFAULT 0,
        cost numeric NOT NULL DEFAULT 0,
        historical_clv double precision NOT NULL DEFAULT 0,
        cancelled_on date,
        lost_on date,
        segment text NOT NULL DEFAULT 'unknown',
        channel text NOT NULL DEFAULT 'unknown',
        segment_value text,
        segment_at timestamptz,
        attributed_channel text,
        attributed_channel_at timestamptz,
        first_purchase_channel text,
        first_purchase_channel_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    # purchase periods: all purchases of a day merge into one row
    """
    CREATE TABLE metrics.purchase_days (
        profile_id uuid NOT NULL,
        day date NOT NULL,
        amount numeric NOT NULL,
        orders int NOT NULL,
        PRIMARY KEY (profile_id, day)
    )
    """,
    """
    CREATE TABLE metrics.deduction_days (
        profile_id uuid NOT NULL,
        day date NOT NULL,
        refunded numeric NOT NULL DEFAULT 0,
        cancelled numeric NOT NULL DEFAULT 0,
        cost numeric NOT NULL DEFAULT 0,
        PRIMARY KEY (profile_id, day)
    )
    """,
    """
    CREATE TABLE metrics.merged_profiles (
        merged_profile_id uuid PRIMARY KEY,
        survivor_id uuid NOT NULL
    )
    """,
    "CREATE INDEX merged_profiles_survivor ON metrics.merged_profiles (survivor_id)",
    "CREATE TABLE metrics.erased_profiles (profile_id uuid PRIMARY KEY, erased_at timestamptz NOT NULL DEFAULT now())",
    # daily deltas: customers on day t = sum(acquired - lost) over day <= t
    """
    CREATE TABLE metrics.daily_population (
        day date NOT NULL,
        segment text NOT NULL,
        channel text NOT NULL,
        cohort_month date NOT NULL,
        acquired int NOT NULL DEFAULT 0,
        lost int NOT NULL DEFAULT 0,
        PRIMARY KEY (day, segment, channel, cohort_month)
    )
    """,
    # the same deltas per calendar month (month = first day): prefix sums read whole months here
    # and only the days of the last, partial month from daily_population
    """
    CREATE TABLE metrics.monthly_population (
        month date NOT NULL,
        segment text NOT NULL,
        channel text NOT NULL,
        cohort_month date NOT NULL,
        acquired int NOT NULL DEFAULT 0,
        lost int NOT NULL DEFAULT 0,
        PRIMARY KEY (month, segment, channel, cohort_month)
    )
    """,
    f"""
    CREATE TABLE metrics.clv_rollup (
        segment text NOT NULL,
        channel text NOT NULL,
        cohort_month date NOT NULL,
        customers bigint NOT NULL DEFAULT 0,
        orders bigint NOT NULL DEFAULT 0,
        purchase_days bigint NOT NULL DEFAULT 0,
        net_revenue numeric NOT NULL DEFAULT 0,
        cost numeric NOT NULL DEFAULT 0,
        historical_clv double precision NOT NULL DEFAULT 0,
        predicted bigint NOT NULL DEFAULT 0,
        p_alive double precision NOT NULL DEFAULT 0,
        expected_purchases double precision NOT NULL DEFAULT 0,
        {CLV_COLUMNS},
        PRIMARY KEY (segment, channel, cohort_month)
    )
    """,
    """
    CREATE TABLE metrics.model_versions (
        id bigserial PRIMARY KEY,
        model text NOT NULL CHECK (model IN ('bgnbd', 'gamma_gamma')),
        params jsonb NOT NULL,
        log_likelihood double precision NOT NULL,
        n_customers int NOT NULL,
        iterations int NOT NULL,
        converged boolean NOT NULL,
        as_of date NOT NULL,
        calibration_end date NOT NULL,
        time_unit_days double precision NOT NULL,
        fitted_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX model_versions_latest ON metrics.model_versions (model, id DESC)",
    f"""
    CREATE TABLE metrics.predictions (
        profile_id uuid PRIMARY KEY,
        bgnbd_version bigint NOT NULL,
        gamma_gamma_version bigint NOT NULL,
        as_of date NOT NULL,
        p_alive double precision NOT NULL,
        expected_purchases double precision NOT NULL,
        expected_spend double precision NOT NULL,
        {CLV_COLUMNS}
    )
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP SCHEMA metrics CASCADE")
