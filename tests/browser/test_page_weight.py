"""tools/bench/pages.py in Chromium against the live server: it sees every request of a
storefront page, which ones block the first render, and nothing from another origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Browser

from giftcards.models import Product
from merchants.models import Merchant
from tools.bench.pages import measure_pages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_storefront_measures_light_and_first_party(
    browser: Browser, live_server: Any, merchant: Merchant, product: Product, tmp_path: Path
) -> None:
    home = reverse("storefront:home", args=[merchant.slug])
    page = reverse("storefront:product", args=[merchant.slug, product.public_id])

    results = measure_pages(live_server.url, [home, page], tmp_path, browser=browser)

    assert json.loads((tmp_path / "pages.json").read_text()) == results
    for path in (home, page):
        measured = results[path]
        kinds = {r["type"] for r in measured["requests"]}
        assert {"Document", "Stylesheet", "Script"} <= kinds
        assert not measured["failed"]
        assert measured["third_party"] == []
        assert measured["render_blocking_third_party"] == []
        for request in measured["requests"]:
            # Stylesheets hold up the first render; the deferred scripts do not.
            assert request["render_blocking"] == (request["type"] == "Stylesheet"), request
        assert measured["total_bytes"] == sum(r["transfer_bytes"] for r in measured["requests"])
        assert measured["total_bytes"] < 100_000
    scripts = [r["url"] for r in results[home]["requests"] if r["type"] == "Script"]
    assert not [url for url in scripts if "htmx" in url or "storefront" in url]
