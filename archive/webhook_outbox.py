"""The outbox of change webhooks: which changes go to which site's webhook, and the state of
each delivery. This module owns the ``webhook_deliveries`` rows and their transitions.

- :func:`enqueue_changes` is called by :mod:`archive.history` when it records versions at
  capture time, in the same transaction: a version after the first, captured by a crawl of a
  site that has a ``webhook_url``, with a significance of at least the site's
  ``webhook_min_significance``, and not made by another extractor's reading
  (:func:`archive.versions.is_reread`), gets a ``pending`` delivery due at once. If the
  process dies before the transaction commits, neither the version nor its delivery exists;
  after it, the delivery waits in the catalog until a sender takes it. Re-extraction (which
  rebuilds past histories) announces nothing.
- A sender (``scheduler.webhooks``) takes one due delivery at a time with :func:`claim_due`,
  which also pushes its ``next_attempt_at`` on by a lease, so that two senders never POST the
  same delivery at once and a sender that died holding one leaves it due again after the
  lease; then it records the outcome with :func:`record_delivered` or :func:`record_failure`
  (a next attempt time, or None to give up). The retry policy is the sender's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, joinedload

from archive.models import (
    ArticleVersion,
    Capture,
    CrawlJob,
    DeliveryStatus,
    Site,
    WebhookDelivery,
    utcnow,
)
from archive.versions import is_reread

MAX_ERROR_LENGTH = 1000


def enqueue_changes(session: Session, versions: Iterable[ArticleVersion]) -> int:
    """Add a pending delivery for each of ``versions`` (just added to ``session``) that its
    site's webhook wants; returns how many."""
    changes = [v for v in versions if v.number > 1]
    if not changes:
        return 0
    session.flush()  # the versions' ids
    sites = dict(session.execute(
        select(Capture.id, Site).join(CrawlJob, CrawlJob.id == Capture.job_id)
        .join(Site, Site.id == CrawlJob.site_id)
        .where(Capture.id.in_({v.capture_id for v in changes}),
               Site.webhook_url.is_not(None))).all())
    now = utcnow()
    queued = 0
    for version in changes:
        site = sites.get(version.capture_id)
        if (site is None or version.significance < site.webhook_min_significance
                or is_reread(version.changes)):
            continue
        session.add(WebhookDelivery(version_id=version.id, site_id=site.id,
                                    status=DeliveryStatus.PENDING, attempts=0,
                                    next_attempt_at=now))
        queued += 1
    return queued


def claim_due(session: Session, now: datetime, lease: timedelta) -> WebhookDelivery | None:
    """The pending delivery due longest ago at ``now`` (its version, capture, article and
    site loaded), held for ``lease``; None when none is due. A delivery whose site no longer
    has a webhook, or whose version a rebuild has since made another extractor's reading
    (re-extraction of part of a history) or the first of a history (its canonical URL
    changed), is cancelled on the way."""
    while True:
        delivery = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == DeliveryStatus.PENDING,
                   WebhookDelivery.next_attempt_at <= now)
            .options(joinedload(WebhookDelivery.site),
                     joinedload(WebhookDelivery.version).joinedload(ArticleVersion.capture)
                     .joinedload(Capture.warc_file),
                     joinedload(WebhookDelivery.version).joinedload(ArticleVersion.article))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(1)).first()
        if delivery is None:
            return None
        if reason := _no_longer_wanted(delivery):
            _finish(session, delivery.id, DeliveryStatus.CANCELLED, last_error=reason)
            continue
        held = session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == delivery.id,
                   WebhookDelivery.status == DeliveryStatus.PENDING,
                   WebhookDelivery.next_attempt_at == delivery.next_attempt_at)
            .values(next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)).rowcount
        if held == 1:  # else another sender took it first: look again
            return delivery
        session.expire(delivery)


def _no_longer_wanted(delivery: WebhookDelivery) -> str | None:
    """Why a waiting delivery is not to be sent after all; None when it is."""
    if delivery.site.webhook_url is None or delivery.site.webhook_secret is None:
        return "the site's webhook was removed"
    if is_reread(delivery.version.changes):
        return "the version is now another extractor's reading, no change"
    if delivery.version.number == 1:
        return "the version is now the first of its history, no change"
    return None


def record_delivered(session: Session, delivery_id: int, now: datetime) -> None:
    """One more attempt, and it was answered with a 2xx."""
    _finish(session, delivery_id, DeliveryStatus.DELIVERED, delivered_at=now, last_error=None)


def record_failure(session: Session, delivery_id: int, error: str,
                   retry_at: datetime | None) -> None:
    """One more attempt, and it failed (``error`` says how): due again at ``retry_at``, or
    ``failed`` for good when it is None."""
    values = {"last_error": error[:MAX_ERROR_LENGTH]}
    if retry_at is None:
        _finish(session, delivery_id, DeliveryStatus.FAILED, **values)
        return
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                    .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=retry_at,
                            **values)
                    .execution_options(synchronize_session=False))


def _finish(session: Session, delivery_id: int, status: DeliveryStatus,
            **values: object) -> None:
    attempted = 0 if status == DeliveryStatus.CANCELLED else 1
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                    .values(status=status, attempts=WebhookDelivery.attempts + attempted,
                            next_attempt_at=None, **values)
                    .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class DeliveryTotals:
    """All deliveries in the catalog, for ``/metrics``."""

    delivered: int  # answered 2xx
    gave_up: int  # failed on every attempt
    failed_attempts: int  # POSTs that failed (including those later retried with success)
    pending: int  # waiting for their first or next attempt


def delivery_totals(session: Session) -> DeliveryTotals:
    counts = {status: (number, attempts or 0) for status, number, attempts in session.execute(
        select(WebhookDelivery.status, func.count(), func.sum(WebhookDelivery.attempts))
        .group_by(WebhookDelivery.status))}
    delivered, delivered_attempts = counts.get(DeliveryStatus.DELIVERED, (0, 0))
    gave_up, gave_up_attempts = counts.get(DeliveryStatus.FAILED, (0, 0))
    pending, pending_attempts = counts.get(DeliveryStatus.PENDING, (0, 0))
    cancelled_attempts = counts.get(DeliveryStatus.CANCELLED, (0, 0))[1]
    return DeliveryTotals(
        delivered=delivered, gave_up=gave_up, pending=pending,
        failed_attempts=(delivered_attempts - delivered) + gave_up_attempts + pending_attempts
        + cancelled_attempts)
