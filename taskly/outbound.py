"""Outbound requests to addresses users give us (issue #12): Web Push endpoints and Apprise URLs.

Call the checks when a target is saved and again before every send; both raise
``OutboundRefused``, whose text may be shown to the user (it never repeats the URL, which can hold
secrets, nor what a name resolved to). A ``Target`` names the host and port the sender will
reach and, for user-chosen hosts, the vetted addresses.

What the sender must do (there is no HTTP client here: none is a dependency yet):

- **Connect only to vetted addresses.** A name checked now may resolve elsewhere a second later
  (DNS rebinding). Either connect to ``Target.addresses`` (pin the address, keep the host name for
  TLS SNI, certificate check and ``Host``), or guard the socket itself: pywebpush and Apprise both
  use requests/urllib3, so give them a connection factory that resolves, passes every address
  through ``refusal(ip, allow_private=...)`` and connects only to one that returns None. That
  guard also covers redirects and anything a plugin discovers on its own.
- **Follow no redirects**: ``allow_redirects=False``; Apprise >= 1.11 with
  ``AppriseAsset(http_redirects=False)``. URLs asking for ``redirect=yes`` are refused here.
- **Use NOTIFY_TIMEOUT** for connect and read, with an overall deadline around a blocking Apprise
  call (in a thread). URLs may not carry Apprise's own ``cto``/``rto``; the sender adds its own.
- **Give Apprise exactly the string checked**, alone, and check that it made one service of it:
  Apprise splits ``a://x, b://y`` into two (such strings are refused here).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from taskly.settings import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_URL_LENGTH = 2048
_net = ipaddress.ip_network

# Apprise schemes whose URL host is a token (the service is fixed): scheme -> the host reached.
FIXED_SERVICES = {"tgram": "api.telegram.org", "discord": "discord.com"}
FIXED_SERVICES |= {"pover": "api.pushover.net", "twilio": "api.twilio.com"}
# Self-hostable schemes: the URL's host is the target (scheme -> default port).
HOSTED = {"json": 80, "jsons": 443, "xml": 80, "xmls": 443, "form": 80, "forms": 443}
HOSTED |= {"ntfy": 80, "ntfys": 443, "gotify": 80, "gotifys": 443, "signal": 80, "signals": 443}
HOSTED |= {"matrix": 80, "matrixs": 443}
KNOWN_SCHEMES = frozenset(FIXED_SERVICES) | frozenset(HOSTED)

# Refused even with NOTIFY_ALLOW_PRIVATE. Cloud metadata: AWS, GCP, Azure, OpenStack, Hetzner,
# DigitalOcean, Oracle (169.254.169.254), AWS ECS/EKS (.170.2, .170.23), Tencent (169.254.0.23),
# Alibaba (100.100.100.200, inside CGNAT), Azure WireServer (168.63.129.16, public space),
# Oracle Classic (192.0.0.192), AWS IPv6 (fd00:ec2::254, ::23), GCP IPv6 (fd20:ce::254).
_METADATA = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254", "169.254.170.2", "169.254.170.23", "169.254.0.23", "100.100.100.200",
        "168.63.129.16", "192.0.0.192", "fd00:ec2::254", "fd00:ec2::23", "fd20:ce::254",
    )
)  # fmt: skip
_CLASSES = (  # (reason, networks), most specific first; the first that holds names the address
    ("unspecified", ("0.0.0.0/8", "::/128")),
    ("loopback", ("127.0.0.0/8", "::1/128")),
    ("link-local", ("169.254.0.0/16", "fe80::/10")),
    ("multicast", ("224.0.0.0/4", "ff00::/8")),
    ("private", ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "100.64.0.0/10")),
    ("reserved", ("240.0.0.0/4", "192.0.0.0/24", "192.0.2.0/24", "198.51.100.0/24")),
    ("reserved", ("203.0.113.0/24", "198.18.0.0/15", "192.88.99.0/24", "::/96", "100::/64")),
    ("reserved", ("64:ff9b:1::/48", "2001::/23", "2001:db8::/32", "3fff::/20", "fec0::/10")),
)
_TABLE = tuple((reason, tuple(_net(n) for n in nets)) for reason, nets in _CLASSES)
_OPENED_BY_ALLOW_PRIVATE = ("loopback", "private")
_NAT64, _GLOBAL6 = _net("64:ff9b::/96"), _net("2000::/3")

_SAY = {"metadata": "a cloud metadata service", "loopback": "this server itself"}
_SAY |= {"private": "on a private network", "link-local": "a link-local address"}
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_IPV4 = re.compile(r"\d{1,3}(\.\d{1,3}){3}")
_AUTHORITY = re.compile(
    r"(?:(?P<userinfo>[^@]*)@)?(?P<host>\[[0-9a-f:.]+\]|[^:@\[\]]*)(?::(?P<port>\d{1,5}))?"
)


class OutboundRefused(ValueError):
    """Taskly will not send to this target. ``str(exc)`` is for the user; ``reason`` is a short
    code for logs and tests (scheme, syntax, option, host, dns, timeout, or an address class)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Policy:
    """What the operator allows (NOTIFY_SCHEMES, NOTIFY_ALLOW_PRIVATE, NOTIFY_TIMEOUT)."""

    schemes: frozenset[str] = frozenset()
    allow_private: bool = False
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if unknown := self.schemes - KNOWN_SCHEMES:
            raise ValueError(f"unknown Apprise schemes: {', '.join(sorted(unknown))}")

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        schemes = frozenset(settings.notify_schemes)
        return cls(schemes, settings.notify_allow_private, settings.notify_timeout)


@dataclass(frozen=True, slots=True)
class Target:
    """Where a send goes: the host to name (SNI, Host header) and port; ``addresses`` are the
    vetted ones to connect to, empty for a fixed public service (nothing user-chosen)."""

    host: str
    port: int
    addresses: tuple[IPAddress, ...] = ()


def refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why Taskly must not connect to ``ip`` (its address class), or None. IPv4 inside IPv6
    (mapped, NAT64, 6to4) is judged as the IPv4 address it reaches. Use it at connect time too."""
    if ip in _METADATA:
        return "metadata"
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in _NAT64:
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return refusal(inner, allow_private=allow_private)
    reason = next((r for r, nets in _TABLE if any(ip in n for n in nets)), None)
    if reason is None and isinstance(ip, ipaddress.IPv6Address) and ip not in _GLOBAL6:
        reason = "reserved"  # outside global unicast: nothing to send to
    if allow_private and reason in _OPENED_BY_ALLOW_PRIVATE:
        return None
    return reason


async def check_push_endpoint(url: str, policy: Policy) -> Target:
    """A Web Push subscription endpoint: https, a host and optional port, no userinfo or
    fragment, then every address it resolves to must pass ``refusal``."""
    scheme, authority, rest = _split(url)
    if scheme != "https":
        raise OutboundRefused("scheme", "A push endpoint must be an https:// address.")
    if "#" in rest:
        raise OutboundRefused("syntax", "A push endpoint cannot have a #fragment.")
    userinfo, host, port = _authority(authority)
    if userinfo is not None:
        raise OutboundRefused("syntax", "A push endpoint cannot carry a user name or password.")
    return await _vet(host, port or 443, policy)


async def check_apprise_url(url: str, policy: Policy) -> Target:
    """An Apprise URL: its scheme must be allowed; for self-hostable services the host in the
    URL must pass the address checks, for fixed services the target is the service's own host.
    The rules mirror Apprise's parser (``apprise/utils/parse.py``, the plugins' ``parse_url``)."""
    scheme, authority, rest = _split(url)
    if scheme not in policy.schemes:
        raise OutboundRefused("scheme", f"This server does not send to {scheme}:// services.")
    if re.search(r",[a-z0-9]+://", url, re.IGNORECASE):
        raise OutboundRefused("syntax", "Add one service address at a time.")
    path, _, query = rest.partition("?")
    options = _apprise_options(query)
    if "cto" in options or "rto" in options or _truthy(options.get("redirect", "no")):
        raise OutboundRefused("option", "Remove cto=, rto= and redirect= from the address.")
    if scheme in FIXED_SERVICES:
        return Target(FIXED_SERVICES[scheme], 443)
    mode = options.get("mode", "").lower()
    if scheme in ("ntfy", "ntfys"):
        if mode not in ("", "cloud", "private"):
            raise OutboundRefused("option", "ntfy's mode= must be cloud or private.")
        if mode == "cloud" or not (mode or path.strip("/") or options.get("to")):
            return Target("ntfy.sh", 443)  # ntfy://topic: Apprise posts to https://ntfy.sh
    if scheme in ("matrix", "matrixs"):
        if mode == "t2bot":
            return Target("webhooks.t2bot.io", 443)
        if _truthy(options.get("discovery", "yes")):
            # Discovery follows a base_url the server chooses (.well-known): unchecked.
            raise OutboundRefused("option", "Add ?discovery=no to a Matrix address.")
    _, host, port = _authority(authority)
    return await _vet(host, port or HOSTED[scheme], policy)


def _split(url: str) -> tuple[str, str, str]:
    """scheme (lower case), authority, and the rest, refusing anything two parsers could read
    differently: whitespace, control or non-ASCII characters, backslashes, an empty authority
    (Apprise reads ``ntfy:///host/topic`` as ``ntfy://host/topic``)."""
    if not isinstance(url, str) or len(url) > MAX_URL_LENGTH:
        raise OutboundRefused("syntax", f"That address is too long (over {MAX_URL_LENGTH}).")
    if not url.isascii() or not url.isprintable() or " " in url or "\\" in url:
        raise OutboundRefused("syntax", "That address has spaces or characters it cannot have.")
    match = re.fullmatch(r"([a-z][a-z0-9]{0,31})://([^/?#]+)(.*)", url, re.IGNORECASE | re.DOTALL)
    if not match:
        raise OutboundRefused("syntax", "That is not a service address (scheme://host/...).")
    return match[1].lower(), match[2], match[3]


def _authority(authority: str) -> tuple[str | None, str, int | None]:
    match = _AUTHORITY.fullmatch(authority.lower())
    if not match:
        raise OutboundRefused("syntax", "That address's host part cannot be read.")
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise OutboundRefused("syntax", "That address has an impossible port.")
    return match["userinfo"], match["host"], port


async def _vet(host: str, port: int, policy: Policy) -> Target:
    """Check a literal address directly, else resolve the name (within the timeout) and refuse
    if ANY address is refused: the client may pick any of them."""
    literal = host[1:-1] if host.startswith("[") else host
    if host.startswith("[") or _IPV4.fullmatch(host):
        try:
            ip = ipaddress.ip_address(literal)
        except ValueError:
            raise OutboundRefused("host", "That IP address is not valid.") from None
        if reason := refusal(ip, allow_private=policy.allow_private):
            say = _SAY.get(reason, f"a {reason} address")
            raise OutboundRefused(reason, f"That address is {say}; Taskly does not send there.")
        return Target(str(ip), port, (ip,))
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise OutboundRefused("host", "That host name is not valid (use its ASCII form, xn--…).")
    if re.fullmatch(r"\d+|0x[0-9a-f]*", labels[-1]):  # 127.1, 2130706433, 0x7f.1: no TLD
        raise OutboundRefused("host", "That host name is not valid.")
    cannot = f"Taskly cannot send to {host}: it was not found, or is not a public address."
    try:
        async with asyncio.timeout(policy.timeout):
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
            )
    except TimeoutError:
        raise OutboundRefused("timeout", f"Looking up {host} took too long; try again.") from None
    except (OSError, UnicodeError):
        raise OutboundRefused("dns", cannot) from None
    found = dict.fromkeys(
        ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        for info in infos
        if info[0] in (socket.AF_INET, socket.AF_INET6)
    )
    if not found:
        raise OutboundRefused("dns", cannot)
    for ip in found:
        if reason := refusal(ip, allow_private=policy.allow_private):
            raise OutboundRefused(reason, cannot)
    return Target(host, port, tuple(found))


def _apprise_options(query: str) -> dict[str, str]:
    """The query as Apprise reads it (``parse_qsd``): pairs split on & and ;, keys unquoted,
    lower-cased and stripped, values unquoted and stripped. A repeated key is refused (Apprise
    keeps the last; nobody needs two)."""
    options: dict[str, str] = {}
    for pair in re.split(r"[&;]", query) if query else ():
        key, _, value = pair.partition("=")
        key = unquote(key).lower().strip()
        if key in options:
            raise OutboundRefused("syntax", f"The option {key}= appears twice.")
        options[key] = unquote(value).strip()
    return options


def _truthy(value: str) -> bool:
    """Apprise's ``parse_bool`` for yes/no options; anything it reads as yes, or cannot read."""
    return value.lower()[:2] not in ("de", "di", "ne", "f", "n", "no", "of", "0", "fa")
