"""MER's basis: the agency chooses whether MER divides Shopify's total sales alone, or all channels' sales
(Shopify's total sales plus uploaded marketplace orders' net sales) by ad spend.

Revision ID: 0016
Revises: 0015

One column of the agency's settings; the reports read it (dashboard.queries), so the Overview, its CSV
files and `python -m dashboard.export mer-roas` follow it together.
"""

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        ALTER TABLE app_dashboard.agency_settings ADD COLUMN mer_basis text NOT NULL DEFAULT 'shopify'
            CONSTRAINT agency_settings_mer_basis_check CHECK (mer_basis IN ('shopify', 'all_channels'))
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE app_dashboard.agency_settings DROP COLUMN mer_basis")
