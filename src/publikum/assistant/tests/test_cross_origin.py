"""The widget on the institution's own website: another origin than the Publikum server.

The public assistant API answers CORS (preflight included, errors included) without
credentials; in Chromium the script tag on a plain static page of another server opens the
widget, answers a question, and no request leaves for any third host.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from publikum.assistant.services import conversation_lock
from publikum.assistant.tests.engine_house import House, build_house
from publikum.conversations.models import Conversation, Message
from publikum.core.models import Organisation

ELSEWHERE = "https://museum.example.org"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}


@pytest.fixture
def house(organisation: Organisation) -> House:
    return build_house(organisation)


def _assert_cors(response: Any) -> None:
    for header, value in CORS.items():
        assert response[header] == value, header
    assert int(response["Access-Control-Max-Age"]) > 0
    # No cookies and no credentials: the browser must not be told it may send them.
    assert "Access-Control-Allow-Credentials" not in response


def _post(client: Client, org: str, body: Any) -> Any:
    return client.post(
        f"/api/v1/public/{org}/assistant/messages",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_ORIGIN=ELSEWHERE,
    )


@pytest.mark.django_db
def test_preflight_and_cors_headers_on_answers_and_errors(house: House) -> None:
    client = Client(enforce_csrf_checks=True)
    slug = house.organisation.slug
    messages = f"/api/v1/public/{slug}/assistant/messages"

    preflight = client.options(
        messages,
        HTTP_ORIGIN=ELSEWHERE,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 204
    assert preflight.content == b""
    _assert_cors(preflight)

    answer = _post(client, slug, {"conversation": None, "text": "Gibt es ein Café?"})
    assert answer.status_code == 200
    _assert_cors(answer)
    conversation = answer.json()["conversation"]

    poll_path = f"/api/v1/public/{slug}/assistant/conversations/{conversation}"
    poll = client.get(poll_path, HTTP_ORIGIN=ELSEWHERE)
    assert poll.status_code == 200
    _assert_cors(poll)
    poll_preflight = client.options(poll_path, HTTP_ORIGIN=ELSEWHERE)
    assert poll_preflight.status_code == 204
    _assert_cors(poll_preflight)

    # Errors carry the headers too, or the widget on another site could not read them.
    invalid = _post(client, slug, {"text": ""})
    assert invalid.status_code == 422
    _assert_cors(invalid)
    unknown = _post(client, slug, {"conversation": "x" * 40, "text": "Hallo"})
    assert unknown.status_code == 404
    _assert_cors(unknown)
    not_json = client.post(messages, data="{oops", content_type="application/json")
    assert not_json.status_code == 400
    _assert_cors(not_json)

    # Other API endpoints stay without CORS.
    other = client.get("/api/v1/contacts", HTTP_ORIGIN=ELSEWHERE)
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db
def test_rate_limits_stay_and_their_answer_is_readable_cross_origin(house: House) -> None:
    client = Client()
    slug = house.organisation.slug
    statuses = [_post(client, slug, {"text": "Hallo"}).status_code for _ in range(31)]
    assert statuses[:30] == [200] * 30
    limited = _post(client, slug, {"text": "Hallo"})
    assert limited.status_code == 429
    _assert_cors(limited)


@pytest.mark.django_db
def test_a_second_message_waits_for_the_first_of_its_conversation(house: House) -> None:
    """The per-conversation lock (the cache on SQLite): a message sent while another is being
    answered waits for it; one that would wait too long gets a clear 409, never a 500."""
    client = Client()
    slug = house.organisation.slug
    first = _post(client, slug, {"text": "Hallo"}).json()
    conversation = Conversation.objects.get(public_id=first["conversation"])

    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        try:
            with conversation_lock(conversation.pk):
                held.set()
                release.wait(10)
        finally:
            # On PostgreSQL the lock opened this thread's own connection: close it, or it
            # is garbage-collected open during a later test (a ResourceWarning there).
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(5)
    busy = _post(client, slug, {"conversation": first["conversation"], "text": "Gibt es ein Café?"})
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "conversation_busy"
    assert "one message at a time" in busy.json()["error"]["message"].lower()
    _assert_cors(busy)
    assert Message.objects.filter(conversation=conversation).count() == 2

    # Released while the next message waits: that message is answered.
    timer = threading.Timer(0.5, release.set)
    timer.start()
    waited = _post(
        client, slug, {"conversation": first["conversation"], "text": "Gibt es ein Café?"}
    )
    holder.join(5)
    timer.join()
    assert waited.status_code == 200
    assert waited.json()["reply"]["text"] == house.cafe.answer_de
    assert Message.objects.filter(conversation=conversation).count() == 4
    assert cache.get(f"assistant:conversation-lock:{conversation.pk}") is None


# --- Chromium: the institution's own static site on another port ------------------------------


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def institution_site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A plain static web server on another port: the institution's own website."""
    site = tmp_path / "site"
    site.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", site
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


HOST_PAGE = """<!doctype html>
<html lang="de">
<head>
<meta charset="utf-8">
<title>Stadtmuseum</title>
<style>
  /* A host page with heavy-handed rules: they must not break the widget. */
  button {{ background: rgb(255, 0, 0) !important; font-size: 40px !important; }}
  p, div {{ margin: 3em !important; }}
</style>
</head>
<body>
<h1>Willkommen im Stadtmuseum</h1>
<p class="pka-text" id="host-text">Unsere Ausstellungen zeigen die Geschichte der Stadt.</p>
<script src="{script}" defer></script>
</body>
</html>
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_widget_on_the_institutions_own_site(
    page: Any, live_server: Any, organisation: Organisation, institution_site: tuple[str, Path]
) -> None:
    from playwright.sync_api import expect

    build_house(organisation)
    site_url, site_dir = institution_site
    (site_dir / "index.html").write_text(
        HOST_PAGE.format(script=f"{live_server.url}/{organisation.slug}/assistant.js"),
        encoding="utf-8",
    )
    requests: list[tuple[str, str]] = []
    page.on("request", lambda request: requests.append((request.method, request.url)))
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{site_url}/index.html")
    launcher = page.locator(".pka-launcher")
    expect(launcher).to_be_visible()
    # The host page's `button` rule does not reach the widget (shadow root) ...
    assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(255, 0, 0)"
    # ... and the widget's rules do not reach the host page.
    assert page.locator("#host-text").evaluate("p => getComputedStyle(p).whiteSpace") == "normal"

    launcher.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    log = page.locator("[role=log]")
    expect(log).to_contain_text("digitale Assistent")
    box = page.locator(".pka-input")
    box.fill("Wann habt ihr heute geöffnet?")
    box.press("Enter")
    expect(log.locator(".pka-assistant").last).to_have_text(
        re.compile(r"Heute, \w+, \d+\. \w+, haben wir (von 10 bis 18 Uhr geöffnet|geschlossen)")
    )
    expect(log.locator(".pka-system")).to_have_count(0)  # no "server cannot be reached"

    api = f"{live_server.url}/api/v1/public/{organisation.slug}/assistant/messages"
    assert ("POST", api) in requests, requests
    assert Conversation.objects.get().messages.count() == 2
    assert all(url.startswith((site_url + "/", live_server.url + "/")) for _, url in requests), (
        requests
    )
    assert not [e for e in errors if "CORS" in e or "Access-Control" in e], errors
