"""articles full-text search

SQLite: an FTS5 table ``articles_fts`` (title, text) with external content over
``articles``, kept in sync by triggers; tokenizer ``unicode61 remove_diacritics 2`` (case and
accents folded, no stemming). Existing rows are indexed by a ``rebuild``.

PostgreSQL: a GIN index on ``to_tsvector('simple', title || ' ' || text)``. The ``simple``
configuration lower-cases without stemming or stop words: the archive is multilingual and one
index serves every language alike (as unicode61 does on SQLite). archive/search.py queries the
very same expression, so the index is used.

Note for later migrations: a SQLite batch "move and copy" of ``articles`` drops these triggers
with the old table; recreate them (``_create_sqlite_triggers``) after such a batch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 09:30:00
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PG_INDEX = "ix_articles_fulltext"
PG_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, ''))"

SQLITE_TRIGGERS = {
    "articles_fts_insert": """
        CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
    "articles_fts_delete": """
        CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
        END""",
    "articles_fts_update": """
        CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN
            INSERT INTO articles_fts(articles_fts, rowid, title, text)
            VALUES ('delete', old.id, old.title, old.text);
            INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text);
        END""",
}


def _create_sqlite_triggers() -> None:
    for ddl in SQLITE_TRIGGERS.values():
        op.execute(ddl)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE articles_fts USING fts5(title, text, content='articles', "
            "content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        _create_sqlite_triggers()
        op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX {PG_INDEX} ON articles USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    elif dialect == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
