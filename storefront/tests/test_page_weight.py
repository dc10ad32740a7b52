"""A first visit to the storefront stays light: under 100 KB transferred without product
images, and nothing from another origin that holds up the first render.

These tests read the rendered HTML and the same-origin files it names (static files
from the finders, the brand stylesheet from its view), gzipped here as GZipMiddleware
and whitenoise send them. ``tools/bench/pages.py`` measures the same pages in Chromium
against the production setup.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from giftcards.models import Product
from giftcards.tests.factories import ProductFactory
from merchants.models import Merchant

pytestmark = pytest.mark.django_db

BUDGET_BYTES = 100_000  # the HTML and every file it makes the browser fetch, compressed
HOST = "testserver"
# <link> relations that make the browser fetch something (or open a connection) on load.
FETCHING_RELS = {"stylesheet", "preload", "modulepreload", "prefetch", "preconnect", "dns-prefetch"}
COUNTED_RELS = {"stylesheet", "preload", "modulepreload", "icon", "manifest"}
HTMX_ATTRIBUTE = re.compile(r"\shx-(?!headers=)[a-z-]+=")  # base.html's hx-headers is harmless
CSS_URL = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")]+)""")


@dataclass(frozen=True)
class Ref:
    tag: str
    url: str
    rel: frozenset[str]
    in_head: bool
    blocking_script: bool = False


class _References(HTMLParser):
    """The resources a page names: scripts, ``<link>``s, and inline scripts in <head>."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[Ref] = []
        self.inline_head_scripts: list[str] = []
        self.styles: list[str] = []
        self._in_head = False
        self._inline: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: value or "" for name, value in attrs}
        if tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "script" and values.get("src"):
            deferred = "defer" in values or "async" in values or values.get("type") == "module"
            self.refs.append(
                Ref(
                    "script",
                    values["src"],
                    frozenset(),
                    self._in_head,
                    blocking_script=self._in_head and not deferred,
                )
            )
        elif tag == "script" and self._in_head:
            self._inline = values.get("type", "")
        elif tag == "link" and values.get("href"):
            rel = frozenset(values.get("rel", "").lower().split())
            self.refs.append(Ref("link", values["href"], rel, self._in_head))
        elif tag == "style":
            self._inline = "style"

    def handle_data(self, data: str) -> None:
        if self._inline == "style":
            self.styles.append(data)
        elif self._inline is not None:
            self.inline_head_scripts.append(self._inline)
            self._inline = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "head":
            self._in_head = False
        if tag in {"script", "style"}:
            self._inline = None


def _parse(html: str) -> _References:
    parser = _References()
    parser.feed(html)
    parser.close()
    return parser


def _absolute(url: str, base: str) -> str:
    return urljoin(urljoin(f"http://{HOST}/", base), url)


def _third_party(url: str) -> bool:
    return urlsplit(url).hostname not in {HOST, None}


def _body(client: Client, url: str) -> bytes:
    """A same-origin file's bytes: a static file from the finders, anything else from
    the app."""
    path = urlsplit(url).path
    if path.startswith(settings.STATIC_URL):
        found = finders.find(path.removeprefix(settings.STATIC_URL))
        assert isinstance(found, str), f"{path} is not a static file"
        with open(found, "rb") as handle:
            return handle.read()
    response = client.get(path + (f"?{urlsplit(url).query}" if urlsplit(url).query else ""))
    assert response.status_code == 200, f"{url} answered {response.status_code}"
    return response.content


def _css_urls(css: str, base: str) -> list[str]:
    return [
        _absolute(a or b, base) for a, b in CSS_URL.findall(css) if not (a or b).startswith("data:")
    ]


@pytest.fixture
def pages(merchant: Merchant) -> dict[str, str]:
    """The storefront with a full shelf: a dozen cards with descriptions."""
    merchant.brand_colour = "#0f766e"
    merchant.save()
    products: list[Product] = [
        ProductFactory(
            merchant=merchant,
            name=f"Gift card {number}",
            description="Good for any coffee, cake or bag of beans, in any of our cafés. " * 3,
            currency="EUR",
            denominations=[1000, 2500, 5000, 10000],
            validity_days=730,
        )
        for number in range(12)
    ]
    return {
        "home": reverse("storefront:home", args=[merchant.slug]),
        "product": reverse("storefront:product", args=[merchant.slug, products[0].public_id]),
        "balance": reverse("storefront:balance", args=[merchant.slug]),
    }


def _page(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.parametrize("page", ["home", "product", "balance"])
def test_nothing_from_another_origin_and_no_script_holds_up_the_first_render(
    client: Client, pages: dict[str, str], page: str
) -> None:
    path = pages[page]
    found = _parse(_page(client, path))

    scripts = [ref for ref in found.refs if ref.tag == "script"]
    links = [ref for ref in found.refs if ref.tag == "link" and ref.rel & FETCHING_RELS]
    assert scripts, "the page names no script at all: the parser read nothing"
    foreign = [ref.url for ref in scripts + links if _third_party(_absolute(ref.url, path))]
    assert not foreign, f"{path} loads from another origin: {foreign}"
    blocking = [ref.url for ref in scripts if ref.blocking_script]
    assert not blocking, f"scripts in <head> without defer or async on {path}: {blocking}"
    executable = [kind for kind in found.inline_head_scripts if kind != "application/ld+json"]
    assert not executable, f"inline scripts in <head> on {path}: {executable}"

    # Fonts and @imports come in through the stylesheets: theirs must be same-origin too.
    stylesheets = [_absolute(ref.url, path) for ref in links if "stylesheet" in ref.rel]
    assert stylesheets
    from_css = [
        url
        for sheet in stylesheets
        for url in _css_urls(_body(client, sheet).decode(), sheet)
        if _third_party(url)
    ]
    from_css += [
        url for style in found.styles for url in _css_urls(style, path) if _third_party(url)
    ]
    assert not from_css, f"stylesheets on {path} load from another origin: {from_css}"


@pytest.mark.parametrize("page", ["home", "product", "balance"])
def test_a_first_visit_fits_in_100_kb(client: Client, pages: dict[str, str], page: str) -> None:
    path = pages[page]
    html = _page(client, path)
    found = _parse(html)
    files = {
        _absolute(ref.url, path)
        for ref in found.refs
        if ref.tag == "script" or ref.rel & COUNTED_RELS
    }
    files = {url for url in files if not _third_party(url)}  # refused by the test above
    sizes = {path: len(gzip.compress(html.encode(), compresslevel=6))}
    for url in sorted(files):
        sizes[url] = len(gzip.compress(_body(client, url), compresslevel=6))

    assert any(url.endswith(".css") for url in sizes), "no stylesheet found: nothing was counted"
    total = sum(sizes.values())
    listing = "\n".join(f"  {size:>7,}  {url}" for url, size in sizes.items())
    assert total < BUDGET_BYTES, f"{path}: {total:,} bytes gzipped, over budget:\n{listing}"


def test_a_storefront_page_loads_only_the_scripts_it_uses(
    client: Client, pages: dict[str, str]
) -> None:
    """No htmx on the storefront (nothing there uses it); storefront.js only where the
    purchase form is."""

    def scripts(path: str) -> list[str]:
        return [urlsplit(r.url).path for r in _parse(_page(client, path)).refs if r.tag == "script"]

    static = settings.STATIC_URL
    assert scripts(pages["home"]) == [f"{static}js/app.js"]
    assert scripts(pages["balance"]) == [f"{static}js/app.js"]
    assert scripts(pages["product"]) == [f"{static}js/app.js", f"{static}js/storefront.js"]
    for path in pages.values():  # htmx attributes would do nothing without htmx
        assert not HTMX_ATTRIBUTE.findall(_page(client, path)), path
