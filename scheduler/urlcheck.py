"""Validation of URLs submitted for on-demand crawls (the first SSRF gate), and of a site's
webhook URL, which the service POSTs to under the same policy.

The crawl re-checks every connection (crawler/resolver.py); this gate rejects bad input
early with a clear 422: not http(s), too long, no host, or a host that is (or resolves
to) a refused address, including decimal/octal/hex IPv4 forms such as ``2130706433``.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from crawler.network_policy import AddressRefused, IPAddress, NetworkPolicy

MAX_URL_LENGTH = 2048


def literal_address(host: str) -> IPAddress | None:
    """The address a host literal denotes, in any form ``inet_aton`` accepts."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


class UrlRefused(ValueError):
    """A URL given to crawl may not be crawled; ``field`` names it (``start_urls.0``)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field


def check_crawl_urls(fields: dict[str, list[str] | None], policy: NetworkPolicy) -> None:
    """:class:`UrlRefused` for the first URL of ``fields`` (name → URLs) that may not be
    crawled; the API (422) and the CLI (exit 2) check with this."""
    for field, urls in fields.items():
        for index, url in enumerate(urls or []):
            try:
                check_crawl_url(url, policy)
            except ValueError as exc:
                raise UrlRefused(f"{field}.{index}", str(exc)) from None


def check_webhook_address(url: str | None, policy: NetworkPolicy) -> None:
    """:class:`UrlRefused` (``webhook_url``) when a site's webhook URL names an address the
    policy refuses: the service POSTs there as it crawls (same rule, same setting)."""
    if url is None:
        return
    try:
        check_crawl_url(url, policy)
    except ValueError as exc:
        raise UrlRefused("webhook_url", str(exc)) from None


def split_url(url: str) -> SplitResult:
    """``url``'s parts, its port checked (ValueError ``not a valid URL: ...`` otherwise)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from None
    return parts


def check_crawl_url(url: str, policy: NetworkPolicy) -> str:
    """Return ``url`` if it may be crawled; raise ValueError saying why not."""
    allowed_addresses(url, policy)
    return url


def allowed_addresses(url: str, policy: NetworkPolicy) -> list[IPAddress]:
    """The addresses of ``url``'s host, each checked against ``policy`` (ValueError saying
    why not, for the first refused); none when the host does not resolve. A client that
    connects to these, not to the host name, cannot be handed another address by a second
    lookup (DNS rebinding)."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    parts = split_url(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"only http and https URLs can be crawled, not {parts.scheme!r}"
                         if parts.scheme else "not an absolute URL: give http(s)://host/...")
    host = parts.hostname
    if not host:
        raise ValueError("the URL has no host")
    literal = literal_address(host)
    addresses = [literal] if literal else _resolve(host, parts.port)
    for address in addresses:
        try:
            policy.check(address, host=host)
        except AddressRefused as exc:
            raise ValueError(str(exc)) from None
    return addresses


def _resolve(host: str, port: int | None) -> list[IPAddress]:
    try:
        infos = socket.getaddrinfo(host, port or 80, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return []  # unresolvable now: the crawl reports it (and re-checks at connect)
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
