"""discovery seen urls and revisits

Per-site seen URLs for incremental crawls, and the sites' discovery settings (refresh
ages, sitemap horizon, article/hub URL patterns). Revisit records need no schema change:
they are ``captures`` rows with ``record_type='revisit'``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refresh", sa.JSON(), nullable=False,
                                      server_default="[]"))
        batch_op.add_column(sa.Column("horizon", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("article_patterns", sa.JSON(), nullable=False,
                                      server_default="[]"))
        batch_op.add_column(sa.Column("hub_patterns", sa.JSON(), nullable=False,
                                      server_default="[]"))
    op.create_table(
        "seen_urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_hash", sa.String(length=40), nullable=False),
        sa.Column("canonical_url", sa.Text(), nullable=True),
        sa.Column("canonical_hash", sa.String(length=40), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_capture", sa.String(length=14), nullable=True),
        sa.Column("last_payload_digest", sa.String(length=128), nullable=True),
        sa.Column("refreshes", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["sites.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("site_id", "url_hash", name="uq_seen_urls_site_url"),
    )
    op.create_index("ix_seen_urls_site_canonical", "seen_urls",
                    ["site_id", "canonical_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_seen_urls_site_canonical", table_name="seen_urls")
    op.drop_table("seen_urls")
    with op.batch_alter_table("sites", schema=None) as batch_op:
        batch_op.drop_column("hub_patterns")
        batch_op.drop_column("article_patterns")
        batch_op.drop_column("horizon")
        batch_op.drop_column("refresh")
