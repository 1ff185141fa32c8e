"""NetworkPolicy: only publicly routable addresses unless a network is explicitly allowed."""

from __future__ import annotations

import ipaddress

import pytest

from crawler.network_policy import AddressRefused, NetworkPolicy, parse_networks, refusal_reason

# address -> (reason prefix, address the message names)
REFUSED = {
    "127.0.0.1": ("loopback", "127.0.0.1"),
    "127.1.2.3": ("loopback", "127.1.2.3"),
    "10.0.0.1": ("private", "10.0.0.1"),
    "172.16.0.1": ("private", "172.16.0.1"),
    "192.168.1.1": ("private", "192.168.1.1"),
    "169.254.169.254": ("link-local", "169.254.169.254"),
    "100.64.0.1": ("CGNAT (shared address space)", "100.64.0.1"),
    "0.0.0.0": ("unspecified", "0.0.0.0"),
    "224.0.0.1": ("multicast", "224.0.0.1"),
    "240.0.0.1": ("reserved", "240.0.0.1"),
    "255.255.255.255": ("reserved", "255.255.255.255"),
    "::1": ("loopback", "::1"),
    "fe80::1": ("link-local", "fe80::1"),
    "fc00::1": ("unique-local", "fc00::1"),
    "fd12::1": ("unique-local", "fd12::1"),
    "::ffff:127.0.0.1": ("IPv4-mapped loopback", "127.0.0.1"),
    "::ffff:10.0.0.1": ("IPv4-mapped private", "10.0.0.1"),
    "2002:7f00:1::": ("6to4-embedded loopback", "127.0.0.1"),
    "2002:a00:1::": ("6to4-embedded private", "10.0.0.1"),
    "64:ff9b::7f00:1": ("NAT64-embedded loopback", "127.0.0.1"),
    "ff02::1": ("multicast", "ff02::1"),
}
ALLOWED = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]


@pytest.mark.parametrize(("address", "expected"), REFUSED.items(), ids=list(REFUSED))
def test_refused_by_default(address: str, expected: tuple[str, str]) -> None:
    reason, named = expected
    with pytest.raises(AddressRefused) as excinfo:
        NetworkPolicy().check(address)
    message = str(excinfo.value)
    assert message.startswith(f"refused to connect: {reason} address {named}, ")
    assert "not publicly routable" in message
    assert "NEWSARCHIVE_ALLOWED_NETWORKS" in message
    assert refusal_reason(ipaddress.ip_address(address)) == f"{reason} address {named}"


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_are_allowed(address: str) -> None:
    NetworkPolicy().check(address)
    NetworkPolicy().check(ipaddress.ip_address(address))
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_address_refused_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="loopback"):
        NetworkPolicy().check("127.0.0.1")


def test_message_names_the_host_that_resolved() -> None:
    with pytest.raises(AddressRefused) as excinfo:
        NetworkPolicy().check("10.1.2.3", host="intranet.example")
    assert str(excinfo.value).startswith(
        "refused to connect: intranet.example resolves to private address 10.1.2.3, ")
    assert "NEWSARCHIVE_ALLOWED_NETWORKS" in str(excinfo.value)


def test_accepts_ip_address_objects() -> None:
    with pytest.raises(AddressRefused, match="loopback address ::1"):
        NetworkPolicy().check(ipaddress.IPv6Address("::1"))


def test_allowed_networks_open_only_those_networks() -> None:
    policy = NetworkPolicy(parse_networks("127.0.0.0/8"))
    policy.check("127.0.0.1")
    policy.check("127.255.0.9")
    with pytest.raises(AddressRefused, match=r"private address 10\.0\.0\.1"):
        policy.check("10.0.0.1")
    with pytest.raises(AddressRefused, match="loopback address ::1"):
        policy.check("::1")
    policy.check("8.8.8.8")


def test_allowed_networks_of_both_families() -> None:
    policy = NetworkPolicy(parse_networks("10.0.0.0/8, ::1"))
    policy.check("10.9.8.7")
    policy.check("::1")
    with pytest.raises(AddressRefused):
        policy.check("127.0.0.1")


def test_parse_networks_forms() -> None:
    assert parse_networks(None) == ()
    assert parse_networks("") == ()
    assert parse_networks("127.0.0.0/8, ::1  10.1.2.3/8") == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("10.0.0.0/8"),  # host bits are tolerated
    )
    assert parse_networks(["192.168.0.0/16", " fd00::/8 "]) == (
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("fd00::/8"),
    )


def test_parse_networks_rejects_garbage() -> None:
    with pytest.raises(ValueError) as excinfo:
        parse_networks("127.0.0.0/8, not-a-net")
    message = str(excinfo.value)
    assert "'not-a-net'" in message
    assert "NEWSARCHIVE_ALLOWED_NETWORKS" in message
    assert "CIDR" in message


def test_allowing_an_ipv4_network_allows_its_ipv4_mapped_form() -> None:
    policy = NetworkPolicy(parse_networks("127.0.0.0/8"))
    policy.check("::ffff:127.0.0.1")
    with pytest.raises(AddressRefused, match=r"10\.0\.0\.1"):
        policy.check("::ffff:10.0.0.1")
