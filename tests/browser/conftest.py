"""Browser test harness: Debian's Chromium driven by Playwright against the live server,
with axe-core run on every page a test visits (UX-2: zero violations on every page).

Tests get a ``site`` fixture (a :class:`Site`) and navigate only through it:

* ``site.visit("/path/")`` opens a page, checks the HTTP status, then runs axe;
* ``site.submit(page.get_by_role("button", name="..."))`` presses a button that loads a
  new page, waits for it, checks the status, then runs axe.

As a safety net, every main-frame navigation is recorded; a test that reaches a page
some other way (a bare ``page.click``) without auditing it fails at teardown, so no
page escapes the accessibility check. Uncaught JavaScript errors and CSP refusals
fail the test as well.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Frame, Locator, Page, Response

# live_server runs Django in a thread of this process while sync Playwright runs an
# event loop in the test thread; Django's async-safety check would refuse ORM calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = f"Chromium not installed at {CHROMIUM}; apt-get install chromium"
HERE = Path(__file__).resolve().parent

PHONE_VIEWPORT = {"width": 390, "height": 844}

# WCAG 2.0/2.1/2.2 level A and AA, plus axe's best practices.
AXE_OPTIONS: dict[str, Any] = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"],
    },
    "resultTypes": ["violations"],
    # axe's preload re-reads stylesheets and rebuilds @import-ed ones (the admin's
    # forms.css) as inline <style>, which the page's CSP rightly refuses; those console
    # errors would be axe's, not the page's. Only css-orientation-lock needs preloading.
    "preload": False,
}


def _browser_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER", "") == "1"


# --- Collection: mark, then skip or fail when there is no browser ------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test in this directory is a browser test. Without Chromium they are skipped,
    unless ``REQUIRE_BROWSER=1`` (CI), where a missing browser must not pass silently."""
    chromium_present = CHROMIUM.exists()
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
        if chromium_present or item.get_closest_marker("browser") is None:
            continue
        if not _browser_required():
            item.add_marker(pytest.mark.skip(reason=CHROMIUM_MISSING))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """With ``REQUIRE_BROWSER=1`` a missing Chromium fails each browser test. This runs
    before any fixture, so before Playwright tries to launch the missing browser."""
    if item.get_closest_marker("browser") and not CHROMIUM.exists() and _browser_required():
        pytest.fail(f"REQUIRE_BROWSER=1 but {CHROMIUM_MISSING}", pytrace=False)


# --- Playwright configuration -------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    return {
        "executable_path": str(CHROMIUM),
        "headless": True,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def phone(new_context: Callable[..., Any]) -> Page:
    """A page in a phone-sized, touch-enabled context (iPhone 12-14 class)."""
    context = new_context(
        viewport=PHONE_VIEWPORT, is_mobile=True, has_touch=True, device_scale_factor=3
    )
    page: Page = context.new_page()
    return page


# --- Accessibility and navigation ---------------------------------------------------------


class AccessibilityError(AssertionError):
    pass


def format_violations(url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"axe found {len(violations)} accessibility violation(s) on {url}:"]
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation.get('impact') or 'n/a'}): {violation['help']}"
            f"\n    {violation.get('helpUrl', '')}"
        )
        for node in violation["nodes"]:
            target = " > ".join(str(t) for t in node["target"])
            lines.append(f"    * {target}")
            summary = (node.get("failureSummary") or "").strip().replace("\n", "\n        ")
            if summary:
                lines.append(f"        {summary}")
    return "\n".join(lines)


@dataclass
class Site:
    """One browser tab on the live server that audits every page it lands on."""

    page: Page
    base_url: str
    axe: Axe = field(default_factory=Axe)
    audited: list[str] = field(default_factory=list)
    _navigations: list[str] = field(default_factory=list)
    _audited_upto: int = 0
    _errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The live server answers in milliseconds; Playwright's 30 s waits only hide bugs.
        self.page.set_default_timeout(10_000)
        self.page.on("framenavigated", self._on_navigated)
        self.page.on("pageerror", lambda exc: self._errors.append(f"page error: {exc}"))
        self.page.on("console", self._on_console)

    # Recording ------------------------------------------------------------------------

    def _on_navigated(self, frame: Frame) -> None:
        if frame != self.page.main_frame:
            return
        url = urldefrag(frame.url).url
        if self._navigations and self._navigations[-1] == url and frame.url != url:
            return  # a same-document jump to #fragment (e.g. the skip link)
        self._navigations.append(url)

    def _on_console(self, message: ConsoleMessage) -> None:
        # CSP refusals are reported as console errors. "Failed to load resource" is
        # Chromium echoing an HTTP error status, which the tests check themselves.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self._errors.append(f"console error: {message.text}")

    # Navigation -----------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @property
    def path(self) -> str:
        """The current path (and query), without scheme and host."""
        parts = urlsplit(self.page.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")

    def visit(self, path_or_url: str, *, status: int = 200) -> Response:
        """Open a page as if typed into the address bar, then audit it."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        response = self.page.goto(url)
        assert response is not None, f"no response for {url}"
        return self._arrived(response, status)

    def submit(self, control: Locator, *, status: int = 200) -> Response:
        """Press a button (or follow a link) that loads a new page, then audit it."""
        with self.page.expect_navigation() as navigation:
            control.click()
        response = navigation.value
        assert response is not None, "the navigation produced no response"
        return self._arrived(response, status)

    follow = submit  # reads better for links

    def _arrived(self, response: Response, status: int) -> Response:
        assert response.status == status, (
            f"expected HTTP {status} from {response.url}, got {response.status}"
        )
        self.assert_accessible()
        return response

    # Checks ---------------------------------------------------------------------------

    def assert_accessible(self) -> None:
        """Run axe-core on the page as it is now; fail with a readable report."""
        self.page.wait_for_load_state("load")
        results = self.axe.run(self.page, options=AXE_OPTIONS)
        self.audited.append(self.page.url)
        self._audited_upto = len(self._navigations)
        # axe reports at least one passed rule on any real page; none means it did not run.
        assert results.response.get("passes"), f"axe did not run on {self.page.url}"
        violations = results.response["violations"]
        if violations:
            raise AccessibilityError(format_violations(self.page.url, violations))

    def assert_no_errors(self) -> None:
        assert not self._errors, "the browser reported errors:\n" + "\n".join(self._errors)

    def unaudited(self) -> list[str]:
        """Pages loaded since the last audit, other than the current one if it was audited."""
        return self._navigations[self._audited_upto :]

    def finish(self) -> None:
        """Called after the test: every page must have been audited and error-free."""
        missed = self.unaudited()
        assert not missed, (
            "these pages were loaded but never checked with axe; navigate with "
            f"site.visit()/site.submit(): {missed}"
        )
        self.assert_no_errors()


@pytest.fixture
def make_site(live_server: Any, request: pytest.FixtureRequest) -> Iterator[Callable[[Page], Site]]:
    """Build an auditing :class:`Site` around any page (e.g. the ``phone`` page)."""
    sites: list[Site] = []

    def make(page: Page) -> Site:
        site = Site(page=page, base_url=live_server.url)
        sites.append(site)
        return site

    yield make
    # pytest-playwright records each phase's report on the item; a test that already
    # failed needs no second complaint about the page it failed on.
    call = getattr(request.node, "rep_call", None)
    if call is not None and call.passed:
        for site in sites:
            site.finish()


@pytest.fixture
def site(page: Page, make_site: Callable[[Page], Site]) -> Site:
    return make_site(page)
