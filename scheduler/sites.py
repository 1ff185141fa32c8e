"""Sites: create, update, remove, and the declarative ``sites.toml`` synced at start."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import Site
from crawler.config import CrawlSettings
from crawler.refresh_learning import site_refresh
from scheduler.site_definitions import SiteIn, SitePatch, check_hub_refresh, check_webhook
from scheduler.views import SiteEditsOut


class SiteNotFound(LookupError):
    pass


class SiteExists(ValueError):
    pass


class InvalidSite(ValueError):
    """A change whose fields are each valid but which together make a site that is not."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field  # the field at fault, when it is one


class SiteWithoutSeeds(InvalidSite):
    pass


def get_site(session: Session, name: str) -> Site:
    site = session.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise SiteNotFound(f"no site named {name!r}")
    return site


def site_edits(session: Session, site: Site, settings: CrawlSettings) -> SiteEditsOut:
    """``site``'s edit statistics and the refresh ages its crawls use, from the catalog."""
    refresh = site_refresh(session, site, settings.refresh_learn_min_edits, observe=True)
    return SiteEditsOut.from_refresh(site.name, refresh, settings.refresh_explore_share)


def create_site(session: Session, data: SiteIn) -> Site:
    if session.scalar(select(Site.id).where(Site.name == data.name)) is not None:
        raise SiteExists(f"a site named {data.name!r} already exists; PATCH it instead")
    values = data.model_dump(exclude={"schedule"})
    site = Site(**values, schedule=data.schedule.as_dict() if data.schedule else None)
    session.add(site)
    session.flush()
    return site


def update_site(session: Session, name: str, patch: SitePatch) -> Site:
    site = get_site(session, name)
    for field, value in patch.model_dump(exclude_unset=True).items():
        if field == "schedule":
            value = patch.schedule.as_dict() if patch.schedule else None
        setattr(site, field, value)
    if not (site.start_urls or site.feeds or site.sitemaps):  # SiteIn's rule, after the patch
        raise SiteWithoutSeeds(f"site {name!r} would have no start_urls, feeds or sitemaps "
                               "left; a site needs at least one (send one, or DELETE the site)")
    try:  # SiteFields' rule, after the patch
        check_hub_refresh(site.hub_refresh_min, site.hub_refresh_max)
    except ValueError as exc:
        given = "hub_refresh_max" if "hub_refresh_max" in patch.model_fields_set \
            else "hub_refresh_min"
        raise InvalidSite(f"site {name!r}: {exc}", field=given) from None
    try:  # SiteIn's rule, after the patch
        check_webhook(site.webhook_url, site.webhook_secret)
    except ValueError as exc:
        raise InvalidSite(f"site {name!r}: {exc}", field="webhook_secret") from None
    session.flush()
    return site


def replace_site(session: Session, data: SiteIn) -> Site:
    """Create or overwrite a site from a full definition (sites.toml semantics)."""
    site = session.scalar(select(Site).where(Site.name == data.name))
    if site is None:
        return create_site(session, data)
    for field, value in data.model_dump(exclude={"name", "schedule"}).items():
        setattr(site, field, value)
    site.schedule = data.schedule.as_dict() if data.schedule else None
    session.flush()
    return site


def load_sites_file(path: Path) -> list[SiteIn]:
    """Parse ``[[site]]`` tables; errors name the file, the site and the field."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    sites = []
    for index, table in enumerate(document.get("site", [])):
        try:
            sites.append(SiteIn.model_validate(table))
        except ValidationError as exc:
            name = table.get("name", f"#{index + 1}")
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'site'}: "
                                 f"{str(e['msg']).removeprefix('Value error, ')}"
                                 for e in exc.errors())
            raise ValueError(f"{path}: site {name}: {problems}") from None
    return sites
