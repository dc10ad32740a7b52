"""The client's address behind proxies: only what our own proxies appended counts."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from core.net import client_ip

PROXY = "10.0.0.2"


def _request(xff: str | None = None, remote: str = PROXY) -> Any:
    meta: dict[str, str] = {"REMOTE_ADDR": remote}
    if xff is not None:
        meta["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **meta)


def test_without_trusted_proxies_the_header_is_ignored(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request("198.51.100.9", remote="203.0.113.5")) == "203.0.113.5"


def test_one_proxy_an_honest_single_entry_is_the_client(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("203.0.113.5")) == "203.0.113.5"


@pytest.mark.parametrize(
    "spoofed", ["1.1.1.1", "1.1.1.1, 2.2.2.2", "not-an-ip", "127.0.0.1, ::1, 8.8.8.8"]
)
def test_one_proxy_entries_the_client_wrote_change_nothing(settings: Any, spoofed: str) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request(f"{spoofed}, 203.0.113.5")) == "203.0.113.5"


def test_two_proxies_the_outer_proxys_entry_is_the_client(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 2
    # client -> outer proxy (appends the client) -> inner proxy (appends the outer) -> app
    assert client_ip(_request("6.6.6.6, 203.0.113.5, 10.0.0.1")) == "203.0.113.5"


def test_fewer_entries_than_proxies_fall_back_to_the_peer(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 2
    assert client_ip(_request("203.0.113.5")) == PROXY
    assert client_ip(_request(None)) == PROXY


def test_ports_and_brackets_are_stripped(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("203.0.113.5:51234")) == "203.0.113.5"
    assert client_ip(_request("[2001:db8::1]:443")) == "2001:db8::1"
    assert client_ip(_request("2001:DB8::1")) == "2001:db8::1"


def test_a_garbled_proxy_entry_counts_as_the_proxy(settings: Any) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(_request("1.2.3.4, garbage")) == PROXY
