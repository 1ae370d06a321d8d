"""Take the dashboard screenshot for the docs from a running Publikum with the demo institution.

    publikum migrate && publikum demo
    publikum serve --port 8000 &
    .venv/bin/python bench/screenshots.py --url http://127.0.0.1:8000

Builds nothing: it logs in as the demo user with Playwright in Debian's Chromium and saves a
1280x800 picture of the dashboard to docs/images/dashboard.png.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
# No sandbox (runs as root in CI), and no background traffic that a closed network refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_EMAIL = "demo@publikum.example"
DEMO_PASSWORD = "publikum-demo"  # noqa: S105 - the public demo login


def take_dashboard(url: str, out: Path, *, language: str, width: int, height: int) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height},
                locale={"de": "de-DE", "en": "en-GB"}[language],
            )
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(f"{url}/accounts/login/")
            page.fill("#id_username", DEMO_EMAIL)
            page.fill("#id_password", DEMO_PASSWORD)
            page.locator("main form button[type=submit]").click()
            # The demo user may belong to several organisations: pick the first one.
            page.wait_for_url(lambda u: "/accounts/login/" not in u)
            if page.get_by_test_id("org-name").count() == 0:
                page.locator("main a[href^='/o/']").first.click()
            expect(page.get_by_test_id("contacts-count")).to_be_visible()
            page.wait_for_load_state("networkidle")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=False)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "images" / "dashboard.png", help="PNG file"
    )
    parser.add_argument("--language", choices=["de", "en"], default="de")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    args = parser.parse_args(argv)
    try:
        take_dashboard(
            args.url.rstrip("/"),
            args.out,
            language=args.language,
            width=args.width,
            height=args.height,
        )
    except (PlaywrightError, AssertionError) as exc:
        print(
            f"Could not take the screenshot from {args.url}: {exc}\n"
            "Is the server running, with the demo institution (publikum demo)?",
            file=sys.stderr,
        )
        return 1
    print(f"Saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
