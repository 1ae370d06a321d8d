"""Fixtures shared by every test: organisations, members, tokens, HTTP clients, SMTP sink."""

from __future__ import annotations

import io
import os
import shutil
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import requests
from aiosmtpd.controller import Controller
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client

from publikum.core import services
from publikum.core.models import ApiToken, Organisation, Role, User

CHROMIUM_ARGS = [
    # No sandbox as root, and no background traffic that a closed network would refuse
    # (updates, sync, QUIC, first-run pings).
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 10_000

PG_URL = os.environ.get("PUBLIKUM_TEST_DATABASE_URL", "")
REDIS_URL = os.environ.get("PUBLIKUM_TEST_REDIS_URL", "")
CHROMIUM = "/usr/bin/chromium"

SKIP_REASONS = {
    "postgres": "PostgreSQL test skipped: set PUBLIKUM_TEST_DATABASE_URL to run it",
    "redis": "Redis test skipped: set PUBLIKUM_TEST_REDIS_URL to run it",
    "browser": f"browser test skipped: {CHROMIUM} not found (apt-get install chromium)",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    available = {
        "postgres": bool(PG_URL),
        "redis": bool(REDIS_URL),
        "browser": shutil.which(CHROMIUM) is not None,
    }
    for item in items:
        for marker, ok in available.items():
            if not ok and item.get_closest_marker(marker):
                item.add_marker(pytest.mark.skip(reason=SKIP_REASONS[marker]))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    missing = [
        reason
        for key, reason in SKIP_REASONS.items()
        if not {"postgres": PG_URL, "redis": REDIS_URL, "browser": shutil.which(CHROMIUM)}[key]
    ]
    if missing:
        terminalreporter.write_sep("=", "parts of the suite were skipped", yellow=True)
        for reason in missing:
            terminalreporter.write_line(f"  {reason}")


@pytest.fixture(autouse=True)
def _clear_cache() -> Iterator[None]:
    # Rate-limit counters live in the cache; every test starts with a clean slate.
    cache.clear()
    yield
    cache.clear()


_counter = iter(range(1, 10**9))


def make_organisation(slug: str | None = None, name: str | None = None) -> Organisation:
    n = next(_counter)
    return services.organisation_create(slug=slug or f"house-{n}", name=name or f"House {n}")


def make_user(email: str | None = None, password: str = "a-long-test-password") -> User:  # noqa: S107
    n = next(_counter)
    return User.objects.create_user(email or f"staff{n}@example.org", password, name=f"Staff {n}")


def make_member(organisation: Organisation, role: str = Role.OWNER) -> User:
    user = make_user()
    services.membership_set(organisation=organisation, user=user, role=role)
    return user


def make_token(organisation: Organisation, role: str = Role.OWNER) -> str:
    _, plain = services.token_create(organisation=organisation, name="test", role=role)
    return plain


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    # The worker installs its own SIGINT/SIGTERM handlers and resets them to the defaults;
    # put pytest's back so Ctrl-C still works after an in-process worker ran.
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved = {sig: signal.getsignal(sig) for sig in signals}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run_worker_burst() -> None:
    """Run `publikum worker --burst` in this process: every job that is due, then return."""
    call_command("worker", "--burst", stdout=io.StringIO())


@pytest.fixture
def organisation(db: None) -> Organisation:
    return make_organisation("stadtmuseum-test", "Stadtmuseum Test")


@pytest.fixture
def other_organisation(db: None) -> Organisation:
    return make_organisation("theater-andere", "Theater Andere")


@pytest.fixture
def owner(organisation: Organisation) -> User:
    return make_member(organisation, Role.OWNER)


@pytest.fixture
def member_factory(db: None) -> Callable[[Organisation, str], User]:
    return make_member


@pytest.fixture
def token_factory(db: None) -> Callable[[Organisation, str], str]:
    return make_token


@pytest.fixture
def owner_client(owner: User) -> Client:
    client = Client()
    client.force_login(owner)
    return client


@dataclass
class ApiClient:
    """Real HTTP against the live server, the way an integration would call the API."""

    base_url: str
    token: str | None = None
    session: requests.Session = field(default_factory=requests.Session)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        return self.session.request(
            method, f"{self.base_url}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def api(live_server: Any) -> Callable[[str | None], ApiClient]:
    clients: list[ApiClient] = []

    def make(token: str | None = None) -> ApiClient:
        client = ApiClient(base_url=live_server.url, token=token)
        clients.append(client)
        return client

    yield make  # type: ignore[misc]
    for client in clients:
        client.session.close()


@dataclass
class ReceivedMessage:
    mail_from: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        body = self.message.get_body(preferencelist=("plain",))
        return body.get_content() if body is not None else ""  # type: ignore[attr-defined]


class CollectingHandler:
    def __init__(self) -> None:
        self.messages: list[ReceivedMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        with self.lock:
            self.messages.append(
                ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), message)
            )  # type: ignore[arg-type]
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[CollectingHandler]:
    """A real SMTP server (aiosmtpd) on loopback; Django sends to it over SMTP."""
    handler = CollectingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield handler
    finally:
        controller.stop()


# --- browser (Playwright driving Debian's Chromium; never a downloaded browser) ---------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    # Playwright's sync API drives an asyncio loop that stays "running" in this thread for as
    # long as Playwright is started. Django sees that loop and refuses ORM calls from the
    # test body (SynchronousOnlyOperation), although they are plain blocking calls here:
    # nothing async runs concurrently with them. The live server answers in its own thread.
    # The loop stays set until playwright.stop(), so the variable must stay set as long: any
    # test of the session that runs after the first browser test needs it too.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

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
def context(browser: Any) -> Iterator[Any]:
    # German is the product's default language; without a locale Chromium would send
    # Accept-Language: en-US and LocaleMiddleware would start the UI in English.
    context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


__all__ = ["ApiClient", "ApiToken"]
