"""Exactly once across kill -9: real worker processes, a real SMTP server, SIGKILL mid-batch.

The worker (delivery_worker.py) sends a few hundred queued mails to an aiosmtpd server in
this process that counts what it accepts per recipient. The test kills the worker with
SIGKILL at random moments during the batch and starts it again until everything is sent.

What must hold (docs/delivery.md): every recipient got the mail; a recipient who got it
twice is one whose message is flagged `interrupted` (it was in flight when a worker died),
with the same Message-ID both times; no more flagged messages than kills; every key sent
once in the database. On PostgreSQL two workers run at once, and without kills no mail
arrives twice (skip-locked claims).

SQLite: the test database lives in memory, which another process cannot open; it is copied
into a file for the workers and copied back for the checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from django.db import connections
from django.utils import timezone

from conftest import free_port
from publikum.audience.models import Channel, Consent, Contact, Interaction, InteractionKind
from publikum.core.models import Organisation
from publikum.journeys.models import (
    DeliverySettings,
    EmailTemplate,
    Message,
    MessageKind,
    MessageStatus,
)

MESSAGES = 300
KILLS = 4
LEASE_SECONDS = 2.0
BATCH = 20
TIMEOUT = 60.0


class CountingSink:
    """Counts accepted mails per recipient, and the Message-IDs each one carried."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: Counter[str] = Counter()
        self.message_ids: dict[str, set[str]] = defaultdict(set)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # Headers only: the sink must not be what limits the send rate.
        headers = BytesHeaderParser().parsebytes(envelope.original_content)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[rcpt] += 1
                self.message_ids[rcpt].add(str(headers["Message-ID"]))
        return "250 Message accepted"

    @property
    def total(self) -> int:
        with self.lock:
            return sum(self.received.values())


@pytest.fixture
def sink() -> Iterator[tuple[CountingSink, int]]:
    handler = CountingSink()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def seed(alias: str) -> list[str]:
    """A house, MESSAGES contacts with newsletter consent, one queued newsletter mail each.
    No cap and no quiet hours: this test is about delivery, not guardrails."""
    now = timezone.now()
    stamp = f"{time.time_ns()}"
    organisation = Organisation.objects.using(alias).create(
        slug=f"kunsthalle-{stamp[-8:]}", name="Kunsthalle"
    )
    DeliverySettings.objects.using(alias).create(
        organisation=organisation, cap_mails=0, quiet_start="00:00", quiet_end="00:00"
    )
    template = EmailTemplate.objects.using(alias).create(
        organisation=organisation,
        name="Newsletter",
        kind=MessageKind.MARKETING,
        purpose="newsletter",
        subject_de="Neues für {{ contact.first_name }}",
        blocks=[
            {"type": "text", "markdown_de": "Hallo {{ contact.first_name }}!"},
            {
                "type": "button",
                "label_de": "Programm",
                "url": "https://kunsthalle.example/programm",
            },
        ],
    )
    contacts = Contact.objects.using(alias).bulk_create(
        Contact(
            organisation=organisation,
            first_name=f"Person {n}",
            email=f"person{n:04}@example.org",
        )
        for n in range(MESSAGES)
    )
    Consent.objects.using(alias).bulk_create(
        Consent(
            organisation=organisation,
            contact=contact,
            channel=Channel.EMAIL,
            purpose="newsletter",
            granted=True,
            source="test",
            granted_at=now,
        )
        for contact in contacts
    )
    Message.objects.using(alias).bulk_create(
        Message(
            organisation=organisation,
            contact=contact,
            key=f"newsletter:1:{contact.pk}",
            kind=MessageKind.MARKETING,
            purpose="newsletter",
            template=template,
            created_at=now,
            due_at=now,
        )
        for contact in contacts
    )
    return [c.email for c in contacts]


@dataclass
class Workers:
    env: dict[str, str]
    cwd: Path
    running: list[subprocess.Popen[str]] = field(default_factory=list)
    outputs: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    kills: int = 0

    def start(self, count: int, go: Path | None = None) -> list[Path]:
        ready = []
        for _ in range(count):
            args = [
                sys.executable,
                "-m",
                "publikum.journeys.tests.delivery_worker",
                f"--lease={LEASE_SECONDS}",
                f"--batch={BATCH}",
                f"--timeout={TIMEOUT}",
            ]
            if go is not None:
                ready.append(self.cwd / f"ready-{len(self.running)}-{time.time_ns()}")
                args += [f"--ready={ready[-1]}", f"--go={go}"]
            self.running.append(
                subprocess.Popen(
                    args,
                    env=self.env,
                    cwd=self.cwd,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        return ready

    def kill_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                self.kills += 1
            _out, err = process.communicate()
            if err.strip():
                self.errors.append(err)
        self.running = []

    def finish(self) -> None:
        deadline = time.monotonic() + TIMEOUT
        try:
            for process in self.running:
                out, err = process.communicate(timeout=max(1, deadline - time.monotonic()))
                assert process.returncode == 0, err
                self.outputs.append(json.loads(out.strip().splitlines()[-1]))
        finally:
            for process in self.running:
                if process.poll() is None:
                    process.kill()
                    process.communicate()
            self.running = []

    def rate(self) -> str:
        sent = sum(o["sent"] for o in self.outputs)
        seconds = max((o["seconds"] for o in self.outputs), default=0.0)
        return f"{sent} mails in {seconds:.2f} s of sending: {sent / max(seconds, 1e-9):.0f}/s"


def wait_until(condition: Any, what: str, workers: Workers) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            for process in workers.running:
                process.send_signal(signal.SIGUSR1)  # stack traces to stderr
            time.sleep(0.5)
            workers.kill_all()
            pytest.fail(f"timed out waiting for {what}: {workers.errors}")
        if workers.running and all(p.poll() is not None for p in workers.running):
            return  # they finished before the moment came
        time.sleep(0.001)


def run_with_kills(workers: Workers, sink: CountingSink, parallel: int, rng: random.Random) -> None:
    """Start `parallel` workers, kill them all once the sink has counted a random number of
    mails (plus a random few milliseconds, to land inside an SMTP exchange too), again and
    again; then let a last set finish everything."""
    moments = sorted(rng.sample(range(10, MESSAGES - 40), KILLS))
    for moment in moments:
        workers.start(parallel)
        wait_until(lambda m=moment: sink.total >= m, f"{moment} mails", workers)
        time.sleep(rng.uniform(0, 0.004))
        workers.kill_all()
    workers.start(parallel)
    workers.finish()


def check(alias: str, sink: CountingSink, addresses: list[str], kills: int) -> None:
    messages = list(Message.objects.using(alias).all())
    assert len(messages) == MESSAGES
    assert {m.status for m in messages} == {MessageStatus.SENT}
    # Every recipient got the mail.
    assert set(sink.received) == set(addresses)
    by_address = {m.to_email: m for m in messages}
    twice = {a for a, n in sink.received.items() if n > 1}
    # A mail that arrived twice is one the system knows about, with the same Message-ID.
    assert all(by_address[a].interrupted for a in twice), twice
    assert all(len(sink.message_ids[a]) == 1 for a in addresses)
    assert {by_address[a].message_id for a in addresses} == {
        next(iter(sink.message_ids[a])) for a in addresses
    }
    interrupted = [m for m in messages if m.interrupted]
    print(f"{len(twice)} mails arrived twice, {len(interrupted)} flagged interrupted")
    assert len(interrupted) <= kills
    for a in twice:
        # Each reap of the message counted an attempt, and so did the send that stuck.
        assert sink.received[a] <= by_address[a].attempts
    # Each message recorded as sent exactly once: one timeline entry each.
    entries = Counter(
        Interaction.objects.using(alias)
        .filter(kind=InteractionKind.EMAIL_SENT)
        .values_list("data__message", flat=True)
    )
    assert set(entries) == {m.pk for m in messages}
    assert set(entries.values()) == {1}


def worker_env(tmp_path: Path, port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PUBLIKUM_TASK_QUEUE"}}
    return env | {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "PUBLIKUM_DATA_DIR": str(tmp_path),
        "DATABASE_URL": database_url,
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "PUBLIKUM_PUBLIC_URL": "https://publikum.example",
        "LOG_LEVEL": "WARNING",  # what went wrong, should a worker get stuck
    }


def database_url(alias: str) -> str:
    db = connections[alias].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextlib.contextmanager
def shared_main_database(tmp_path: Path) -> Iterator[str]:
    """The URL under which worker processes reach the test's main database. SQLite's lives
    in memory: it is copied into a file for them, and back for the checks."""
    main = connections["default"]
    if main.vendor != "sqlite":
        yield database_url("default")
        return
    main.ensure_connection()
    path = tmp_path / "workers.sqlite3"
    target = sqlite3.connect(path)
    main.connection.backup(target)
    target.close()
    yield f"sqlite:///{path}"
    source = sqlite3.connect(path)
    source.backup(main.connection)
    source.close()


# --- the main database (SQLite, or PostgreSQL in CI's second run): one worker ---------------


@pytest.mark.django_db(transaction=True)
def test_a_killed_worker_sends_every_mail_and_knows_its_duplicates(tmp_path, sink):
    handler, port = sink
    addresses = seed("default")
    seed_value = random.randrange(10**6)

    with shared_main_database(tmp_path) as url:
        workers = Workers(worker_env(tmp_path, port, url), tmp_path)
        run_with_kills(workers, handler, 1, random.Random(seed_value))

    vendor = connections["default"].vendor
    print(f"\n{vendor}, seed {seed_value}, {workers.kills} kills: last worker {workers.rate()}")
    check("default", handler, addresses, workers.kills)


# --- PostgreSQL: two workers at once -----------------------------------------------------------


def pg_url() -> str:
    return database_url("pg")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pg"])
def test_two_workers_on_postgresql_never_send_a_mail_twice(tmp_path, sink):
    handler, port = sink
    addresses = seed("pg")
    workers = Workers(worker_env(tmp_path, port, pg_url()), tmp_path)
    go = tmp_path / "go"
    ready = workers.start(2, go=go)
    wait_until(lambda: all(r.exists() for r in ready), "the workers to be ready", workers)
    go.touch()  # both at the same instant

    workers.finish()

    print(f"\nPostgreSQL, two workers: {workers.rate()}")
    assert all(n == 1 for n in handler.received.values())
    check("pg", handler, addresses, kills=0)
    # Only a test of concurrency if both workers sent a share.
    assert all(o["sent"] > 0 for o in workers.outputs), workers.outputs


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pg"])
def test_two_killed_workers_on_postgresql_send_every_mail(tmp_path, sink):
    handler, port = sink
    addresses = seed("pg")
    seed_value = random.randrange(10**6)
    workers = Workers(worker_env(tmp_path, port, pg_url()), tmp_path)

    run_with_kills(workers, handler, 2, random.Random(seed_value))

    print(f"\nPostgreSQL, seed {seed_value}, {workers.kills} kills: {workers.rate()}")
    check("pg", handler, addresses, workers.kills)
