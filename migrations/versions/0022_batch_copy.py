"""A marketplace-orders batch's table takes the file's COPY itself: defaults for what the file lacks, a line sequence.

Revision ID: 0022
Revises: 0021

0020's batch table was written by one INSERT from a temporary copy of the file; now the file is COPYed straight
into it (ingest/uploads/stage.py). For that, create_marketplace_batch gives the new table, until it is
attached: the store and batch as defaults; each row's line from a sequence of its own (drawn for a row COPY
skips too, so a line missing from the table is a row COPY skipped); 0 for the optional money a file leaves
empty or lacks; for the required columns a value the COPY's WHERE refuses ('', 'infinity', 'NaN': an empty
field takes its column's default, so such a row is left out, its line missing, instead of failing the COPY on
NOT NULL); and text columns for the file's columns that are not ours. attach_marketplace_batch drops all of
that (defaults, sequence, extra columns: catalog changes, nothing rewritten) before attaching.
"""

import importlib
import re

from alembic import op

from migrations.rls import SCHEDULER_ROLE

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

V0020 = importlib.import_module("migrations.versions.0020_marketplace_batches")
TABLE = "core_warehouse.marketplace_orders"
# What a column reads when the file's field is empty or the file lacks it (the COPY's WHERE refuses the
# required columns' values: their rows come back as lines missing).
LOAD_DEFAULTS = ("discounts = 0", "refunds = 0", "fees = 0", "order_id = ''", "channel = ''", "currency = ''",
                 "ordered_at = 'infinity'", "gross = 'NaN'", "net = 'NaN'")
DEFAULTS_SQL = ", ".join(f"ALTER {c.split(' = ')[0]} SET DEFAULT {c.split(' = ')[1]}" for c in LOAD_DEFAULTS)
DROP_DEFAULTS_SQL = ", ".join(f"ALTER {c} DROP DEFAULT" for c in ("shop_id", "batch_id", "line_no",
                                                                   *(d.split(" = ")[0] for d in LOAD_DEFAULTS)))


def _from_0020(function: str) -> str:
    """0020's definition of a batch function, for the downgrade."""
    return re.search(rf"CREATE FUNCTION core_warehouse.{function}\(.*?END \$\$;", V0020.FUNCTIONS, re.S).group(0)

# 0020's attach_marketplace_batch, what the load needed dropped first (catalog changes only: a dropped column's
# bytes stay in the rows, unread). Its CHECK implies the partition's bound: nothing is scanned but the (small)
# default partition.
ATTACH_0020 = _from_0020("attach_marketplace_batch")
LOAD_LEFTOVERS = f"""    extra text;
BEGIN
    EXECUTE format('ALTER TABLE %s {DROP_DEFAULTS_SQL}', part);
    EXECUTE format('DROP SEQUENCE IF EXISTS core_warehouse.%I', 'marketplace_orders_' || batch || '_line');
    FOR extra IN SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(part) AND attnum > 0
            AND NOT attisdropped AND attname LIKE 'file\\_column\\_%' LOOP
        EXECUTE format('ALTER TABLE %s DROP COLUMN %I', part, extra);
    END LOOP;
"""
ATTACH = (ATTACH_0020.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1)
          .replace("BEGIN\n", LOAD_LEFTOVERS, 1))
assert ATTACH.count("DROP COLUMN") == 1 and ATTACH.count("extra text;") == 1

FUNCTIONS = f"""
DROP FUNCTION core_warehouse.create_marketplace_batch(bigint);
CREATE FUNCTION core_warehouse.create_marketplace_batch(batch bigint, shop bigint DEFAULT NULL,
        first_line bigint DEFAULT 2, extra integer DEFAULT 0) RETURNS void LANGUAGE plpgsql
    SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    name text := 'marketplace_orders_' || batch;
    part text := format('core_warehouse.%I', 'marketplace_orders_' || batch);
    line text := format('core_warehouse.%I', 'marketplace_orders_' || batch || '_line');
BEGIN
    IF EXISTS (SELECT FROM pg_inherits WHERE inhrelid = to_regclass(part)) THEN
        RAISE EXCEPTION 'batch % is in the warehouse already', batch;
    END IF;
    EXECUTE format('DROP TABLE IF EXISTS %s', part);  -- an earlier attempt's (its sequence goes with it)
    EXECUTE format('CREATE TABLE %s (LIKE {TABLE} INCLUDING DEFAULTS, CHECK (batch_id = %s))', part, batch);
    EXECUTE format('CREATE SEQUENCE %s START WITH %s CACHE 10000 OWNED BY %s.line_no', line, first_line, part);
    EXECUTE format('ALTER TABLE %s ALTER batch_id SET DEFAULT %s, ALTER line_no SET DEFAULT nextval(%L), '
                   '{DEFAULTS_SQL.replace("'", "''")}', part, batch, line);
    IF shop IS NOT NULL THEN
        EXECUTE format('ALTER TABLE %s ALTER shop_id SET DEFAULT %s', part, shop);
    END IF;
    FOR n IN 1 .. extra LOOP  -- the file's own columns: COPY must put them somewhere
        EXECUTE format('ALTER TABLE %s ADD COLUMN %I text DEFAULT %L', part, 'file_column_' || n, '');
    END LOOP;
    -- Only the scheduler's until attached (COPY cannot write a table under RLS): RLS comes with attaching.
    EXECUTE format('GRANT SELECT, INSERT, DELETE ON %s TO {SCHEDULER_ROLE}', part);
    EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO {SCHEDULER_ROLE}', line);
END $$;
REVOKE EXECUTE ON FUNCTION core_warehouse.create_marketplace_batch(bigint, bigint, bigint, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION core_warehouse.create_marketplace_batch(bigint, bigint, bigint, integer)
    TO {SCHEDULER_ROLE};
"""



def upgrade() -> None:
    op.execute(FUNCTIONS)
    op.execute(ATTACH)


def downgrade() -> None:
    op.execute("DROP FUNCTION core_warehouse.create_marketplace_batch(bigint, bigint, bigint, integer)")
    op.execute(_from_0020("create_marketplace_batch"))
    op.execute(_from_0020("attach_marketplace_batch").replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
    op.execute(f"REVOKE EXECUTE ON FUNCTION core_warehouse.create_marketplace_batch(bigint) FROM PUBLIC; "
               f"GRANT EXECUTE ON FUNCTION core_warehouse.create_marketplace_batch(bigint) TO {SCHEDULER_ROLE}")
