"""Browser tests: the built SPA, served by Django's live server, driven by Playwright in Debian's Chromium.

- Chromium: ``shutil.which("chromium")`` (``make chromium`` / ``apt-get install chromium``); the tests are
  skipped, saying so, only when it is not installed. Playwright's own browser download is not used.
- The SPA: ``make test`` builds it first (``npm ci && npm run build``); when these tests run on their own,
  the ``frontend_dist`` fixture builds ``frontend/dist`` itself if it is missing or older than the sources
  (needs node + npm), then points Django's static finders at it.
- Screenshots of each main screen go to ``test-artifacts/screenshots/`` (printed at the end of the run).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django's ORM refuses to run in a thread
# with a running loop unless told it's fine (the ORM calls here are plain synchronous test code).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
DIST = FRONTEND / "dist"
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 800}

_SESSION_START = time.time()


def pytest_collection_modifyitems(config, items):
    if CHROMIUM:
        return
    skip = pytest.mark.skip(reason="Debian's chromium is not installed (apt-get install chromium, or `make chromium`)")
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter):
    # Counted on disk, not in memory: under xdist the screenshots are taken by a worker process.
    fresh = [p for p in SCREENSHOTS.glob("*.png") if p.stat().st_mtime >= _SESSION_START] if SCREENSHOTS.is_dir() else []
    if fresh:
        terminalreporter.write_line(f"browser screenshots ({len(fresh)}): {SCREENSHOTS}")


def _newest_source_mtime() -> float:
    paths = [FRONTEND / n for n in ("index.html", "package.json", "package-lock.json", "vite.config.ts", "tsconfig.json")]
    paths += [p for p in (FRONTEND / "src").rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in paths if p.exists())


def _build_frontend() -> None:
    npm = shutil.which("npm")
    if not npm:
        pytest.fail("frontend/dist is missing or stale and npm is not installed: run `make frontend` first")
    if not (FRONTEND / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    subprocess.run([npm, "run", "build"], cwd=FRONTEND, check=True)


@pytest.fixture(scope="session")
def frontend_dist():
    """The built SPA, (re)built when missing or older than its sources, and visible to the static finders."""
    index = DIST / "index.html"
    if not index.exists() or index.stat().st_mtime < _newest_source_mtime():
        _build_frontend()
    from django.conf import settings
    from django.contrib.staticfiles import finders

    # STATICFILES_DIRS lists frontend/dist only if it existed when settings were imported.
    if all(Path(p).resolve() != DIST.resolve() for p in settings.STATICFILES_DIRS):
        settings.STATICFILES_DIRS = [*settings.STATICFILES_DIRS, DIST]
        finders.get_finder.cache_clear()
    return DIST


@pytest.fixture(scope="session")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageWatch:
    """Everything a page said that a test may want to assert on: dialogs and console errors."""

    def __init__(self):
        self.dialogs: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []

    def allow_http_error(self, status: int, url_part: str) -> None:
        """Forget the console line Chromium logs for an HTTP error the test provoked on purpose."""
        self.console_errors = [e for e in self.console_errors if not (f"status of {status}" in e and url_part in e)]

    def assert_clean(self):
        assert self.dialogs == [], f"a dialog opened (script ran?): {self.dialogs}"
        assert self.page_errors == [], f"uncaught page errors: {self.page_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"


@pytest.fixture
def page(chromium, live_server, frontend_dist):
    """A fresh 1280×800 browser context per test, with dialogs and console errors recorded on ``page.watch``."""
    context = chromium.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    watch = PageWatch()

    def on_dialog(dialog):
        watch.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    pg.on("dialog", on_dialog)
    def on_console(msg):
        # Not an error: the app asks /me on load and a logged-out visitor gets 401, which Chromium logs.
        benign = "401" in msg.text and msg.location.get("url", "").endswith("/api/v1/me")
        if msg.type == "error" and not benign:
            watch.console_errors.append(f"{msg.text} ({msg.location.get('url', '')})")

    pg.on("console", on_console)
    pg.on("pageerror", lambda e: watch.page_errors.append(str(e)))
    pg.watch = watch
    yield pg
    context.close()


@pytest.fixture
def shot():
    """``shot(page, "name")`` saves test-artifacts/screenshots/name.png (full page at 1280 wide)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(pg, name: str, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        pg.screenshot(path=str(path), full_page=full_page)
        return path

    return save


@pytest.fixture
def roles_exist(db):
    """Role groups come from a data migration; transactional tests flush them, so make sure they exist."""
    from django.contrib.auth.models import Group

    from labeling import roles

    for name in roles.ALL_ROLES:
        Group.objects.get_or_create(name=name)
