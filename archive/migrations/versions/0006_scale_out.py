"""scale-out: broker dispatch time of each job

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 09:30:00

``crawl_jobs.dispatched_at``: when the job's Dramatiq message was last sent. Every ``serve``
sends the messages of queued jobs that have none yet (the ledger is the outbox), and sends
again those left unclaimed for ``NEWSARCHIVE_REDISPATCH_SECONDS``.
"""

from alembic import op
import sqlalchemy as sa


revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_jobs", schema=None) as batch_op:
        batch_op.drop_column("dispatched_at")
