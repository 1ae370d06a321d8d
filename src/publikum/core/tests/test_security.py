"""Security: CSRF, escaping, login rate limit, sandboxed mail HTML, production settings, 404s."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.core.mail import EmailMultiAlternatives
from django.test import Client

from conftest import make_member, make_organisation
from publikum.core import services
from publikum.core.models import (
    ApiToken,
    FailedJob,
    Membership,
    Organisation,
    ReceivedMail,
    Role,
    User,
)

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def house(db: None) -> Organisation:
    return make_organisation("stadtmuseum-sicher", "Stadtmuseum Sicher")


@pytest.fixture
def owner(house) -> User:
    return make_member(house, Role.OWNER)


# --- CSRF ---------------------------------------------------------------------------------


def staff_posts(house: Organisation) -> dict[str, dict[str, str]]:
    """Every staff form that changes something, with data that would otherwise succeed."""
    editor = make_member(house, Role.EDITOR)
    membership = Membership.objects.get(organisation=house, user=editor)
    token, _ = services.token_create(organisation=house, name="Kasse")
    job = FailedJob.objects.create(organisation=house, task_path="x", attempts=3, error="e")
    o = f"/o/{house.slug}"
    return {
        f"{o}/team/": {"email": "neu@example.org", "name": "Neu", "role": Role.EDITOR},
        f"{o}/team/{membership.pk}/": {"role": Role.MANAGER},
        f"{o}/tokens/": {"name": "Neu", "role": Role.VIEWER},
        f"{o}/tokens/{token.pk}/revoke/": {},
        f"{o}/jobs/{job.pk}/resolve/": {},
        "/accounts/logout/": {},
    }


def nothing_changed(house: Organisation) -> bool:
    return (
        not User.objects.filter(email="neu@example.org").exists()
        and not Membership.objects.filter(organisation=house, role=Role.MANAGER).exists()
        and ApiToken.objects.filter(organisation=house, revoked_at__isnull=True).count() == 1
        and FailedJob.objects.filter(organisation=house, resolved_at__isnull=True).count() == 1
    )


def test_staff_posts_without_csrf_token_are_refused(house, owner) -> None:
    posts = staff_posts(house)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    for url, data in posts.items():
        assert client.post(url, data).status_code == 403, url
        assert client.post(url, {**data, "csrfmiddlewaretoken": "x" * 64}).status_code == 403
    assert nothing_changed(house)
    assert client.get(f"/o/{house.slug}/").status_code == 200  # still logged in


def test_staff_posts_with_the_csrf_token_go_through(house, owner) -> None:
    # The counterpart: the same posts from the page's own form are accepted.
    posts = staff_posts(house)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get(f"/o/{house.slug}/")
    csrf = client.cookies["csrftoken"].value
    for url, data in posts.items():
        response = client.post(url, {**data, "csrfmiddlewaretoken": csrf})
        assert response.status_code in {200, 302}, url
    assert not nothing_changed(house)


def test_login_without_csrf_token_is_refused(owner) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/accounts/login/", {"username": owner.email, "password": "a-long-test-password"}
    )
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


# --- escaping -----------------------------------------------------------------------------


def test_script_in_names_is_shown_escaped_everywhere(db: None) -> None:
    house = make_organisation("haus-mit-skript", f"Haus {SCRIPT}")
    services.organisation_update(organisation=house, description_de=f"Text {SCRIPT}")
    owner = make_member(house, Role.OWNER)
    owner.name = f"Anna {SCRIPT}"
    owner.save()
    client = Client()
    client.force_login(owner)

    pages = {
        "dashboard": client.get(f"/o/{house.slug}/"),
        "team": client.get(f"/o/{house.slug}/team/"),
        "public": Client().get(f"/{house.slug}/"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = response.content.decode()
        assert SCRIPT not in page, name
        assert f"Haus {ESCAPED}" in page, name
    assert f"Anna {ESCAPED}" in pages["team"].content.decode()
    assert f"Text {ESCAPED}" in pages["public"].content.decode()


# --- login rate limit ---------------------------------------------------------------------


def fresh_rate_window() -> None:
    # The limit counts per calendar minute; start well inside one so all posts share it.
    second = time.time() % 60
    if second > 50:
        time.sleep(60 - second + 0.1)


def post_login(client: Client, email: str, password: str, forwarded: str = "") -> Any:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return client.post("/accounts/login/", {"username": email, "password": password}, **extra)


def test_eleventh_login_within_a_minute_is_429_with_retry_after(owner) -> None:
    fresh_rate_window()
    client = Client()
    for attempt in range(10):
        assert post_login(client, owner.email, "wrong").status_code == 200, attempt
    refused = post_login(client, owner.email, "a-long-test-password")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert "_auth_user_id" not in client.session  # even the right password waits


def test_forwarded_for_is_ignored_without_a_trusted_proxy(settings, owner) -> None:
    settings.TRUSTED_PROXY_COUNT = 0
    fresh_rate_window()
    client = Client()
    for attempt in range(10):
        post_login(client, owner.email, "wrong", forwarded=f"198.51.100.{attempt}")
    assert post_login(client, owner.email, "wrong", forwarded="198.51.100.99").status_code == 429


def test_forwarded_for_from_a_trusted_proxy_tells_clients_apart(settings, owner) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    fresh_rate_window()
    client = Client()
    for attempt in range(10):
        # The client wrote the first entry itself; the proxy appended the real address.
        forwarded = f"203.0.113.{attempt}, 198.51.100.7"
        assert post_login(client, owner.email, "wrong", forwarded=forwarded).status_code == 200
    assert post_login(client, owner.email, "wrong", forwarded="198.51.100.7").status_code == 429
    # Another client behind the same proxy still has its own budget.
    assert post_login(client, owner.email, "wrong", forwarded="198.51.100.8").status_code == 200


# --- mail HTML in the outbox --------------------------------------------------------------


class IframeFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.iframes: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.iframes.append(dict(attrs))


def test_outbox_shows_mail_html_in_a_sandboxed_frame(house, owner) -> None:
    html = f'<p>Hallo</p>{SCRIPT}<img src=x onerror="alert(2)"><a href="javascript:x()">a</a>'
    message = EmailMultiAlternatives(
        subject=f"Newsletter {SCRIPT}",
        body="Hallo",
        from_email="noreply@example.org",
        to=["gast@example.org"],
    )
    message.attach_alternative(html, "text/html")
    mail = ReceivedMail.objects.create(
        organisation=house,
        mail_from="noreply@example.org",
        recipients=["gast@example.org"],
        subject=f"Newsletter {SCRIPT}",
        raw=message.message().as_string(),
    )
    client = Client()
    client.force_login(owner)
    response = client.get(f"/o/{house.slug}/outbox/{mail.pk}/")
    assert response.status_code == 200
    page = response.content.decode()

    finder = IframeFinder()
    finder.feed(page)
    [frame] = finder.iframes
    assert frame["sandbox"] == ""  # no allow-scripts, no allow-same-origin
    assert frame["srcdoc"] is not None
    assert SCRIPT in frame["srcdoc"]  # the mail as it is, but only inside the frame
    # Nothing of it can run in the staff page itself.
    assert SCRIPT not in page
    assert 'onerror="alert(2)"' not in page
    assert f"Newsletter {ESCAPED}" in page
    assert response.headers["X-Frame-Options"] == "DENY"


# --- production settings ------------------------------------------------------------------

GOOD_KEY = "k9!Qz7vR2mX4pL8sT1wY6uE3oI5aD0fG"  # 32 characters


def import_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE"}
        and not k.startswith("PUBLIKUM_")
    }
    clean.update(PUBLIKUM_MODE="production", PUBLIKUM_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-c", "import publikum.settings"],
        env=clean,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ALLOWED_HOSTS": "publikum.example", "DEBUG": "false"}, "default or a short SECRET_KEY"),
        (
            {"SECRET_KEY": "kurz", "ALLOWED_HOSTS": "publikum.example", "DEBUG": "false"},
            "default or a short SECRET_KEY",
        ),
        (
            {
                "SECRET_KEY": "publikum-insecure-development-key-change-me",
                "ALLOWED_HOSTS": "publikum.example",
                "DEBUG": "false",
            },
            "default or a short SECRET_KEY",
        ),
        (
            {"SECRET_KEY": GOOD_KEY, "ALLOWED_HOSTS": "publikum.example", "DEBUG": "true"},
            "refuses to start with DEBUG on",
        ),
        ({"SECRET_KEY": GOOD_KEY, "DEBUG": "false"}, "needs ALLOWED_HOSTS"),
    ],
)
def test_production_mode_refuses_unsafe_settings(tmp_path, env, message) -> None:
    result = import_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_production_mode_starts_with_safe_settings(tmp_path) -> None:
    result = import_settings(
        tmp_path, SECRET_KEY=GOOD_KEY, ALLOWED_HOSTS="publikum.example", DEBUG="false"
    )
    assert result.returncode == 0, result.stderr


# --- unknown organisations ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "anonymous"),
    [
        ("/kein-haus/", 404),
        ("/Kein-Haus/", 404),
        ("/o/kein-haus/", 302),
        ("/o/kein-haus/team/", 302),
        ("/o/kein-haus/outbox/1/", 302),
    ],
)
def test_unknown_organisation_is_a_404_page(owner, path, anonymous) -> None:
    client = Client(raise_request_exception=False, headers={"accept-language": "en"})
    client.force_login(owner)
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "This page does not exist." in response.content.decode()
    # Anonymous visitors: public pages say 404, staff pages first ask to log in.
    assert Client(raise_request_exception=False).get(path).status_code == anonymous
