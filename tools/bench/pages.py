"""What a first visit to a page costs: every byte the browser downloads to show it.

Each path is opened in headless Chromium in a fresh browser context (empty cache, no
cookies), as a first-time visitor. Every response the page makes the browser fetch is
recorded from the DevTools protocol with the bytes Chromium received for it
(``Network.loadingFinished.encodedDataLength``: response headers plus the body as sent on
the wire, compressed when the server compressed it). The browser asks with
``Accept-Encoding: gzip, deflate, br``.

Requests to another origin than ``base_url`` are third-party. A request is
render-blocking when Chromium's resource timing says so (``renderBlockingStatus``) or
when the page's markup makes it so: a stylesheet ``<link>`` whose media matches, or a
``<script src>`` in ``<head>`` without ``async``, ``defer`` or ``type="module"``.

Product images are left out of the total: an image whose URL path has a ``products/``
segment (``Product.image`` is stored under ``products/``, served from ``/media/`` or a
bucket). Logos, icons and every other image count.

    python -m tools.bench.pages --base-url http://127.0.0.1:8000 --out DIR /s/shop/ /s/shop/p/ID/
    python -m tools.bench.pages --prepare [--slug pages-bench]

``--prepare`` runs inside Django (the environment's settings and database) and creates,
through the services, a merchant with its storefront open and products on sale, or reuses
it; it prints the home and product paths as JSON for the measuring run. It refuses a
DATABASE_URL without "bench" in it, as ``tools.bench.django_tasks`` does.

The measuring run writes ``DIR/pages.json``:
``{path: {"total_bytes", "requests": [...], "third_party": [...],
"render_blocking_third_party": [...]}}``, and with ``--screenshots`` a full-page PNG of
each path.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ViewportSize

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ACCEPT_ENCODING = "gzip, deflate, br"
VIEWPORT: ViewportSize = {"width": 1280, "height": 900}
# Product.image is stored under "products/" (MEDIA_URL locally, a bucket in production).
PRODUCT_IMAGE_PATH = re.compile(r"(^|/)products/")
QUIET_SECONDS = 0.5  # no request in flight this long after "load": the page is done
SETTLE_TIMEOUT = 10.0
PREPARE_SLUG = "pages-bench"

# The page's own verdict on what blocked its first render, read after "load".
_BLOCKING_JS = """() => {
  const blocking = new Set();
  for (const entry of performance.getEntriesByType("resource")) {
    if (entry.renderBlockingStatus === "blocking") blocking.add(entry.name);
  }
  for (const link of document.querySelectorAll('link[rel~="stylesheet"][href]')) {
    if (link.disabled) continue;
    if (link.media && !window.matchMedia(link.media).matches) continue;
    blocking.add(link.href);
  }
  for (const script of document.head.querySelectorAll("script[src]")) {
    if (script.async || script.defer || script.type === "module") continue;
    blocking.add(script.src);
  }
  return Array.from(blocking);
}"""


@dataclass
class Request:
    url: str
    type: str  # Chromium's resource type: Document, Stylesheet, Script, Font, Image...
    status: int = 0
    mime_type: str = ""
    content_encoding: str = ""
    transfer_bytes: int = 0  # headers + encoded body, as received
    header_bytes: int = 0
    body_bytes: int = 0  # the encoded body alone: transfer_bytes - header_bytes
    third_party: bool = False
    render_blocking: bool = False
    product_image: bool = False
    failed: str = ""


@dataclass
class _Recorder:
    """Collects one page load's requests from DevTools protocol events."""

    origin: str
    requests: dict[str, Request] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)
    last_event: float = field(default_factory=time.monotonic)

    def sent(self, event: dict[str, Any]) -> None:
        request_id = event["requestId"]
        url = event["request"]["url"]
        if url.startswith(("data:", "blob:")):
            return
        self.last_event = time.monotonic()
        hop = self.requests.pop(request_id, None)
        if hop is not None and event.get("redirectResponse"):
            # A redirect goes on under the same request id: keep the hop on its own.
            redirect = event["redirectResponse"]
            hop.status = int(redirect.get("status", 0))
            hop.transfer_bytes = hop.header_bytes = int(redirect.get("encodedDataLength", 0))
            self.requests[f"{request_id}-{len(self.requests)}"] = hop
        self.requests[request_id] = Request(
            url=url,
            type=str(event.get("type", "Other")),
            third_party=_origin(url) != self.origin,
        )
        self.pending.add(request_id)

    def received(self, event: dict[str, Any]) -> None:
        request = self.requests.get(event["requestId"])
        if request is None:
            return
        response = event["response"]
        headers = {k.lower(): v for k, v in response.get("headers", {}).items()}
        request.status = int(response.get("status", 0))
        request.mime_type = str(response.get("mimeType", ""))
        request.content_encoding = str(headers.get("content-encoding", ""))
        request.type = str(event.get("type", request.type))
        # Bytes received when the headers arrived: the headers themselves.
        request.header_bytes = int(response.get("encodedDataLength", 0))

    def finished(self, event: dict[str, Any]) -> None:
        request = self.requests.get(event["requestId"])
        if request is None:
            return
        self.last_event = time.monotonic()
        request.transfer_bytes = int(event.get("encodedDataLength", 0))
        request.body_bytes = max(request.transfer_bytes - request.header_bytes, 0)
        self.pending.discard(event["requestId"])

    def failed(self, event: dict[str, Any]) -> None:
        request = self.requests.get(event["requestId"])
        if request is None:
            return
        self.last_event = time.monotonic()
        request.failed = str(event.get("errorText", "failed"))
        self.pending.discard(event["requestId"])

    def settled(self) -> bool:
        return not self.pending and time.monotonic() - self.last_event >= QUIET_SECONDS


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_product_image(request: Request) -> bool:
    return request.type == "Image" and bool(PRODUCT_IMAGE_PATH.search(urlsplit(request.url).path))


def _summary(requests: list[Request]) -> dict[str, Any]:
    counted = [r for r in requests if not r.product_image]
    return {
        "total_bytes": sum(r.transfer_bytes for r in counted),
        "total_body_bytes": sum(r.body_bytes for r in counted),
        "request_count": len(counted),
        "product_image_bytes": sum(r.transfer_bytes for r in requests if r.product_image),
        "requests": [asdict(r) for r in requests],
        "third_party": sorted({r.url for r in requests if r.third_party}),
        "render_blocking_third_party": sorted(
            {r.url for r in requests if r.third_party and r.render_blocking}
        ),
        "failed": sorted({f"{r.url} ({r.failed or r.status})" for r in requests if _failed(r)}),
    }


def _failed(request: Request) -> bool:
    return bool(request.failed) or request.status >= 400


def _load(
    browser: Browser, url: str, origin: str, headers: dict[str, str], screenshot: Path | None
) -> list[Request]:
    context = browser.new_context(viewport=VIEWPORT, extra_http_headers=headers)
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        recorder = _Recorder(origin=origin)
        cdp.on("Network.requestWillBeSent", recorder.sent)
        cdp.on("Network.responseReceived", recorder.received)
        cdp.on("Network.loadingFinished", recorder.finished)
        cdp.on("Network.loadingFailed", recorder.failed)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        page.goto(url, wait_until="load")
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while not recorder.settled() and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        blocking = set(page.evaluate(_BLOCKING_JS))
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
        requests = list(recorder.requests.values())
        for request in requests:
            request.render_blocking = request.url in blocking
            request.product_image = is_product_image(request)
        return requests
    finally:
        context.close()


def _screenshot_name(path: str) -> str:
    return (re.sub(r"[^A-Za-z0-9]+", "-", path).strip("-") or "root") + ".png"


def measure_pages(
    base_url: str,
    paths: list[str],
    out: Path,
    *,
    headers: dict[str, str] | None = None,
    screenshots: bool = False,
    browser: Browser | None = None,
) -> dict[str, Any]:
    """Load each path of ``base_url`` cold in headless Chromium; write ``out/pages.json``
    and return ``{path: {"total_bytes", "requests", "third_party",
    "render_blocking_third_party", ...}}`` (with body bytes, the request count, the
    product image bytes left out, and failed requests).

    ``headers`` go with every request (e.g. ``X-Forwarded-Proto: https`` for an app that
    expects a TLS proxy). ``browser``: a Chromium already running (a test's), else one is
    launched and closed here."""
    out.mkdir(parents=True, exist_ok=True)
    sent = {"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})}

    def measure(chromium: Browser) -> dict[str, Any]:
        results: dict[str, Any] = {}
        for path in paths:
            shot = out / _screenshot_name(path) if screenshots else None
            url = base_url.rstrip("/") + path
            results[path] = _summary(_load(chromium, url, _origin(base_url), sent, shot))
        return results

    if browser is not None:
        results = measure(browser)
    else:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                results = measure(launched)
            finally:
                launched.close()
    (out / "pages.json").write_text(json.dumps(results, indent=2))
    return results


def report(results: dict[str, Any]) -> str:
    """A short table of the results, for people."""
    lines = []
    for path, page in results.items():
        lines.append(
            f"{path}: {page['total_bytes']:,} bytes transferred in {page['request_count']} "
            f"requests (bodies {page['total_body_bytes']:,}), "
            f"{len(page['third_party'])} third-party, "
            f"{len(page['render_blocking_third_party'])} render-blocking third-party"
        )
        for request in page["requests"]:
            marks = [
                mark
                for mark, on in (
                    ("third-party", request["third_party"]),
                    ("render-blocking", request["render_blocking"]),
                    ("product image, not counted", request["product_image"]),
                )
                if on
            ]
            encoding = request["content_encoding"] or "identity"
            lines.append(
                f"  {request['transfer_bytes']:>7,}  {request['type']:<10} {request['status']} "
                f"{encoding:<8} {request['url']}" + (f"  [{', '.join(marks)}]" if marks else "")
            )
        for failure in page["failed"]:
            lines.append(f"  FAILED {failure}")
    return "\n".join(lines)


# --- Inside Django: a storefront to measure -------------------------------------------------


def prepare_storefront(*, slug: str = PREPARE_SLUG) -> dict[str, str]:
    """A merchant with its storefront open and three products on sale, made through the
    services the first time and reused after; returns ``{"home": path, "product": path}``.
    Call it with Django set up (``--prepare`` does)."""
    from django.urls import reverse

    from giftcards.models import Product
    from giftcards.product_services import product_create
    from merchants.models import Merchant
    from merchants.services import merchant_create

    merchant = Merchant.objects.filter(slug=slug).first()
    if merchant is None:
        merchant = merchant_create(
            name="Pages Bench Bakery", slug=slug, currency="EUR", owner_email=f"{slug}@example.com"
        ).merchant
    if not Product.objects.filter(merchant=merchant).exists():
        product_create(
            merchant=merchant,
            name="Classic card",
            description="Good for any loaf, cake or coffee. Give it for a birthday, a thank "
            "you or just because.",
            currency="EUR",
            denominations=[1000, 2500, 5000],
            validity_days=365 * 3,
        )
        product_create(
            merchant=merchant,
            name="Any amount",
            description="You choose the amount.",
            currency="EUR",
            min_amount=500,
            max_amount=50000,
            validity_days=365 * 3,
        )
        product_create(
            merchant=merchant,
            name="Reloadable card",
            description="Top it up at the counter whenever you like.",
            currency="EUR",
            min_amount=1000,
            max_amount=20000,
            reloadable=True,
        )
    product = Product.objects.filter(merchant=merchant, is_active=True).order_by("name").first()
    if product is None:
        raise SystemExit(f"merchant {slug!r} has no product on sale")
    return {
        "home": reverse("storefront:home", args=[merchant.slug]),
        "product": reverse("storefront:product", args=[merchant.slug, product.public_id]),
    }


def _prepare(slug: str) -> dict[str, str]:
    if "bench" not in os.environ.get("DATABASE_URL", ""):
        raise SystemExit("--prepare refuses a DATABASE_URL without 'bench' in it.")
    import django

    django.setup()
    return prepare_storefront(slug=slug)


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name.strip(), value.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", metavar="PATH", help="paths to load, e.g. /s/shop/")
    parser.add_argument("--base-url", help="where the app listens, e.g. http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, help="directory for pages.json (and screenshots)")
    parser.add_argument(
        "--header", type=_header, action="append", default=[], help="'Name: value', repeatable"
    )
    parser.add_argument("--screenshots", action="store_true", help="a full-page PNG per path")
    parser.add_argument("--prepare", action="store_true", help="create the storefront to measure")
    parser.add_argument("--slug", default=PREPARE_SLUG, help="its merchant slug (--prepare)")
    args = parser.parse_args(argv)

    if args.prepare:
        sys.stdout.write(json.dumps(_prepare(args.slug)) + "\n")
        return 0
    if not args.base_url or not args.out or not args.paths:
        parser.error("--base-url, --out and at least one PATH are needed to measure")
    results = measure_pages(
        args.base_url, args.paths, args.out, headers=dict(args.header), screenshots=args.screenshots
    )
    sys.stdout.write(report(results) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
