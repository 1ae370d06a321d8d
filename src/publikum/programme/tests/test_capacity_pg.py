"""Lowering a date's capacity while people book it, on PostgreSQL, in separate processes.

Booking processes book one seat after another, with the race window between counting and
writing widened; a staff process keeps lowering the capacity to exactly the seats it saw
sold a moment ago, then checks, and raises it again. The capacity change counts the seats
under the date's row lock, so it is refused instead of ending below the seats sold.
(Without `select_for_update` in `occurrence_update` this test finds violations.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connections
from django.db.models import Sum
from django.utils import timezone

from publikum.bookings.models import Booking, BookingStatus
from publikum.core.models import Organisation
from publikum.programme.models import ItemKind, Occurrence, ProgrammeItem

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pg"]),
]

BOOKERS = 3
BOOKINGS_EACH = 12
TIMEOUT = 120
ROOT = Path(__file__).resolve().parents[4]


def pg_url() -> str:
    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


BOOKER = """
import os, sys, time
import django
django.setup()
from publikum.bookings.services import booking_create
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
org = Organisation.objects.get(pk=int(os.environ["ORG_ID"]))
n = int(os.environ["WORKER"])
open(os.environ["READY"], "w").close()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.001)
booked = 0
for i in range(int(os.environ["EACH"])):
    try:
        booking_create(organisation=org, occurrence_id=int(os.environ["DATE_ID"]),
                       name=f"Gast {n} {i}", email=f"gast{n}.{i}@example.org", quantity=1)
        booked += 1
    except DomainError:
        pass
print(booked)
"""

SHRINKER = """
import os, time
import django
django.setup()
from publikum.bookings.selectors import seats_of
from publikum.core.errors import DomainError
from publikum.programme.models import Occurrence
from publikum.programme.services import occurrence_update
date_id = int(os.environ["DATE_ID"])
open(os.environ["READY"], "w").close()
while not os.path.exists(os.environ["GO"]):
    time.sleep(0.001)
lowered = refused = violations = 0
deadline = time.monotonic() + 20
while time.monotonic() < deadline and not os.path.exists(os.environ["DONE"]):
    occurrence = Occurrence.objects.get(pk=date_id)
    sold = seats_of(occurrence).sold  # read without the lock: may be stale by now
    try:
        occurrence_update(occurrence=occurrence, capacity=sold)
        lowered += 1
    except DomainError:
        refused += 1
        continue
    # A full date takes no more bookings: a capacity below the seats sold would stay so.
    occurrence = Occurrence.objects.get(pk=date_id)
    now_sold = seats_of(occurrence).sold
    if now_sold > occurrence.capacity:
        violations += 1
    try:
        occurrence_update(occurrence=occurrence, capacity=now_sold + 2)
    except DomainError:
        pass
print(lowered, refused, violations)
"""


def spawn(script: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_capacity_never_drops_below_the_seats_sold_under_concurrent_bookings(tmp_path):
    org = Organisation.objects.using("pg").create(slug="kapazitaet", name="Kapazität")
    item = ProgrammeItem.objects.using("pg").create(
        organisation=org, slug="workshop", kind=ItemKind.WORKSHOP, title_de="Workshop"
    )
    starts = timezone.now() + timedelta(days=5)
    occurrence = Occurrence.objects.using("pg").create(
        organisation=org, item=item, starts_at=starts, ends_at=starts, capacity=1000
    )
    base = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    base |= {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "DATABASE_URL": pg_url(),
        "PUBLIKUM_DATA_DIR": str(tmp_path),
        "PUBLIKUM_TASK_QUEUE": "database",
        "ORG_ID": str(org.pk),
        "DATE_ID": str(occurrence.pk),
        "GO": str(tmp_path / "go"),
        "DONE": str(tmp_path / "done"),
        "EACH": str(BOOKINGS_EACH),
    }
    processes = [
        spawn(
            BOOKER,
            base
            | {
                "WORKER": str(n),
                "READY": str(tmp_path / f"ready-{n}"),
                # Wider window between counting the seats and writing the booking.
                "PUBLIKUM_UNSAFE_BOOKINGS_RACE_PAUSE": "0.02",
            },
        )
        for n in range(BOOKERS)
    ]
    shrinker = spawn(SHRINKER, base | {"READY": str(tmp_path / "ready-staff")})
    everyone = [*processes, shrinker]
    try:
        deadline = time.monotonic() + TIMEOUT
        while len(list(tmp_path.glob("ready-*"))) < len(everyone):
            assert all(p.poll() is None for p in everyone), [p.communicate() for p in everyone]
            assert time.monotonic() < deadline, "the processes did not start"
            time.sleep(0.05)
        (tmp_path / "go").touch()
        outputs = []
        for process in processes:
            out, err = process.communicate(timeout=TIMEOUT)
            assert process.returncode == 0, err
            outputs.append(int(out.strip()))
        (tmp_path / "done").touch()
        out, err = shrinker.communicate(timeout=TIMEOUT)
        assert shrinker.returncode == 0, err
    finally:
        for process in everyone:
            if process.poll() is None:
                process.kill()
                process.communicate()
    lowered, refused, violations = (int(x) for x in out.split())

    occurrence.refresh_from_db(using="pg")
    sold = (
        Booking.objects.using("pg")
        .filter(occurrence_id=occurrence.pk, status=BookingStatus.CONFIRMED)
        .aggregate(n=Sum("quantity"))["n"]
        or 0
    )
    assert sold == sum(outputs)
    assert lowered > 0  # the staff process really changed the capacity meanwhile
    assert violations == 0, f"capacity fell below the seats sold {violations} times"
    assert occurrence.capacity >= sold, (occurrence.capacity, sold, lowered, refused)
