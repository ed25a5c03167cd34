"""Meta ads: daily insights facts at account and campaign level, in the ad account's currency.

Revision ID: 0003
Revises: 0002

Amounts are NUMERIC parsed from Meta's strings, never float. Reach and frequency are deduplicated by Meta
within the row's day: they must never be summed across days (a period's reach needs its own query).
`raw` keeps the row exactly as Meta sent it, so a new column can be backfilled without calling Meta again.
`synced_at` is when the payload was fetched: an upsert replaces a row only with a payload not older.
"""

from alembic import op

from migrations.rls import tenant_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

METRICS = """
    currency            text NOT NULL,
    spend               numeric NOT NULL DEFAULT 0,
    impressions         bigint NOT NULL DEFAULT 0,
    reach               bigint,
    frequency           numeric,
    clicks              bigint NOT NULL DEFAULT 0,
    link_clicks         bigint NOT NULL DEFAULT 0,
    cpc                 numeric,
    cpm                 numeric,
    ctr                 numeric,
    purchases           numeric NOT NULL DEFAULT 0,
    purchase_value      numeric NOT NULL DEFAULT 0,
    purchase_roas       numeric,
    attribution_setting text,
    raw                 jsonb NOT NULL,
    synced_at           timestamptz NOT NULL DEFAULT now()
"""

TABLES = f"""
CREATE TABLE core_warehouse.fact_marketing_daily (
    shop_id    bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    account_id text NOT NULL,
    date       date NOT NULL,
    {METRICS},
    PRIMARY KEY (shop_id, account_id, date)
);

CREATE TABLE core_warehouse.fact_marketing_campaign_daily (
    shop_id       bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    account_id    text NOT NULL,
    campaign_id   text NOT NULL,
    date          date NOT NULL,
    campaign_name text NOT NULL DEFAULT '',
    objective     text,
    {METRICS},
    PRIMARY KEY (shop_id, account_id, campaign_id, date)
);
CREATE INDEX fact_marketing_campaign_daily_date_idx ON core_warehouse.fact_marketing_campaign_daily (shop_id, date);
"""

POLICIES = "\n".join([
    tenant_table("core_warehouse.fact_marketing_daily"),
    tenant_table("core_warehouse.fact_marketing_campaign_daily"),
])


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(POLICIES)


def downgrade() -> None:
    op.execute("DROP TABLE core_warehouse.fact_marketing_campaign_daily")
    op.execute("DROP TABLE core_warehouse.fact_marketing_daily")
