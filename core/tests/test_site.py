"""Absolute URLs: SITE_URL in production; in the zero-setup profile, the address a page
was actually served on, so its links and images load from where it is."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from core.site import absolute, site_url
from merchants.models import Merchant

pytestmark = pytest.mark.django_db

SITE = "https://gifts.example.com"


def canonical(page: str) -> str:
    found = re.search(r'<link rel="canonical" href="([^"]+)">', page)
    assert found
    return found.group(1)


def test_production_links_come_from_site_url_whatever_the_host(
    settings: Any, merchant: Merchant
) -> None:
    settings.SITE_URL = SITE
    settings.SITE_URL_FROM_REQUEST = False
    page = Client().get(f"/s/{merchant.slug}/", HTTP_HOST="localhost:8801").content.decode()
    assert canonical(page) == f"{SITE}/s/{merchant.slug}/"


def test_the_zero_setup_profile_links_to_the_address_it_was_served_on(
    settings: Any, merchant: Merchant
) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    settings.SITE_URL_FROM_REQUEST = True
    page = Client().get(f"/s/{merchant.slug}/", HTTP_HOST="localhost:8801").content.decode()
    assert canonical(page) == f"http://localhost:8801/s/{merchant.slug}/"
    robots = Client().get("/robots.txt", HTTP_HOST="localhost:8801").content.decode()
    assert "Sitemap: http://localhost:8801/sitemap.xml" in robots


def test_a_host_outside_allowed_hosts_is_refused_not_echoed(
    settings: Any, merchant: Merchant
) -> None:
    settings.SITE_URL_FROM_REQUEST = True
    response = Client().get(f"/s/{merchant.slug}/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert b"evil.example" not in response.content


def test_without_a_request_site_url_is_the_base(settings: Any) -> None:
    settings.SITE_URL = "http://127.0.0.1:8801/"
    settings.SITE_URL_FROM_REQUEST = True
    assert site_url() == "http://127.0.0.1:8801"
    assert absolute("/gift/t/x/") == "http://127.0.0.1:8801/gift/t/x/"
    assert absolute("https://cdn.example/a.png") == "https://cdn.example/a.png"
