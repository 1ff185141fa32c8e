"""captures fetched for a page, not as pages

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 16:00:00

``captures.subresource``: true for a response fetched for a page rather than as a page of
its own: a page's requisites (stylesheets, images, fonts, scripts, same-site frames) and
every request a page's browser made. Only the crawl knows why it fetched a URL; an HTML
frame looks like a page in every other column. Readers that list pages (a WACZ's
``pages.jsonl``, the capture check, re-extraction) leave subresources out, as Browsertrix
lists only the pages it navigated to. A constant default, so adding the column is a change
of the table's definition only on SQLite and PostgreSQL (11+) however many captures there
are; captures archived before count as fetched for themselves.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("captures", sa.Column("subresource", sa.Boolean(), nullable=False,
                                        server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("captures", schema=None) as batch_op:
        batch_op.drop_column("subresource")
