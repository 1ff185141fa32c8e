"""capture checks

``capture_checks``: one row per checked HTML capture (the archived view rendered in Chromium
and compared with the live page): the share of differing pixels, the resources that failed
to load in replay, when, against which live screenshot, and a thumbnail of the view.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "capture_checks",
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pixel_diff", sa.Float(), nullable=True),
        sa.Column("failed_resources", sa.JSON(), nullable=False),
        sa.Column("compared_with", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("thumbnail", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["capture_id"], ["captures.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("capture_id"),
    )


def downgrade() -> None:
    op.drop_table("capture_checks")
