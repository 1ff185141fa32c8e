"""crawler.startup.quick_imports: the collector is off only while an entry point imports."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from crawler.startup import quick_imports


def test_the_collector_is_off_inside_and_back_on_after() -> None:
    assert gc.isenabled()
    with quick_imports():
        assert not gc.isenabled()
        assert "scrapy.core.downloader.handlers.http11" in sys.modules
    assert gc.isenabled()


def test_a_failing_import_leaves_the_collector_on() -> None:
    with pytest.raises(ImportError), quick_imports():
        import no_such_module_of_newsarchive  # noqa: F401
    assert gc.isenabled()


def test_a_collector_turned_off_by_the_caller_stays_off() -> None:
    gc.disable()
    try:
        with quick_imports():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_console_script_and_the_crawl_child_run_with_the_collector_on() -> None:
    """Both entry points import under quick_imports and then run their code collected."""
    for entry in ("scheduler.cli", "crawler.job"):
        probe = f"import gc, {entry}; print(gc.isenabled())"
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                             check=True).stdout
        assert out.strip() == "True", entry
