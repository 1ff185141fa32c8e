"""article versions

``articles.url_key``: the history an article belongs to (SHA-1 of its normalised canonical
URL, else URL; see ``archive.urlkeys.article_url``). Left empty for existing rows: a
``newsarchive reextract --force`` fills it and builds their versions.
``article_versions``: one row per version of an article, with the named changes from the
version before (JSON), their significance and whether the change was stealthy.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("url_key", sa.String(length=40), nullable=True))
        batch_op.create_index("ix_articles_url_key", ["url_key"])
    op.create_table(
        "article_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_key", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("capture_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=True),
        sa.Column("extractor_version", sa.String(length=128), nullable=True),
        sa.Column("content_digest", sa.String(length=64), nullable=True),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("significance", sa.Float(), nullable=False),
        sa.Column("stealth", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["capture_id"], ["captures.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("url_key", "number", name="uq_article_versions_key_number"),
    )
    op.create_index("ix_article_versions_capture_id", "article_versions", ["capture_id"])
    op.create_index("ix_article_versions_article_id", "article_versions", ["article_id"])


def downgrade() -> None:
    op.drop_table("article_versions")
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_url_key")
        batch_op.drop_column("url_key")
