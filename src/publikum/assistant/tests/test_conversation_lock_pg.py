"""Two messages to one conversation at once, on PostgreSQL with two web processes.

Real gunicorn processes (sync workers, each its own Python and database connection) serve
the public assistant API against the test database pytest-django made for the alias "pg".
The dialogue state of a conversation is read, changed and written per message; the
conversation lock (a PostgreSQL advisory lock) makes two simultaneous messages take turns,
so neither overwrites what the other understood.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from django.db import connections

from publikum.assistant.services import _advisory_key
from publikum.conversations.models import Author, Conversation, Message

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pg"]),
]

WORKERS = 2
TIMEOUT = 60
ROOT = Path(__file__).resolve().parents[4]

SEED = """
import django
django.setup()
from publikum.core.services import organisation_create
from publikum.assistant.tests.engine_house import build_house
build_house(organisation_create(slug="stadtmuseum-pg", name="Stadtmuseum PG"))
"""
SLUG = "stadtmuseum-pg"


def pg_url() -> str:
    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_env(directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    return env | {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "DATABASE_URL": pg_url(),
        "PUBLIKUM_TASK_QUEUE": "database",
        "PUBLIKUM_DATA_DIR": str(directory),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
    }


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def server(transactional_db: None, tmp_path: Path) -> Iterator[str]:
    """The house seeded in pg, then gunicorn with two worker processes on it."""
    (tmp_path / "static").mkdir()
    env = server_env(tmp_path)
    seeded = subprocess.run(
        [sys.executable, "-c", SEED],
        check=False,
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=TIMEOUT,
    )
    assert seeded.returncode == 0, seeded.stderr.decode()[-3000:]
    port = free_port()
    error_log = tmp_path / "error.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "publikum.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={WORKERS}",
            "--worker-class=sync",
            "--preload",
            "--timeout=120",
            f"--error-logfile={error_log}",
            "--log-level=info",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{error_log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail("gunicorn did not answer /healthz in time")
            booted = error_log.exists() and error_log.read_text().count("Booting worker") >= 2
            if booted and _healthy(url):
                break
            time.sleep(0.1)
        # Each worker loads the URLs and trains the assistant's models on its first message.
        with ThreadPoolExecutor(WORKERS * 2) as pool:
            list(pool.map(lambda _: post(url, None, "Hallo"), range(WORKERS * 4)))
        yield url
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def post(url: str, conversation: str | None, text: str) -> requests.Response:
    return requests.post(
        f"{url}/api/v1/public/{SLUG}/assistant/messages",
        json={"conversation": conversation, "text": text},
        timeout=TIMEOUT,
    )


def simultaneously(url: str, conversation: str, texts: list[str]) -> list[requests.Response]:
    barrier = threading.Barrier(len(texts))

    def send(text: str) -> requests.Response:
        with requests.Session() as session:
            # Connect first, so that both requests leave at the same instant.
            session.get(f"{url}/healthz", timeout=TIMEOUT)
            barrier.wait(timeout=TIMEOUT)
            return session.post(
                f"{url}/api/v1/public/{SLUG}/assistant/messages",
                json={"conversation": conversation, "text": text},
                timeout=TIMEOUT,
            )

    with ThreadPoolExecutor(len(texts)) as pool:
        return list(pool.map(send, texts))


def test_two_messages_at_once_both_answered_and_both_kept_in_the_state(server: str) -> None:
    for _ in range(3):  # a few rounds, each a fresh conversation
        started = post(
            server, None, "Ich möchte 2 Karten für die Führung in Gebärdensprache buchen"
        )
        assert started.status_code == 200, started.text
        assert "Auf welchen Namen" in started.json()["reply"]["text"]
        conversation_id = started.json()["conversation"]

        answers = simultaneously(server, conversation_id, ["Greta Gast", "greta@example.org"])

        assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
        assert all(a.json()["reply"]["text"] for a in answers)
        conversation = Conversation.objects.using("pg").get(public_id=conversation_id)
        messages = list(
            Message.objects.using("pg")
            .filter(conversation=conversation)
            .order_by("created_at", "pk")
        )
        # Each visitor message is followed by its own reply: the two took turns.
        assert [m.author for m in messages] == [Author.VISITOR, Author.ASSISTANT] * 3
        visitor_texts = {m.text for m in messages if m.author == Author.VISITOR}
        assert {"Greta Gast", "greta@example.org"} <= visitor_texts
        replies = [m.text for m in messages if m.author == Author.ASSISTANT]
        assert {a.json()["reply"]["text"] for a in answers} == set(replies[1:])
        # Neither message overwrote what the other one told the dialogue.
        booking = conversation.state["booking"]
        assert booking["name"] == "Greta Gast"
        assert booking["email"] == "greta@example.org"


def test_a_message_that_waits_too_long_gets_a_clear_answer(server: str) -> None:
    started = post(server, None, "Hallo")
    conversation_id = started.json()["conversation"]
    conversation = Conversation.objects.using("pg").get(public_id=conversation_id)
    key = _advisory_key(conversation.pk)

    # Another process (this test) holds the conversation's lock.
    with connections["pg"].cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [key])
    try:
        begun = time.monotonic()
        busy = post(server, conversation_id, "Gibt es ein Café?")
        waited = time.monotonic() - begun
    finally:
        with connections["pg"].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [key])

    assert busy.status_code == 409, busy.text
    assert busy.json()["error"]["code"] == "conversation_busy"
    assert busy.headers["Access-Control-Allow-Origin"] == "*"
    assert 2.5 < waited < 10
    assert Message.objects.using("pg").filter(conversation=conversation).count() == 2

    again = post(server, conversation_id, "Gibt es ein Café?")
    assert again.status_code == 200
    assert Message.objects.using("pg").filter(conversation=conversation).count() == 4
