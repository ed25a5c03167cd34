"""A late rate waits for the stores' loads: reporting.refresh_fx_reporting takes every store's flush lock first.

Revision ID: 0023
Revises: 0022

A rate (or a new reporting currency, or a store's new currency) reconverts the kept rows of every store
(0015's months, 0017's days), row by row in no particular order, while a load committing a store's days
rewrites some of the same rows under that store's flush lock (reporting.flush_rollups). Each could hold rows
the other waits for: a deadlock, seen when a scheduler refreshed the rates during a store's first backfill.
Taking every store's flush lock before reconverting, in the loads' order (by shop id), makes the refresh wait
for a load in progress, and a load wait for a refresh, and never both.
"""

import importlib

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

V0017 = importlib.import_module("migrations.versions.0017_kept_conversions")

REFRESH_0017 = V0017.HOOKS[:V0017.HOOKS.index("END $$;") + len("END $$;")]
assert REFRESH_0017.startswith("CREATE OR REPLACE FUNCTION reporting.refresh_fx_reporting(since date)")
LOCKS = """BEGIN
    -- The lock reporting.flush_rollups takes for a store's load, in its order: see the docstring.
    PERFORM pg_advisory_xact_lock(1013, id::integer) FROM app_dashboard.shops ORDER BY id;
"""
REFRESH = REFRESH_0017.replace("BEGIN\n", LOCKS, 1)
assert REFRESH.count("pg_advisory_xact_lock") == 1


def upgrade() -> None:
    op.execute(REFRESH)


def downgrade() -> None:
    op.execute(REFRESH_0017)
