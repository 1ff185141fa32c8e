"""site render mode

How a site's pages are captured: ``static``, ``browser`` or ``auto`` (NULL: the crawl
default, NEWSARCHIVE_RENDER). The screenshots and rendered DOMs of browser captures need no
schema change: they are ``captures`` rows with ``record_type='resource'``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("render", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("render")
