"""site politeness

A site's politeness for its crawls: concurrent requests per domain, the delay between
requests (seconds), AutoThrottle on or off; and the bounds ("15m", "1d") within which each
of its hubs' refresh interval adapts. NULL: the crawl-wide setting.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("concurrency_per_domain", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("download_delay", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("autothrottle", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("hub_refresh_min", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("hub_refresh_max", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("hub_refresh_max")
        batch_op.drop_column("hub_refresh_min")
        batch_op.drop_column("autothrottle")
        batch_op.drop_column("download_delay")
        batch_op.drop_column("concurrency_per_domain")
