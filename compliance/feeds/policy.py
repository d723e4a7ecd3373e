"""The outbound fetch policy: which URLs and addresses the feed fetcher may connect to.

Feed URLs are typed in by admins, and feeds redirect wherever they like, so every hop is
checked here before a connection is made: only http and https, and only public addresses
unless the allow-list (FETCH_ALLOW) names the address. The fetcher then connects to the very
address checked here, never resolving the name again (a second lookup could answer
differently: DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = {"http": 80, "https": 443}
# Cloud instance-metadata endpoints: credentials live there. Most are link-local anyway; the
# list names them so the refusal says why. Azure's wireserver (168.63.129.16) is a public
# address and would pass the other checks.
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure IMDS, OpenStack, DigitalOcean
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS IMDS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    ipaddress.ip_address("168.63.129.16"),  # Azure wireserver
}
METADATA_HOSTNAMES = {"metadata.google.internal", "metadata", "instance-data"}


class Refused(Exception):
    """The policy forbids this URL or address; the message says why, for the source's page."""


@dataclass(frozen=True)
class Allowance:
    """One allow-list entry: a network (a single address is a /32 or /128), maybe one port."""

    network: IPNetwork
    port: int | None = None

    def permits(self, address: IPAddress, port: int) -> bool:
        return address in self.network and (self.port is None or self.port == port)


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts and the checked addresses to connect to."""

    url: str
    scheme: str
    host: str  # as written in the URL, lower-cased, without IPv6 brackets
    port: int
    addresses: tuple[IPAddress, ...]


def parse_allow_list(value: str | Iterable[str] | None) -> tuple[Allowance, ...]:
    """Read FETCH_ALLOW: "127.0.0.1:8765, 10.1.0.0/16, [::1]:8080" (a string or a list).

    Raises ValueError naming the entry it cannot read.
    """
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(_allowance(str(item).strip()) for item in items if str(item).strip())


def _allowance(item: str) -> Allowance:
    address, port = item, None
    if item.startswith("["):  # [v6] or [v6]:port
        address, _, rest = item[1:].partition("]")
        port = _port(item, rest[1:]) if rest.startswith(":") else None
    elif item.count(":") == 1:  # v4:port
        address, _, raw_port = item.partition(":")
        port = _port(item, raw_port)
    try:
        return Allowance(ipaddress.ip_network(address, strict=False), port)
    except ValueError as error:
        raise ValueError(
            f"FETCH_ALLOW entry '{item}' is not an address, network or address:port"
        ) from error


def _port(item: str, raw: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"FETCH_ALLOW entry '{item}' has a bad port")
    return int(raw)


def check_url(url: str) -> SplitResult:
    """Refuse what is not an absolute http(s) URL with a host; return its parts."""
    if len(url) > 1000:
        raise Refused("the URL is longer than 1000 characters")
    if any(ord(char) < 33 or ord(char) == 127 for char in url):
        raise Refused("the URL contains spaces or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError as error:
        raise Refused(f"the URL cannot be read ({error})") from error
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise Refused(f"only http and https URLs are fetched, not '{scheme or 'none'}:'")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("URLs carrying a user name or password are not fetched")
    return parts


def address_problem(address: IPAddress) -> str | None:
    """Why the policy refuses this address, or None for a public one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address_problem(address.ipv4_mapped)  # ::ffff:127.0.0.1 is 127.0.0.1
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    checks = (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
    )
    for failed, reason in checks:
        if failed:
            return reason
    if not address.is_global:
        return "not a public address"  # e.g. 100.64.0.0/10, carrier-grade NAT
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address host resolves to (a literal address is its own answer)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OSError(f"cannot resolve {host}: {error}") from error
    found: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])  # drop a v6 zone id
        if address not in found:
            found.append(address)
    return found


def check_target(url: str, allow: tuple[Allowance, ...]) -> Target:
    """Check url and every address its host resolves to; raise Refused on any bad one.

    One refused address refuses the host: connecting to "the good one" would let a name that
    also points inside the network be used as soon as the good address stops answering.
    Raises OSError when the name does not resolve.
    """
    parts = check_url(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    port = parts.port or SCHEMES[scheme]
    if host in METADATA_HOSTNAMES:
        raise Refused(f"{host} is a cloud metadata host")
    addresses = resolve(host, port)
    if not addresses:
        raise OSError(f"{host} has no address")
    for address in addresses:
        problem = address_problem(address)
        if problem and not any(entry.permits(address, port) for entry in allow):
            shown = f"[{address}]" if address.version == 6 else str(address)
            where = host if host == str(address) else f"{host} ({shown})"
            raise Refused(
                f"{where} is {problem}; only public addresses are fetched unless "
                f"COMPLIANCE_FETCH_ALLOW lists {shown}:{port}"
            )
    return Target(url, scheme, host, port, tuple(addresses))


def literal_address_problem(url: str, allow: tuple[Allowance, ...]) -> str | None:
    """Check a URL without touching the network: its form, and its host if a literal address.

    Used when an admin adds a source, so http://169.254.169.254/ is refused at once.
    """
    try:
        parts = check_url(url)
    except Refused as error:
        return str(error)
    host = (parts.hostname or "").lower()
    if host in METADATA_HOSTNAMES:
        return f"{host} is a cloud metadata host"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    port = parts.port or SCHEMES[parts.scheme.lower()]
    problem = address_problem(address)
    if problem and not any(entry.permits(address, port) for entry in allow):
        return f"{host} is {problem}"
    return None
