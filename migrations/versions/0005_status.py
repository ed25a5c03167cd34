"""Sync status: Meta days covered as a small rollup the web may read, and the web's retry request.

Revision ID: 0005
Revises: 0004

The web never reads core_warehouse, so the status page's "Meta days covered" comes from
reporting.meta_coverage, kept by statement triggers on the facts (one row per shop and ad account).
"""

from alembic import op

from migrations.rls import SCHEDULER_ROLE, WEB_ROLE, tenant_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TABLE = """
CREATE TABLE reporting.meta_coverage (
    shop_id    bigint NOT NULL REFERENCES app_dashboard.shops (id) ON DELETE CASCADE,
    account_id text NOT NULL,
    first_day  date NOT NULL,
    last_day   date NOT NULL,
    days       integer NOT NULL,
    synced_at  timestamptz,
    PRIMARY KEY (shop_id, account_id)
);
"""

# One function for inserts, updates and deletes: recount the touched (shop, account) pairs.
TRIGGERS = """
CREATE FUNCTION reporting.refresh_meta_coverage() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO reporting.meta_coverage AS c (shop_id, account_id, first_day, last_day, days, synced_at)
        SELECT f.shop_id, f.account_id, min(f.date), max(f.date), count(*), max(f.synced_at)
        FROM core_warehouse.fact_marketing_daily f
        WHERE (f.shop_id, f.account_id) IN (SELECT DISTINCT shop_id, account_id FROM changed)
        GROUP BY f.shop_id, f.account_id
        ON CONFLICT (shop_id, account_id) DO UPDATE SET first_day = excluded.first_day,
            last_day = excluded.last_day, days = excluded.days, synced_at = excluded.synced_at;
        DELETE FROM reporting.meta_coverage c
        WHERE (c.shop_id, c.account_id) IN (SELECT DISTINCT shop_id, account_id FROM changed)
          AND NOT EXISTS (SELECT FROM core_warehouse.fact_marketing_daily f
                          WHERE f.shop_id = c.shop_id AND f.account_id = c.account_id);
        RETURN NULL;
    END $$;
CREATE TRIGGER meta_coverage_insert AFTER INSERT ON core_warehouse.fact_marketing_daily
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION reporting.refresh_meta_coverage();
CREATE TRIGGER meta_coverage_update AFTER UPDATE ON core_warehouse.fact_marketing_daily
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION reporting.refresh_meta_coverage();
CREATE TRIGGER meta_coverage_delete AFTER DELETE ON core_warehouse.fact_marketing_daily
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION reporting.refresh_meta_coverage();

INSERT INTO reporting.meta_coverage (shop_id, account_id, first_day, last_day, days, synced_at)
SELECT shop_id, account_id, min(date), max(date), count(*), max(synced_at)
FROM core_warehouse.fact_marketing_daily GROUP BY shop_id, account_id;
"""

# "Last successful sync" per store and source on every poll: one probe instead of a scan of the history.
INDEX = """
CREATE INDEX sync_jobs_success_idx ON app_dashboard.sync_jobs (shop_id, source, finished_at DESC)
    WHERE status = 'succeeded';
"""

GRANTS = f"""
GRANT SELECT ON reporting.meta_coverage TO {WEB_ROLE};
GRANT ALL ON reporting.meta_coverage TO {SCHEDULER_ROLE};
GRANT EXECUTE ON FUNCTION reporting.refresh_meta_coverage() TO {SCHEDULER_ROLE};
-- The status page's retry goes through ingest.jobs.enqueue, which always sets max_attempts.
GRANT INSERT (max_attempts) ON app_dashboard.sync_jobs TO {WEB_ROLE};
"""


def upgrade() -> None:
    op.execute(TABLE)
    op.execute(tenant_table("reporting.meta_coverage"))
    op.execute(TRIGGERS)
    op.execute(INDEX)
    op.execute(GRANTS)


def downgrade() -> None:
    op.execute(f"REVOKE INSERT (max_attempts) ON app_dashboard.sync_jobs FROM {WEB_ROLE}")
    op.execute("DROP INDEX app_dashboard.sync_jobs_success_idx")
    op.execute("DROP TABLE reporting.meta_coverage")
    op.execute("DROP FUNCTION reporting.refresh_meta_coverage() CASCADE")
