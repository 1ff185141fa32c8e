"""``newsarchive sites add|update|list|show|remove``: edits the catalog; a running service
picks the change up within seconds (schedules included)."""

from __future__ import annotations

import json
import re
import sys
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table
from sqlalchemy import select

from archive.models import Site
from crawler.config import CrawlSettings
from crawler.render import RenderMode
from scheduler.cli.common import fail, open_catalog, out
from scheduler.site_definitions import NULLABLE_FIELDS, Schedule, SiteIn, SitePatch
from scheduler.sites import (
    InvalidSite,
    SiteExists,
    SiteNotFound,
    SiteWithoutSeeds,
    create_site,
    get_site,
    update_site,
)
from scheduler.urlcheck import check_crawl_urls, check_webhook_address

sites_app = typer.Typer(help="Manage the sites crawled on a schedule.", no_args_is_help=True)
DURATION = re.compile(r"^(\d+)\s*([smhd])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# --no-schedule and --no-webhook reset the others
RESETTABLE = [name for name in NULLABLE_FIELDS
              if name != "schedule" and not name.startswith("webhook_")]


def politeness_options() -> dict[str, Any]:
    """The politeness and hub refresh options of ``add`` and ``update``."""
    return {
        "concurrency_per_domain": typer.Option(
            min=1, max=256, help="Concurrent requests per domain in its crawls "
            "(default: the crawl's, 4)."),
        "download_delay": typer.Option(
            min=0, max=3600, metavar="SECONDS", help="Seconds between requests to one "
            "domain (default: the crawl's, 0)."),
        "autothrottle": typer.Option(
            "--autothrottle/--no-autothrottle", help="AutoThrottle on or off in its crawls "
            "(default: the crawl's, on)."),
        "hub_refresh_min": typer.Option(
            metavar="AGE", help="Shortest interval at which a hub is refetched, e.g. 15m "
            "(default: NEWSARCHIVE_HUB_REFRESH_MIN)."),
        "hub_refresh_max": typer.Option(
            metavar="AGE", help="Longest interval at which a hub is refetched, e.g. 1d "
            "(default: NEWSARCHIVE_HUB_REFRESH_MAX)."),
    }


POLITENESS = politeness_options()
WEBHOOK = {
    "webhook_url": typer.Option(
        metavar="URL", help="POST each change of the site's articles here, signed "
        "(docs/api.md, Change webhooks); needs a secret."),
    "webhook_secret": typer.Option(
        metavar="SECRET", help="Key of the webhook's HMAC-SHA256 signature, 16 to 256 "
        "characters; - reads it from the first line of stdin (out of the shell's history)."),
    "webhook_min_significance": typer.Option(
        metavar="0-1", help="The least significance of a change the webhook receives "
        "(default 0: every change)."),
}


def parse_every(value: str) -> int:
    match = DURATION.match(value.strip().lower())
    if not match:
        raise typer.BadParameter(f"{value!r}: use a number and s, m, h or d, e.g. 30m or 6h",
                                 param_hint="'--every'")
    return int(match[1]) * UNITS[match[2]]


@sites_app.command("add")
def add(
    name: str,
    start_url: Annotated[list[str] | None, typer.Option(help="Home/section page (repeatable).")]
    = None,
    feed: Annotated[list[str] | None, typer.Option(help="RSS/Atom feed (repeatable).")] = None,
    sitemap: Annotated[list[str] | None, typer.Option(help="Sitemap (repeatable).")] = None,
    every: Annotated[str | None, typer.Option(help="Interval: 30m, 6h, 1d.")] = None,
    cron: Annotated[str | None, typer.Option(help='Cron expression, e.g. "*/30 * * * *".')]
    = None,
    depth: Annotated[int, typer.Option(min=0, help="Link hops from the seeds.")] = 2,
    max_pages: Annotated[int, typer.Option(min=1, help="Most pages per crawl.")] = 1000,
    allow: Annotated[list[str] | None, typer.Option(help="URL regex to follow.")] = None,
    deny: Annotated[list[str] | None, typer.Option(help="URL regex never to follow.")] = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Add it switched off.")] = False,
    refresh: Annotated[list[str] | None, typer.Option(
        help="Re-capture archived articles at this age, e.g. 1h (repeatable).")] = None,
    horizon: Annotated[str | None, typer.Option(
        help="Skip sitemap entries and feed items older than this (default 2d).")] = None,
    article_pattern: Annotated[list[str] | None, typer.Option(
        help="URL regex of article pages (overrides detection; repeatable).")] = None,
    hub_pattern: Annotated[list[str] | None, typer.Option(
        help="URL regex of hub pages, refetched when due (repeatable).")] = None,
    render: Annotated[RenderMode | None, typer.Option(
        help="static, browser or auto (default: NEWSARCHIVE_RENDER, auto).")] = None,
    concurrency_per_domain: Annotated[int | None, POLITENESS["concurrency_per_domain"]]
    = None,
    download_delay: Annotated[float | None, POLITENESS["download_delay"]] = None,
    autothrottle: Annotated[bool | None, POLITENESS["autothrottle"]] = None,
    hub_refresh_min: Annotated[str | None, POLITENESS["hub_refresh_min"]] = None,
    hub_refresh_max: Annotated[str | None, POLITENESS["hub_refresh_max"]] = None,
    webhook_url: Annotated[str | None, WEBHOOK["webhook_url"]] = None,
    webhook_secret: Annotated[str | None, WEBHOOK["webhook_secret"]] = None,
    webhook_min_significance: Annotated[float | None, WEBHOOK["webhook_min_significance"]]
    = None,
) -> None:
    """Add a site (with an optional schedule)."""
    if every and cron:
        raise fail("give --every or --cron, not both", 2)
    if webhook_secret and not webhook_url:
        raise fail("--webhook-secret without --webhook-url: give the URL too", 2)
    try:
        schedule = (Schedule(interval_seconds=parse_every(every)) if every
                    else Schedule(cron=cron) if cron else None)
        site = SiteIn(name=name, start_urls=start_url or [], feeds=feed or [],
                      sitemaps=sitemap or [], allow=allow or [], deny=deny or [],
                      max_depth=depth, max_pages=max_pages, schedule=schedule,
                      enabled=not disabled, refresh=refresh or [], horizon=horizon,
                      article_patterns=article_pattern or [],
                      hub_patterns=hub_pattern or [], render=render,
                      concurrency_per_domain=concurrency_per_domain,
                      download_delay=download_delay, autothrottle=autothrottle,
                      hub_refresh_min=hub_refresh_min, hub_refresh_max=hub_refresh_max,
                      webhook_url=webhook_url, webhook_secret=read_secret(webhook_secret),
                      **({"webhook_min_significance": webhook_min_significance}
                         if webhook_min_significance is not None else {}))
    except ValidationError as exc:
        raise fail(problems(exc), 2) from None
    check_seeds(site)
    with open_catalog().session() as session:
        try:
            create_site(session, site)
        except SiteExists as exc:
            raise fail(str(exc)) from None
    out.print(f"added site {name}" + (f" ({schedule.as_dict()})" if schedule else ""))


def read_secret(value: str | None) -> str | None:
    """``--webhook-secret``, the first line of stdin for ``-``."""
    if value != "-":
        return value
    return sys.stdin.readline().rstrip("\r\n") or None


def check_seeds(site: SiteIn | SitePatch) -> None:
    """The seed and webhook URLs as the API checks them (a refused one is an error line,
    exit 2)."""
    policy = CrawlSettings.load().network_policy()
    check_crawl_urls({"start_urls": site.start_urls, "feeds": site.feeds,
                      "sitemaps": site.sitemaps}, policy)
    check_webhook_address(site.webhook_url, policy)


def problems(exc: ValidationError) -> str:
    """``field: message; ...`` of a failed validation, as the API words them."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'site'}: "
                     f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())


@sites_app.command("update")
def update(
    name: str,
    start_url: Annotated[list[str] | None, typer.Option(
        help="Home/section page (repeatable; replaces the list).")] = None,
    feed: Annotated[list[str] | None, typer.Option(
        help="RSS/Atom feed (repeatable; replaces the list).")] = None,
    sitemap: Annotated[list[str] | None, typer.Option(
        help="Sitemap (repeatable; replaces the list).")] = None,
    every: Annotated[str | None, typer.Option(help="New interval: 30m, 6h, 1d.")] = None,
    cron: Annotated[str | None, typer.Option(help="New cron expression.")] = None,
    no_schedule: Annotated[bool, typer.Option(
        "--no-schedule", help="Remove the schedule (crawl on request only).")] = False,
    depth: Annotated[int | None, typer.Option(min=0, help="Link hops from the seeds.")] = None,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Most pages per crawl.")] = None,
    allow: Annotated[list[str] | None, typer.Option(
        help="URL regex to follow (repeatable; replaces the list).")] = None,
    deny: Annotated[list[str] | None, typer.Option(
        help="URL regex never to follow (repeatable; replaces the list).")] = None,
    enabled: Annotated[bool | None, typer.Option(
        "--enable/--disable", help="Switch the site's schedule on or off.")] = None,
    refresh: Annotated[list[str] | None, typer.Option(
        help="Re-capture ages, e.g. 1h (repeatable; replaces the list).")] = None,
    horizon: Annotated[str | None, typer.Option(
        help="Skip sitemap entries and feed items older than this.")] = None,
    article_pattern: Annotated[list[str] | None, typer.Option(
        help="URL regex of article pages (repeatable; replaces the list).")] = None,
    hub_pattern: Annotated[list[str] | None, typer.Option(
        help="URL regex of hub pages (repeatable; replaces the list).")] = None,
    render: Annotated[RenderMode | None, typer.Option(
        help="static, browser or auto.")] = None,
    concurrency_per_domain: Annotated[int | None, POLITENESS["concurrency_per_domain"]]
    = None,
    download_delay: Annotated[float | None, POLITENESS["download_delay"]] = None,
    autothrottle: Annotated[bool | None, POLITENESS["autothrottle"]] = None,
    hub_refresh_min: Annotated[str | None, POLITENESS["hub_refresh_min"]] = None,
    hub_refresh_max: Annotated[str | None, POLITENESS["hub_refresh_max"]] = None,
    webhook_url: Annotated[str | None, WEBHOOK["webhook_url"]] = None,
    webhook_secret: Annotated[str | None, WEBHOOK["webhook_secret"]] = None,
    webhook_min_significance: Annotated[float | None, WEBHOOK["webhook_min_significance"]]
    = None,
    no_webhook: Annotated[bool, typer.Option(
        "--no-webhook", help="Remove the webhook (its URL and secret).")] = False,
    reset: Annotated[list[str] | None, typer.Option(
        metavar="FIELD", help=f"Reset a field to the crawl-wide value: {', '.join(RESETTABLE)} "
        "(repeatable).")] = None,
) -> None:
    """Change some fields of a site (as the API's PATCH); the others stay as they are."""
    if sum(map(bool, (every, cron, no_schedule))) > 1:
        raise fail("give one of --every, --cron or --no-schedule", 2)
    given: dict[str, Any] = {
        "start_urls": start_url, "feeds": feed, "sitemaps": sitemap, "allow": allow,
        "deny": deny, "max_depth": depth, "max_pages": max_pages, "enabled": enabled,
        "refresh": refresh, "horizon": horizon, "article_patterns": article_pattern,
        "hub_patterns": hub_pattern, "render": render,
        "concurrency_per_domain": concurrency_per_domain, "download_delay": download_delay,
        "autothrottle": autothrottle, "hub_refresh_min": hub_refresh_min,
        "hub_refresh_max": hub_refresh_max, "webhook_url": webhook_url,
        "webhook_secret": read_secret(webhook_secret),
        "webhook_min_significance": webhook_min_significance}
    changes = {field: value for field, value in given.items() if value is not None}
    if no_webhook:
        if webhook_url or webhook_secret:
            raise fail("--no-webhook and a new webhook URL or secret: give one", 2)
        changes |= {"webhook_url": None, "webhook_secret": None}
    for field in reset or []:
        if field not in RESETTABLE:
            raise fail(f"--reset {field}: not a field that can be reset; use one of "
                       f"{', '.join(RESETTABLE)}", 2)
        if field in changes:
            raise fail(f"--reset {field} and a new {field}: give one", 2)
        changes[field] = None
    try:
        if every or cron:
            changes["schedule"] = Schedule(
                interval_seconds=parse_every(every)) if every else Schedule(cron=cron)
        elif no_schedule:
            changes["schedule"] = None
        patch = SitePatch.model_validate(changes)
    except ValidationError as exc:
        raise fail(problems(exc), 2) from None
    if not changes:
        raise fail(f"nothing to change for site {name!r}: give at least one option "
                   "(see `newsarchive sites update --help`)", 2)
    check_seeds(patch)
    with open_catalog().session() as session:
        try:
            update_site(session, name, patch)
        except (SiteNotFound, SiteWithoutSeeds) as exc:
            raise fail(str(exc)) from None
        except InvalidSite as exc:
            raise fail(str(exc), 2) from None
    out.print(f"updated site {name}: {', '.join(sorted(changes))}")


@sites_app.command("list")
def list_sites(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List sites with their schedules."""
    with open_catalog().session() as session:
        rows = list(session.scalars(select(Site).order_by(Site.name)))
        if as_json:
            for s in rows:
                print(json.dumps(site_dict(s)))
            return
        table = Table("name", "enabled", "schedule", "seeds", "depth", "max pages")
        for s in rows:
            table.add_row(s.name, "yes" if s.enabled else "no", json.dumps(s.schedule or {}),
                          str(len(s.start_urls) + len(s.feeds) + len(s.sitemaps)),
                          str(s.max_depth), str(s.max_pages))
        out.print(table)


def site_dict(site: Site) -> dict[str, object]:
    return {"name": site.name, "start_urls": site.start_urls, "feeds": site.feeds,
            "sitemaps": site.sitemaps, "allow": site.allow, "deny": site.deny,
            "max_depth": site.max_depth, "max_pages": site.max_pages,
            "schedule": site.schedule, "enabled": site.enabled, "refresh": site.refresh,
            "horizon": site.horizon, "article_patterns": site.article_patterns,
            "hub_patterns": site.hub_patterns, "render": site.render,
            "concurrency_per_domain": site.concurrency_per_domain,
            "download_delay": site.download_delay, "autothrottle": site.autothrottle,
            "hub_refresh_min": site.hub_refresh_min, "hub_refresh_max": site.hub_refresh_max,
            "webhook_url": site.webhook_url,
            "webhook_secret_set": site.webhook_secret is not None,  # never the secret itself
            "webhook_min_significance": site.webhook_min_significance}


@sites_app.command("show")
def show(name: str) -> None:
    """Show one site as JSON."""
    with open_catalog().session() as session:
        try:
            print(json.dumps(site_dict(get_site(session, name)), indent=2))
        except SiteNotFound as exc:
            raise fail(str(exc)) from None


@sites_app.command("remove")
def remove(name: str) -> None:
    """Remove a site and its schedule (its archived captures stay)."""
    with open_catalog().session() as session:
        try:
            session.delete(get_site(session, name))
        except SiteNotFound as exc:
            raise fail(str(exc)) from None
    out.print(f"removed site {name}")
