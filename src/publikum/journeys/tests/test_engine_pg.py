"""Several workers on PostgreSQL never process the same step twice (skip-locked claims).

Real processes, each its own Python and database connection, advance the same 200 due
runs at the same instant against the test database pytest-django made for the alias "pg".
Each run sends a mail (a `Message` row) and calls a webhook on a real HTTP server in this
process, which answers slowly enough that the workers' claims overlap.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connections
from django.utils import timezone

from publikum.audience.models import Contact, Purpose
from publikum.core.models import Organisation
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyRun,
    JourneyStatus,
    Message,
    MessageKind,
    RunStatus,
    StepEvent,
    Trigger,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pg"]),
]

PROCESSES = 3
RUNS = 200
TIMEOUT = 120

WORKER = """
import os, sys, time
import django
django.setup()
from django.conf import settings
from django.db import connection
settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
from publikum.journeys.engine import advance_due
connection.ensure_connection()
open(os.environ["ENGINE_READY"], "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(os.environ["ENGINE_GO"]):
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.001)
total = 0
while True:
    done = advance_due(limit=20)
    total += done
    if not done:
        break
print(total)
"""


def pg_url() -> str:
    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def pg_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PUBLIKUM_TASK_QUEUE"}}
    return env | {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "PUBLIKUM_DATA_DIR": str(tmp_path),
        "DATABASE_URL": pg_url(),
        **extra,
    }


@pytest.fixture
def receiver() -> Iterator[tuple[str, Counter[str]]]:
    """A slow webhook receiver: counts the calls per delivery key."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.005)
            with lock:
                calls[self.headers["X-Publikum-Delivery"]] += 1
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def due_runs(url: str) -> tuple[Journey, list[int]]:
    organisation = Organisation.objects.using("pg").create(slug="parallel", name="Parallel")
    template = EmailTemplate.objects.using("pg").create(
        organisation=organisation,
        name="Hallo",
        kind=MessageKind.MARKETING,
        purpose=Purpose.NEWSLETTER,
        subject_de="Hallo",
        blocks=[{"type": "text", "markdown_de": "Hallo.", "markdown_en": "Hello."}],
    )
    journey = Journey.objects.using("pg").create(
        organisation=organisation,
        name="Parallel",
        trigger=Trigger.API,
        status=JourneyStatus.ACTIVE,
        definition={
            "start": "mail",
            "steps": [
                {"id": "mail", "type": "email", "template": template.pk, "next": "hook"},
                {"id": "hook", "type": "webhook", "url": url, "next": "end"},
                {"id": "end", "type": "end"},
            ],
        },
    )
    contacts = Contact.objects.using("pg").bulk_create(
        Contact(organisation=organisation, email=f"p{n}@example.org") for n in range(RUNS)
    )
    now = timezone.now()
    runs = JourneyRun.objects.using("pg").bulk_create(
        JourneyRun(
            organisation=organisation,
            journey=journey,
            contact=contact,
            entered_at=now,
            step_id="mail",
            due_at=now - timedelta(minutes=1),
        )
        for contact in contacts
    )
    return journey, [run.pk for run in runs]


def finish(processes: list[subprocess.Popen[str]]) -> list[str]:
    outputs = []
    deadline = time.monotonic() + TIMEOUT
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1, deadline - time.monotonic()))
            assert process.returncode == 0, err
            outputs.append(out)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    return outputs


def test_workers_advancing_the_same_runs_at_once_process_each_step_once(tmp_path, receiver):
    url, calls = receiver
    journey, run_ids = due_runs(url)
    go = tmp_path / "go"
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER],
            env=pg_env(tmp_path, ENGINE_READY=str(tmp_path / f"ready-{n}"), ENGINE_GO=str(go)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(PROCESSES)
    ]
    deadline = time.monotonic() + TIMEOUT
    while not all((tmp_path / f"ready-{n}").exists() for n in range(PROCESSES)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            go.touch()
            finish(processes)
            pytest.fail("the workers did not all get ready")
        time.sleep(0.02)
    go.touch()  # all at the same instant

    processed = [int(out.strip()) for out in finish(processes)]

    assert sum(processed) == RUNS
    assert sum(1 for n in processed if n) >= 2, processed  # the claims really overlapped
    runs = JourneyRun.objects.using("pg").filter(journey=journey)
    assert set(runs.values_list("status", "steps_taken")) == {(RunStatus.DONE, 3)}
    events = StepEvent.objects.using("pg").filter(journey=journey)
    assert Counter(events.values_list("event", flat=True)) == {
        "queued": RUNS,
        "webhook": RUNS,
        "ended": RUNS,
    }
    for event in ("queued", "webhook", "ended"):
        assert sorted(events.filter(event=event).values_list("run_id", flat=True)) == run_ids
    keys = Message.objects.using("pg").filter(journey=journey).values_list("key", flat=True)
    assert sorted(keys) == sorted(f"run:{pk}:mail:0" for pk in run_ids)
    assert calls == Counter({f"run:{pk}:hook:1": 1 for pk in run_ids})
