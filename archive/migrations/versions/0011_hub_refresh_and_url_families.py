"""hub refresh intervals and article URL families

``seen_urls.refresh_interval`` (seconds) and ``seen_urls.next_fetch_at``: when a hub, feed or
sitemap is next refetched, an interval that adapts to whether it keeps linking to new
articles. ``url_families``: the URL families of a site that crawls found to be articles,
which the trap cap never applies to again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 08:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("seen_urls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh_interval", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("next_fetch_at", sa.DateTime(timezone=True),
                                      nullable=True))
    op.create_table(
        "url_families",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("family", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("proven_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "family", name="uq_url_families_site"),
    )


def downgrade() -> None:
    op.drop_table("url_families")
    with op.batch_alter_table("seen_urls", schema=None) as batch_op:
        batch_op.drop_column("next_fetch_at")
        batch_op.drop_column("refresh_interval")
