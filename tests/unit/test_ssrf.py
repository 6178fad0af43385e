import ipaddress

import pytest

from chalicelib.services.ssrf import UnsafeUrl, check_url, refusal


def ip(text):
    return ipaddress.ip_address(text)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.10",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "::",
        "ff02::1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:a00:1::",  # 6to4 of 10.0.0.1
    ],
)
def test_private_and_special_addresses_are_refused(address):
    assert refusal(ip(address), allow_loopback=True) is not None
    assert refusal(ip(address), allow_loopback=False) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_refused_unless_the_dev_setting_allows_it(address):
    assert refusal(ip(address), allow_loopback=False) is not None
    assert refusal(ip(address), allow_loopback=True) is None


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address):
    assert refusal(ip(address), allow_loopback=False) is None


def resolves_to(*addresses):
    return lambda host, port: list(addresses)


def test_outside_dev_only_https_is_allowed():
    with pytest.raises(UnsafeUrl, match="https"):
        check_url("http://hooks.example.com/x", allow_loopback_http=False, resolver=resolves_to("93.184.216.34"))
    target = check_url(
        "https://hooks.example.com:8443/x?a=1", allow_loopback_http=False, resolver=resolves_to("93.184.216.34")
    )
    assert (target.scheme, target.host, target.port, target.path, target.address) == (
        "https",
        "hooks.example.com",
        8443,
        "/x?a=1",
        "93.184.216.34",
    )


def test_a_host_with_any_private_address_is_refused():
    with pytest.raises(UnsafeUrl, match=r"10\.1\.2\.3"):
        check_url(
            "https://mixed.example.com/", allow_loopback_http=False, resolver=resolves_to("93.184.216.34", "10.1.2.3")
        )


def test_dns_pointing_at_metadata_is_refused_even_in_dev():
    with pytest.raises(UnsafeUrl, match="metadata"):
        check_url("http://metadata.internal/", allow_loopback_http=True, resolver=resolves_to("169.254.169.254"))


def test_dev_allows_http_to_loopback_but_not_to_public_addresses():
    assert check_url("http://127.0.0.1:9000/h", allow_loopback_http=True).address == "127.0.0.1"
    assert check_url("http://[::1]:9000/h", allow_loopback_http=True).address == "::1"
    with pytest.raises(UnsafeUrl, match="https"):
        check_url("http://hooks.example.com/", allow_loopback_http=True, resolver=resolves_to("93.184.216.34"))


def test_unresolvable_and_malformed_urls_are_refused():
    def nxdomain(host, port):
        raise OSError("Name or service not known")

    with pytest.raises(UnsafeUrl, match="resolve"):
        check_url("https://nowhere.invalid/", allow_loopback_http=False, resolver=nxdomain)
    for url in ("ftp://example.com/", "https:///nohost", "https://[::1/", "not a url"):
        with pytest.raises(UnsafeUrl):
            check_url(url, allow_loopback_http=False, resolver=resolves_to("93.184.216.34"))
