"""Change webhooks: a site's changes above its threshold POSTed, signed, to a real receiver
on 127.0.0.1; retries with backoff driven by an explicit clock; giving up counted in
/metrics; the service sending on its own; bad configuration refused (API, CLI, sites.toml);
the outbox on SQLite and PostgreSQL."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, select

from archive.archiver import Archiver
from archive.catalog import Catalog, alembic_config
from archive.config import ArchiveSettings
from archive.edit_ages import site_edits
from archive.history import article_key, rebuild_histories, versions_of
from archive.models import Article, CrawlJob, DeliveryStatus, Site, WebhookDelivery
from archive.webhook_outbox import claim_due
from scheduler.config import ServiceSettings
from scheduler.site_definitions import SiteIn, SitePatch
from scheduler.sites import create_site, load_sites_file, update_site
from scheduler.webhooks import WebhookSender
from tests.support.api import api_client
from tests.support.cli import Archive
from tests.support.databases import temporary_database
from tests.support.warc import ClockedWriter, exchange
from tests.support.webhook_receiver import WebhookReceiver

SECRET = "a-secret-the-receiver-shares"
BRIDGE = "http://news.example/2026/11/02/harbour-bridge.html"
BUDGET = "http://news.example/2026/11/02/council-budget.html"
BODY = ["The harbour bridge reopened to traffic on Monday after a two-year closure.",
        "The council said the repairs cost 40 million dollars. Traffic resumed at noon.",
        "Residents gathered on both banks to watch the first cars cross the river."]


def story(url: str, title: str, body: list[str] = BODY) -> dict[str, Any]:
    return {"url": url, "title": title, "authors": ["Ana Lima"],
            "published": "2026-11-02T09:00:00+00:00", "text": "\n".join(body),
            "word_count": sum(len(p.split()) for p in body)}


class SiteCrawls:
    """Crawls of one site, written through the Archiver as a crawl writes them (captures,
    articles, and the versions and webhook deliveries they make, in one transaction)."""

    def __init__(self, catalog: Catalog, data_dir: Path, **webhook: Any) -> None:
        self.catalog = catalog
        self.config = ArchiveSettings(data_dir=data_dir)
        self.clock = datetime(2026, 11, 2, 10, tzinfo=UTC)
        with catalog.session() as session:
            site = create_site(session, SiteIn(name="chronicle",
                                               start_urls=["http://news.example/"], **webhook))
            job = CrawlJob(site_id=site.id, status="running", trigger="cli", spec={})
            session.add(job)
            session.flush()
            self.job_id = job.id

    def crawl(self, *stories: dict[str, Any] | None, extractor: str = "test/1",
              soft_404: bool = False) -> None:
        """Capture ``stories``, each as ``extractor`` read it (None: ``BRIDGE`` answers 410;
        ``soft_404``: the crawl found each page to be an error page served with 200)."""
        writer = ClockedWriter(self.config.spool_dir, at=self.clock, step=timedelta(minutes=1))
        archiver = Archiver(self.catalog, self.config.open_storage(), writer, job_id=self.job_id)
        for item in stories:
            if item is None:
                archiver.annotate(archiver.archive(exchange(BRIDGE, status=410)),
                                  {"outlinks": []}, None)
                continue
            page = f"<html><h1>{item['title']}</h1><p>{item['text']}</p></html>".encode()
            response = archiver.archive(exchange(item["url"], page))
            metadata = {"outlinks": [], **({"soft_404": True} if soft_404 else {})}
            archiver.annotate(response, metadata, article=item, extractor_version=extractor)
        archiver.close()
        self.clock += timedelta(hours=1)


def deliveries(catalog: Catalog) -> list[tuple[str, int, str | None]]:
    with catalog.session() as session:
        return [(d.status, d.attempts, d.last_error) for d in session.scalars(
            select(WebhookDelivery).order_by(WebhookDelivery.id))]


def hooked(catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> SiteCrawls:
    """The site, its webhook (``receiver``) wanting every change."""
    return SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                      webhook_secret=SECRET, webhook_min_significance=0.0)


def history(catalog: Catalog) -> list[tuple[int, list[str]]]:
    """``BRIDGE``'s versions: each one's id and the kinds of its changes."""
    with catalog.session() as session:
        return [(v.id, [c["kind"] for c in v.changes]) for v in versions_of(session, BRIDGE)]


def kinds(catalog: Catalog) -> list[list[str]]:
    return [changed for _, changed in history(catalog)]


def rebuild(catalog: Catalog) -> None:
    """``BRIDGE``'s history computed again from its articles, as re-extraction does."""
    with catalog.session() as session:
        rebuild_histories(session, [versions_of(session, BRIDGE)[0].url_key])


def sender(catalog: Catalog, tmp_path: Path, **settings: Any) -> WebhookSender:
    settings = {"allowed_networks": "127.0.0.0/8", "webhook_timeout": 5, **settings}
    return WebhookSender.from_settings(catalog, ServiceSettings(data_dir=tmp_path / "data",
                                                                **settings))


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET) as served:
        yield served


def test_a_change_above_the_threshold_is_posted_signed_and_one_below_is_not(
        catalog: Catalog, catalog_url: str, tmp_path: Path, receiver: WebhookReceiver) -> None:
    site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                      webhook_secret=SECRET, webhook_min_significance=0.2)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"), story(BUDGET, "Council budget"))
    figure = [BODY[0], BODY[1].replace("40 million", "45 million"), BODY[2]]
    site.crawl(story(BRIDGE, "Ferry crossings cut as traffic returns to the bridge"),
               story(BUDGET, "Council budget", figure))  # significance about 0.03
    with catalog.session() as session:
        assert [v.significance < 0.2 for v in versions_of(session, BUDGET)] == [True, True]
        assert [v.significance >= 0.2 for v in versions_of(session, BRIDGE)] == [False, True]
    assert [(status, attempts) for status, attempts, _ in deliveries(catalog)] == [
        ("pending", 0)]  # the headline change only; first versions are not changes
    outbox = sender(catalog, tmp_path)
    report = outbox.deliver_due()
    assert (report.delivered, report.failed_attempts) == (1, 0)
    (post,) = receiver.received
    assert post.path == "/hooks/newsarchive" and post.signature_valid
    assert post.headers["content-type"] == "application/json"
    assert post.headers["x-newsarchive-event"] == "change"
    with catalog.session() as session:
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert post.headers["x-newsarchive-delivery"] == str(delivery.id)
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 1)
        assert delivery.delivered_at is not None
    change = post.json()
    assert (change["number"], change["site"], change["title"]) == (
        2, "chronicle", "Ferry crossings cut as traffic returns to the bridge")
    assert change["changes"][0] == {"kind": "headline", "before": "Harbour bridge reopens",
                                    "after": change["title"]}
    assert change["significance"] >= 0.2 and change["capture"]["url"] == BRIDGE
    with api_client(tmp_path / "data", database_url=catalog_url,
                    webhook_interval=3600) as client:  # the same shape as the API's listing
        listed = client.get("/api/v1/changes", params={"site": "chronicle"}).json()["items"]
    assert change == next(item for item in listed if item["id"] == change["id"])
    assert outbox.deliver_due().delivered == 0  # delivered once
    outbox.close()


def test_another_extractors_reading_is_not_sent_nor_counted_as_an_edit(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    """After an extractor upgrade, what the new extractor reads differently makes a version
    no webhook hears of and the site's edit statistics leave out; the next real edit is
    compared with the new reading and sent."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    coauthored = story(BRIDGE, "Harbour bridge reopens") | {"authors": ["Ana Lima", "Ben Ortiz"]}
    site.crawl(coauthored, extractor="test/2")
    assert deliveries(catalog) == []
    site.crawl(coauthored | {"title": "Harbour bridge reopens after two years"},
               extractor="test/2")
    assert [status for status, _, _ in deliveries(catalog)] == ["pending"]
    assert sender(catalog, tmp_path).deliver_due().delivered == 1
    (post,) = receiver.received
    assert (post.json()["number"], [c["kind"] for c in post.json()["changes"]]) == (
        3, ["headline"])
    with catalog.session() as session:
        site_id = session.scalar(select(Site.id).where(Site.name == "chronicle"))
        edits = site_edits(session, site_id)
        assert [edit.kinds for edit in edits.edits] == [("headline",)]
    assert kinds(catalog) == [[], ["extractor"], ["headline"]]


@pytest.mark.parametrize("batches", ["one crawl each", "one crawl"])
def test_an_edit_after_the_new_extractor_read_the_article_alike_is_named_and_sent(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver, batches: str) -> None:
    """Once the new extractor has read an article as the old one did (captures that made no
    version), the next edit is compared with that reading: named, listed and sent."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    alike = story(BRIDGE, "Harbour bridge reopens")
    edited = story(BRIDGE, "Harbour bridge reopens after two years")
    if batches == "one crawl each":
        site.crawl(alike, extractor="test/2")
        site.crawl(edited, extractor="test/2")
    else:
        site.crawl(alike, edited, extractor="test/2")
    assert kinds(catalog) == [[], ["headline"]]
    assert [status for status, _, _ in deliveries(catalog)] == ["pending"]


def test_a_rebuild_that_dissolves_an_extractor_version_keeps_the_later_versions_rows(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    """Re-extraction reads the first capture with the new extractor: the ``extractor``
    version goes, and the later versions keep their rows (ids) and pending deliveries, so
    both edits are still sent, each as itself."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    coauthored = {"authors": ["Ana Lima", "Ben Ortiz"]}
    site.crawl(story(BRIDGE, "Harbour bridge reopens") | coauthored, extractor="test/2")
    site.crawl(story(BRIDGE, "Bridge reopens after two years") | coauthored,
               extractor="test/2")
    figure = [BODY[0], BODY[1].replace("40 million", "45 million"), BODY[2]]
    site.crawl(story(BRIDGE, "Bridge reopens after two years", figure) | coauthored,
               extractor="test/2")
    before = history(catalog)
    assert [changed for _, changed in before] == [[], ["extractor"], ["headline"], ["body_edited"]]

    with catalog.session() as session:  # what reextract stores for the first capture
        first = session.scalars(select(Article).where(Article.url == BRIDGE)
                                .order_by(Article.capture_id)).first()
        first.authors, first.extractor_version = coauthored["authors"], "test/2"
        session.flush()
        rebuild_histories(session, [first.url_key])
        after = [(v.id, v.number, [c["kind"] for c in v.changes])
                 for v in versions_of(session, BRIDGE)]
    assert after == [(before[0][0], 1, []), (before[2][0], 2, ["headline"]),
                     (before[3][0], 3, ["body_edited"])]
    assert sender(catalog, tmp_path).deliver_due().delivered == 2
    assert sorted((post.json()["id"], [c["kind"] for c in post.json()["changes"]])
                  for post in receiver.received) == [
        (before[2][0], ["headline"]), (before[3][0], ["body_edited"])]


def test_a_pending_change_a_rebuild_made_another_extractors_reading_is_not_sent(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    """Only the edited capture is read again (the first could not be): the edit is now two
    extractors' readings, an ``extractor`` version, and its waiting delivery is cancelled."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
    with catalog.session() as session:
        edited = session.scalars(select(Article).where(Article.url == BRIDGE)
                                 .order_by(Article.capture_id.desc())).first()
        edited.extractor_version = "test/2"
        session.flush()
        rebuild_histories(session, [edited.url_key])
    assert kinds(catalog) == [[], ["extractor"]]
    report = sender(catalog, tmp_path).deliver_due()
    assert (report.delivered, receiver.received) == (0, [])
    assert deliveries(catalog) == [
        ("cancelled", 0, "the version is now another extractor's reading, no change")]


def test_an_edit_back_after_a_410_is_compared_with_the_new_extractors_alike_reading(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    """The new extractor read the article alike, it was then taken down, and it came back
    edited: the edit is named and sent, and a rebuild gives the same history."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens"), extractor="test/2")
    site.crawl(None)
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"), extractor="test/2")

    recorded = history(catalog)
    assert [changed for _, changed in recorded] == [[], ["unpublished"], ["headline"]]
    assert [status for status, _, _ in deliveries(catalog)] == ["pending", "pending"]
    rebuild(catalog)
    assert history(catalog) == recorded


def test_a_soft_404_read_as_an_article_by_reextraction_stays_unpublished(
        catalog: Catalog, tmp_path: Path) -> None:
    """A capture the crawl found to be an error page served with 200 keeps its
    ``unpublished`` version when re-extraction reads an article in it; rebuilding twice
    writes nothing the second time."""
    site = SiteCrawls(catalog, tmp_path / "data")
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Page not found"), soft_404=True)
    with catalog.session() as session:
        first = session.scalars(select(Article)).one()
        gone = versions_of(session, BRIDGE)[1]
        session.add(Article(capture_id=gone.capture_id, url=BRIDGE, title="Page not found",
                            authors=[], text="Sorry.", word_count=1, extractor_version="test/1",
                            url_key=first.url_key))
        session.flush()
        rebuild_histories(session, [first.url_key])
        assert rebuild_histories(session, [first.url_key]) == 0
        assert [(v.number, v.article_id, [c["kind"] for c in v.changes])
                for v in versions_of(session, BRIDGE)] == [
            (1, first.id, []), (2, None, ["unpublished"])]


def test_a_pending_change_whose_version_became_the_first_is_not_sent(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    """The article of version 1 leaves the history (re-extraction found another canonical
    URL): version 2 becomes the first, no change, and its waiting delivery is cancelled."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
    with catalog.session() as session:
        first = session.scalars(select(Article).order_by(Article.capture_id)).first()
        key, first.url_key = first.url_key, article_key(BUDGET, None)
        session.flush()
        rebuild_histories(session, [key, first.url_key])
    assert sender(catalog, tmp_path).deliver_due().delivered == 0
    assert receiver.received == []
    assert deliveries(catalog) == [
        ("cancelled", 0, "the version is now the first of its history, no change")]


def test_two_extractors_at_once_are_compared_alike_where_both_read_the_version_alike(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    """During a rolling upgrade two extractors read the same article: once both have read a
    version as it is, an edit read by either is named and sent, and a rebuild agrees."""
    site = hooked(catalog, tmp_path, receiver)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"), extractor="test/1")
    site.crawl(story(BRIDGE, "Harbour bridge reopens"), extractor="test/2")
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"), extractor="test/1")
    site.crawl(story(BRIDGE, "Bridge reopens after two years"), extractor="test/2")

    recorded = history(catalog)
    assert [changed for _, changed in recorded] == [[], ["headline"], ["extractor"]]
    assert [status for status, _, _ in deliveries(catalog)] == ["pending"]
    rebuild(catalog)
    assert history(catalog) == recorded


def test_a_failing_receiver_gets_the_change_on_the_third_attempt_after_backoff(
        catalog: Catalog, tmp_path: Path) -> None:
    with WebhookReceiver(SECRET, statuses=[500, 503]) as receiver:
        site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                          webhook_secret=SECRET)
        site.crawl(story(BRIDGE, "Harbour bridge reopens"))
        site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
        outbox = sender(catalog, tmp_path, webhook_retry_seconds=60)
        start = datetime.now(UTC)
        assert outbox.deliver_due(start).failed_attempts == 1
        assert deliveries(catalog) == [("pending", 1, "HTTP 500 Internal Server Error")]
        for wait, posts in ((59, 1), (60, 2), (60 + 119, 2)):  # 1 minute, then 2
            outbox.deliver_due(start + timedelta(seconds=wait))
            assert len(receiver.received) == posts, wait
        assert deliveries(catalog) == [("pending", 2, "HTTP 503 Service Unavailable")]
        assert outbox.deliver_due(start + timedelta(seconds=180)).delivered == 1
        outbox.close()
    assert deliveries(catalog) == [("delivered", 3, None)]
    assert [post.signature_valid for post in receiver.received] == [True] * 3
    assert len({post.body for post in receiver.received}) == 1
    assert len({post.headers["x-newsarchive-delivery"] for post in receiver.received}) == 1


def test_giving_up_after_the_last_attempt_is_counted_in_metrics(
        catalog: Catalog, catalog_url: str, tmp_path: Path) -> None:
    with WebhookReceiver(SECRET, statuses=[500] * 10) as receiver:
        site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                          webhook_secret=SECRET)
        site.crawl(story(BRIDGE, "Harbour bridge reopens"))
        site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
        outbox = sender(catalog, tmp_path, webhook_max_attempts=3, webhook_retry_seconds=60,
                        webhook_retry_max_seconds=90)
        start = datetime.now(UTC)
        for wait in (0, 60, 60 + 90, 10 * 3600):  # the second wait is capped at 90 s
            outbox.deliver_due(start + timedelta(seconds=wait))
        outbox.close()
    assert len(receiver.received) == 3
    assert deliveries(catalog) == [("failed", 3, "HTTP 500 Internal Server Error")]
    with api_client(tmp_path / "data", database_url=catalog_url,
                    webhook_interval=3600) as client:
        metrics = client.get("/metrics").text
    assert 'newsarchive_webhook_deliveries_total{outcome="gave_up"} 1.0' in metrics
    assert 'newsarchive_webhook_deliveries_total{outcome="delivered"} 0.0' in metrics
    assert "newsarchive_webhook_failed_attempts_total 3.0" in metrics
    assert "newsarchive_webhook_deliveries_pending 0.0" in metrics


def test_an_address_the_network_policy_refuses_is_a_failed_attempt(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                      webhook_secret=SECRET)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
    outbox = WebhookSender.from_settings(catalog, ServiceSettings(data_dir=tmp_path / "data"))
    assert outbox.deliver_due().failed_attempts == 1
    outbox.close()
    ((status, attempts, error),) = deliveries(catalog)
    assert (status, attempts) == ("pending", 1) and error.startswith("refused: ")
    assert "loopback" in error and receiver.received == []


def test_a_delivery_held_by_one_sender_is_not_sent_by_another_until_its_lease_ends(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver) -> None:
    site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                      webhook_secret=SECRET)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"), story(BUDGET, "Council budget"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"),
               story(BUDGET, "Council budget approved after a long night"))
    start = datetime.now(UTC)
    with catalog.session() as session:  # a sender that died holding the first one
        held = claim_due(session, start, timedelta(minutes=5))
        assert held is not None
    outbox = sender(catalog, tmp_path)
    assert outbox.deliver_due(start).delivered == 1  # the other one only
    assert [post.json()["id"] for post in receiver.received] != [held.version_id]
    assert outbox.deliver_due(start + timedelta(minutes=4)).delivered == 0
    assert outbox.deliver_due(start + timedelta(minutes=5)).delivered == 1
    assert receiver.received[-1].json()["id"] == held.version_id
    assert [status for status, _, _ in deliveries(catalog)] == ["delivered", "delivered"]
    outbox.close()


def test_removing_the_webhook_cancels_what_waits(catalog: Catalog, tmp_path: Path,
                                                 receiver: WebhookReceiver) -> None:
    site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                      webhook_secret=SECRET)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
    with catalog.session() as session:
        update_site(session, "chronicle", SitePatch(webhook_url=None))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two long years"))
    outbox = sender(catalog, tmp_path)
    assert outbox.deliver_due().delivered == 0
    outbox.close()
    assert receiver.received == []
    assert deliveries(catalog) == [("cancelled", 0, "the site's webhook was removed")]


def test_the_service_sends_due_deliveries_by_itself(tmp_path: Path,
                                                    receiver: WebhookReceiver) -> None:
    config = ArchiveSettings(data_dir=tmp_path / "data")
    catalog = Catalog(config.database_url)
    site = SiteCrawls(catalog, tmp_path / "data", webhook_url=receiver.hook_url,
                      webhook_secret=SECRET)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Harbour bridge reopens after two years"))
    with api_client(tmp_path / "data", allowed_networks="127.0.0.0/8",
                    webhook_interval=0.2):
        assert receiver.arrived.wait(20), "the service did not POST the change"
    # stopping at once: the service lets the POST under way finish and records it
    assert receiver.received[0].signature_valid
    assert deliveries(catalog) == [("delivered", 1, None)]
    catalog.dispose()


def test_webhook_settings_are_validated_and_the_secret_is_never_shown(
        archive: Archive, receiver: WebhookReceiver) -> None:
    cli = archive.cli_in_process  # configuration only: nothing here needs a subprocess
    seed = "--start-url=http://127.0.0.1:9/"
    for options, message in (
            (["--webhook-url", "ftp://127.0.0.1/hook", "--webhook-secret", SECRET],
             "webhook_url: 'ftp://127.0.0.1/hook': give an http:// or https:// URL"),
            (["--webhook-url", receiver.hook_url],
             "a webhook_url needs a webhook_secret"),
            (["--webhook-url", receiver.hook_url, "--webhook-secret", "short"],
             "webhook_secret: String should have at least 16 characters"),
            (["--webhook-url", receiver.hook_url, "--webhook-secret", SECRET,
              "--webhook-min-significance", "1.5"],
             "webhook_min_significance: Input should be less than or equal to 1"),
            (["--webhook-secret", SECRET], "--webhook-secret without --webhook-url")):
        refused = cli("sites", "add", "chronicle", seed, *options, expect=2)
        assert message in refused.stderr, (options, refused.stderr)
    elsewhere = cli("sites", "add", "chronicle", seed, "--webhook-url",
                    "http://10.1.2.3/hook", "--webhook-secret", SECRET, expect=2)
    assert "webhook_url: " in elsewhere.stderr and "private" in elsewhere.stderr
    cli("sites", "add", "chronicle", seed, "--webhook-url", receiver.hook_url,
        "--webhook-secret", "-", "--webhook-min-significance", "0.1",
        stdin=f"{SECRET}\n")  # the secret read from stdin
    shown = cli("sites", "show", "chronicle")
    assert SECRET not in shown.text
    assert {k: v for k, v in shown.json().items() if k.startswith("webhook")} == {
        "webhook_url": receiver.hook_url, "webhook_secret_set": True,
        "webhook_min_significance": 0.1}
    with archive.catalog().session() as session:  # stored as given, to sign with
        assert session.scalar(select(Site.webhook_secret)) == SECRET
    cleared = cli("sites", "update", "chronicle", "--no-webhook")
    assert "webhook_secret, webhook_url" in cleared.text
    assert cli("sites", "show", "chronicle").json()["webhook_secret_set"] is False
    alone = cli("sites", "update", "chronicle", "--webhook-url", receiver.hook_url, expect=2)
    assert "site 'chronicle': a webhook_url needs a webhook_secret" in alone.stderr

    with api_client(archive.data_dir, allowed_networks="127.0.0.0/8",
                    webhook_interval=3600) as client:
        patched = client.patch("/api/v1/sites/chronicle", json={
            "webhook_url": receiver.hook_url, "webhook_secret": SECRET})
        assert patched.status_code == 200, patched.text
        assert SECRET not in patched.text and patched.json()["webhook_secret_set"] is True
        assert SECRET not in client.get("/api/v1/sites").text
        page = client.get("/ui/sites/chronicle")
        assert page.status_code == 200
        assert (f'<dd class="webhook"><span class="url">{receiver.hook_url}</span>: changes of '
                "significance 0.1 and more, signed with the site's secret") in page.text
        assert SECRET not in page.text
        for body, field in (({"webhook_min_significance": None}, "webhook_min_significance"),
                            ({"webhook_min_significance": -0.1}, "webhook_min_significance"),
                            ({"webhook_url": "hooks.example.org/x"}, "webhook_url"),
                            ({"webhook_secret": None}, "webhook_secret")):
            bad = client.patch("/api/v1/sites/chronicle", json=body)
            assert bad.status_code == 422, (body, bad.text)
            assert field in bad.json()["error"], (body, bad.json())
    with api_client(archive.data_dir, webhook_interval=3600) as client:  # loopback refused
        refused = client.patch("/api/v1/sites/chronicle",
                               json={"webhook_url": receiver.hook_url})
        assert refused.status_code == 422 and refused.json()["field"] == "webhook_url"


def test_sites_toml_webhook_errors_name_the_file_site_and_field(tmp_path: Path) -> None:
    path = tmp_path / "sites.toml"
    path.write_text('[[site]]\nname = "chronicle"\nstart_urls = ["https://news.example/"]\n'
                    'webhook_url = "https://hooks.example.org/x"\n'
                    f'webhook_secret = "{SECRET}"\nwebhook_min_significance = 2\n')
    with pytest.raises(ValueError, match=r"sites.toml: site chronicle: webhook_min_significance"
                       r": Input should be less than or equal to 1"):
        load_sites_file(path)
    path.write_text(path.read_text().replace("webhook_min_significance = 2",
                                             "webhook_min_significance = 0.25"))
    (site,) = load_sites_file(path)
    assert (site.webhook_url, site.webhook_min_significance) == (
        "https://hooks.example.org/x", 0.25)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_migration_0013_upgrades_and_downgrades(kind: str, tmp_path: Path) -> None:
    with temporary_database(kind, tmp_path) as url:
        engine = Catalog(url).engine
        config = alembic_config(engine)
        command.downgrade(config, "0012")
        assert "webhook_deliveries" not in inspect(engine).get_table_names()
        assert "webhook_url" not in {c["name"] for c in inspect(engine).get_columns("sites")}
        command.upgrade(config, "head")
        assert "webhook_deliveries" in inspect(engine).get_table_names()
        engine.dispose()


def test_the_post_goes_to_the_address_that_was_checked(
        catalog: Catalog, tmp_path: Path, receiver: WebhookReceiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """DNS rebinding: the receiver's name resolves to an allowed address when the sender
    checks it and to a refused one afterwards; the POST goes to the checked address, with
    the name in ``Host``. When the first address takes no connection, the next is tried. A
    name that does not resolve, and a URL httpx cannot send, are failed attempts saying so."""
    port = receiver.url.rsplit(":", 1)[1]
    answers = iter(["127.0.0.1"])  # then 127.0.0.2: refused below, and nothing listens

    def rebinding(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "hooks.chronicle.test":
            address = next(answers, "127.0.0.2")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))]
        if host == "two.chronicle.test":  # the first address takes no connection
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port)))
                    for address in ("127.0.0.3", "127.0.0.1")]
        if host == "gone.chronicle.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    site = SiteCrawls(catalog, tmp_path / "data",
                      webhook_url=f"http://hooks.chronicle.test:{port}/hooks/newsarchive",
                      webhook_secret=SECRET)
    site.crawl(story(BRIDGE, "Harbour bridge reopens"))
    site.crawl(story(BRIDGE, "Ferry crossings cut as traffic returns to the bridge"))
    outbox = sender(catalog, tmp_path, allowed_networks="127.0.0.1/32")
    assert outbox.deliver_due().delivered == 1
    (post,) = receiver.received
    assert post.signature_valid and post.headers["host"] == f"hooks.chronicle.test:{port}"
    assert next(answers, None) is None  # the sender looked the name up once

    with catalog.session() as session:
        session.scalars(select(Site)).one().webhook_url = "http://gone.chronicle.test/hook"
    site.crawl(story(BRIDGE, "Ferry crossings resume"))
    assert outbox.deliver_due().failed_attempts == 1
    assert deliveries(catalog)[-1][2] == "gone.chronicle.test does not resolve"
    outbox.close()

    outbox = sender(catalog, tmp_path)  # 127.0.0.0/8 allowed: both addresses pass
    with catalog.session() as session:
        session.scalars(select(Site)).one().webhook_url = \
            f"http://two.chronicle.test:{port}/hooks/newsarchive"
    site.crawl(story(BRIDGE, "Ferry crossings resume at dawn"))
    assert outbox.deliver_due().delivered == 1  # (the failed one waits for its retry)
    assert [post.headers["host"] for post in receiver.received[1:]] \
        == [f"two.chronicle.test:{port}"]

    with catalog.session() as session:  # a URL httpx cannot send: a failed attempt
        session.scalars(select(Site)).one().webhook_url = "http://\u2603.net/hook"
    site.crawl(story(BRIDGE, "Ferry crossings resume at noon"))
    assert outbox.deliver_due().failed_attempts == 1
    assert deliveries(catalog)[-1][2].startswith("InvalidURL: ")
    outbox.close()
