"""Accounts: login, logout, sessions, password reset and the welcome mail over real SMTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from conftest import make_member, make_organisation
from publikum.core.models import Organisation, Role, User

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
NEW_PASSWORD = "Kranich-Lindenblatt-2031"
LINK = re.compile(r"https?://testserver(/accounts/reset/[^/\s]+/[^/\s]+/)")


def browser() -> Client:
    return Client(headers={"accept-language": "en"})


def login(email: str, password: str, **extra: str) -> tuple[Client, object]:
    client = browser()
    response = client.post("/accounts/login/", {"username": email, "password": password, **extra})
    return client, response


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.fixture
def house(db: None) -> Organisation:
    return make_organisation("stadtmuseum-konto", "Stadtmuseum Konto")


@pytest.fixture
def member(house) -> User:
    return make_member(house, Role.EDITOR)


# --- login and logout ---------------------------------------------------------------------


def test_login_with_email_and_password_leads_to_the_dashboard(house, member) -> None:
    client, response = login(member.email, PASSWORD)
    assert response.status_code == 302
    dashboard = client.get(response.headers["Location"], follow=True)
    assert dashboard.status_code == 200
    assert dashboard.redirect_chain[-1][0] == f"/o/{house.slug}/"
    assert "Stadtmuseum Konto" in dashboard.content.decode()


def test_login_does_not_care_about_the_case_of_the_address(member) -> None:
    client, response = login(member.email.upper(), PASSWORD)
    assert response.status_code == 302
    assert logged_in(client)


def test_wrong_password_shows_an_error_and_logs_nobody_in(house, member) -> None:
    client, response = login(member.email, "not-the-password")
    assert response.status_code == 200
    page = response.content.decode()
    assert 'role="alert"' in page
    assert "correct" in page
    assert not logged_in(client)
    assert client.get(f"/o/{house.slug}/").status_code == 302


def test_login_follows_next_within_the_site(house, member) -> None:
    _, response = login(member.email, PASSWORD, next=f"/o/{house.slug}/team/")
    assert response.headers["Location"] == f"/o/{house.slug}/team/"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "http://testserver.evil.example/",
        "https://testserver@evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_next_cannot_send_anyone_to_another_site(member, target) -> None:
    client, response = login(member.email, PASSWORD, next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert logged_in(client)
    # A logged-in user who opens such a link is not sent away either.
    again = client.get("/accounts/login/", {"next": target})
    assert again.headers["Location"] == "/"


def test_logout_needs_a_post(house, member) -> None:
    client = browser()
    client.force_login(member)
    assert client.get("/accounts/logout/").status_code == 405
    assert client.get(f"/o/{house.slug}/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/login/"
    assert client.get(f"/o/{house.slug}/").status_code == 302


def test_expired_session_sends_back_to_login(house, member) -> None:
    client = browser()
    client.force_login(member)
    assert client.get(f"/o/{house.slug}/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(f"/o/{house.slug}/team/")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/accounts/login/?next=/o/{house.slug}/team/"


def test_deleted_session_sends_back_to_login(house, member) -> None:
    client = browser()
    client.force_login(member)
    client.session.flush()
    Session.objects.all().delete()
    response = client.get(f"/o/{house.slug}/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/accounts/login/")


# --- password reset over SMTP -------------------------------------------------------------


def set_password_with(link_path: str, password: str) -> Client:
    """Follow a reset link as a fresh browser and choose `password`."""
    client = browser()
    opened = client.get(link_path, follow=True)
    assert opened.status_code == 200
    assert 'name="new_password1"' in opened.content.decode(), "the link did not open the form"
    form_url = opened.redirect_chain[-1][0]
    saved = client.post(form_url, {"new_password1": password, "new_password2": password})
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/accounts/reset/done/"
    return client


def test_password_reset_mail_sets_a_new_password_once(smtp_server, house, member) -> None:
    response = browser().post("/accounts/password-reset/", {"email": member.email.upper()})
    assert response.headers["Location"] == "/accounts/password-reset/sent/"

    [mail] = smtp_server.messages
    assert mail.recipients == [member.email]
    assert "password" in mail.subject.lower()
    link = LINK.search(mail.text)
    assert link is not None, mail.text

    set_password_with(link.group(1), NEW_PASSWORD)
    assert not logged_in(login(member.email, PASSWORD)[0])
    client, _ = login(member.email, NEW_PASSWORD)
    assert logged_in(client)
    assert client.get(f"/o/{house.slug}/").status_code == 200

    # The same link a second time: no form, and the password stays.
    second = browser().get(link.group(1), follow=True)
    assert 'name="new_password1"' not in second.content.decode()
    assert "invalid or has been used" in second.content.decode()
    member.refresh_from_db()
    assert member.check_password(NEW_PASSWORD)


def test_password_reset_for_an_unknown_address_sends_nothing_and_says_the_same(
    smtp_server, member
) -> None:
    known = browser().post("/accounts/password-reset/", {"email": member.email})
    unknown = browser().post("/accounts/password-reset/", {"email": "niemand@example.org"})
    assert unknown.headers["Location"] == known.headers["Location"]
    assert [m.recipients for m in smtp_server.messages] == [[member.email]]


def test_new_member_gets_a_welcome_mail_with_a_set_password_link(smtp_server, house) -> None:
    owner = make_member(house, Role.OWNER)
    team = browser()
    team.force_login(owner)
    added = team.post(
        f"/o/{house.slug}/team/",
        {"email": "Neu.Mitglied@Example.org", "name": "Neues Mitglied", "role": Role.EDITOR},
    )
    assert added.status_code == 302

    [mail] = smtp_server.messages
    assert mail.recipients == ["neu.mitglied@example.org"]
    assert "Stadtmuseum Konto" in mail.subject
    assert "Stadtmuseum Konto" in mail.text
    # Marked with the organisation, so the local sink files it in that house's Outbox.
    assert mail.message["X-Publikum-Organisation"] == house.slug
    link = LINK.search(mail.text)
    assert link is not None, mail.text
    assert PASSWORD not in mail.text

    set_password_with(link.group(1), NEW_PASSWORD)
    client, _ = login("neu.mitglied@example.org", NEW_PASSWORD)
    assert logged_in(client)
    dashboard = client.get("/", follow=True)
    assert dashboard.redirect_chain[-1][0] == f"/o/{house.slug}/"
    assert "Neues Mitglied" in dashboard.content.decode()


def test_a_new_member_who_lost_the_welcome_mail_can_ask_for_a_reset(smtp_server, house) -> None:
    owner = make_member(house, Role.OWNER)
    team = browser()
    team.force_login(owner)
    team.post(f"/o/{house.slug}/team/", {"email": "neu@example.org", "name": "", "role": "viewer"})
    browser().post("/accounts/password-reset/", {"email": "neu@example.org"})

    assert [m.recipients for m in smtp_server.messages] == [["neu@example.org"]] * 2
    link = LINK.search(smtp_server.messages[1].text)
    assert link is not None
    set_password_with(link.group(1), NEW_PASSWORD)
    assert logged_in(login("neu@example.org", NEW_PASSWORD)[0])
