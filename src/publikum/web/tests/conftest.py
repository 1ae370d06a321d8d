"""Playwright fixtures: one headless Debian Chromium per test session, a fresh context per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
# The flags the machine notes ask for: no sandbox as root, and no background traffic that a
# closed network would refuse (updates, sync, QUIC, first-run pings).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    # Playwright's sync API drives an asyncio loop that stays "running" in this thread for as
    # long as Playwright is started. Django sees that loop and refuses ORM calls from the
    # test body (SynchronousOnlyOperation), although they are plain blocking calls here:
    # nothing async runs concurrently with them. The live server answers in its own thread.
    # The loop stays set until playwright.stop(), so the variable must stay set as long: any
    # test of the session that runs after the first browser test needs it too.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    # German is the product's default language; without a locale Chromium would send
    # Accept-Language: en-US and LocaleMiddleware would start the UI in English.
    context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
