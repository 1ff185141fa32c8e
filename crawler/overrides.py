"""``-s NAME=VALUE``: a crawl's setting overrides (Scrapy's convention), checked before the
crawl starts, so that a typo or a value of the wrong type is one clear line, not a crawl that
ignores it or dies halfway.

A name is a setting of a crawl when Scrapy has a default for it, the project's settings
module (``crawler/settings.py``) sets it, or it is a ``NEWSARCHIVE_*`` crawl setting
(:class:`crawler.config.CrawlSettings`; ``NEWSARCHIVE_USER_AGENT`` is taken for the Scrapy
setting it sets, ``USER_AGENT``). A ``NEWSARCHIVE_*`` value is checked by its field's type
and constraints; any other by the type of its default, converted as Scrapy's ``getint``,
``getfloat``, ``getbool``, ``getdict`` and ``getlist`` convert it. The result maps Scrapy
setting names to typed values: the ``overrides`` of :func:`crawler.runner.run_crawl`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from scrapy.settings import BaseSettings

from archive.config import env_name, rule
from crawler.config import CrawlSettings, scrapy_name

# Scrapy settings whose default has another type than the getter Scrapy reads them with
# (``DOWNLOAD_DELAY = 0`` is read with ``getfloat``); a test checks it against Scrapy's source.
SCRAPY_READS_AS: dict[str, type] = {"DOWNLOAD_DELAY": float, "DOWNLOAD_TIMEOUT": float,
                                    "DNS_TIMEOUT": float, "TELNETCONSOLE_ENABLED": bool}
NOT_A = {int: "not an integer", float: "not a number",
         bool: "not a boolean (true, false, 1 or 0)", dict: "not a JSON object",
         list: "not a list"}
_FIELDS_BY_NAME = {name: field for field in CrawlSettings.model_fields
                   for name in (scrapy_name(field), env_name(field))}


class OverrideError(ValueError):
    """A ``-s`` item that cannot be used; the message is one line naming it."""


def parse_overrides(items: Iterable[str],
                    reserved: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``NAME=VALUE`` items → {Scrapy setting name: typed value}; the last of one name wins.
    ``reserved`` maps names the caller sets itself (from its own options) to what to give
    instead. Raises :class:`OverrideError`."""
    from crawler.runner import crawl_settings  # the settings a crawl starts from

    defaults = crawl_settings()
    overrides: dict[str, Any] = {}
    fields: dict[str, tuple[str, str]] = {}  # CrawlSettings field -> (item, raw value)
    for item in items:
        name, equals, raw = item.partition("=")
        name = name.strip()
        if not equals or not name:
            raise OverrideError(f"-s {item}: give NAME=VALUE, e.g. -s DOWNLOAD_DELAY=0.5")
        if reserved and name in reserved:
            raise OverrideError(f"-s {item}: {reserved[name]}")
        if name in _FIELDS_BY_NAME:
            fields[_FIELDS_BY_NAME[name]] = (item, raw)
        elif name in defaults:
            overrides[name] = _scrapy_value(item, name, raw, defaults[name])
        else:
            raise OverrideError(f"-s {item}: unknown setting{_suggestion(name, defaults)}")
    overrides.update(_field_values(fields))
    return overrides


def crawl_config(overrides: Mapping[str, Any]) -> CrawlSettings:
    """The crawl settings from the environment with ``overrides`` (already checked) applied:
    what the crawl will use, e.g. its catalog and the networks it may reach."""
    return CrawlSettings.load(**{field: overrides[scrapy_name(field)]
                                 for field in CrawlSettings.model_fields
                                 if scrapy_name(field) in overrides})


def _scrapy_value(item: str, name: str, raw: str, default: Any) -> Any:
    kind = SCRAPY_READS_AS.get(name) or _kind(default)
    if kind is None:  # text, or no default to go by
        return raw
    probe = BaseSettings({name: raw})
    getter = {bool: probe.getbool, int: probe.getint, float: probe.getfloat,
              dict: probe.getdict, list: probe.getlist}[kind]
    try:
        return getter(name)
    except (ValueError, TypeError):
        raise OverrideError(f"-s {item}: {NOT_A[kind]}") from None


def _kind(default: Any) -> type | None:
    """The type Scrapy's getters convert a setting to, by its default."""
    if isinstance(default, bool | int | float):
        return type(default)
    if isinstance(default, dict | BaseSettings):
        return dict
    if isinstance(default, list | tuple):
        return list
    return None


def _field_values(given: dict[str, tuple[str, str]]) -> dict[str, Any]:
    """The values of ``NEWSARCHIVE_*`` fields, checked by :class:`CrawlSettings` itself."""
    if not given:
        return {}
    try:
        config = CrawlSettings(**{field: raw for field, (_, raw) in given.items()})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else ""
            message = str(error["msg"]).removeprefix("Value error, ")
            if field in given:
                if error["type"] != "value_error":  # pydantic's own check: say what it takes
                    message += f" ({rule(CrawlSettings.model_fields[field])})"
                problems.append(f"-s {given[field][0]}: {message}")
            else:  # a value of the environment that the ones given contradict
                items = " ".join(f"-s {item}" for item, _ in given.values())
                problems.append(f"{items}: with it, {env_name(field)}={error['input']!r} is "
                                f"{message}")
        raise OverrideError("; ".join(problems)) from None
    values = {}
    for field in given:
        value = getattr(config, field)
        values[scrapy_name(field)] = str(value) if isinstance(value, Path) else value
    return values


def _suggestion(name: str, defaults: BaseSettings) -> str:
    known = [*defaults, *_FIELDS_BY_NAME]
    close = difflib.get_close_matches(name.upper(), known, n=1)
    return f" (did you mean {close[0]}?)" if close else " (see docs/configuration.md and " \
        "Scrapy's settings reference)"
