"""The public programme in a real browser, used with the keyboard only (WCAG 2.1 AA).

Headless Debian Chromium via Playwright against the live server. Selectors use ids, roles
and URLs rather than visible text where the text is translated.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from publikum.core.models import Organisation
from publikum.programme.models import ItemKind
from publikum.programme.tests.public_factories import (
    add_date,
    local,
    make_item,
    make_theme,
    make_venue,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The contrast ratio of a text colour on the background it is painted on (WCAG 2.1, 1.4.3).
CONTRAST_JS = """
(selector) => {
  const channel = (c) => {
    c /= 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const parse = (s) => (s.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const background = (el) => {
    for (; el; el = el.parentElement) {
      const c = parse(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  return [...document.querySelectorAll(selector)]
    .filter((el) => el.getClientRects().length > 0 && el.textContent.trim())
    .map((el) => {
      const fg = luminance(parse(getComputedStyle(el).color).slice(0, 3));
      const bg = luminance(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      return [el.tagName + "." + el.className + " " + el.textContent.trim().slice(0, 30), ratio];
    });
}
"""


def tab_to(page: Page, selector: str, limit: int = 120) -> None:
    """Press Tab until the element matching `selector` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


@pytest.fixture
def programme(organisation: Organisation) -> dict[str, Any]:
    history = make_theme(organisation, "stadtgeschichte", "Stadtgeschichte", "City history")
    photo = make_theme(organisation, "fotografie", "Fotografie", "Photography")
    venue = make_venue(organisation, is_main=True)
    walk = make_item(
        organisation,
        "altstadt",
        title_de="Rundgang durch die Altstadt",
        title_en="Old town walk",
        summary_de="Zwei Stunden durch die Gassen.",
        themes=[history],
        venue=venue,
        accessibility=["wheelchair"],
    )
    add_date(walk, local(organisation, days=2, hour=11))
    add_date(walk, local(organisation, days=9, hour=11))
    workshop = make_item(
        organisation,
        "fotowerkstatt",
        kind=ItemKind.WORKSHOP,
        title_de="Fotowerkstatt",
        title_en="Photo workshop",
        themes=[photo],
        venue=venue,
        target_groups=["children"],
    )
    add_date(workshop, local(organisation, days=1, hour=15))
    return {"walk": walk, "workshop": workshop}


def test_programme_page_works_with_the_keyboard_alone(
    page: Page, live_server: Any, organisation: Organisation, programme: dict[str, Any]
) -> None:
    url = f"{live_server.url}/{organisation.slug}/programme/"
    page.goto(url)

    # landmarks, one h1, the language of the page
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("banner")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("contentinfo")).to_have_count(1)
    expect(page.get_by_role("navigation").first).to_be_visible()
    expect(page.locator("h1")).to_have_count(1)
    expect(page.get_by_test_id("programme-entry")).to_have_count(2)

    # every form control has an accessible name
    controls = page.locator("main input:not([type=hidden]), main select, main button")
    assert controls.count() >= 7
    for n in range(controls.count()):
        expect(controls.nth(n)).to_have_accessible_name(re.compile(r"\S"))
    for name in ("from", "to", "kind", "theme", "group", "access"):
        expect(page.locator(f"#id_{name}")).to_have_accessible_name(re.compile(r"\S"))

    # the skip link comes first, shows itself and leads to the content
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()

    # filter by a theme with the keyboard: Tab to the theme, type its name, Tab to Show, Enter
    tab_to(page, "#id_theme")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "the focused control shows its focus"
    page.keyboard.type("Foto")
    expect(page.locator("#id_theme")).to_have_value("fotografie")
    tab_to(page, "main form button[type=submit]")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"[?&]theme=fotografie(&|$)"))
    expect(page.get_by_test_id("programme-entry")).to_have_count(1)
    expect(page.get_by_test_id("programme-entry").locator("h3")).to_have_text("Fotowerkstatt")

    # open the item with the keyboard
    tab_to(page, '[data-testid="programme-entry"] h3 a')
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/{organisation.slug}/programme/fotowerkstatt/")
    expect(page.locator("h1")).to_have_text("Fotowerkstatt")


def test_text_and_links_have_enough_contrast(
    page: Page, live_server: Any, organisation: Organisation, programme: dict[str, Any]
) -> None:
    for path in ("programme/", "programme/altstadt/", ""):
        page.goto(f"{live_server.url}/{organisation.slug}/{path}")
        for selector in (
            "body",
            "main p, main li, main dd, main dt, main label",
            "a",
            "h1, h2, h3",
        ):
            ratios = page.evaluate(CONTRAST_JS, selector)
            assert ratios, f"nothing matched {selector} on /{path}"
            low = [(what, round(ratio, 2)) for what, ratio in ratios if ratio < 4.5]
            assert low == [], f"/{path}: {selector} below 4.5:1"


def test_the_language_switch_changes_the_page_and_its_lang(
    page: Page, live_server: Any, organisation: Organisation, programme: dict[str, Any]
) -> None:
    page.goto(f"{live_server.url}/{organisation.slug}/programme/")
    expect(page.locator("html")).to_have_attribute("lang", "de")

    tab_to(page, 'button[name="language"][value="en"]')
    page.keyboard.press("Enter")

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(f"{live_server.url}/{organisation.slug}/programme/")
    expect(page.get_by_test_id("programme-entry").first.locator("h3")).to_have_text(
        "Photo workshop"
    )
