"""Change webhooks: each due delivery of the outbox (:mod:`archive.webhook_outbox`) POSTed to
its site's ``webhook_url``, signed, its outcome recorded, a failed attempt retried later.

The request (docs/api.md, Change webhooks):

- body: the change as one item of ``GET /api/v1/changes`` (:class:`scheduler.views.ChangeOut`),
  UTF-8 JSON;
- ``X-Newsarchive-Signature: sha256=<hex>``: the HMAC-SHA256 of the exact body bytes keyed with
  the site's ``webhook_secret`` (GitHub's convention), which the receiver computes again and
  compares in constant time;
- ``X-Newsarchive-Event: change`` and ``X-Newsarchive-Delivery``: the delivery's id, the same
  on every attempt, so that a receiver can drop a repeat.

Any 2xx answer delivers it. Anything else (another status, a redirect, no answer within the
timeout, a refused connection, an address the network policy refuses; the POST goes to the
address that was checked, see ``WebhookSender._post``) is a failed attempt:
the next waits ``webhook_retry_seconds`` doubled after each failure, up to
``webhook_retry_max_seconds``; after ``webhook_max_attempts`` the delivery is given up.

The service runs :meth:`WebhookSender.deliver_due` in a thread every ``webhook_interval``
seconds, one delivery at a time, apart from crawls. Tests pass ``now`` instead of waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from archive.catalog import Catalog
from archive.models import WebhookDelivery, utcnow
from archive.webhook_outbox import claim_due, record_delivered, record_failure
from crawler.network_policy import NetworkPolicy
from scheduler.config import ServiceSettings
from scheduler.urlcheck import allowed_addresses
from scheduler.views import ChangeOut

EVENT = "change"
SIGNATURE_HEADER = "X-Newsarchive-Signature"
EVENT_HEADER = "X-Newsarchive-Event"
DELIVERY_HEADER = "X-Newsarchive-Delivery"
MAX_PER_PASS = 100  # deliveries one pass sends at most; the rest wait for the next


def signature(secret: str, body: bytes) -> str:
    """The ``X-Newsarchive-Signature`` value of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class RetryPolicy:
    first_wait: timedelta
    longest_wait: timedelta
    max_attempts: int

    def retry_at(self, attempts_made: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts_made`` failed attempts; None: give up."""
        if attempts_made >= self.max_attempts:
            return None
        doublings = min(attempts_made - 1, 30)  # (2**30 minutes is past any longest wait;
        # an uncapped power overflows timedelta from about 40 attempts)
        return now + min(self.first_wait * 2 ** doublings, self.longest_wait)


@dataclass
class PassReport:
    """What one :meth:`WebhookSender.deliver_due` did."""

    delivered: int = 0
    failed_attempts: int = 0
    gave_up: int = 0


@dataclass(frozen=True)
class _Request:
    delivery_id: int
    attempt: int  # 1 for the first
    url: str
    body: bytes
    headers: dict[str, str]


class WebhookSender:
    """Sends the due deliveries of one catalog (several senders may share it)."""

    def __init__(self, catalog: Catalog, policy: NetworkPolicy, retry: RetryPolicy, *,
                 timeout: float, user_agent: str) -> None:
        self.catalog = catalog
        self.policy = policy
        self.retry = retry
        self.timeout = timeout
        # held while a POST may still be running (connect, write and read each get timeout)
        self.lease = timedelta(seconds=4 * timeout + 60)
        # no connection kept: one is pooled by address, not by the name it was verified for
        self.client = httpx.Client(timeout=timeout, follow_redirects=False,
                                   headers={"User-Agent": user_agent},
                                   limits=httpx.Limits(max_keepalive_connections=0))
        self._stopping = threading.Event()

    @classmethod
    def from_settings(cls, catalog: Catalog, settings: ServiceSettings) -> WebhookSender:
        return cls(catalog, settings.network_policy(), RetryPolicy(
            timedelta(seconds=settings.webhook_retry_seconds),
            timedelta(seconds=settings.webhook_retry_max_seconds),
            settings.webhook_max_attempts),
            timeout=settings.webhook_timeout, user_agent=settings.user_agent)

    def stop(self) -> None:
        """Make a pass that is running end after the POST it is making (recorded)."""
        self._stopping.set()

    def close(self) -> None:
        self.client.close()

    def deliver_due(self, now: datetime | None = None) -> PassReport:
        """Send each delivery due at ``now`` (default: the current time) once."""
        report = PassReport()
        for _ in range(MAX_PER_PASS):
            if self._stopping.is_set():
                break
            at = now or utcnow()
            request = self._claim(at)
            if request is None:
                break
            error = self._post(request)
            at = now or utcnow()
            with self.catalog.session() as session:
                if error is None:
                    record_delivered(session, request.delivery_id, at)
                    report.delivered += 1
                    continue
                retry_at = self.retry.retry_at(request.attempt, at)
                record_failure(session, request.delivery_id, error, retry_at)
                report.failed_attempts += 1
                report.gave_up += retry_at is None
        return report

    def _claim(self, now: datetime) -> _Request | None:
        with self.catalog.session() as session:
            delivery = claim_due(session, now, self.lease)
            return _request(delivery) if delivery is not None else None

    def _post(self, request: _Request) -> str | None:
        """None when the receiver took it, else what went wrong. The POST goes to an
        address that was checked (``allowed_addresses``, each in turn while connecting
        fails), with the URL's host in ``Host`` and, over TLS, in SNI and the certificate
        check (httpcore's ``sni_hostname``). The host is looked up in the form httpx sends
        it (IDNA 2008), so the name checked is the name sent."""
        try:
            url = httpx.URL(request.url)
            addresses = allowed_addresses(str(url), self.policy)
        except httpx.InvalidURL as exc:
            return f"InvalidURL: {exc}"
        except ValueError as exc:
            return f"refused: {exc}"
        if not addresses:
            return f"{url.host} does not resolve"
        headers = {**request.headers, "Host": url.netloc.decode("ascii")}
        extensions = {"sni_hostname": url.raw_host.decode("ascii")} \
            if url.scheme == "https" else {}
        error = ""
        for address in addresses:
            try:
                response = self.client.post(url.copy_with(host=str(address)),
                                            content=request.body, headers=headers,
                                            extensions=extensions)
            except httpx.ConnectError as exc:
                error = f"ConnectError: {exc}"
                continue
            except httpx.TimeoutException:
                return f"no answer within {self.timeout:g}s"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                return f"{type(exc).__name__}: {exc}"
            if response.is_success:
                return None
            return f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        return error


def _request(delivery: WebhookDelivery) -> _Request:
    site = delivery.site
    assert site.webhook_url is not None and site.webhook_secret is not None  # claim_due's
    body = ChangeOut.from_change(delivery.version, site.name).model_dump_json().encode()
    return _Request(delivery.id, delivery.attempts + 1, site.webhook_url, body, {
        "Content-Type": "application/json",
        EVENT_HEADER: EVENT,
        DELIVERY_HEADER: str(delivery.id),
        SIGNATURE_HEADER: signature(site.webhook_secret, body)})
