"""A date is never oversold: many web processes, many simultaneous bookings, PostgreSQL.

Real gunicorn processes (sync workers, each its own Python process and database
connection) serve the API against the test database pytest-django created for the alias
"pg"; threads fire simultaneous booking requests over HTTP. The control test starts the
same processes with the row lock switched off and the race window widened, and shows that
this test does detect overselling.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from django.db import connections, transaction
from django.db.models import Sum
from django.utils import timezone

from publikum.bookings.models import Booking, BookingRequestKey, BookingStatus
from publikum.bookings.services import new_code
from publikum.core.models import ApiToken, Organisation, Role
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pg"]),
]

WORKERS = 4
TIMEOUT = 60
# Short, so that the test of the bounded retry is quick; far above the time a booking
# holds the lock, so that the bursts never see it.
LOCK_TIMEOUT_MS = 1000
ROOT = Path(__file__).resolve().parents[4]


# --- the web processes ------------------------------------------------------------------------


def pg_url() -> str:
    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    access_log: Path
    error_log: Path

    def pids_that_answered(self, path: str) -> set[str]:
        """Process ids of the workers that answered requests for `path`."""
        lines = self.access_log.read_text().splitlines()
        return {line.split()[0] for line in lines if line.split()[2:3] == [path]}

    def log(self) -> str:
        return self.error_log.read_text()[-4000:]


def start_server(directory: Path, **extra: str) -> Server:
    """gunicorn with WORKERS sync worker processes on a free port, against the pg database."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "static").mkdir(exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "DATABASE_URL"}}
    env |= {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "DATABASE_URL": pg_url(),
        "PUBLIKUM_TASK_QUEUE": "database",
        "PUBLIKUM_DATA_DIR": str(directory),
        "PUBLIKUM_BOOKINGS_LOCK_TIMEOUT_MS": str(LOCK_TIMEOUT_MS),
        "DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    access_log, error_log = directory / "access.log", directory / "error.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "publikum.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={WORKERS}",
            "--worker-class=sync",
            "--preload",
            "--timeout=120",
            f"--access-logfile={access_log}",
            "--access-logformat=%(p)s %(s)s %(U)s",
            f"--error-logfile={error_log}",
            "--log-level=info",
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process, access_log, error_log)
    deadline = time.monotonic() + TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{server.log()}")
        if time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"gunicorn did not answer /healthz in time:\n{server.log()}")
        booted = error_log.exists() and error_log.read_text().count("Booting worker") >= WORKERS
        if booted and _healthy(server.url):
            break
        time.sleep(0.1)
    # Every worker imports the URLs on its first request; do that before the bursts.
    with ThreadPoolExecutor(WORKERS * 2) as pool:
        list(pool.map(lambda _: _healthy(server.url), range(WORKERS * 4)))
    return server


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)  # gunicorn stops its workers, then itself
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@pytest.fixture(scope="module")
def server(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = start_server(tmp_path_factory.mktemp("web"))
    try:
        yield started
    finally:
        stop_server(started)


# --- data in the pg database and simultaneous requests ----------------------------------------

_counter = iter(range(1, 10**9))


@dataclass
class House:
    organisation: Organisation
    token: str
    occurrence: Occurrence


def house_with_a_date(capacity: int) -> House:
    """An organisation, a front-desk token and a concert date with `capacity` seats, in pg."""
    n = next(_counter)
    org = Organisation.objects.using("pg").create(slug=f"konzerthaus-{n}", name=f"Konzerthaus {n}")
    plain, prefix, key_hash = ApiToken.generate()
    ApiToken.objects.using("pg").create(
        organisation=org, name="Kasse", role=Role.FRONT_DESK, prefix=prefix, key_hash=key_hash
    )
    item = ProgrammeItem.objects.using("pg").create(
        organisation=org, slug="sinfoniekonzert", kind=ItemKind.CONCERT, title_de="Sinfoniekonzert"
    )
    PriceCategory.objects.using("pg").create(
        organisation=org, item=item, name_de="Regulär", price_eur=25
    )
    starts = timezone.now() + timedelta(days=7)
    occurrence = Occurrence.objects.using("pg").create(
        organisation=org,
        item=item,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=capacity,
    )
    return House(org, plain, occurrence)


def body(house: House, n: int, quantity: int = 1) -> dict[str, Any]:
    return {
        "occurrence_id": house.occurrence.pk,
        "quantity": quantity,
        "contact": {"email": f"gast{n}@example.org", "name": f"Gast {n}", "language": "de"},
    }


@dataclass(frozen=True)
class Answer:
    status: int
    json: dict[str, Any]
    quantity: int = 0


def simultaneously(
    server: Server, token: str, requests_to_send: list[tuple[str, dict[str, Any] | None]]
) -> list[Answer]:
    """POST every (path, body) at the same instant, each from its own thread and connection."""
    barrier = threading.Barrier(len(requests_to_send))

    def send(item: tuple[str, dict[str, Any] | None]) -> Answer:
        path, payload = item
        with requests.Session() as session:
            barrier.wait(timeout=TIMEOUT)
            try:
                response = session.post(
                    f"{server.url}/api/v1{path}",
                    json=payload,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=TIMEOUT,
                )
            except requests.RequestException as exc:
                return Answer(0, {"error": {"code": "no_answer", "message": str(exc)}})
        try:
            data = response.json()
        except ValueError:
            data = {"error": {"code": "not_json", "message": response.text[:200]}}
        return Answer(response.status_code, data, (payload or {}).get("quantity", 0))

    with ThreadPoolExecutor(len(requests_to_send)) as pool:
        return list(pool.map(send, requests_to_send))


def confirmed_seats(occurrence: Occurrence) -> int:
    return (
        Booking.objects.using("pg")
        .filter(occurrence_id=occurrence.pk, status=BookingStatus.CONFIRMED)
        .aggregate(n=Sum("quantity"))["n"]
        or 0
    )


def status_of(occurrence: Occurrence) -> str:
    return Occurrence.objects.using("pg").get(pk=occurrence.pk).status


def error_codes(answers: list[Answer]) -> Counter[str]:
    return Counter(a.json.get("error", {}).get("code", "") for a in answers if a.status != 201)


# --- the proof ------------------------------------------------------------------------------


CAPACITY, REQUESTS = 25, 80


def test_eighty_simultaneous_bookings_of_twenty_five_seats_sell_exactly_twenty_five(server):
    house = house_with_a_date(CAPACITY)

    answers = simultaneously(
        server, house.token, [("/bookings", body(house, n)) for n in range(REQUESTS)]
    )

    statuses = Counter(a.status for a in answers)
    assert statuses == {201: CAPACITY, 409: REQUESTS - CAPACITY}, (statuses, server.log())
    assert error_codes(answers) == {"sold_out": REQUESTS - CAPACITY}
    assert {a.json["error"]["message"] for a in answers if a.status == 409} == {
        "This date is sold out. You can join the waiting list."
    }
    assert confirmed_seats(house.occurrence) == CAPACITY
    assert len({a.json["code"] for a in answers if a.status == 201}) == CAPACITY
    assert status_of(house.occurrence) == OccurrenceStatus.SOLD_OUT
    # The requests really were spread over the processes.
    assert len(server.pids_that_answered("/api/v1/bookings")) == WORKERS


def test_simultaneous_requests_for_one_and_two_seats_never_exceed_the_capacity(server):
    house = house_with_a_date(CAPACITY)

    answers = simultaneously(
        server,
        house.token,
        [("/bookings", body(house, n, quantity=1 + n % 2)) for n in range(40)],
    )

    assert all(a.status in {201, 409} for a in answers), Counter(a.status for a in answers)
    assert set(error_codes(answers)) <= {"sold_out"}
    sold = sum(a.quantity for a in answers if a.status == 201)
    assert confirmed_seats(house.occurrence) == sold
    assert CAPACITY - 1 <= sold <= CAPACITY
    refused = {(a.quantity, a.json["error"]["message"]) for a in answers if a.status == 409}
    assert refused <= {
        (2, "Only 1 seat left; 2 were requested."),
        (2, "This date is sold out. You can join the waiting list."),
        (1, "This date is sold out. You can join the waiting list."),
    }
    if any(quantity == 1 for quantity, _ in refused):
        assert sold == CAPACITY


def test_seats_freed_by_simultaneous_cancellations_are_rebooked_never_oversold(server):
    house = house_with_a_date(CAPACITY)
    codes = [
        Booking.objects.using("pg")
        .create(
            organisation=house.organisation,
            occurrence=house.occurrence,
            code=new_code(),
            name=f"Stammgast {n}",
            email=f"stammgast{n}@example.org",
            quantity=1,
            source="web",
        )
        .code
        for n in range(CAPACITY)
    ]
    Occurrence.objects.using("pg").filter(pk=house.occurrence.pk).update(
        status=OccurrenceStatus.SOLD_OUT
    )
    cancels = [(f"/bookings/{code}/cancel", None) for code in codes[:10]]
    bookings = [("/bookings", body(house, n)) for n in range(20)]

    answers = simultaneously(server, house.token, cancels + bookings)

    cancelled, booked = answers[: len(cancels)], answers[len(cancels) :]
    assert [a.status for a in cancelled] == [200] * len(cancels)
    assert all(a.status in {201, 409} for a in booked)
    rebooked = sum(1 for a in booked if a.status == 201)
    assert rebooked <= len(cancels)
    assert confirmed_seats(house.occurrence) == CAPACITY - len(cancels) + rebooked

    # What the first wave left free goes to the next people, and not a seat more.
    later = simultaneously(
        server, house.token, [("/bookings", body(house, 100 + n)) for n in range(20)]
    )

    assert sum(1 for a in later if a.status == 201) == len(cancels) - rebooked
    assert set(error_codes(later)) <= {"sold_out"}
    assert confirmed_seats(house.occurrence) == CAPACITY
    assert status_of(house.occurrence) == OccurrenceStatus.SOLD_OUT


def test_retries_with_one_idempotency_key_make_one_booking(server):
    house = house_with_a_date(CAPACITY)
    payload = body(house, 1, quantity=2)

    def send(_: int) -> requests.Response:
        return requests.post(
            f"{server.url}/api/v1/bookings",
            json=payload,
            headers={"Authorization": f"Bearer {house.token}", "Idempotency-Key": "kasse-7-0815"},
            timeout=TIMEOUT,
        )

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(send, range(10)))

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["code"] for a in answers}) == 1
    assert confirmed_seats(house.occurrence) == 2
    assert BookingRequestKey.objects.using("pg").count() == 1


def test_a_booking_that_cannot_get_the_lock_answers_busy_and_writes_nothing(server):
    house = house_with_a_date(CAPACITY)
    url = f"{server.url}/api/v1/bookings"
    headers = {"Authorization": f"Bearer {house.token}"}

    with transaction.atomic(using="pg"):
        # Someone else holds the date's lock (a long transaction, a stuck process).
        Occurrence.objects.using("pg").select_for_update().get(pk=house.occurrence.pk)
        busy = requests.post(url, json=body(house, 1), headers=headers, timeout=TIMEOUT)

    assert busy.status_code == 503
    assert busy.json()["error"]["code"] == "busy"
    assert "try again" in busy.json()["error"]["message"]
    assert confirmed_seats(house.occurrence) == 0
    again = requests.post(url, json=body(house, 1), headers=headers, timeout=TIMEOUT)
    assert again.status_code == 201
    assert confirmed_seats(house.occurrence) == 1


# --- the control --------------------------------------------------------------------------------


def test_control_without_the_row_lock_the_same_burst_oversells(tmp_path):
    """The test above can fail: without the lock (and with a wider race window, as a busy
    server has) the same burst sells more seats than the date has."""
    unsafe = start_server(
        tmp_path / "unsafe",
        PUBLIKUM_UNSAFE_BOOKINGS_LOCK_DATES="false",
        PUBLIKUM_UNSAFE_BOOKINGS_RACE_PAUSE="0.2",
    )
    try:
        house = house_with_a_date(CAPACITY)
        answers = simultaneously(
            unsafe, house.token, [("/bookings", body(house, n)) for n in range(REQUESTS)]
        )
    finally:
        stop_server(unsafe)

    oversold = confirmed_seats(house.occurrence)
    assert oversold > CAPACITY, "the burst did not oversell without the lock"
    assert sum(1 for a in answers if a.status == 201) == oversold
