"""Outbound targets users give us (taskly/outbound.py): push endpoints and Apprise URLs.

Resolution runs through the real resolver: `localhost` is the one name every machine resolves
(to loopback); every other address class is tested as a literal, in IPv4, IPv6 and the IPv6 forms
that carry an IPv4 address.
"""

from __future__ import annotations

import ipaddress

import pytest

from taskly.outbound import (
    KNOWN_SCHEMES,
    MAX_URL_LENGTH,
    OutboundRefused,
    Policy,
    check_apprise_url,
    check_push_endpoint,
    refusal,
)
from taskly.settings import DEFAULT_NOTIFY_SCHEMES, Settings, SettingsError

PUBLIC = Policy(frozenset(KNOWN_SCHEMES))
LAN = Policy(frozenset(KNOWN_SCHEMES), allow_private=True)

NEVER = [  # refused even with NOTIFY_ALLOW_PRIVATE
    ("169.254.169.254", "metadata"),
    ("169.254.170.2", "metadata"),
    ("100.100.100.200", "metadata"),  # Alibaba, inside CGNAT
    ("168.63.129.16", "metadata"),  # Azure, in public space
    ("fd00:ec2::254", "metadata"),  # AWS IPv6, inside ULA
    ("fd20:ce::254", "metadata"),
    ("::ffff:169.254.169.254", "metadata"),
    ("64:ff9b::a9fe:a9fe", "metadata"),  # NAT64
    ("2002:a9fe:a9fe::", "metadata"),  # 6to4
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.1", "reserved"),
    ("198.18.0.1", "reserved"),
    ("2001:db8::1", "reserved"),
    ("::127.0.0.1", "reserved"),  # IPv4-compatible (deprecated)
    ("2001::1", "reserved"),  # Teredo
    ("64:ff9b:1::a00:1", "reserved"),  # local-use NAT64
    ("fec0::1", "reserved"),
    ("4000::1", "reserved"),  # outside global unicast
]
PRIVATE = [  # refused unless NOTIFY_ALLOW_PRIVATE
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("10.0.0.1", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "private"),  # CGNAT
    ("fd12:3456::1", "private"),
    ("::ffff:10.0.0.1", "private"),
    ("2002:a00:1::", "private"),  # 6to4 of 10.0.0.1
    ("64:ff9b::a00:1", "private"),  # NAT64 of 10.0.0.1
]
ALLOWED = ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"]


def url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


async def refused(check, url: str, policy: Policy = PUBLIC) -> OutboundRefused:
    with pytest.raises(OutboundRefused) as caught:
        await check(url, policy)
    return caught.value


# --- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("address", "reason"), NEVER)
async def test_never_reachable_addresses_are_refused_even_with_private_allowed(address, reason):
    ip = ipaddress.ip_address(address)
    assert refusal(ip, allow_private=False) == reason
    assert refusal(ip, allow_private=True) == reason
    for policy in (PUBLIC, LAN):
        exc = await refused(check_push_endpoint, f"https://{url_host(address)}/push", policy)
        assert exc.reason == reason
        exc = await refused(check_apprise_url, f"jsons://{url_host(address)}/hook", policy)
        assert exc.reason == reason


@pytest.mark.parametrize(("address", "reason"), PRIVATE)
async def test_private_addresses_need_the_operator_setting(address, reason):
    ip = ipaddress.ip_address(address)
    assert refusal(ip, allow_private=False) == reason
    assert refusal(ip, allow_private=True) is None
    exc = await refused(check_apprise_url, f"json://{url_host(address)}:8080/hook")
    assert exc.reason == reason
    target = await check_apprise_url(f"json://{url_host(address)}:8080/hook", LAN)
    assert target.addresses == (ip,)
    assert target.port == 8080


@pytest.mark.parametrize("address", ALLOWED)
async def test_public_addresses_pass(address):
    ip = ipaddress.ip_address(address)
    assert refusal(ip, allow_private=False) is None
    target = await check_push_endpoint(f"https://{url_host(address)}/push/abc?x=1", PUBLIC)
    assert (target.host, target.port, target.addresses) == (str(ip), 443, (ip,))


async def test_a_name_resolving_to_loopback_is_refused_without_saying_where_it_leads():
    for host in ("localhost", "LOCALHOST"):
        exc = await refused(check_push_endpoint, f"https://{host}/push")
        assert exc.reason == "loopback"
        assert "127" not in str(exc) and "::1" not in str(exc)
    target = await check_push_endpoint("https://localhost:8443/push", LAN)
    assert target.host == "localhost" and target.port == 8443
    assert ipaddress.ip_address("127.0.0.1") in target.addresses
    assert all(refusal(ip, allow_private=True) is None for ip in target.addresses)


async def test_names_that_do_not_resolve_are_refused():
    exc = await refused(check_push_endpoint, "https://no-such-host.invalid/push")
    assert exc.reason in ("dns", "timeout")


async def test_resolution_has_a_deadline():
    exc = await refused(check_push_endpoint, "https://localhost/push", Policy(timeout=0))
    assert exc.reason == "timeout"


# --- push endpoints ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://8.8.8.8/push", "scheme"),
        ("ws://8.8.8.8/push", "scheme"),
        ("https://user@8.8.8.8/push", "syntax"),
        ("https://user:pw@8.8.8.8/push", "syntax"),
        ("https://8.8.8.8/push#frag", "syntax"),
        ("https://8.8.8.8:0/push", "syntax"),
        ("https://8.8.8.8:65536/push", "syntax"),
        ("https://8.8.8.8:/push", "syntax"),
        ("https://8.8.8.8:44x/push", "syntax"),
        ("https:///push", "syntax"),
        ("https:8.8.8.8/push", "syntax"),
        ("https://8.8.8.8\\@127.0.0.1/", "syntax"),
        (" https://8.8.8.8/push", "syntax"),
        ("https://8.8.8.8/pu sh", "syntax"),
        ("https://8.8.8.8/push\n", "syntax"),
        ("https://[::1%25lo]/push", "syntax"),
        ("https://[::g]/push", "syntax"),
        ("https://[1::2::3]/push", "host"),
        ("https://999.1.1.1/push", "host"),
        ("https://127.000.000.001/push", "host"),  # octal to some parsers
        ("https://2130706433/push", "host"),  # 127.0.0.1 to getaddrinfo
        ("https://0x7f.1/push", "host"),
        ("https://127.1/push", "host"),
        ("https://-bad.example/push", "host"),
        ("https://a..example/push", "host"),
        (f"https://{'a' * 64}.example/push", "host"),
        (f"https://{'a.' * 127}example/push", "host"),
        ("https://push%2eexample.com/push", "host"),
    ],
)
async def test_malformed_push_endpoints_are_refused(url, reason):
    assert (await refused(check_push_endpoint, url, LAN)).reason == reason


async def test_very_long_addresses_are_refused():
    url = "https://8.8.8.8/" + "a" * (MAX_URL_LENGTH - len("https://8.8.8.8/"))
    assert (await check_push_endpoint(url, PUBLIC)).port == 443
    exc = await refused(check_push_endpoint, url + "a")
    assert exc.reason == "syntax" and "too long" in str(exc)
    exc = await refused(check_apprise_url, "json://8.8.8.8/" + "a" * MAX_URL_LENGTH)
    assert exc.reason == "syntax"


@pytest.mark.parametrize(
    "host",
    [
        "bücher.example",  # IDN in Unicode: the ASCII (xn--) form is asked for
        "ｌｏｃａｌｈｏｓｔ",  # fullwidth: NFKC makes it localhost  # noqa: RUF001
        "127。0。0。1",  # ideographic full stops: IDNA makes them dots
        "exa\u200bmple.com",  # zero-width space
    ],
)
async def test_unicode_host_names_are_refused(host):
    for check, url in (
        (check_push_endpoint, f"https://{host}/p"),
        (check_apprise_url, f"json://{host}/"),
    ):
        assert (await refused(check, url, LAN)).reason == "syntax"


async def test_idna_ascii_form_is_a_valid_host_name():
    """The xn-- form passes the syntax check and goes on to resolution."""
    exc = await refused(check_push_endpoint, "https://xn--bcher-kva.invalid/p", Policy(timeout=3))
    assert exc.reason in ("dns", "timeout")


async def test_ports_default_or_explicit():
    assert (await check_push_endpoint("https://8.8.8.8/p", PUBLIC)).port == 443
    assert (await check_push_endpoint("HTTPS://8.8.8.8:8443/p", PUBLIC)).port == 8443
    assert (await check_push_endpoint("https://[2606:4700::1111]:444/p", PUBLIC)).port == 444
    assert (await check_apprise_url("json://8.8.8.8/p", PUBLIC)).port == 80
    assert (await check_apprise_url("jsons://8.8.8.8/p", PUBLIC)).port == 443
    assert (await check_apprise_url("gotify://8.8.8.8:8008/token", PUBLIC)).port == 8008


# --- Apprise URLs ------------------------------------------------------------------------------


async def test_schemes_outside_the_allow_list_are_refused_in_any_case():
    policy = Policy(frozenset({"ntfys", "tgram"}))
    assert (await check_apprise_url("NTFYS://ntfy.sh?mode=cloud", policy)).host == "ntfy.sh"
    assert (await check_apprise_url("TGram://123456:abc/789", policy)).host == "api.telegram.org"
    for url in ("json://8.8.8.8/", "ntfy://topic", "mailto://u:p@gmail.com", "https://ntfy.sh/t"):
        exc = await refused(check_apprise_url, url, policy)
        assert exc.reason == "scheme"
        assert url not in str(exc)  # the URL may hold secrets
    with pytest.raises(ValueError, match="unknown Apprise schemes: slack"):
        Policy(frozenset({"slack"}))


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("tgram://123456789:AAbcdefghij/-100123", "api.telegram.org"),
        ("discord://127.0.0.1/webhooktoken", "discord.com"),  # the host part is a webhook id
        ("pover://userkey@apptoken", "api.pushover.net"),
        ("twilio://ACsid:token@15551234567/15557654321", "api.twilio.com"),
        ("ntfy://my-topic", "ntfy.sh"),  # no host: ntfy.sh
        ("ntfy://localhost", "ntfy.sh"),  # a topic named localhost
        ("ntfys://my-topic/?priority=high", "ntfy.sh"),
        ("ntfy://10.0.0.1/topic?mode=cloud", "ntfy.sh"),
        (f"matrixs://{'a' * 64}?mode=t2bot", "webhooks.t2bot.io"),
    ],
)
async def test_fixed_services_reach_their_own_host(url, host):
    target = await check_apprise_url(url, PUBLIC)
    assert (target.host, target.port, target.addresses) == (host, 443, ())


@pytest.mark.parametrize(
    "url",
    [
        "ntfys://localhost/topic",
        "ntfy://localhost/?to=topic",
        "ntfy://localhost?mode=private",
        "ntfy://localhost?MODE=Private",
        "ntfy://user:pass@localhost/topic",
        "ntfy://localhost#/topic",  # Apprise drops '#/topic' (cloud); checking the host is safe
        "gotifys://localhost/apptoken",
        "signal://localhost:8080/+15551234567",
        "json://localhost/path",
        "xml://user:pass@localhost/",
        "forms://localhost/",
        "matrix://user:pass@localhost/#room?discovery=no",
        "matrixs://user:pass@localhost/!room?mode=matrix&discovery=no",
    ],
)
async def test_self_hosted_services_check_the_host_in_the_url(url):
    assert (await refused(check_apprise_url, url)).reason == "loopback"
    assert ipaddress.ip_address("127.0.0.1") in (await check_apprise_url(url, LAN)).addresses


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("json://8.8.8.8/?redirect=yes", "option"),
        ("json://8.8.8.8/?REDIRECT=Yes", "option"),
        ("json://8.8.8.8/?%72edirect=yes", "option"),
        ("json://8.8.8.8/?a=1;redirect=yes", "option"),
        ("json://8.8.8.8/?redirect=", "option"),  # unreadable is not 'no'
        ("json://8.8.8.8/?cto=600", "option"),
        ("json://8.8.8.8/?rto=600", "option"),
        ("json://8.8.8.8/?to=a&to=b", "syntax"),
        ("json://8.8.8.8/?Mode=a&mode=b", "syntax"),
        ("json://8.8.8.8/,json://10.0.0.1/", "syntax"),  # Apprise would make two services
        ("json://8.8.8.8/?x=1,ntfy://10.0.0.1/t", "syntax"),
        ("json://8.8.8.8/ json://10.0.0.1/", "syntax"),
        ("json://u@8.8.8.8@10.0.0.1/", "syntax"),  # Apprise splits at the first '@'
        ("json:/8.8.8.8/", "syntax"),
        ("json:\\\\8.8.8.8/", "syntax"),
        ("ntfy:///10.0.0.1/topic", "syntax"),  # Apprise skips the extra slash
        ("ntfy://8.8.8.8/topic?mode=other", "option"),
        ("matrixs://user:pass@8.8.8.8/#room", "option"),  # discovery on by default
        ("matrixs://user:pass@8.8.8.8/#room?discovery=yes", "option"),
        ("matrix://token@8.8.8.8", "option"),
        ("json://10.0.0.1/", "private"),
        ("json://[fd00:ec2::254]/", "metadata"),
    ],
)
async def test_apprise_urls_that_could_reach_further_are_refused(url, reason):
    assert (await refused(check_apprise_url, url)).reason == reason


async def test_metadata_stays_refused_when_private_targets_are_allowed():
    for url in (
        "json://169.254.169.254/latest/meta-data/",
        "ntfy://169.254.169.254/topic",
        "gotify://[::ffff:a9fe:a9fe]/token",
        "jsons://[fd00:ec2::254]/",
        "json://100.100.100.200/",
    ):
        exc = await refused(check_apprise_url, url, LAN)
        assert exc.reason == "metadata"
        assert "metadata" in str(exc)


async def test_credentials_and_safe_options_are_accepted():
    target = await check_apprise_url("jsons://user:p%40ss@8.8.8.8:8443/hook?redirect=no", PUBLIC)
    assert (target.host, target.port) == ("8.8.8.8", 8443)
    target = await check_apprise_url("matrixs://u:p@8.8.8.8/#room?discovery=no&verify=no", PUBLIC)
    assert target.addresses == (ipaddress.ip_address("8.8.8.8"),)


# --- settings ----------------------------------------------------------------------------------


def test_notify_settings_defaults(tmp_path):
    settings = Settings.from_env({"TASKLY_DATA_DIR": str(tmp_path)})
    assert settings.notify_schemes == DEFAULT_NOTIFY_SCHEMES
    assert not settings.notify_allow_private
    assert settings.notify_timeout == 10
    assert set(DEFAULT_NOTIFY_SCHEMES) <= KNOWN_SCHEMES
    assert "matrixs" not in DEFAULT_NOTIFY_SCHEMES
    policy = Policy.from_settings(settings)
    assert policy.schemes == frozenset(DEFAULT_NOTIFY_SCHEMES) and policy.timeout == 10


def test_notify_settings_are_parsed(tmp_path):
    env = {
        "TASKLY_DATA_DIR": str(tmp_path),
        "NOTIFY_SCHEMES": " NTFYS, tgram:// ,,ntfys,matrixs ",
        "NOTIFY_ALLOW_PRIVATE": "yes",
        "NOTIFY_TIMEOUT": "2.5",
    }
    settings = Settings.from_env(env)
    assert settings.notify_schemes == ("ntfys", "tgram", "matrixs")
    assert settings.notify_allow_private
    assert settings.notify_timeout == 2.5
    none = Settings.from_env({**env, "NOTIFY_SCHEMES": "none"})
    assert none.notify_schemes == ()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"NOTIFY_SCHEMES": "ntfys,slack"}, "NOTIFY_SCHEMES has slack, which Taskly cannot check"),
        ({"NOTIFY_SCHEMES": "https"}, "NOTIFY_SCHEMES has https"),
        ({"NOTIFY_ALLOW_PRIVATE": "sometimes"}, "NOTIFY_ALLOW_PRIVATE must be true or false"),
        ({"NOTIFY_TIMEOUT": "soon"}, "NOTIFY_TIMEOUT must be a number"),
        ({"NOTIFY_TIMEOUT": "0"}, "NOTIFY_TIMEOUT must be more than 0"),
        ({"NOTIFY_TIMEOUT": "-1"}, "NOTIFY_TIMEOUT must be more than 0"),
        ({"NOTIFY_TIMEOUT": "nan"}, "NOTIFY_TIMEOUT must be more than 0"),
        ({"NOTIFY_TIMEOUT": "61"}, "NOTIFY_TIMEOUT must be more than 0 and at most 60"),
    ],
)
@pytest.mark.parametrize("env", ["production", "development"])
def test_nonsense_notify_settings_are_refused(tmp_path, change, named, env):
    base = {
        "TASKLY_ENV": env,
        "TASKLY_DATA_DIR": str(tmp_path),
        "SECRET_KEY": "3f9a1c77e0b24d5e8a6b2c1d9e0f4a7b6c5d8e9f0a1b2c3d4e5f60718293a4b5",
        "DATABASE_URL": "postgresql://taskly@db/taskly",
        "BASE_URL": "https://tasks.example",
        "SMTP_URL": "smtp://taskly:secret@mail.example:587",
        "MAIL_FROM": "Taskly <tasks@tasks.example>",
    }
    Settings.from_env(base)  # safe as it is
    with pytest.raises(SettingsError, match=named):
        Settings.from_env({**base, **change})
