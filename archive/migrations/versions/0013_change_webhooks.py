"""change webhooks

A site's webhook (all NULL: none): the URL that receives a signed JSON POST for each change
of one of its articles whose significance is at least ``webhook_min_significance`` (0: every
change), and the secret the body is signed with (HMAC-SHA256).
``webhook_deliveries``: the outbox, one row per change to deliver, written in the
transaction that records the version (``archive.webhook_outbox``).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("webhook_url", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret", sa.String(length=256), nullable=True))
        batch_op.add_column(sa.Column("webhook_min_significance", sa.Float(), nullable=False,
                                      server_default="0"))
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["article_versions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", name="uq_webhook_deliveries_version"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["status", "next_attempt_at"])
    op.create_index("ix_webhook_deliveries_site_id", "webhook_deliveries", ["site_id"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("webhook_min_significance")
        batch_op.drop_column("webhook_secret")
        batch_op.drop_column("webhook_url")
