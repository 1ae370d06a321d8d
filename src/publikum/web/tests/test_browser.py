"""The staff UI in a real browser (headless Debian Chromium via Playwright) against a live server.

Test data is written through the ORM in the test body; the live server reads it from its own
thread. Selectors use ids, test ids and URLs rather than visible text wherever the text is
translated, so the tests hold in German and in English.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Page, expect

from publikum.audience.models import Contact
from publikum.core.models import Organisation, ReceivedMail, Role, User

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-test-password"  # the default of make_user in the root conftest.py
MemberFactory = Callable[[Organisation, str], User]
GERMAN_CATALOGUE = (
    Path(__file__).resolve().parents[2] / "locale" / "de" / "LC_MESSAGES" / "django.mo"
)


def log_in(page: Page, base_url: str, user: User, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", user.email)
    page.fill("#id_password", password)
    page.locator("main form button[type=submit]").click()


def log_in_to_dashboard(page: Page, base_url: str, user: User, organisation: Organisation) -> None:
    log_in(page, base_url, user)
    expect(page).to_have_url(f"{base_url}/o/{organisation.slug}/")


def make_mail(organisation: Organisation, subject: str, text: str) -> ReceivedMail:
    message = EmailMessage()
    message["From"] = "Stadtmuseum <noreply@publikum.localhost>"
    message["To"] = "besucherin@example.org"
    message["Subject"] = subject
    message["X-Publikum-Organisation"] = organisation.slug
    message.set_content(text)
    return ReceivedMail.objects.create(
        organisation=organisation,
        mail_from="noreply@publikum.localhost",
        recipients=["besucherin@example.org"],
        subject=subject,
        raw=message.as_string(),
    )


def test_staff_member_logs_in_and_sees_the_dashboard(
    page: Page, live_server: Any, organisation: Organisation, member_factory: MemberFactory
) -> None:
    # given an organisation with three contacts and one of its staff
    user = member_factory(organisation, Role.VIEWER)
    for n in range(3):
        Contact.objects.create(
            organisation=organisation, first_name=f"Vera{n}", email=f"v{n}@example.org"
        )
    # when they log in through the form
    log_in(page, live_server.url, user)
    # then they land on their organisation's dashboard with its key figures
    expect(page).to_have_url(f"{live_server.url}/o/{organisation.slug}/")
    expect(page.get_by_test_id("org-name")).to_have_text("Stadtmuseum Test")
    figures = page.locator("section.figures:not(.inbox-figures)")
    expect(figures).to_have_attribute("aria-label", re.compile(r"\S"))
    expect(figures.locator(".figure")).to_have_count(5)
    expect(page.get_by_test_id("contacts-count")).to_have_text("3")
    expect(page.get_by_test_id("inbox-figures")).to_be_visible()
    expect(page.locator("h1")).to_be_visible()


def _switch_language(page: Page, code: str) -> None:
    page.locator(f"form.lang-switch button[name=language][value={code}]").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def _labels(page: Page) -> tuple[str, str]:
    logout = page.locator("form[action$='/accounts/logout/'] button").inner_text().strip()
    outbox = page.locator("nav.sidenav a[href$='/outbox/']").inner_text().strip()
    return logout, outbox


def test_language_switch_turns_the_page_to_english_and_back(
    page: Page, live_server: Any, organisation: Organisation, member_factory: MemberFactory
) -> None:
    user = member_factory(organisation, Role.OWNER)
    log_in_to_dashboard(page, live_server.url, user, organisation)
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.locator("form.lang-switch button[value=de]")).to_have_attribute(
        "aria-pressed", "true"
    )

    _switch_language(page, "en")
    # The switch stays on the page it was used on.
    expect(page).to_have_url(f"{live_server.url}/o/{organisation.slug}/")
    expect(page.locator("form.lang-switch button[value=en]")).to_have_attribute(
        "aria-pressed", "true"
    )
    assert _labels(page) == ("Log out", "Outbox")

    _switch_language(page, "de")
    expect(page).to_have_url(f"{live_server.url}/o/{organisation.slug}/")
    # The choice is kept in a cookie: the next page stays German.
    page.goto(f"{live_server.url}/o/{organisation.slug}/outbox/")
    expect(page.locator("html")).to_have_attribute("lang", "de")


@pytest.mark.skipif(not GERMAN_CATALOGUE.exists(), reason="German catalogue not compiled yet")
def test_language_switch_changes_the_navigation_labels(
    page: Page, live_server: Any, organisation: Organisation, member_factory: MemberFactory
) -> None:
    user = member_factory(organisation, Role.OWNER)
    log_in_to_dashboard(page, live_server.url, user, organisation)
    german = _labels(page)
    _switch_language(page, "en")
    english = _labels(page)
    assert english == ("Log out", "Outbox")
    assert german[0] != english[0], "the log-out button is not translated into German"
    assert german[1] != english[1], "the outbox link is not translated into German"
    _switch_language(page, "de")
    assert _labels(page) == german


def test_manager_creates_an_api_token_that_works_once_shown(
    page: Page, live_server: Any, organisation: Organisation, member_factory: MemberFactory
) -> None:
    manager = member_factory(organisation, Role.MANAGER)
    log_in_to_dashboard(page, live_server.url, manager, organisation)
    tokens_url = f"{live_server.url}/o/{organisation.slug}/tokens/"
    page.locator(f"nav.sidenav a[href='/o/{organisation.slug}/tokens/']").click()
    expect(page).to_have_url(tokens_url)

    page.fill("#id_name", "Kasse")
    page.select_option("#id_role", Role.VIEWER)
    page.locator("form:has(#id_name) button[type=submit]").click()
    shown = page.get_by_test_id("new-token")
    expect(shown).to_be_visible()
    token = shown.inner_text().strip()
    assert len(token) >= 20

    # The token works against the API over real HTTP ...
    response = requests.get(
        f"{live_server.url}/api/v1/organisation",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert response.json()["slug"] == organisation.slug
    # ... and is shown only once: the list names it, but never again in full.
    page.goto(tokens_url)
    expect(page.get_by_test_id("new-token")).to_have_count(0)
    expect(page.locator("main table")).to_contain_text("Kasse")
    assert token not in page.content()


def test_outbox_lists_a_mail_and_shows_its_text(
    page: Page,
    live_server: Any,
    organisation: Organisation,
    other_organisation: Organisation,
    member_factory: MemberFactory,
) -> None:
    user = member_factory(organisation, Role.VIEWER)
    make_mail(organisation, "Ihre Karten für Freitag", "Guten Tag,\n\nhier sind Ihre Karten.\n")
    make_mail(other_organisation, "Post eines anderen Hauses", "Nicht für Sie.\n")

    log_in_to_dashboard(page, live_server.url, user, organisation)
    page.locator("nav.sidenav a[href$='/outbox/']").click()
    outbox = page.get_by_test_id("outbox")
    expect(outbox).to_contain_text("Ihre Karten für Freitag")
    expect(outbox).to_contain_text("besucherin@example.org")
    expect(outbox).not_to_contain_text("Post eines anderen Hauses")

    outbox.get_by_role("link", name="Ihre Karten für Freitag").click()
    expect(page.locator("h1")).to_have_text("Ihre Karten für Freitag")
    expect(page.locator("pre.mail-text")).to_contain_text("hier sind Ihre Karten.")


def test_login_works_with_the_keyboard_alone(
    page: Page, live_server: Any, organisation: Organisation, member_factory: MemberFactory
) -> None:
    user = member_factory(organisation, Role.VIEWER)
    page.goto(f"{live_server.url}/accounts/login/")

    # The first Tab reaches the skip link; following it lands on the content, whose first
    # stops are e-mail, password and the submit button, in that order.
    page.keyboard.press("Tab")
    skip = page.locator("a.skip")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    page.keyboard.press("Tab")
    expect(page.locator("#id_username")).to_be_focused()
    page.keyboard.type(user.email)
    page.keyboard.press("Tab")
    expect(page.locator("#id_password")).to_be_focused()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    expect(page.locator("main form button[type=submit]")).to_be_focused()
    page.keyboard.press("Enter")

    # The browser keeps the skip link's #main across the redirect to the dashboard.
    dashboard = re.escape(f"{live_server.url}/o/{organisation.slug}/")
    expect(page).to_have_url(re.compile(f"^{dashboard}(#main)?$"))


@pytest.mark.parametrize("password", ["not-the-password", ""], ids=["wrong", "missing"])
def test_wrong_or_missing_password_shows_an_error(
    page: Page,
    live_server: Any,
    organisation: Organisation,
    member_factory: MemberFactory,
    password: str,
) -> None:
    user = member_factory(organisation, Role.OWNER)
    log_in(page, live_server.url, user, password=password)

    error = page.locator("main [role=alert]")
    expect(error).to_be_visible()
    expect(error).to_contain_text(re.compile(r"pass(wort|word)", re.IGNORECASE))
    expect(page).to_have_url(f"{live_server.url}/accounts/login/")
    expect(page.locator("#id_username")).to_have_value(user.email)
    expect(page.locator("#id_password")).to_have_value("")
    expect(page.locator("form[action$='/accounts/logout/']")).to_have_count(0)
