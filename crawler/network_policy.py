"""Which IP addresses a crawl may connect to (SSRF protection).

Public unicast addresses are allowed. Loopback, private, link-local, CGNAT, multicast,
reserved, unspecified, unique-local and IPv4-mapped/-translated IPv6 forms of those are
refused unless a network in ``allowed_networks`` contains the address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CGNAT = ipaddress.ip_network("100.64.0.0/10")


class AddressRefused(ValueError):
    """The address is not publicly routable and not explicitly allowed."""


def parse_networks(value: str | Iterable[str] | None) -> tuple[IPNetwork, ...]:
    """Parse ``"127.0.0.0/8, ::1"`` (or a list) into networks; a clear error on bad input."""
    if not value:
        return ()
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value)
    networks = []
    for item in items:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError:
            raise ValueError(
                f"NEWSARCHIVE_ALLOWED_NETWORKS: {item!r} is not an IP network "
                "(use CIDR notation such as 127.0.0.0/8 or ::1/128)"
            ) from None
    return tuple(networks)


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not public, or None if it is."""
    if isinstance(address, ipaddress.IPv6Address):
        for embedded, form in ((address.ipv4_mapped, "IPv4-mapped"),
                               (address.sixtofour, "6to4-embedded")):
            if embedded is not None:
                reason = refusal_reason(embedded)
                return f"{form} {reason}" if reason else None
        if address in ipaddress.ip_network("64:ff9b::/96"):
            reason = refusal_reason(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
            return f"NAT64-embedded {reason}" if reason else None
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("CGNAT (shared address space)", address in CGNAT),
        ("unique-local", isinstance(address, ipaddress.IPv6Address)
         and address in ipaddress.ip_network("fc00::/7")),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
        ("non-global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address {address}"
    return None


class NetworkPolicy:
    def __init__(self, allowed_networks: Iterable[IPNetwork] = ()) -> None:
        self.allowed_networks = tuple(allowed_networks)

    def check(self, address: str | IPAddress, *, host: str | None = None) -> None:
        """Raise :class:`AddressRefused` if a crawl must not connect to ``address``."""
        ip = ipaddress.ip_address(address) if isinstance(address, str) else address
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            candidates.append(ip.ipv4_mapped)  # allowing 127.0.0.0/8 allows ::ffff:127.0.0.1
        if any(c in net for c in candidates for net in self.allowed_networks
               if net.version == c.version):
            return
        reason = refusal_reason(ip)
        if reason:
            target = f"{host} resolves to {reason}" if host and host != str(ip) else reason
            raise AddressRefused(
                f"refused to connect: {target}, which is not publicly routable; "
                "to crawl it, add its network to NEWSARCHIVE_ALLOWED_NETWORKS"
            )
