"""One definition per setting: the models, the Scrapy settings derived from them, the docs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from archive.config import SettingsError
from crawler.config import CrawlSettings, archive_settings, scrapy_name
from crawler.runner import crawl_settings
from scheduler.config import ServiceSettings
from scheduler.config_reference import render

ROOT = Path(__file__).resolve().parent.parent


def test_configuration_doc_is_generated_from_the_models() -> None:
    committed = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == render(), ("docs/configuration.md is stale: run `make docs` "
                                   "(python -m scheduler.config_reference)")
    for _, name, _ in ServiceSettings.declared_fields():
        assert f"`NEWSARCHIVE_{name.upper()}`" in committed


def test_every_crawl_setting_reaches_scrapy_from_the_environment(tmp_path: Path) -> None:
    """A fresh interpreter (crawler.settings reads the environment when Scrapy loads it):
    each variable sets its Scrapy setting, typed; a -s override wins."""
    env = {"PATH": "/usr/bin:/bin", "NEWSARCHIVE_DATA_DIR": str(tmp_path),
           "NEWSARCHIVE_USER_AGENT": "probe/1", "NEWSARCHIVE_WARC_MAX_AGE": "12.5",
           "NEWSARCHIVE_TRAP_MAX_PER_PATTERN": "3", "NEWSARCHIVE_REVISITS": "false"}
    probe = ("from crawler.runner import crawl_settings\n"
             "s = crawl_settings({'NEWSARCHIVE_TRAP_MAX_PER_PATTERN': '4'})\n"
             "print(s['USER_AGENT'], s.getfloat('NEWSARCHIVE_WARC_MAX_AGE'),\n"
             "      s.getint('NEWSARCHIVE_TRAP_MAX_PER_PATTERN'),\n"
             "      s.getbool('NEWSARCHIVE_REVISITS'), s['NEWSARCHIVE_DATA_DIR'])")
    out = subprocess.run([sys.executable, "-c", probe], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out == ["probe/1", "12.5", "4", "False", str(tmp_path)]


def test_every_field_is_a_scrapy_setting_of_a_crawl() -> None:
    settings = crawl_settings()
    for name in CrawlSettings.model_fields:
        assert scrapy_name(name) in settings, name


def test_a_crawls_data_dir_moves_the_locations_it_implies(tmp_path: Path) -> None:
    config = archive_settings(crawl_settings({"NEWSARCHIVE_DATA_DIR": str(tmp_path)}))
    assert config.database_url == f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    assert config.spool_dir == tmp_path / "spool"
    assert config.storage_url == (tmp_path / "storage").as_uri()


def test_service_passes_what_it_was_given_to_its_crawls(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "newsarchive.toml"
    toml.write_text(f"data_dir = '{tmp_path}'\nuser_agent = 'from-toml/1'\n"
                    "warc_max_size = 1000\nmax_crawls = 3\n")
    monkeypatch.setenv("NEWSARCHIVE_CONFIG", str(toml))
    env = ServiceSettings.load().crawl_environment()
    assert env["NEWSARCHIVE_USER_AGENT"] == "from-toml/1"
    assert env["NEWSARCHIVE_WARC_MAX_SIZE"] == "1000"
    assert env["NEWSARCHIVE_DATABASE_URL"] == f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    assert "NEWSARCHIVE_MAX_CRAWLS" not in env  # a service setting, not a crawl's
    assert "NEWSARCHIVE_GC_FREEZE" not in env  # not given: the crawl's own default


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("NEWSARCHIVE_S3_RETRIES", "many", "NEWSARCHIVE_S3_RETRIES='many': Input should be a "
     "valid integer, unable to parse string as an integer (a whole number from 0 to 100; "
     "default 8)"),
    ("NEWSARCHIVE_WARC_GZIP_LEVEL", "11", "NEWSARCHIVE_WARC_GZIP_LEVEL='11': Input should be "
     "less than or equal to 9 (a whole number from 0 to 9; default 6)"),
    ("NEWSARCHIVE_ALLOWED_NETWORKS", "lan", "NEWSARCHIVE_ALLOWED_NETWORKS='lan': 'lan' is not "
     "an IP network (use CIDR notation such as 127.0.0.0/8 or ::1/128)"),
    ("NEWSARCHIVE_HUB_REFRESH_MAX", "10m", "NEWSARCHIVE_HUB_REFRESH_MAX='10m': shorter than "
     "NEWSARCHIVE_HUB_REFRESH_MIN (15m): the longest interval must be at least the shortest"),
    ("NEWSARCHIVE_HUB_REFRESH_MIN", "0h", "NEWSARCHIVE_HUB_REFRESH_MIN='0h': invalid duration "
     "'0h': use a positive number and s, m, h, d or w, e.g. 1h or 2d"),
])
def test_a_bad_value_names_the_variable_and_the_rule(monkeypatch: pytest.MonkeyPatch,
                                                     variable: str, value: str,
                                                     message: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        ServiceSettings.load()
    assert str(raised.value) == message
