"""The web UI's test helpers: a live server with a token per role, and headless Chromium.

The fixtures are imported by ``tests/server/ui/conftest.py``; the classes are imported by tests
that annotate with them (``from _ui import Browse, UIServer``).

Browser tests drive Debian's ``/usr/bin/chromium`` through Playwright (no browser download): one
browser per test module (``browser``), a fresh logged-in page per test (``browse.page(role)``).
:meth:`Browse.visit` opens a path, fails on an HTTP error, and saves a screenshot under
``test-output/ui/`` so a person can look at every page the tests saw. When the test ends, any
console error (a CSP violation included), uncaught page error or JavaScript dialog (an ``alert``
that escaped escaping) fails it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from _server import server_settings, serving
from _services import missing_service
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from slipway._backend import Backend
from slipway._principal import ROLES
from slipway.server import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-output" / "ui"


@dataclass(frozen=True)
class UIServer:
    """A running server, its engines (to seed data embedded, as the local user) and a token per role."""

    url: str
    backend: Backend
    tokens: dict[str, str]

    def user(self, role: str) -> str:
        return f"ui-{role}"


def _role_token(backend: Backend, role: str) -> str:
    name = f"ui-{role}"
    backend.security.create_user(name, [role])
    return backend.security.create_token(name, name="ui-tests").secret


@pytest.fixture(scope="session")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UIServer]:
    """One server for all UI tests, with authentication on and a user of each role."""
    backend = Backend(server_settings(tmp_path_factory.mktemp("ui-server")))
    try:
        tokens = {role: _role_token(backend, role) for role in ROLES}
        with serving(create_app(backend)) as url:
            yield UIServer(url, backend, tokens)
    finally:
        backend.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        missing_service(f"Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield launched
        launched.close()


@dataclass
class Browse:
    """Pages of one test, each logged in as a role, and what went wrong in any of them."""

    server: UIServer
    browser: Browser
    test_name: str
    problems: list[str] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)
    shots: int = 0

    def page(self, role: str | None = "admin") -> Page:
        """A new page whose browser holds ``role``'s login cookie (none for ``role=None``)."""
        context = self.browser.new_context(base_url=self.server.url, viewport={"width": 1280, "height": 900})
        self.contexts.append(context)
        if role is not None:
            context.add_cookies([{"name": "slipway_token", "value": self.server.tokens[role], "url": self.server.url,
                                  "httpOnly": True, "sameSite": "Strict"}])
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

        def dialog(d: object) -> None:
            self.problems.append(f"dialog: {getattr(d, 'message', '')}")
            d.dismiss()  # type: ignore[attr-defined]

        page.on("dialog", dialog)
        return page

    def visit(self, page: Page, path: str) -> Page:
        """Open ``path``; it must answer without an HTTP error. The page is saved as a screenshot."""
        response = page.goto(path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        self.screenshot(page, path)
        return page

    def screenshot(self, page: Page, label: str) -> Path:
        self.shots += 1
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-")[:60] or "home"
        target = SCREENSHOTS / f"{self.test_name}-{self.shots:02d}-{slug}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(target), full_page=True)
        return target


@pytest.fixture
def browse(ui_server: UIServer, browser: Browser, request: pytest.FixtureRequest) -> Iterator[Browse]:
    session = Browse(ui_server, browser, request.node.name)
    yield session
    for context in session.contexts:
        context.close()
    assert not session.problems, "\n".join(session.problems)
