"""DNS resolver that enforces the SSRF policy when Scrapy connects.

Every connection Scrapy makes (start URLs, redirects, discovered links, robots.txt) resolves
its host through the reactor's resolver; IP literals in any form (``127.1``, ``2130706433``,
``0x7f.1``) go through ``getaddrinfo`` too, so the check sees the address actually dialled.

Twisted reports any resolver error as "no results", so refusals are also kept in
:data:`refusals` for the download handler to raise :class:`AddressRefusedError` with the
real reason (and without retries).
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet import defer
from twisted.internet.error import DNSLookupError

from crawler.network_policy import AddressRefused, NetworkPolicy, parse_networks

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Self

    from scrapy.crawler import Crawler
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

refusals: LocalCache[str, str] = LocalCache(10000)


class AddressRefusedError(Exception):
    """A request was not sent because its host is not publicly routable (SSRF guard)."""


class GuardedResolver(CachingThreadedResolver):
    def __init__(self, reactor: ReactorBase, cache_size: int, timeout: float,
                 policy: NetworkPolicy) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> Self:
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        policy = NetworkPolicy(parse_networks(settings.get("NEWSARCHIVE_ALLOWED_NETWORKS")))
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"), policy)

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        try:
            literal = ipaddress.ip_address(name)
        except ValueError:
            return super().getHostByName(name, timeout).addCallback(self._check, name)
        try:
            return defer.succeed(self._check(literal, name))
        except DNSLookupError:
            return defer.fail()

    def _check(self, address: Any, name: str) -> Any:
        try:
            self.policy.check(str(address), host=name)
        except AddressRefused as exc:
            refusals[name] = str(exc)
            raise DNSLookupError(str(exc)) from None
        return str(address)
