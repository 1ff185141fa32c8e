"""``docs/configuration.md``, generated from the settings models.

``python -m scheduler.config_reference > docs/configuration.md`` (``make docs``) writes it;
a test fails when the committed file differs from :func:`render`.
"""

from __future__ import annotations

from pydantic.fields import FieldInfo

from archive.config import ArchiveSettings, NewsarchiveSettings, env_name, rule
from crawler.config import CrawlSettings, scrapy_name
from scheduler.config import ServiceSettings

SECTIONS: dict[type[NewsarchiveSettings], tuple[str, str]] = {
    ArchiveSettings: ("Archive", "Where the archive lives; read by every command, the service "
                                 "and crawls (`archive.config.ArchiveSettings`)."),
    CrawlSettings: ("Crawls", "Read by every crawl; each is also the Scrapy setting of the "
                              "same name (or the Scrapy setting named), so `newsarchive crawl "
                              "-s NAME=VALUE` (or `scrapy crawl news -s NAME=VALUE`) overrides "
                              "it for one crawl; see [Settings of one crawl](#settings-of-one-"
                              "crawl) (`crawler.config.CrawlSettings`)."),
    ServiceSettings: ("Service", "Read by `newsarchive serve` and `newsarchive worker`; "
                                 "the capture check's also by `newsarchive crawl` and "
                                 "`newsarchive check` (`scheduler.config.ServiceSettings`)."),
}

HEADER = """\
# Configuration

<!-- Generated from the settings models by `python -m scheduler.config_reference`
     (`make docs`); edit the field descriptions there, not this file. -->

Every setting is an environment variable `NEWSARCHIVE_<NAME>`. `newsarchive serve` and
`newsarchive worker` also read a TOML file: `NEWSARCHIVE_CONFIG` (default `newsarchive.toml`
in the working directory, if present), whose keys are the lower-case names
(`data_dir = "/srv/newsarchive"`); environment variables win over the file, and the service
passes the archive and crawl settings it was given on to its crawls. Every setting has a
safe default: loopback only, SQLite and local files under `./data`. A value a setting cannot
take stops the command with one line naming the variable, the value and what it takes.
"""


POLITENESS = ("ROBOTSTXT_OBEY", "AUTOTHROTTLE_ENABLED", "CONCURRENT_REQUESTS",
              "CONCURRENT_REQUESTS_PER_DOMAIN", "DOWNLOAD_DELAY", "RETRY_TIMES")
TRAILER = """
## Settings of one crawl

A crawl runs with Scrapy's settings: Scrapy's defaults, then the project's
(`crawler/settings.py`: {politeness}), then the `NEWSARCHIVE_*`
crawl settings above. For the crawls of a site, its politeness comes next: the site fields
`concurrency_per_domain`, `download_delay` and `autothrottle` set
`CONCURRENT_REQUESTS_PER_DOMAIN`, `DOWNLOAD_DELAY` and `AUTOTHROTTLE_ENABLED`, and
`hub_refresh_min` / `hub_refresh_max` replace `NEWSARCHIVE_HUB_REFRESH_MIN` / `_MAX`
([api.md](api.md#sites)); a field left unset (null) keeps the crawl-wide value. Last, and
winning over all of them, `newsarchive crawl -s NAME=VALUE` (repeatable) sets any Scrapy
setting or `NEWSARCHIVE_*` crawl setting for that one crawl: `-s DOWNLOAD_DELAY=2
-s AUTOTHROTTLE_ENABLED=false` ([cli.md](cli.md#crawl-settings)). A name that is no setting of
a crawl, or a value of the wrong type, stops the crawl before it starts, with one line naming
it (exit 2).
"""


def _trailer() -> str:
    from crawler.runner import crawl_settings

    settings = crawl_settings()
    return TRAILER.format(politeness=", ".join(f"`{name} = {settings[name]!r}`"
                                               for name in POLITENESS))


def _default(name: str, info: FieldInfo) -> str:
    if info.default is None:
        return "unset"
    if info.default == "":
        return "empty"
    return f"`{info.default}`"


def _row(model: type[NewsarchiveSettings], name: str, info: FieldInfo) -> str:
    variable = f"`{env_name(name)}`"
    if model is CrawlSettings and scrapy_name(name) != env_name(name):
        variable += f" (Scrapy `{scrapy_name(name)}`)"
    takes = rule(info).split(";")[0]
    description = (info.description or "").replace("|", "\\|")
    return f"| {variable} | {takes} | {_default(name, info)} | {description} |"


def render() -> str:
    parts = [HEADER]
    by_model: dict[type[NewsarchiveSettings], list[str]] = {model: [] for model in SECTIONS}
    for model, name, info in ServiceSettings.declared_fields():
        if model in by_model:
            by_model[model].append(_row(model, name, info))
    for model, (title, about) in SECTIONS.items():
        parts.append(f"\n## {title}\n\n{about}\n\n| variable | takes | default | what it does |"
                     f"\n|---|---|---|---|\n" + "\n".join(by_model[model]) + "\n")
    parts.append(_trailer())
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
