"""tools/bench/pages.py without a browser: how DevTools events become requests, which
images are product images, and what the totals leave out."""

from __future__ import annotations

from typing import Any

import pytest

from tools.bench.pages import Request, _Recorder, _summary, is_product_image

ORIGIN = "http://127.0.0.1:8000"


def _sent(request_id: str, url: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"requestId": request_id, "request": {"url": url}, "type": kind, **extra}


def _received(request_id: str, status: int, header_bytes: int, **headers: str) -> dict[str, Any]:
    response = {"status": status, "mimeType": "", "headers": headers}
    return {"requestId": request_id, "response": {**response, "encodedDataLength": header_bytes}}


def test_the_recorder_counts_headers_and_body_as_received() -> None:
    recorder = _Recorder(origin=ORIGIN)
    recorder.sent(_sent("1", f"{ORIGIN}/s/shop/", "Document"))
    recorder.received(_received("1", 200, 700, **{"Content-Encoding": "gzip"}))
    recorder.finished({"requestId": "1", "encodedDataLength": 2700})
    recorder.sent(_sent("2", "https://fonts.example.net/css?family=X", "Stylesheet"))
    recorder.failed({"requestId": "2", "errorText": "net::ERR_NAME_NOT_RESOLVED"})
    recorder.sent(_sent("3", "data:image/png;base64,AAAA", "Image"))

    document, font_css = recorder.requests.values()
    assert (document.transfer_bytes, document.header_bytes, document.body_bytes) == (
        2700,
        700,
        2000,
    )
    assert document.content_encoding == "gzip"
    assert not document.third_party
    assert font_css.third_party
    assert font_css.failed == "net::ERR_NAME_NOT_RESOLVED"
    assert not recorder.pending  # data: URLs are not requests


def test_a_redirect_is_kept_as_its_own_request() -> None:
    recorder = _Recorder(origin=ORIGIN)
    recorder.sent(_sent("1", f"{ORIGIN}/s/shop", "Document"))
    redirect = {"status": 301, "encodedDataLength": 300}
    recorder.sent(_sent("1", f"{ORIGIN}/s/shop/", "Document", redirectResponse=redirect))
    recorder.received(_received("1", 200, 600))
    recorder.finished({"requestId": "1", "encodedDataLength": 1600})

    hop, page = recorder.requests.values()
    assert (hop.url, hop.status, hop.transfer_bytes) == (f"{ORIGIN}/s/shop", 301, 300)
    assert (page.url, page.status, page.transfer_bytes) == (f"{ORIGIN}/s/shop/", 200, 1600)


@pytest.mark.parametrize(
    ("url", "kind", "expected"),
    [
        ("http://127.0.0.1:8000/media/products/card.jpg", "Image", True),
        ("https://bucket.s3.example.com/products/card.webp", "Image", True),
        ("http://127.0.0.1:8000/media/merchants/logos/logo.png", "Image", False),
        ("http://127.0.0.1:8000/static/favicon.svg", "Other", False),
        ("http://127.0.0.1:8000/media/products/card.js", "Script", False),
    ],
)
def test_product_images_are_images_under_products(url: str, kind: str, expected: bool) -> None:
    assert is_product_image(Request(url=url, type=kind)) is expected


def test_the_total_leaves_out_product_images_and_names_third_party_blockers() -> None:
    requests = [
        Request(url=f"{ORIGIN}/s/shop/", type="Document", transfer_bytes=3000, body_bytes=2200),
        Request(
            url=f"{ORIGIN}/static/app.css",
            type="Stylesheet",
            transfer_bytes=2500,
            body_bytes=2000,
            render_blocking=True,
        ),
        Request(
            url="https://cdn.example.net/lib.js",
            type="Script",
            transfer_bytes=9000,
            third_party=True,
            render_blocking=True,
        ),
        Request(url="https://cdn.example.net/late.js", type="Script", third_party=True),
        Request(
            url=f"{ORIGIN}/media/products/a.jpg",
            type="Image",
            transfer_bytes=80_000,
            product_image=True,
        ),
    ]

    summary = _summary(requests)

    assert summary["total_bytes"] == 3000 + 2500 + 9000
    assert summary["product_image_bytes"] == 80_000
    assert summary["request_count"] == 4
    assert summary["third_party"] == [
        "https://cdn.example.net/late.js",
        "https://cdn.example.net/lib.js",
    ]
    assert summary["render_blocking_third_party"] == ["https://cdn.example.net/lib.js"]
