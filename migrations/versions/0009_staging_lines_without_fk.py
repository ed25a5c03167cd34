"""Staged lines without a foreign key: deleting their batch deletes them through a statement trigger.

Revision ID: 0009
Revises: 0007

The foreign key checked every landed line against its batch, one row trigger per line (about 0.5 s of the
database's CPU per 50,000 orders landed, a tenth of the landing): lines are only landed under the batch
created for them in the same transaction, so the check guarded nothing. What it did on delete stays: a
batch pruned by age, or deleted with its shop (shop/redact), takes its lines with it, in the same statement.
"""

from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE staging_ingest.shopify_lines DROP CONSTRAINT shopify_lines_batch_id_fkey;
-- SECURITY DEFINER: like a foreign key's cascade, it deletes whatever role deleted the batch.
CREATE FUNCTION staging_ingest.delete_batch_lines() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM staging_ingest.shopify_lines l USING gone g WHERE l.batch_id = g.id;
    RETURN NULL;
END $$;
CREATE TRIGGER load_batches_delete_lines AFTER DELETE ON staging_ingest.load_batches
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION staging_ingest.delete_batch_lines();
"""

DOWN = """
DROP TRIGGER load_batches_delete_lines ON staging_ingest.load_batches;
DROP FUNCTION staging_ingest.delete_batch_lines();
DELETE FROM staging_ingest.shopify_lines l
WHERE NOT EXISTS (SELECT 1 FROM staging_ingest.load_batches b WHERE b.id = l.batch_id);
ALTER TABLE staging_ingest.shopify_lines ADD CONSTRAINT shopify_lines_batch_id_fkey
    FOREIGN KEY (batch_id) REFERENCES staging_ingest.load_batches (id) ON DELETE CASCADE;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)
