"""``python -m scheduler.cli``: the console script, for a process started by path."""

from scheduler.cli import app

app()
