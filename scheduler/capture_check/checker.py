"""The capture check: does the archived view of a page look like the live page, and does it
load whole from the archive?

For one HTML capture: the archived view ``/web/{timestamp}if_/{url}`` (the rewritten page
as a reader sees it, without the banner, which would shift every pixel) is rendered in
Chromium from a replay server of this process. Every request the view makes is logged;
one that leaves the replay origin is aborted and counted as failed (``left the archive``),
as is one that fails or answers with an HTTP error (a resource missing from the archive).
Its full-page screenshot is compared with the live page's: the screenshot the capture's
crawl recorded (a ``urn:view:`` resource record concurrent with the capture), else the live
URL rendered now with the same viewport, every request of it passing the SSRF guard. The
result is stored on the capture (``archive.capture_checks``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

from archive.capture_checks import job_pages, record_check, recorded_view
from archive.models import CaptureCheck, utcnow
from archive.snapshot import AnyCapture, SnapshotNotFound, closest_capture
from crawler.browser.chromium import find_chromium, viewport
from crawler.network_policy import NetworkPolicy
from scheduler.capture_check.browser import Chromium
from scheduler.capture_check.pixels import pixel_difference, thumbnail
from scheduler.capture_check.replay_server import ReplayServer
from scheduler.config import ServiceSettings
from scheduler.service import Service
from scheduler.urlcheck import check_crawl_url
from scheduler.web.wayback import normalize_archived_url

COMPARED_WITH_CAPTURE = "capture"  # the crawl's own screenshot record of the live page
COMPARED_WITH_LIVE = "live"  # the live page, rendered at check time
LEFT_THE_ARCHIVE = "left the archive (blocked)"
NOT_ARCHIVED = "not in the archive"
_REPLAY_PATH = re.compile(r"/web/\d{1,14}(?:[a-z]+_)?/(?P<url>.+)", re.S)


@dataclass
class CheckReport:
    """One capture's check: what was stored, plus the archived view's network log."""

    capture_id: int
    url: str
    timestamp: str
    check: CaptureCheck
    replay_requests: list[str] = field(default_factory=list)  # every URL, in order
    thumbnail: bytes | None = None


class CaptureChecker:
    """``with CaptureChecker(settings) as checker: checker.check(capture)``: one Chromium
    and one replay server for every capture checked in the block. Without Chromium,
    entering raises :class:`~crawler.browser.chromium.BrowserUnavailable`."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        # the viewport browser capture screenshots with: the two screenshots compare
        self.viewport = viewport(settings.browser_viewport)
        # the replay app's service, never started: it dispatches nothing (no broker either)
        self.service = Service.create(settings.model_copy(update={"broker_url": None}))
        self.catalog = self.service.catalog
        self.policy: NetworkPolicy = self.service.policy
        self._stack = ExitStack()
        self._browser: Chromium | None = None
        self._origin = ""
        self._allowed_hosts: dict[str, str | None] = {}

    def __enter__(self) -> CaptureChecker:
        executable = find_chromium(self.settings.chromium)
        try:
            self._browser = self._stack.enter_context(
                Chromium(executable, self.settings.capture_check_timeout, self.viewport))
            self._origin = self._stack.enter_context(ReplayServer(self.service)).origin
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._stack.close()
        finally:
            self.catalog.dispose()

    # -- what to check ----------------------------------------------------------------------
    def job_pages(self, job_id: int) -> list[AnyCapture]:
        with self.catalog.session() as session:
            return list(job_pages(session, job_id, self.settings.capture_check_max_pages))

    def closest(self, url: str, at: str | None) -> AnyCapture:
        with self.catalog.session() as session:
            return closest_capture(session, url, at)

    # -- the check ----------------------------------------------------------------------
    def check(self, capture: AnyCapture) -> CheckReport:
        """Render, compare and store the check of ``capture`` (an HTML page)."""
        assert self._browser is not None, "use the checker in a with block"
        replay = self._browser.render(f"{self._origin}/web/{capture.timestamp}if_/"
                                      f"{capture.url}", self._in_archive)
        with self.catalog.session() as session:
            live_png = recorded_view(session, capture, self.service.storage,
                                     self.settings.spool_dir)
        compared_with, errors = COMPARED_WITH_CAPTURE, []
        if replay.screenshot is None:
            errors.append(f"the archived view did not render: {replay.error}")
        if live_png is None:
            compared_with = COMPARED_WITH_LIVE
            live = self._browser.render(capture.url, self._may_fetch)
            live_png = live.screenshot
            if live_png is None:
                errors.append(f"the live page did not render: {live.error}")
        pixel_diff = pixel_difference(live_png, replay.screenshot) \
            if live_png is not None and replay.screenshot is not None else None
        small = thumbnail(replay.screenshot, self.viewport["width"], self.viewport["height"]) \
            if replay.screenshot is not None else None
        failed = self._replay_failures(capture, replay.failures)
        with self.catalog.session() as session:
            check = record_check(session, capture.id, pixel_diff=pixel_diff,
                                 failed_resources=failed, compared_with=compared_with,
                                 error="; ".join(errors) or None, thumbnail=small,
                                 checked_at=utcnow())
        return CheckReport(capture_id=capture.id, url=capture.url,
                           timestamp=capture.timestamp, check=check,
                           replay_requests=replay.requests, thumbnail=small)

    # -- request gates ------------------------------------------------------------------
    def _in_archive(self, url: str) -> str | None:
        """The archived view may load from the replay origin only."""
        if not url.startswith(("http:", "https:")) or url.startswith(self._origin + "/"):
            return None
        return LEFT_THE_ARCHIVE

    def _may_fetch(self, url: str) -> str | None:
        """The live page's requests pass the crawl's SSRF guard: each scheme, host and port
        is resolved and checked once per checker (a host that re-resolves elsewhere later is
        not checked again: Chromium resolves it itself)."""
        if not url.startswith(("http:", "https:")):
            return None
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}"
        if key not in self._allowed_hosts:
            try:
                check_crawl_url(key + "/", self.policy)
                self._allowed_hosts[key] = None
            except ValueError as exc:
                self._allowed_hosts[key] = f"refused: {exc}"
        return self._allowed_hosts[key]

    # -- wording ------------------------------------------------------------------------
    def _original_url(self, url: str) -> str:
        """The archived URL a replay URL stands for (other URLs as they are)."""
        if url.startswith(self._origin + "/"):
            match = _REPLAY_PATH.fullmatch(url[len(self._origin):])
            if match:
                return normalize_archived_url(match["url"])
        return url

    def _replay_failures(self, capture: AnyCapture,
                         failures: dict[str, str]) -> list[dict[str, str]]:
        """The archived view's failed requests by original URL, worded for a reader. An
        error status the site itself answered (archived as such) is what the reader saw
        then, not a failure of the replay: left out."""
        found: dict[str, str] = {}
        with self.catalog.session() as session:
            for url, reason in failures.items():
                original = self._original_url(url)
                if original == url:  # not a replay URL: refused by the gate, or failed
                    found.setdefault(original, reason)
                    continue
                try:
                    archived = closest_capture(session, original, capture.timestamp)
                except SnapshotNotFound:
                    found.setdefault(original, NOT_ARCHIVED)
                    continue
                if archived.status < 400:
                    found.setdefault(original, f"{reason} in replay")
        return [{"url": url, "reason": reason} for url, reason in found.items()]


def check_job(settings: ServiceSettings, job_id: int,
              on_report: Callable[[CheckReport], None] | None = None) -> list[CheckReport]:
    """Check the first ``capture_check_max_pages`` HTML pages of job ``job_id`` (Chromium
    starts only if there is one)."""
    checker = CaptureChecker(settings)
    pages = checker.job_pages(job_id)
    if not pages:
        checker.close()
        return []
    reports = []
    with checker:
        for capture in pages:
            reports.append(checker.check(capture))
            if on_report is not None:
                on_report(reports[-1])
    return reports
