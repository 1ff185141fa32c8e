"""capture validators for conditional re-fetches

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 09:30:00

``captures.etag`` and ``captures.last_modified``: the validators of each archived response,
as sent, so that a later crawl can ask ``If-None-Match`` / ``If-Modified-Since`` and archive
a ``304 Not Modified`` as a revisit of that capture (``archive.revalidation``). Two nullable
columns rather than a table of their own: the lookup is then the one probe of
``ix_captures_surt_timestamp`` that finds the latest capture anyway, and adding a nullable
column without a default is a change of the table's definition only, on SQLite (``ALTER
TABLE ADD COLUMN``) and on PostgreSQL alike, however many captures there are. Captures
archived before have none: their URLs are fetched unconditionally once more.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ALTER TABLE (not batch mode): SQLite adds a nullable column in place
    op.add_column("captures", sa.Column("etag", sa.Text(), nullable=True))
    op.add_column("captures", sa.Column("last_modified", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("captures", schema=None) as batch_op:
        batch_op.drop_column("last_modified")
        batch_op.drop_column("etag")
