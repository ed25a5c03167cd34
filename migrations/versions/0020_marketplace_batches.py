"""Marketplace orders partitioned by batch: a batch's typed rows become the warehouse's rows without a second write.

Revision ID: 0020
Revises: 0019

core_warehouse.marketplace_orders becomes a table partitioned by LIST (batch_id). A batch's checks build its rows
in a table of its own (core_warehouse.marketplace_orders_<batch>, with a CHECK (batch_id = <batch>) so that
attaching it scans nothing), its indexes built once over it (the key's unique index is also the duplicate
check); promotion attaches it, and the channel rollup adds one grouped pass over it. Rows written otherwise
(a test, a bench) land in the DEFAULT partition. The key, (shop_id, order_id, channel), stays unique across
batches by promotion (it deletes what other batches hold under the new batch's keys, one promotion per store
at a time); within a partition by its unique index, which includes batch_id as a partitioned index must.

The scheduler does not own the warehouse: creating, indexing, attaching and dropping a batch's table go
through SECURITY DEFINER functions that name the table from the batch id only. Triggers (rollup, store check)
stay on the parent, so every later write through it keeps the rollup; attaching revokes the scheduler's writes
on the partition itself (a write there would bypass them).

Money: a decimal number as PostgreSQL's numeric reads it with at most two decimals (COPY types it so; 1e3 and
.5 included, but not numeric's 0x1F, 0o17, 0b1 or 1_000: a file holding those COPYs as text), else the file
formats before (1,234.50, 12,50, 1.234,50): to_money agrees with COPY's typing.
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

V0014 = importlib.import_module("migrations.versions.0014_uploads")

TABLE = "core_warehouse.marketplace_orders"
# 0014's triggers (the channel rollup's, the store check's), made again on the partitioned table.
TRIGGERS = "\n".join([V0014.TRIGGERS, *re.findall(r"CREATE TRIGGER shop_exists_\w+ .*?;", V0014.SHOP_KEY, re.S)])

PARTITIONED = f"""
ALTER TABLE {TABLE} RENAME TO marketplace_orders_unpartitioned;
ALTER INDEX core_warehouse.marketplace_orders_day_idx RENAME TO marketplace_orders_unpartitioned_day_idx;
CREATE TABLE {TABLE} (
    shop_id    bigint NOT NULL,
    channel    text NOT NULL,
    order_id   text NOT NULL,
    batch_id   bigint NOT NULL,
    line_no    bigint NOT NULL,
    ordered_at timestamptz NOT NULL,
    currency   text NOT NULL,
    gross      numeric(20, 2) NOT NULL,
    discounts  numeric(20, 2) NOT NULL,
    refunds    numeric(20, 2) NOT NULL,
    fees       numeric(20, 2) NOT NULL,
    net        numeric(20, 2) NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
) PARTITION BY LIST (batch_id);
-- Order id before channel: reconciliation finds orders by id, and this index serves it.
CREATE UNIQUE INDEX marketplace_orders_key ON {TABLE} (shop_id, order_id, channel, batch_id);
CREATE INDEX marketplace_orders_day_idx ON {TABLE} (shop_id, ordered_at);
CREATE TABLE core_warehouse.marketplace_orders_default PARTITION OF {TABLE} DEFAULT;
INSERT INTO {TABLE} SELECT * FROM core_warehouse.marketplace_orders_unpartitioned;
DROP TABLE core_warehouse.marketplace_orders_unpartitioned;
"""

# A checked batch's channel sums, made by the checks in the transaction that wrote its rows (a first read of
# those rows later, after a checkpoint, would set every page's hint bits, each a full-page image in the WAL:
# three times the aggregate's cost); promotion adds them to reporting.daily_channel_sales and deletes them.
SUMS = """
CREATE TABLE staging_ingest.upload_channel_sums (
    batch_id  bigint NOT NULL REFERENCES app_dashboard.upload_batches (id) ON DELETE CASCADE,
    shop_id   bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    day       date NOT NULL,
    channel   text NOT NULL,
    currency  text NOT NULL,
    orders    bigint NOT NULL,
    gross     numeric NOT NULL,
    discounts numeric NOT NULL,
    refunds   numeric NOT NULL,
    fees      numeric NOT NULL,
    net_sales numeric NOT NULL,
    PRIMARY KEY (batch_id, day, channel, currency)
);
"""

# Each names its table from the batch id alone; the scheduler calls them, the owner runs them.
FUNCTIONS = f"""
CREATE FUNCTION core_warehouse.create_marketplace_batch(batch bigint) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    part text := format('core_warehouse.%I', 'marketplace_orders_' || batch);
BEGIN
    IF EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(part)) THEN
        RAISE EXCEPTION 'batch % is in the warehouse already', batch;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS %s', part);  -- an earlier attempt's
    EXECUTE format('CREATE TABLE %s (LIKE {TABLE} INCLUDING DEFAULTS, CHECK (batch_id = %s))', part, batch);
    -- Only the scheduler's until attached (COPY cannot write a table under RLS): RLS comes with attaching.
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %s TO {SCHEDULER_ROLE}', part);
END $$;

-- The key's unique index first (it fails on a duplicate key: the caller resolves them and calls again), then
-- the day's; both as the parent's, so attaching adopts them.
CREATE FUNCTION core_warehouse.index_marketplace_batch(batch bigint, key_only boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog SET maintenance_work_mem = '256MB' AS $$
DECLARE
    name text := 'marketplace_orders_' || batch;
BEGIN
    IF key_only THEN
        EXECUTE format('CREATE UNIQUE INDEX %I ON core_warehouse.%I (shop_id, order_id, channel, batch_id)',
                       name || '_key', name);
    ELSE
        EXECUTE format('CREATE INDEX %I ON core_warehouse.%I (shop_id, ordered_at)', name || '_day_idx', name);
    END IF;
END $$;

-- Its CHECK implies the partition's bound: nothing is scanned but the (small) default partition.
CREATE FUNCTION core_warehouse.attach_marketplace_batch(batch bigint) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    part text := format('core_warehouse.%I', 'marketplace_orders_' || batch);
BEGIN
    EXECUTE format('ALTER TABLE {TABLE} ATTACH PARTITION %s FOR VALUES IN (%s)', part, batch);
    EXECUTE format('REVOKE INSERT, DELETE ON %s FROM {SCHEDULER_ROLE}', part);
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', part);
    EXECUTE format('CREATE POLICY scheduler_all ON %s TO {SCHEDULER_ROLE} USING (true) WITH CHECK (true)', part);
    EXECUTE format('CREATE POLICY web_read ON %s FOR SELECT TO {WEB_ROLE} '
                   'USING (shop_id IN (SELECT app_dashboard.visible_shop_ids()))', part);
END $$;

-- A replaced batch's (emptied through the parent first, so the rollup follows) or a failed one's.
CREATE FUNCTION core_warehouse.drop_marketplace_batch(batch bigint) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    EXECUTE format('DROP TABLE IF EXISTS core_warehouse.%I', 'marketplace_orders_' || batch);
END $$;
REVOKE EXECUTE ON FUNCTION core_warehouse.create_marketplace_batch(bigint),
    core_warehouse.index_marketplace_batch(bigint, boolean), core_warehouse.attach_marketplace_batch(bigint),
    core_warehouse.drop_marketplace_batch(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core_warehouse.create_marketplace_batch(bigint),
    core_warehouse.index_marketplace_batch(bigint, boolean), core_warehouse.attach_marketplace_batch(bigint),
    core_warehouse.drop_marketplace_batch(bigint) TO {SCHEDULER_ROLE};

-- A decimal number as COPY types numeric (digits, a point, an exponent: not numeric's 0x1F, 0o17, 0b1 or 1_000,
-- nor NaN or Infinity; at most two decimals, below numeric(20, 2)'s limit), else as a file may
-- write it (1,234.50, 12,50, 1.234,50); NULL when none. A comma with one or two digits after it is a decimal
-- comma; with three, a thousands separator (so is a dot followed by three digits).
-- STABLE as pg_input_is_valid is, so the planner inlines it over a column (evaluated in order, row by row);
-- called with a constant, its casts would be folded before the test that guards them.
CREATE OR REPLACE FUNCTION staging_ingest.to_money(v text) RETURNS numeric LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN translate(v, '0123456789.eE+- ', '') = '' AND pg_input_is_valid(v, 'numeric')
            AND scale(v::numeric) <= 2 AND abs(v::numeric) < 1e18 THEN v::numeric
        WHEN v ~ '^ *[+-]?[0-9]{{1,3}}(,[0-9]{{3}})+([.][0-9]{{1,2}})? *$' THEN replace(v, ',', '')::numeric
        WHEN v ~ '^ *[+-]?[0-9]+,[0-9]{{1,2}} *$' THEN replace(v, ',', '.')::numeric
        WHEN v ~ '^ *[+-]?[0-9]{{1,3}}([.][0-9]{{3}})+(,[0-9]{{1,2}})? *$'
            THEN replace(replace(v, '.', ''), ',', '.')::numeric
    END
$$;
"""

# 0014's to_money, for the downgrade.
OLD_MONEY = re.search(r"CREATE FUNCTION staging_ingest.to_money\(.*?\$\$;", V0014.FUNCTIONS, re.S).group(0).replace(
    "CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)


def upgrade() -> None:
    op.execute(PARTITIONED)
    op.execute(tenant_table(TABLE))
    op.execute(tenant_table("core_warehouse.marketplace_orders_default"))
    op.execute(TRIGGERS)
    op.execute(SUMS)
    op.execute(tenant_table("staging_ingest.upload_channel_sums"))
    op.execute(FUNCTIONS)


def downgrade() -> None:
    op.execute(OLD_MONEY)
    op.execute("DROP TABLE staging_ingest.upload_channel_sums")
    for name in ("create_marketplace_batch(bigint)", "index_marketplace_batch(bigint, boolean)",
                 "attach_marketplace_batch(bigint)", "drop_marketplace_batch(bigint)"):
        op.execute(f"DROP FUNCTION core_warehouse.{name}")
    op.execute(f"""
        CREATE TABLE core_warehouse.marketplace_orders_unpartitioned (LIKE {TABLE} INCLUDING DEFAULTS,
            PRIMARY KEY (shop_id, order_id, channel));
        INSERT INTO core_warehouse.marketplace_orders_unpartitioned SELECT * FROM {TABLE};
        DROP TABLE {TABLE};
        ALTER TABLE core_warehouse.marketplace_orders_unpartitioned RENAME TO marketplace_orders;
        CREATE INDEX marketplace_orders_day_idx ON {TABLE} (shop_id, ordered_at);
    """)
    op.execute(tenant_table(TABLE))
    op.execute(TRIGGERS)
