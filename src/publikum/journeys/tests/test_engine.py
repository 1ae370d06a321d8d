"""The journey engine: each step type, waits in the house's time zone, re-entry, validation,
webhooks to a real local HTTP server, exactly one message per step, the dry run.

Real parts throughout: the database, real HTTP (http.server in a thread), a real SMTP
server for the staff notification. Time is a fixed `now` handed to the engine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import translation

from publikum.audience.models import Channel, Contact, Purpose, Segment
from publikum.audience.services import consent_set
from publikum.bookings.tests.factories import immediate_tasks
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import AuditEntry, Organisation, Role
from publikum.journeys import engine, triggers
from publikum.journeys.engine import (
    advance_due,
    journey_activate,
    journey_archive,
    journey_pause,
    journey_resume,
    journey_validate,
    simulate,
    wait_until,
    webhook_post,
    webhook_url_problem,
)
from publikum.journeys.models import (
    EmailTemplate,
    Journey,
    JourneyRun,
    JourneyStatus,
    Message,
    MessageKind,
    Reentry,
    RunStatus,
    StaffTask,
    StepEvent,
    Trigger,
)
from publikum.programme.models import Theme

pytestmark = pytest.mark.django_db

__all__ = ["immediate_tasks"]

BERLIN = ZoneInfo("Europe/Berlin")
# A Monday morning in Berlin, far from any change of summer time.
NOW = datetime(2026, 5, 4, 9, 0, tzinfo=BERLIN)

_n = iter(range(1, 10**9))


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Messages are compared in English; the product's default language is German.
    with translation.override("en"):
        yield


# --- data -----------------------------------------------------------------------------------------


def person(
    organisation: Organisation, *, consents: tuple[str, ...] = (Purpose.NEWSLETTER,), **fields: Any
) -> Contact:
    n = next(_n)
    values: dict[str, Any] = {"first_name": f"Ada{n}", "email": f"ada{n}@example.org", **fields}
    contact = Contact.objects.create(organisation=organisation, **values)
    for purpose in consents:
        consent_set(
            contact=contact, channel=Channel.EMAIL, purpose=purpose, granted=True, source="test"
        )
    return contact


def mail(organisation: Organisation, name: str = "", **fields: Any) -> EmailTemplate:
    values: dict[str, Any] = {
        "name": name or f"Vorlage {next(_n)}",
        "kind": MessageKind.MARKETING,
        "purpose": Purpose.NEWSLETTER,
        "subject_de": "Hallo {{ contact.first_name }}",
        "subject_en": "Hello {{ contact.first_name }}",
        "blocks": [{"type": "text", "markdown_de": "Schön.", "markdown_en": "Nice."}],
        **fields,
    }
    return EmailTemplate.objects.create(organisation=organisation, **values)


def make_journey(
    organisation: Organisation,
    steps: list[dict[str, Any]],
    *,
    start: str = "",
    trigger: str = Trigger.API,
    config: dict[str, Any] | None = None,
    reentry: str = Reentry.ALWAYS,
    reentry_days: int = 0,
    activate: bool = True,
) -> Journey:
    """A journey of these steps, switched on through the service (so: validated)."""
    journey = Journey.objects.create(
        organisation=organisation,
        name=f"Reise {next(_n)}",
        trigger=trigger,
        trigger_config=config or {},
        definition={"start": start or steps[0]["id"], "steps": steps},
        reentry=reentry,
        reentry_days=reentry_days,
    )
    if activate:
        journey_activate(journey=journey, now=NOW - timedelta(days=1))
    return journey


def enter(journey: Journey, contact: Contact, at: datetime = NOW, **context: Any) -> JourneyRun:
    run = triggers.enter(journey, contact, context, now=at)
    assert run is not None
    return run


def events(run: JourneyRun) -> list[tuple[str, str]]:
    return list(run.events.order_by("pk").values_list("step_id", "event"))


def reload(run: JourneyRun) -> JourneyRun:
    return JourneyRun.objects.get(pk=run.pk)


# --- the email step and exactly-once --------------------------------------------------------------


def test_an_email_step_queues_the_mail_and_the_run_ends(organisation):
    welcome = mail(organisation, "Willkommen")
    journey = make_journey(
        organisation,
        [
            {"id": "hello", "type": "email", "template": welcome.pk, "next": "bye"},
            {"id": "bye", "type": "end"},
        ],
    )
    anna = person(organisation)
    run = enter(journey, anna, booking=7)

    assert advance_due(now=NOW) == 1

    message = Message.objects.get(run=run)
    assert message.key == f"run:{run.pk}:hello:0"
    assert (message.contact, message.template, message.step_id) == (anna, welcome, "hello")
    assert message.context == {"booking": 7}
    run = reload(run)
    assert (run.status, run.steps_taken, run.due_at) == (RunStatus.DONE, 2, None)
    assert events(run) == [("hello", "entered"), ("hello", "queued"), ("bye", "ended")]


class Crash(Exception):
    pass


def test_a_run_processed_again_after_a_crash_queues_one_message(organisation):
    welcome = mail(organisation)
    journey = make_journey(organisation, [{"id": "hello", "type": "email", "template": welcome.pk}])
    run = enter(journey, person(organisation))

    def crash_after_advancing() -> None:
        # A worker advances the run and dies before its transaction commits.
        with transaction.atomic():
            advance_due(now=NOW)
            assert Message.objects.filter(run=run).count() == 1
            raise Crash

    with pytest.raises(Crash):
        crash_after_advancing()
    assert Message.objects.filter(run=run).count() == 0
    assert reload(run).status == RunStatus.WAITING  # nothing lost: still due

    # The next worker does it again; a third pass finds nothing to do.
    assert advance_due(now=NOW) == 1
    assert advance_due(now=NOW + timedelta(minutes=1)) == 0
    assert Message.objects.filter(run=run).count() == 1
    assert reload(run).status == RunStatus.DONE


def test_the_same_step_carried_out_twice_queues_one_message_and_one_task(organisation):
    welcome = mail(organisation)
    journey = make_journey(
        organisation,
        [
            {"id": "hello", "type": "email", "template": welcome.pk, "next": "call"},
            {"id": "call", "type": "task", "title": "Anrufen", "assignee": None},
        ],
    )
    run = enter(journey, person(organisation))
    steps = engine.steps_of(journey.definition)

    for _ in range(2):
        with transaction.atomic():
            engine.execute_step(run, steps["hello"], NOW)
            engine.execute_step(run, steps["call"], NOW)

    assert Message.objects.filter(run=run).count() == 1
    assert StaffTask.objects.filter(journey=journey).count() == 1


def test_a_loop_through_a_wait_sends_again_with_a_new_key(organisation):
    reminder = mail(organisation)
    journey = make_journey(
        organisation,
        [
            {"id": "mail", "type": "email", "template": reminder.pk, "next": "week"},
            {"id": "week", "type": "wait", "duration": {"days": 7}, "next": "mail"},
        ],
    )
    run = enter(journey, person(organisation))

    advance_due(now=NOW)
    advance_due(now=NOW + timedelta(days=7))

    keys = list(Message.objects.filter(run=run).order_by("pk").values_list("key", flat=True))
    assert keys == [f"run:{run.pk}:mail:0", f"run:{run.pk}:mail:2"]
    assert reload(run).status == RunStatus.WAITING


# --- waits ----------------------------------------------------------------------------------------


def test_a_wait_of_days_keeps_the_wall_clock_across_the_spring_change(organisation):
    thanks = mail(organisation)
    journey = make_journey(
        organisation,
        [
            {"id": "day", "type": "wait", "duration": {"days": 1, "hours": 2}, "next": "mail"},
            {"id": "mail", "type": "email", "template": thanks.pk},
        ],
    )
    # Saturday 28 March 2026, 10:00 in Berlin; the clocks go forward that night.
    saturday = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    run = enter(journey, person(organisation), at=saturday)

    advance_due(now=saturday)

    due = reload(run).due_at
    assert due is not None
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 29, 12, 0)
    assert due - saturday == timedelta(hours=25)  # a 23-hour day, plus two hours
    assert advance_due(now=due - timedelta(minutes=1)) == 0
    assert advance_due(now=due) == 1
    assert Message.objects.filter(run=run).count() == 1


def test_a_wait_until_a_weekday_and_time_uses_the_house_clock_across_the_autumn_change(
    organisation,
):
    journey = make_journey(
        organisation,
        [
            {"id": "monday", "type": "wait", "until": {"weekday": 0, "time": "09:00"}},
        ],
    )
    # Friday 23 October 2026, 18:00 summer time; winter time starts on Sunday the 25th.
    friday = datetime(2026, 10, 23, 18, 0, tzinfo=BERLIN)
    run = enter(journey, person(organisation), at=friday)

    advance_due(now=friday)

    due = reload(run).due_at
    assert due == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert due.astimezone(BERLIN).strftime("%a %H:%M") == "Mon 09:00"
    # The last wait leads nowhere: the run ends when it is over.
    advance_due(now=due)
    assert reload(run).status == RunStatus.DONE


def test_wait_until_picks_the_next_time_and_moves_a_skipped_time_forward():
    zone = BERLIN
    daily = {"until": {"weekday": None, "time": "10:00"}}
    before = datetime(2026, 5, 4, 9, 59, tzinfo=zone)
    after = datetime(2026, 5, 4, 10, 30, tzinfo=zone)
    assert wait_until(daily, before, zone) == datetime(2026, 5, 4, 10, 0, tzinfo=zone)
    assert wait_until(daily, after, zone) == datetime(2026, 5, 5, 10, 0, tzinfo=zone)
    same_weekday = {"until": {"weekday": 0, "time": "09:00"}}  # Monday, already past 09:00
    assert wait_until(same_weekday, after, zone) == datetime(2026, 5, 11, 9, 0, tzinfo=zone)
    # 02:30 on 29 March 2026 does not exist in Berlin: the wait ends at 03:30 summer time.
    night = {"until": {"weekday": None, "time": "02:30"}}
    ends = wait_until(night, datetime(2026, 3, 29, 0, 0, tzinfo=zone), zone)
    assert ends == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert ends.astimezone(zone).strftime("%H:%M") == "03:30"


def test_a_house_in_another_time_zone_waits_by_its_own_clock(organisation):
    organisation.timezone = "America/New_York"
    organisation.save()
    journey = make_journey(
        organisation, [{"id": "nine", "type": "wait", "until": {"weekday": None, "time": "09:00"}}]
    )
    run = enter(journey, person(organisation))

    advance_due(now=NOW)  # 03:00 in New York

    assert reload(run).due_at == datetime(2026, 5, 4, 13, 0, tzinfo=UTC)


# --- branches, tags, interests, tasks, splits -----------------------------------------------------


def test_a_branch_on_segment_rules_sends_each_contact_their_way(organisation):
    journey = make_journey(
        organisation,
        [
            {
                "id": "vip",
                "type": "branch",
                "condition": {
                    "rules": {
                        "all": [{"tag": "vip"}, {"field": "language", "op": "eq", "value": "en"}]
                    }
                },
                "yes": "gold",
                "no": "plain",
            },
            {"id": "gold", "type": "tag", "add": "gold"},
            {"id": "plain", "type": "tag", "add": "standard"},
        ],
    )
    vip = person(organisation, tags=["VIP"], language="en")
    other = person(organisation, tags=["VIP"], language="de")
    runs = [enter(journey, vip), enter(journey, other)]

    advance_due(now=NOW)

    vip.refresh_from_db()
    other.refresh_from_db()
    assert vip.tags == ["VIP", "gold"]
    assert other.tags == ["VIP", "standard"]
    assert events(runs[0])[1] == ("vip", "branched_yes")
    assert events(runs[1])[1] == ("vip", "branched_no")


def test_a_branch_on_the_previous_mail_follows_the_click(organisation):
    news = mail(organisation)
    journey = make_journey(
        organisation,
        [
            {"id": "news", "type": "email", "template": news.pk, "next": "wait"},
            {"id": "wait", "type": "wait", "duration": {"days": 3}, "next": "clicked"},
            {
                "id": "clicked",
                "type": "branch",
                "condition": {"previous_mail": "clicked"},
                "yes": "fan",
                "no": "call",
            },
            {"id": "fan", "type": "tag", "add": "fan"},
            {"id": "call", "type": "task", "title": "Nachfragen", "due_days": 7},
        ],
    )
    clicker, silent = person(organisation), person(organisation)
    clicking, quiet = enter(journey, clicker), enter(journey, silent)
    advance_due(now=NOW)
    Message.objects.filter(run=clicking).update(clicked_at=NOW + timedelta(hours=5))

    advance_due(now=NOW + timedelta(days=3))

    clicker.refresh_from_db()
    assert clicker.tags == ["fan"]
    task = StaffTask.objects.get(journey=journey)
    assert (task.contact, task.title, task.assignee) == (silent, "Nachfragen", None)
    assert task.due_on == (NOW + timedelta(days=10)).date()
    assert reload(clicking).status == reload(quiet).status == RunStatus.DONE


def test_tag_and_interest_steps_change_the_contact(organisation):
    theme = Theme.objects.create(
        organisation=organisation, slug="fotografie", name_de="Fotografie", name_en="Photography"
    )
    journey = make_journey(
        organisation,
        [
            {"id": "drop", "type": "tag", "remove": "neu", "next": "mark"},
            {"id": "mark", "type": "tag", "add": "stammgast", "next": "likes"},
            {"id": "likes", "type": "interest", "add": "fotografie"},
        ],
    )
    anna = person(organisation, tags=["NEU", "presse"])
    enter(journey, anna)

    advance_due(now=NOW)

    anna.refresh_from_db()
    assert anna.tags == ["presse", "stammgast"]
    assert list(anna.interests.all()) == [theme]


def test_a_task_step_makes_one_task_and_mails_the_assignee_once(
    organisation, member_factory, smtp_server, immediate_tasks, django_capture_on_commit_callbacks
):
    staff = member_factory(organisation, Role.EDITOR)
    journey = make_journey(
        organisation,
        [
            {
                "id": "call",
                "type": "task",
                "title": "Frau Berg anrufen",
                "notes": "Sie war lange nicht da.",
                "assignee": staff.email.upper(),
                "notify": True,
                "due_days": 2,
            }
        ],
    )
    berg = person(organisation, first_name="Erika", last_name="Berg")
    run = enter(journey, berg)

    with django_capture_on_commit_callbacks(execute=True):
        advance_due(now=NOW)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        engine.execute_step(run, engine.steps_of(journey.definition)["call"], NOW)

    task = StaffTask.objects.get(journey=journey)
    assert (task.assignee, task.contact, task.due_on) == (staff, berg, NOW.date() + timedelta(2))
    assert [m.recipients for m in smtp_server.messages] == [[staff.email]]
    sent = smtp_server.messages[0]
    assert "Frau Berg anrufen" in sent.subject
    assert "Erika Berg" in sent.text
    assert "Sie war lange nicht da." in sent.text


def test_a_split_is_stable_per_run_and_keeps_the_share():
    sides = [engine.split_side(run_id, "ab", 30) for run_id in range(1, 2001)]
    assert sides == [engine.split_side(run_id, "ab", 30) for run_id in range(1, 2001)]
    assert 0.27 < sides.count("a") / len(sides) < 0.33


def test_a_split_step_sends_runs_down_both_ways(organisation):
    journey = make_journey(
        organisation,
        [
            {
                "id": "ab",
                "type": "split",
                "a": "left",
                "b": "right",
                "percent_a": 50,
                "metric": "clicked",
            },
            {"id": "left", "type": "tag", "add": "a"},
            {"id": "right", "type": "tag", "add": "b"},
        ],
    )
    runs = [enter(journey, person(organisation)) for _ in range(20)]

    advance_due(now=NOW)

    for run in runs:
        side = engine.split_side(run.pk, "ab", 50)
        assert events(run)[1] == ("ab", f"split_{side}")
        assert Contact.objects.get(pk=run.contact_id).tags == [side]
    assert {engine.split_side(r.pk, "ab", 50) for r in runs} == {"a", "b"}


# --- webhooks -------------------------------------------------------------------------------------


@dataclass
class Receiver:
    url: str
    status: list[int]
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real HTTP server on loopback that records what it is sent."""
    status = [204]
    calls: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status[0])
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Receiver(f"http://127.0.0.1:{server.server_address[1]}/hook", status, calls)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def allow_private(settings: Any) -> None:
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = True


def test_a_webhook_posts_signed_json(organisation, receiver, allow_private):
    journey = make_journey(
        organisation,
        [
            {
                "id": "crm",
                "type": "webhook",
                "url": receiver.url,
                "secret": "s3cret",
                "next": "end",
            },
            {"id": "end", "type": "end"},
        ],
    )
    anna = person(organisation, first_name="Anna", email="anna@example.org")
    run = enter(journey, anna, booking=5)

    advance_due(now=NOW)

    [(headers, body)] = receiver.calls
    assert headers["content-type"] == "application/json"
    assert headers["x-publikum-delivery"] == f"run:{run.pk}:crm:0"
    stamp, signature = headers["x-publikum-signature"].split(",")
    timestamp = stamp.removeprefix("t=")
    expected = hmac.new(b"s3cret", f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    assert signature == f"v1={expected}"
    payload = json.loads(body)
    assert payload["journey"] == {"id": journey.pk, "name": journey.name}
    assert payload["step"] == "crm"
    assert payload["contact"]["email"] == "anna@example.org"
    assert payload["context"] == {"booking": 5}
    assert reload(run).status == RunStatus.DONE
    assert ("crm", "webhook") in events(run)


def test_a_failing_webhook_is_retried_with_backoff_then_the_run_fails(
    organisation, receiver, allow_private
):
    receiver.status[0] = 500
    journey = make_journey(organisation, [{"id": "crm", "type": "webhook", "url": receiver.url}])
    run = enter(journey, person(organisation))

    at = NOW
    advance_due(now=at)
    run = reload(run)
    assert (run.status, run.error) == (RunStatus.WAITING, "the webhook answered with HTTP 500")
    assert run.due_at == at + timedelta(minutes=1)
    for delay in (1, 5, 30):
        at += timedelta(minutes=delay)
        assert advance_due(now=at - timedelta(seconds=1)) == 0  # not before its time
        assert advance_due(now=at) == 1

    run = reload(run)
    assert run.status == RunStatus.FAILED
    assert "HTTP 500" in run.error
    assert len(receiver.calls) == 4
    assert [e for _, e in events(run)] == ["entered", "retry", "retry", "retry", "failed"]


def test_a_webhook_to_a_private_address_is_refused_without_the_setting(organisation, receiver):
    steps = [{"id": "crm", "type": "webhook", "url": receiver.url}]
    journey = make_journey(organisation, steps, activate=False)
    assert [p.message for p in journey_validate(journey)] == [
        "the webhook address must start with https://"
    ]
    # Even a journey that got switched on around the validation never reaches it.
    Journey.objects.filter(pk=journey.pk).update(status=JourneyStatus.ACTIVE)
    journey.refresh_from_db()
    run = enter(journey, person(organisation))

    advance_due(now=NOW)

    run = reload(run)
    assert run.status == RunStatus.FAILED  # at once: no retries for a refused address
    assert "https://" in run.error
    assert receiver.calls == []


def test_a_host_name_that_resolves_to_this_machine_is_refused(receiver, settings):
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = False
    host = socket.gethostname()
    addresses = {info[4][0] for info in socket.getaddrinfo(host, 443)}
    if not all(engine.webhooks._forbidden_address(str(a)) for a in addresses):
        pytest.skip(f"{host} resolves to a public address here")
    port = receiver.url.split(":")[2].split("/")[0]
    url = f"https://{host}:{port}/hook"
    assert webhook_url_problem(url) == ""  # nothing to see without resolving

    with pytest.raises(engine.webhooks.WebhookRefused, match="resolves to a private address"):
        webhook_post(url=url, secret="x", payload={}, delivery="test")

    assert receiver.calls == []


def test_a_connection_that_ends_up_at_a_private_address_is_cut(receiver, settings):
    settings.JOURNEYS_WEBHOOK_ALLOW_PRIVATE = False
    # The check of the open connection, whatever a resolver said before (DNS rebinding).
    sock = socket.create_connection(("127.0.0.1", int(receiver.url.split(":")[2].split("/")[0])))
    with pytest.raises(engine.webhooks.WebhookRefused, match=r"127\.0\.0\.1"):
        engine.webhooks._check_peer(sock)
    assert sock.fileno() == -1  # closed before anything was sent


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://example.org/hook", "must start with https://"),
        ("https://10.1.2.3/hook", "private or reserved address (10.1.2.3)"),
        ("https://127.0.0.1:8443/", "private or reserved address (127.0.0.1)"),
        ("https://0x7f.1/", "private or reserved address (127.0.0.1)"),
        ("https://2130706433/", "private or reserved address (127.0.0.1)"),
        ("https://[::1]/hook", "private or reserved address (::1)"),
        ("https://[::ffff:192.168.0.1]/", "private or reserved address"),
        ("https://169.254.169.254/latest/meta-data", "private or reserved address"),
        ("https://localhost/hook", "inside the network"),
        ("https://intranet.localhost/", "inside the network"),
        ("https://user:pw@example.org/", "user name or password"),
        ("https://example.org:99999/", "not a valid address"),
        ("", "needs the address"),
    ],
)
def test_webhook_addresses_that_validation_refuses(url, problem):
    assert problem in webhook_url_problem(url)


def test_a_public_https_address_passes_the_static_check():
    assert webhook_url_problem("https://crm.example.org/hooks/publikum?x=1") == ""


# --- validation -----------------------------------------------------------------------------------


def problems_of(
    organisation: Organisation, steps: list[dict[str, Any]], **kwargs: Any
) -> list[str]:
    journey = make_journey(organisation, steps, activate=False, **kwargs)
    return [str(p) for p in journey_validate(journey)]


def test_validation_finds_a_loop_without_a_wait_but_allows_one_with_a_wait(organisation):
    tpl = mail(organisation)
    loop = [
        {"id": "a", "type": "email", "template": tpl.pk, "next": "b"},
        {"id": "b", "type": "tag", "add": "x", "next": "a"},
    ]
    assert problems_of(organisation, loop) == [
        "These steps form a loop without a wait: a → b → a. A loop needs a wait step, or "
        "contacts would go round it at once."
    ]
    with_wait = [
        {"id": "a", "type": "email", "template": tpl.pk, "next": "w"},
        {"id": "w", "type": "wait", "duration": {"days": 30}, "next": "a"},
    ]
    assert problems_of(organisation, with_wait) == []


def test_validation_finds_unreachable_steps_and_bad_targets(organisation):
    steps = [
        {"id": "start", "type": "branch", "condition": {"rules": {"tag": "x"}}, "yes": "gone"},
        {"id": "lonely", "type": "end"},
        {"id": "odd", "type": "teleport"},
    ]
    assert problems_of(organisation, steps) == [
        "Step 'start': 'yes' leads to step 'gone', which does not exist",
        "Step 'start': 'no' must name the step that follows",
        "Step 'odd': unknown step type 'teleport'; one of wait, branch, email, tag, interest, "
        "task, webhook, split, end",
        "Step 'lonely': no path from the first step leads here",
        "Step 'odd': no path from the first step leads here",
    ]


def test_validation_finds_missing_foreign_and_broken_templates(organisation, other_organisation):
    foreign = mail(other_organisation)
    broken = mail(organisation, "Kaputt", subject_de="Hallo {{ contact.first_name ")
    steps = [
        {"id": "a", "type": "email", "next": "b"},
        {"id": "b", "type": "email", "template": 999999, "next": "c"},
        {"id": "c", "type": "email", "template": foreign.pk, "next": "d"},
        {"id": "d", "type": "email", "template": broken.pk},
    ]
    found = problems_of(organisation, steps)
    assert found[:3] == [
        "Step 'a': choose the mail template to send",
        "Step 'b': the mail template 999999 does not exist",
        f"Step 'c': the mail template {foreign.pk} does not exist",
    ]
    assert len(found) >= 4
    assert all(p.startswith("Step 'd': the template 'Kaputt' cannot be sent:") for p in found[3:])


def test_validation_checks_each_kind_of_step(organisation):
    steps = [
        {"id": "w", "type": "wait", "duration": {"days": 0}, "next": "u"},
        {"id": "u", "type": "wait", "until": {"weekday": 7, "time": "25:00"}, "next": "s"},
        {"id": "s", "type": "split", "a": "t", "b": "t", "percent_a": 100, "metric": "opened"},
        {"id": "t", "type": "tag", "add": "", "next": "i"},
        {"id": "i", "type": "interest", "add": "unbekannt", "next": "k"},
        {"id": "k", "type": "task", "title": "", "assignee": "nobody@example.org", "next": "h"},
        {"id": "h", "type": "webhook", "url": "https://192.168.1.1/x", "next": "r"},
        {"id": "r", "type": "branch", "condition": {"rules": {"tag": 5}}, "yes": "m", "no": "m"},
        {
            "id": "m",
            "type": "branch",
            "condition": {"previous_mail": "opened"},
            "yes": "e",
            "no": "e",
        },
        {"id": "e", "type": "end"},
    ]
    found = problems_of(organisation, steps)
    expected = [
        "Step 'w': a wait lasts at least one minute",
        "Step 'u': the weekday is a number from 0 (Monday) to 6 (Sunday), or empty",
        "Step 'u': the time must be written as HH:MM, e.g. 09:30",
        "Step 's': the share of way A is a whole percentage from 1 to 99",
        "Step 's': the winner is measured by 'clicked' or 'booked'",
        "Step 't': a tag is a text of 1 to 50 characters",
        "Step 'i': there is no theme 'unbekannt'",
        "Step 'k': a task needs a title of at most 300 characters",
        "Step 'k': 'nobody@example.org' is not a member of staff of this house",
        "Step 'h': the webhook address points to a private or reserved address (192.168.1.1)",
        "Step 'm': no mail is sent before this branch, so there is no previous mail to look at",
    ]
    for problem in expected:
        assert problem in found
    assert any(p.startswith("Step 'r': The rules are not valid") for p in found)


def test_validation_checks_the_trigger_settings(organisation, other_organisation):
    steps = [{"id": "e", "type": "end"}]
    foreign = Segment.objects.create(
        organisation=other_organisation, name="VIP", rules={"tag": "vip"}
    )
    assert problems_of(
        organisation, steps, trigger=Trigger.STAGE_CHANGED, config={"from": "loyal"}
    ) == ["Say which lifecycle stage the contacts move to."]
    assert problems_of(
        organisation,
        steps,
        trigger=Trigger.ENTERED_SEGMENT,
        config={"segment": foreign.pk},
        reentry=Reentry.ALWAYS,
    ) == [
        "Choose the segment that contacts enter.",
        "A journey started by a segment cannot let contacts in every time (they would enter "
        "again at every check): choose once, or again after N days.",
    ]
    assert problems_of(organisation, steps, trigger=Trigger.TAG_ADDED) == [
        "Say which tag starts the journey."
    ]
    assert problems_of(organisation, steps, reentry=Reentry.EVERY, reentry_days=0) == [
        "Say after how many days a contact may enter again (at least 1)."
    ]
    assert (
        problems_of(
            organisation,
            steps,
            trigger=Trigger.STAGE_CHANGED,
            config={"to": "lapsing", "_cursor": 4},
        )
        == []
    )


def test_activation_refuses_a_broken_journey_and_lists_the_problems(organisation):
    journey = make_journey(
        organisation,
        [
            {"id": "a", "type": "tag", "add": "x", "next": "b"},
            {"id": "b", "type": "tag", "add": "y", "next": "a"},
        ],
        activate=False,
    )

    with pytest.raises(ValidationFailed) as refused:
        journey_activate(journey=journey)

    assert refused.value.message.startswith("The journey cannot be switched on: These steps")
    assert refused.value.fields["definition"] == [str(p) for p in journey_validate(journey)]
    journey.refresh_from_db()
    assert (journey.status, journey.activated_at) == (JourneyStatus.DRAFT, None)


def test_a_definition_that_loops_despite_validation_stops_the_run(organisation):
    steps = [
        {"id": "a", "type": "tag", "add": "x", "next": "b"},
        {"id": "b", "type": "tag", "remove": "x", "next": "a"},
    ]
    journey = make_journey(organisation, steps, activate=False)
    Journey.objects.filter(pk=journey.pk).update(status=JourneyStatus.ACTIVE)
    journey.refresh_from_db()
    run = enter(journey, person(organisation))

    advance_due(now=NOW)

    run = reload(run)
    assert run.status == RunStatus.FAILED
    assert "more than 50 steps in a row without a wait" in run.error
    assert run.steps_taken == 50


def test_a_run_at_a_step_that_was_removed_fails_with_a_clear_error(organisation):
    journey = make_journey(
        organisation,
        [
            {"id": "wait", "type": "wait", "duration": {"hours": 1}, "next": "old"},
            {"id": "old", "type": "tag", "add": "x"},
        ],
    )
    run = enter(journey, person(organisation))
    advance_due(now=NOW)
    journey.definition = {"start": "wait", "steps": [{"id": "wait", "type": "end"}]}
    journey.save()

    advance_due(now=NOW + timedelta(hours=1))

    run = reload(run)
    assert (run.status, run.error) == (
        RunStatus.FAILED,
        "the step 'old' no longer exists in the journey",
    )


# --- re-entry, pause, archive, erasure ------------------------------------------------------------


def test_reentry_once_every_n_days_and_always(organisation):
    steps = [{"id": "e", "type": "end"}]
    once = make_journey(organisation, steps, reentry=Reentry.ONCE)
    monthly = make_journey(organisation, steps, reentry=Reentry.EVERY, reentry_days=30)
    always = make_journey(organisation, steps, reentry=Reentry.ALWAYS)
    anna = person(organisation)

    def entered(journey: Journey, at: datetime) -> bool:
        return triggers.enter(journey, anna, {}, now=at) is not None

    assert [entered(once, NOW), entered(once, NOW + timedelta(days=400))] == [True, False]
    assert [
        entered(monthly, NOW),
        entered(monthly, NOW + timedelta(days=29)),
        entered(monthly, NOW + timedelta(days=30)),
    ] == [True, False, True]
    assert [entered(always, NOW), entered(always, NOW)] == [True, True]


def test_the_same_cause_never_enters_twice(organisation):
    journey = make_journey(organisation, [{"id": "e", "type": "end"}], reentry=Reentry.ALWAYS)
    anna = person(organisation)

    first = triggers.enter(journey, anna, {"cause": "booking:1"}, now=NOW)
    again = triggers.enter(journey, anna, {"cause": "booking:1"}, now=NOW)
    other = triggers.enter(journey, anna, {"cause": "booking:2"}, now=NOW)

    assert first is not None
    assert other is not None
    assert again is None


def test_erased_contacts_and_other_houses_contacts_do_not_enter(organisation, other_organisation):
    journey = make_journey(organisation, [{"id": "e", "type": "end"}])
    erased = person(organisation, erased_at=NOW)
    stranger = person(other_organisation)

    assert triggers.enter(journey, erased, {}, now=NOW) is None
    assert triggers.enter(journey, stranger, {}, now=NOW) is None
    assert not JourneyRun.objects.exists()


def test_a_contact_erased_while_waiting_leaves_the_journey(organisation):
    tpl = mail(organisation)
    journey = make_journey(
        organisation,
        [
            {"id": "w", "type": "wait", "duration": {"days": 1}, "next": "m"},
            {"id": "m", "type": "email", "template": tpl.pk},
        ],
    )
    anna = person(organisation)
    run = enter(journey, anna)
    advance_due(now=NOW)
    Contact.objects.filter(pk=anna.pk).update(erased_at=NOW)

    advance_due(now=NOW + timedelta(days=1))

    assert reload(run).status == RunStatus.EXITED
    assert not Message.objects.exists()


def test_a_paused_journey_holds_its_runs_until_resumed(organisation):
    journey = make_journey(organisation, [{"id": "t", "type": "tag", "add": "x"}])
    run = enter(journey, person(organisation))

    journey_pause(journey=journey)
    assert advance_due(now=NOW) == 0
    assert triggers.enter(journey, person(organisation), {}, now=NOW) is None  # nobody enters
    assert reload(run).status == RunStatus.WAITING

    journey_resume(journey=journey)
    assert advance_due(now=NOW) == 1
    assert reload(run).status == RunStatus.DONE
    with pytest.raises(Conflict):
        journey_resume(journey=journey)
    audit = AuditEntry.objects.filter(object_type="journeys.journey", object_id=str(journey.pk))
    assert list(audit.order_by("pk").values_list("action", flat=True)) == [
        "journeys.journey.activated",
        "journeys.journey.paused",
        "journeys.journey.resumed",
    ]


def test_archiving_lets_waiting_runs_leave(organisation):
    journey = make_journey(
        organisation,
        [
            {"id": "w", "type": "wait", "duration": {"days": 3}, "next": "t"},
            {"id": "t", "type": "tag", "add": "x"},
        ],
    )
    runs = [enter(journey, person(organisation)) for _ in range(3)]
    advance_due(now=NOW)

    journey_archive(journey=journey, now=NOW + timedelta(hours=1))

    assert {reload(r).status for r in runs} == {RunStatus.EXITED}
    assert advance_due(now=NOW + timedelta(days=4)) == 0
    with pytest.raises(Conflict):
        journey_activate(journey=journey)


# --- the dry run ----------------------------------------------------------------------------------


def counts() -> dict[str, int]:
    return {
        "runs": JourneyRun.objects.count(),
        "events": StepEvent.objects.count(),
        "messages": Message.objects.count(),
        "tasks": StaffTask.objects.count(),
        "audit": AuditEntry.objects.count(),
    }


def test_the_dry_run_tells_what_would_happen_when_and_writes_nothing(organisation, receiver):
    welcome = mail(organisation, "Welcome", purpose=Purpose.NEWSLETTER)
    offer = mail(organisation, "Angebot", purpose=Purpose.OFFERS)
    journey = make_journey(
        organisation,
        [
            {"id": "hello", "type": "email", "template": welcome.pk, "next": "wait"},
            {"id": "wait", "type": "wait", "until": {"weekday": 4, "time": "10:00"}, "next": "vip"},
            {
                "id": "vip",
                "type": "branch",
                "condition": {"rules": {"tag": "vip"}},
                "yes": "offer",
                "no": "mark",
            },
            {"id": "offer", "type": "email", "template": offer.pk, "next": "mark"},
            {"id": "mark", "type": "tag", "add": "begrüßt", "next": "call"},
            {"id": "call", "type": "task", "title": "Anrufen", "next": "end"},
            {"id": "end", "type": "end"},
        ],
    )
    vip = person(organisation, language="en", tags=["vip"])
    before = counts()

    lines = simulate(journey=journey, contact=vip, now=NOW)

    assert counts() == before
    vip.refresh_from_db()
    assert vip.tags == ["vip"]
    friday = datetime(2026, 5, 8, 10, 0, tzinfo=BERLIN)
    assert [(line.when, line.step_id, line.what) for line in lines] == [
        (NOW, "hello", "would send 'Welcome' (English)"),
        (NOW, "wait", "wait until 08.05.2026 10:00"),
        (friday, "vip", "branch: yes, because the contact matches the rules today"),
        (friday, "offer", "would not send 'Angebot': no consent for Personal offers"),
        (friday, "mark", "would add the tag 'begrüßt'"),
        (friday, "call", "would create the task 'Anrufen' for the team"),
        (friday, "end", "the journey ends"),
    ]


def test_the_dry_run_says_when_a_contact_would_not_enter(organisation):
    journey = make_journey(organisation, [{"id": "e", "type": "end"}], reentry=Reentry.ONCE)
    anna = person(organisation)
    enter(journey, anna)

    [line] = simulate(journey=journey, contact=anna, now=NOW)

    assert line.what == "The contact entered this journey on 04.05.2026 and enters it only once."
