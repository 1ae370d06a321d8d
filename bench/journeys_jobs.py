"""The Django side of `python -m bench journeys`: one job per process, started by the parent.

    python -m bench.journeys_jobs <job> [options]      # DATABASE_URL etc. set by the parent

Each job prints one line `RESULT {json}`. Jobs: `info` (database version), `setup` (the
house, its programme, contacts, segments, the newsletter template, the welcome journey),
`send` (create a newsletter and press "send now"), `verify` (what the database says about a
newsletter), `reset` (remove a finished round's messages), `triggers` (subscriptions
confirmed through the audience service, one after another), `trigger-verify`, `tick`
(waiting journey runs and the periodic advance pass), `profile` (delivery under cProfile).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import statistics
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

ORG_SLUG = "bench-journeys"
ORG_NAME = "Stadtmuseum Benchhausen"
WAITING_SLUG = "bench-wartend"
SEGMENT_ALL = "Alle mit E-Mail-Adresse"
SEGMENT_SAMPLE = "Stichprobe (jeder zehnte Kontakt)"
SAMPLE_TAG = "stichprobe"
TEMPLATE_NAME = "Monatsnewsletter"
SEED = 4711

# Shares of the newsletter's audience that the guardrails are there for (the rest has
# granted the newsletter consent and a deliverable address).
NO_CONSENT = 0.025  # never asked
WITHDRAWN = 0.015  # unsubscribed earlier
BOUNCED = 0.010
COMPLAINED = 0.002
PAUSED = 0.003  # paused their mails in the preference centre
ERASED = 0.005  # erased contacts beside the audience (segments never match them)
ENGLISH = 0.14


def log(message: str) -> None:
    sys.stderr.write(f"  [journeys] {message}\n")
    sys.stderr.flush()


@contextmanager
def timed(into: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        into[name] = round(time.perf_counter() - start, 3)


def _org(slug: str = ORG_SLUG) -> Any:
    from publikum.core.models import Organisation

    return Organisation.objects.get(slug=slug)


def _epoch(value: datetime | None) -> float | None:
    return value.timestamp() if value is not None else None


# --- info --------------------------------------------------------------------------------------


def job_info(args: argparse.Namespace) -> dict[str, Any]:
    import sqlite3

    from django.conf import settings
    from django.db import connection

    out: dict[str, Any] = {
        "vendor": connection.vendor,
        "sqlite": sqlite3.sqlite_version,
        "tick_seconds": settings.TICK_SECONDS,
        "task_queue": settings.TASK_QUEUE,
        "conn_max_age": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    }
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SHOW server_version")
            out["version"] = "PostgreSQL " + cur.fetchone()[0]
            cur.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                [["shared_buffers", "work_mem", "synchronous_commit", "max_connections"]],
            )
            out["settings"] = {n: f"{s}{' ' + u if u else ''}" for n, s, u in cur.fetchall()}
        else:
            out["version"] = "SQLite " + sqlite3.sqlite_version
    return out


# --- setup -------------------------------------------------------------------------------------


def _programme(org_info: Any, rng: random.Random, now: datetime) -> dict[str, int]:
    """A venue and upcoming dates for 60 of the house's items, so that the events block of
    every mail has dates to choose from, by the contact's interests."""
    from publikum.programme.models import Occurrence, ProgrammeItem, Venue

    venue = Venue.objects.create(
        organisation_id=org_info.id,
        name_de="Haupthaus",
        name_en="Main building",
        street="Domplatz 1",
        postcode="50667",
        city="Köln",
        directions_de="Vom Hauptbahnhof fünf Minuten zu Fuß, Eingang am Roncalliplatz.",
        directions_en="Five minutes' walk from the main station, entrance on Roncalliplatz.",
        is_main=True,
    )
    items = list(ProgrammeItem.objects.filter(pk__in=org_info.item_ids[:60]))
    for item in items:
        item.venue = venue
        item.accessibility = rng.sample(["wheelchair", "hearing_loop", "seating"], k=1)
    ProgrammeItem.objects.bulk_update(items, ["venue", "accessibility"])
    dates = []
    for item in items:
        for _n in range(rng.randint(1, 3)):
            starts = (now + timedelta(days=rng.uniform(1, 60))).replace(
                minute=0, second=0, microsecond=0
            )
            dates.append(
                Occurrence(
                    organisation_id=org_info.id,
                    item=item,
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    capacity=120,
                )
            )
    Occurrence.objects.bulk_create(dates)
    return {"items_with_dates": len(items), "dates": len(dates)}


def make_contacts(
    organisation_id: int, count: int, theme_ids: list[int], rng: random.Random, now: datetime
) -> dict[str, int]:
    """`count` contacts of a newsletter audience (German and English speakers, names,
    interests, the newsletter consent for most) plus the erased ones beside them.

    Written with bulk_create in batches: the same code on SQLite and PostgreSQL, and the
    database triggers that keep the contact search table are left to do their work."""
    from bench.datagen import ASCII, EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES
    from publikum.audience.models import Consent, Contact, EmailStatus

    through = Contact.interests.through
    plan: Counter[str] = Counter()
    batch = 5000
    erased = max(1, int(count * ERASED))
    for start in range(0, count + erased, batch):
        contacts: list[Contact] = []
        decisions: list[str] = []
        for n in range(start, min(start + batch, count + erased)):
            first = rng.choice(FIRST_NAMES)
            last = LAST_NAMES[int(rng.random() ** 2.2 * len(LAST_NAMES))]
            is_erased = n >= count
            local = f"{first}.{last}".lower().translate(ASCII).replace(" ", "")
            r = rng.random()
            status = EmailStatus.OK
            paused = None
            if r < BOUNCED:
                status = EmailStatus.BOUNCED
            elif r < BOUNCED + COMPLAINED:
                status = EmailStatus.COMPLAINED
            elif r < BOUNCED + COMPLAINED + PAUSED:
                paused = (now + timedelta(days=30)).date()
            c = rng.random()
            consent = (
                "none" if c < NO_CONSENT else "withdrawn" if c < NO_CONSENT + WITHDRAWN else "yes"
            )
            contacts.append(
                Contact(
                    organisation_id=organisation_id,
                    first_name="" if is_erased else first,
                    last_name="" if is_erased else last,
                    email="" if is_erased else f"{local}.{n}@{rng.choice(EMAIL_DOMAINS)}",
                    language="en" if rng.random() < ENGLISH else "de",
                    postcode=f"50{rng.randrange(1000):03d}",
                    tags=[SAMPLE_TAG] if n % 10 == 0 and not is_erased else [],
                    email_status=status,
                    paused_until=paused,
                    erased_at=now if is_erased else None,
                )
            )
            decisions.append("erased" if is_erased else consent)
        created = Contact.objects.bulk_create(contacts)
        consents = []
        links = []
        for contact, decision in zip(created, decisions, strict=True):
            plan[decision] += 1
            plan[f"status_{contact.email_status}"] += contact.email_status != EmailStatus.OK
            plan["paused"] += contact.paused_until is not None
            if decision in {"yes", "withdrawn"}:
                granted_at = now - timedelta(days=rng.uniform(30, 2000))
                consents.append(
                    Consent(
                        organisation_id=organisation_id,
                        contact=contact,
                        channel="email",
                        purpose="newsletter",
                        granted=decision == "yes",
                        source="Anmeldeformular Website",
                        wording="Ja, ich möchte den Newsletter des Museums erhalten.",
                        granted_at=granted_at,
                        withdrawn_at=None if decision == "yes" else now - timedelta(days=3),
                    )
                )
            for theme_id in {
                theme_ids[int(rng.random() ** 1.7 * len(theme_ids))]
                for _k in range(int(rng.random() ** 2 * 3.99))
            }:
                links.append(through(contact_id=contact.pk, theme_id=theme_id))
        Consent.objects.bulk_create(consents)
        through.objects.bulk_create(links)
        plan["interests"] += len(links)
        if (start // batch) % 5 == 4:
            log(f"contacts: {min(start + batch, count + erased):,}/{count + erased:,}")
    return dict(plan)


TEMPLATE_BLOCKS: list[dict[str, Any]] = [
    {
        "type": "heading",
        "text_de": "Neu im {{ organisation.name }}",
        "text_en": "New at {{ organisation.name }}",
    },
    {
        "type": "text",
        "markdown_de": "{% if contact.first_name %}Hallo {{ contact.first_name }},"
        "{% else %}Hallo,{% endif %}\n\n"
        "im Herbst öffnen wir zwei neue Ausstellungen, und unsere **Abendführungen** gehen "
        "in die zweite Runde. Unten finden Sie, was in den nächsten Wochen zu Ihren "
        "Interessen passt. Haben Sie eine Idee für uns? Antworten Sie einfach auf diese Mail.",
        "markdown_en": "{% if contact.first_name %}Dear {{ contact.first_name }},"
        "{% else %}Hello,{% endif %}\n\n"
        "this autumn two new exhibitions open, and our **evening tours** start again. Below "
        "you will find what suits your interests in the coming weeks. Have an idea for us? "
        "Just reply to this e-mail.",
    },
    {
        "type": "events",
        "title_de": "Für Sie ausgewählt",
        "title_en": "Picked for you",
        "limit": 3,
        "match_interests": True,
    },
    {
        "type": "button",
        "label_de": "Das ganze Programm",
        "label_en": "The whole programme",
        "url": "https://stadtmuseum.example/programm",
    },
]


def _seed_periodic_runs() -> list[str]:
    """Mark every periodic job as just run, as in a worker that has been running for a
    while: the daily jobs (lifecycle, retention) would otherwise all start at the first
    tick of a fresh database and run beside the benchmark."""
    from django.utils import timezone

    from publikum.core import jobs
    from publikum.core.models import PeriodicRun

    now = timezone.now()
    names = []
    for pj in jobs.periodic_jobs():
        PeriodicRun.objects.update_or_create(name=pj.name, defaults={"last_enqueued_at": now})
        names.append(f"{pj.name} every {pj.every}")
    return names


def job_setup(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.utils import timezone

    from bench.datagen import setup_organisation
    from publikum.audience import segments
    from publikum.journeys.library import library_install
    from publikum.journeys.models import DeliverySettings, EmailTemplate, MessageKind

    rng = random.Random(SEED)
    now = timezone.now()
    seconds: dict[str, float] = {}
    with timed(seconds, "organisation_and_programme"):
        info = setup_organisation(ORG_SLUG, ORG_NAME)
        programme = _programme(info, rng, now)
        org = _org()
        # Mails go out at any hour in the benchmark (the default quiet hours, 21:00-08:00
        # in the house's time zone, would hold back a run at night); the frequency cap
        # stays at its default.
        DeliverySettings.objects.update_or_create(
            organisation=org, defaults={"quiet_start": clock(0), "quiet_end": clock(0)}
        )
    with timed(seconds, "contacts"):
        plan = make_contacts(org.pk, args.contacts, info.theme_ids, rng, now)
    with timed(seconds, "analyze"), connection.cursor() as cur:
        cur.execute("ANALYZE")
    made = {}
    for share in sorted({int(x) for x in args.shares.split(",") if x}):
        rules: dict[str, Any]
        if share >= 100:
            name, rules = SEGMENT_ALL, {"has_email": True}
        else:
            # A regional newsletter: the postcodes 500xx to 50nxx, a tenth of them each.
            name = f"Region 500–50{share // 10 - 1} ({share} %)"
            rules = {
                "any": [
                    {"field": "postcode", "op": "prefix", "value": f"50{d}"}
                    for d in range(share // 10)
                ]
            }
        segment = segments.segment_create(organisation=org, name=name, rules=rules)
        made[str(share)] = {
            "id": segment.pk,
            "name": name,
            "count": segments.segment_count(segment=segment),
        }
    sample = segments.segment_create(
        organisation=org, name=SEGMENT_SAMPLE, rules={"tag": SAMPLE_TAG}
    )
    made["sample"] = {
        "id": sample.pk,
        "name": SEGMENT_SAMPLE,
        "count": segments.segment_count(segment=sample),
    }
    template = EmailTemplate.objects.create(
        organisation=org,
        name=TEMPLATE_NAME,
        kind=MessageKind.MARKETING,
        purpose="newsletter",
        subject_de="Neu im {{ organisation.name }}: Ausstellungen und Abendführungen",
        subject_en="New at {{ organisation.name }}: exhibitions and evening tours",
        preheader_de="Was in den nächsten Wochen zu Ihren Interessen passt.",
        preheader_en="What suits your interests in the coming weeks.",
        blocks=TEMPLATE_BLOCKS,
    )
    welcome = library_install(organisation=org, key="welcome", activate=True)
    periodic = _seed_periodic_runs()
    return {
        "organisation": org.pk,
        "plan": plan,
        "programme": programme,
        "segments": made,
        "template": template.pk,
        "welcome": {"id": welcome.pk, "status": welcome.status},
        "periodic": periodic,
        "seconds": seconds,
    }


# --- one newsletter round --------------------------------------------------------------------


def job_send(args: argparse.Namespace) -> dict[str, Any]:
    """Create the newsletter and press "send now": the commit of newsletter_schedule is
    the moment the round starts; a worker's job queues the messages."""
    from publikum.audience.models import Segment
    from publikum.journeys.models import EmailTemplate
    from publikum.journeys.newsletters import newsletter_create, newsletter_schedule

    org = _org()
    segment = Segment.objects.get(organisation=org, pk=args.segment)
    template = EmailTemplate.objects.get(organisation=org, name=TEMPLATE_NAME)
    newsletter = newsletter_create(
        organisation=org,
        name=f"Newsletter {args.label}",
        template_id=template.pk,
        segment_id=segment.pk,
    )
    before = time.time()
    newsletter_schedule(newsletter=newsletter, at=None)
    committed = time.time()
    return {"newsletter": newsletter.pk, "schedule_called": before, "committed": committed}


def job_verify(args: argparse.Namespace) -> dict[str, Any]:
    from django.db.models import Count, Max, Min
    from django_tasks_db.models import DBTaskResult

    from publikum.journeys.models import Message, Newsletter

    newsletter = Newsletter.objects.get(pk=args.newsletter)
    messages = Message.objects.filter(newsletter=newsletter)
    by_status = dict(messages.values_list("status").annotate(n=Count("pk")).order_by())
    reasons = dict(
        messages.exclude(reason="").values_list("reason").annotate(n=Count("pk")).order_by()
    )
    times = messages.aggregate(
        first_created=Min("created_at"),
        last_created=Max("created_at"),
        first_sent=Min("sent_at"),
        last_sent=Max("sent_at"),
    )
    per_contact = (
        messages.values("contact_id").annotate(n=Count("pk")).filter(n__gt=1).order_by().count()
    )
    jobs: dict[str, dict[str, Any]] = {}
    since = datetime.fromtimestamp(args.since, tz=UTC)
    for path, status, started, finished, returned in DBTaskResult.objects.filter(
        enqueued_at__gte=since
    ).values_list("task_path", "status", "started_at", "finished_at", "return_value"):
        entry = jobs.setdefault(
            path.rsplit(".", 1)[-1],
            {
                "count": 0,
                "statuses": Counter(),
                "first_started": None,
                "last_finished": None,
                "returned": [],
            },
        )
        entry["count"] += 1
        entry["statuses"][status] += 1
        if started is not None:
            first = entry["first_started"]
            entry["first_started"] = (
                min(first, started.timestamp()) if first else started.timestamp()
            )
        if finished is not None:
            entry["last_finished"] = max(entry["last_finished"] or 0.0, finished.timestamp())
        if isinstance(returned, int) and not isinstance(returned, bool) and returned:
            entry["returned"].append(returned)
    return {
        "newsletter": newsletter.pk,
        "status": newsletter.status,
        "queued_total": newsletter.queued,
        "started_at": _epoch(newsletter.started_at),
        "finished_at": _epoch(newsletter.finished_at),
        "messages": messages.count(),
        "by_status": by_status,
        "reasons": reasons,
        "interrupted": messages.filter(interrupted=True).count(),
        "attempts_over_1": messages.filter(attempts__gt=1).count(),
        "contacts_with_two_messages": per_contact,
        "queued_all_at": _epoch(newsletter.queued_all_at),
        "jobs": jobs,
        **{k: _epoch(v) for k, v in times.items()},
    }


def job_reset(args: argparse.Namespace) -> dict[str, Any]:
    """Remove a finished round's messages and timeline entries, so that every round starts
    from the same state (the frequency cap would otherwise count the previous round)."""
    from django.db import connection

    from publikum.audience.models import Interaction, InteractionKind
    from publikum.journeys.models import Message

    org = _org()
    seconds: dict[str, float] = {}
    with timed(seconds, "delete"):
        messages, _ = Message.objects.filter(organisation=org, newsletter__isnull=False).delete()
        entries, _ = Interaction.objects.filter(
            organisation=org, kind=InteractionKind.EMAIL_SENT
        ).delete()
    if connection.vendor == "postgresql":
        with timed(seconds, "vacuum"), connection.cursor() as cur:
            cur.execute("VACUUM ANALYZE journeys_message, audience_interaction")
    return {"messages": messages, "timeline_entries": entries, "seconds": seconds}


# --- trigger latency -----------------------------------------------------------------------------


def job_triggers(args: argparse.Namespace) -> dict[str, Any]:
    """People subscribe and confirm, one after another, through the audience service (the
    confirmation link's service call); the welcome journey's trigger fires after the
    commit. Returns each address with the moment of the confirmation's commit."""
    from django.db import transaction

    from publikum.audience import consent

    org = _org()
    rng = random.Random(SEED + args.round)
    tag = f"{args.round}-{int(time.time())}"
    out = []
    next_at = time.monotonic()
    for n in range(args.count):
        language = "en" if n % 7 == 3 else "de"
        email = f"willkommen-{tag}-{n}@bench.example"
        subscription = consent.subscription_create(
            organisation=org,
            email=email,
            purposes=["newsletter"],
            language=language,
            first_name=rng.choice(["Anna", "Jonas", "Mia", "Paul", "Elif", "Emma"]),
        )
        token = consent.confirmation_token(subscription)
        wait = next_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        marks: dict[str, float] = {}
        with transaction.atomic():
            # Registered first, so it runs first after the commit: the commit's moment,
            # before the trigger's own after-commit work (entering the journey).
            transaction.on_commit(functools.partial(_mark, marks, "committed"))
            consent.subscription_confirm(organisation=org, token=token)
        returned = time.time()
        out.append({"email": email, "committed": marks["committed"], "returned": returned})
        next_at += args.spacing
    return {"confirmations": out}


def _mark(marks: dict[str, float], name: str) -> None:
    marks[name] = time.time()


def job_trigger_verify(args: argparse.Namespace) -> dict[str, Any]:
    """Per address: when the run was entered, when its first message was queued and sent."""
    from publikum.audience.models import Contact
    from publikum.journeys.models import JourneyRun, Message

    org = _org()
    emails = json.loads(args.emails)
    contacts = dict(
        Contact.objects.filter(organisation=org, email__in=emails).values_list("email", "pk")
    )
    runs = dict(
        JourneyRun.objects.filter(organisation=org, contact_id__in=contacts.values()).values_list(
            "contact_id", "entered_at"
        )
    )
    first: dict[int, tuple[datetime | None, datetime | None]] = {}
    for contact_id, queued_at, sent_at in (
        Message.objects.filter(
            organisation=org, contact_id__in=contacts.values(), run__isnull=False
        )
        .order_by("created_at")
        .values_list("contact_id", "created_at", "sent_at")
    ):
        first.setdefault(contact_id, (queued_at, sent_at))
    out = {}
    for email, contact_id in contacts.items():
        queued, sent = first.get(contact_id, (None, None))
        out[email] = {
            "entered": _epoch(runs.get(contact_id)),
            "queued": _epoch(queued),
            "sent": _epoch(sent),
        }
    return {"per_email": out}


# --- the tick with many waiting runs --------------------------------------------------------------


RUN_INSERT = """
INSERT INTO journeys_journeyrun (organisation_id, journey_id, contact_id, entered_at, step_id,
    status, due_at, context, steps_taken, finished_at, error)
SELECT %(org)s, %(journey)s, c.id, %(now)s::timestamptz - interval '3 days', %(step)s,
    'waiting',
    CASE WHEN %(due_now)s THEN %(now)s::timestamptz - interval '1 minute'
        ELSE %(now)s::timestamptz + interval '1 minute' + random() * interval '30 days' END,
    '{}'::jsonb, 2, NULL, ''
FROM (
    SELECT id FROM audience_contact WHERE organisation_id = %(org)s
    ORDER BY id OFFSET %(offset)s LIMIT %(count)s
) c
"""


def _waiting_contacts(org: Any, count: int, now: datetime) -> float:
    """`count` contacts of the waiting house; PostgreSQL: set-based with the audience
    benchmark's generator (bench/datagen.py), SQLite: bulk_create."""
    from django.db import connection

    from publikum.audience.models import Contact

    start = time.perf_counter()
    if connection.vendor == "postgresql":
        from bench.datagen import PG_CONTACTS, _common_params, _pg_parallel

        chunk = 100_000
        base = _common_params(now)
        _pg_parallel(
            [
                (
                    PG_CONTACTS,
                    {**base, "org": org.pk, "lo": lo, "hi": min(lo + chunk - 1, count)},
                    f"waiting house: contacts {min(lo + chunk - 1, count):,}/{count:,}",
                )
                for lo in range(1, count + 1, chunk)
            ],
            2,
        )
        # Search-table triggers were skipped by the loader: the tick never reads it.
    else:
        Contact.objects.bulk_create(
            (
                Contact(
                    organisation=org,
                    first_name="Warte",
                    last_name=f"Kontakt {n}",
                    email=f"warte{n}@bench.example",
                )
                for n in range(count)
            ),
            batch_size=5000,
        )
    return time.perf_counter() - start


def _runs(org: Any, journey: Any, *, offset: int, count: int, due_now: bool, now: datetime) -> None:
    from django.db import connection

    from publikum.audience.models import Contact
    from publikum.journeys.models import JourneyRun, RunStatus

    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                RUN_INSERT,
                {
                    "org": org.pk,
                    "journey": journey.pk,
                    "now": now,
                    "step": "inside",
                    "due_now": due_now,
                    "offset": offset,
                    "count": count,
                },
            )
        return
    rng = random.Random(offset)
    ids = Contact.objects.filter(organisation=org).order_by("pk").values_list("pk", flat=True)
    JourneyRun.objects.bulk_create(
        (
            JourneyRun(
                organisation=org,
                journey=journey,
                contact_id=contact_id,
                entered_at=now - timedelta(days=3),
                step_id="inside",
                status=RunStatus.WAITING,
                due_at=now - timedelta(minutes=1)
                if due_now
                else now + timedelta(minutes=1) + timedelta(days=30) * rng.random(),
                steps_taken=2,
            )
            for contact_id in ids[offset : offset + count]
        ),
        batch_size=5000,
    )


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "ANALYZE journeys_journeyrun" if connection.vendor == "postgresql" else "ANALYZE"
        )


class FirstClaim:
    """An execute wrapper that keeps the first SELECT on journey runs (the claim query) with
    its parameters, so that its plan can be asked for exactly as it ran."""

    def __init__(self) -> None:
        self.sql = ""
        self.params: Any = None
        self.text = ""

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        result = execute(sql, params, many, context)
        if not self.sql and "journeys_journeyrun" in sql and sql.lstrip().startswith("SELECT"):
            self.sql, self.params = sql, params
            try:
                self.text = context["connection"].ops.last_executed_query(
                    context["cursor"], sql, params
                )
            except Exception:  # the raw SQL will do
                self.text = sql
        return result

    def plan(self) -> str:
        """EXPLAIN (PostgreSQL: ANALYZE, BUFFERS) in a transaction that is rolled back."""
        from django.db import connection, transaction

        with transaction.atomic(), connection.cursor() as cur:
            if connection.vendor == "postgresql":
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + self.sql, self.params)
                rows = [r[0] for r in cur.fetchall()]
            else:
                cur.execute("EXPLAIN QUERY PLAN " + self.sql, self.params)
                rows = [" | ".join(str(c) for c in r) for r in cur.fetchall()]
            transaction.set_rollback(True)
        return "\n".join(rows)


def _measure_passes(label: str, repeats: int, expect_due: int) -> dict[str, Any]:
    """The periodic job that moves on due runs (`engine_tasks.advance_due_job`), called as
    the worker calls it; `repeats` times when nothing is due, once when runs are due."""
    from django.db import connection

    from bench.audience import query_stats
    from publikum.core import jobs
    from publikum.journeys import engine_tasks

    times = []
    processed = []
    claim = FirstClaim()
    stats: dict[str, Any] = {}
    for n in range(repeats):
        with connection.execute_wrapper(claim), query_stats() as qs:
            start = time.perf_counter()
            done = engine_tasks.advance_due_job.call()
            times.append(time.perf_counter() - start)
        processed.append(done)
        if n == 0:
            stats = qs.result()
            stats.pop("slowest", None)
            stats.pop("plans", None)
    tick_start = time.perf_counter()
    enqueued = jobs.tick()
    tick_seconds = time.perf_counter() - tick_start
    plan = ""
    if claim.sql and not expect_due:
        try:
            plan = claim.plan()
        except Exception as exc:  # a plan is a bonus
            plan = f"(no plan: {exc})"
    log(f"{label}: pass {statistics.median(times) * 1000:.1f} ms, processed {processed}")
    return {
        "label": label,
        "seconds": times,
        "median": statistics.median(times),
        "processed": processed,
        "expected_due": expect_due,
        "queries": stats,
        "claim_sql": claim.text,
        "plan": plan,
        "index_used": "journeyrun_due" in plan,
        "tick_seconds": tick_seconds,
        "tick_enqueued": enqueued,
    }


def job_tick(args: argparse.Namespace) -> dict[str, Any]:
    """Runs waiting in a journey (due over the next 30 days) plus some due now; the
    duration of one advance pass with none and with `due` runs due, at `baseline` and at
    `waiting` runs waiting."""
    from django.db import connection
    from django.utils import timezone

    from publikum.core import services
    from publikum.journeys.library import library_install
    from publikum.journeys.models import JourneyRun

    now = timezone.now()
    org = services.organisation_create(slug=WAITING_SLUG, name="Wartehaus Benchhausen")
    journey = library_install(organisation=org, key="welcome", activate=True)
    total = args.waiting + 2 * args.due
    out: dict[str, Any] = {"vendor": connection.vendor, "waiting": args.waiting, "due": args.due}
    log(f"tick: {total:,} contacts for the waiting house")
    out["contacts_seconds"] = _waiting_contacts(org, total, now)
    sizes = [(args.baseline, "baseline")] if args.baseline < args.waiting else []
    sizes.append((args.waiting, "full"))
    placed = 0
    due_offset = args.waiting
    for size, label in sizes:
        start = time.perf_counter()
        _runs(org, journey, offset=placed, count=size - placed, due_now=False, now=now)
        _analyze()
        out[f"{label}_insert_seconds"] = time.perf_counter() - start
        placed = size
        waiting = JourneyRun.objects.filter(journey=journey, status="waiting").count()
        out[f"{label}_idle"] = _measure_passes(f"{waiting:,} waiting, none due", args.repeats, 0)
        out[f"{label}_idle"]["waiting"] = waiting
        _runs(org, journey, offset=due_offset, count=args.due, due_now=True, now=timezone.now())
        due_offset += args.due
        out[f"{label}_due"] = _measure_passes(f"{waiting:,} waiting, {args.due:,} due", 1, args.due)
        out[f"{label}_due"]["waiting"] = waiting
    return out


# --- delivery under the profiler ----------------------------------------------------------------

# Functions whose cumulative time the report shows: (end of file name, function name).
PROFILED = [
    ("journeys/delivery.py", "messages_deliver", "the delivery run (everything below)"),
    ("journeys/delivery.py", "_claim", "claiming a batch (SKIP LOCKED)"),
    ("journeys/delivery.py", "load", "guardrail reads per batch (_Batch.load)"),
    ("journeys/delivery.py", "_compose", "composing a mail (render + links + headers)"),
    ("journeys/content.py", "render_email", "render_email (blocks, Jinja, Markdown, HTML)"),
    ("journeys/content.py", "rewrite_links", "click tracking: rewriting links"),
    ("journeys/delivery.py", "_links", "preference and unsubscribe links (signing)"),
    ("journeys/delivery.py", "send", "SMTP send incl. MIME serialisation (_Connection.send)"),
    ("django/core/mail/message.py", "message", "MIME building (EmailMessage.message)"),
    ("smtplib.py", "sendmail", "smtplib.sendmail (wire)"),
    ("journeys/delivery.py", "_record_sent", "recording the send (UPDATE + timeline)"),
    ("audience/services.py", "interaction_record", "timeline entry (interaction_record)"),
    ("journeys/delivery.py", "_verdict", "guardrail decisions"),
]


def _profile_rows(profiler: Any) -> dict[str, Any]:
    import pstats

    from bench.audience import _profile_top

    stats = pstats.Stats(profiler)
    chosen = []
    table = stats.stats  # type: ignore[attr-defined]
    for suffix, name, label in PROFILED:
        best = None
        for (filename, _line, function), (_cc, calls, _tt, cumtime, _callers) in table.items():
            matches = function == name and filename.endswith(suffix)
            if matches and (best is None or cumtime > best[1]):
                best = (calls, cumtime)
        if best is not None:
            chosen.append({"what": label, "calls": best[0], "cumtime": best[1]})
    by_cum = []
    for (filename, line, function), (_cc, calls, tottime, cumtime, _c) in table.items():
        short = filename
        for marker in ("site-packages/", "src/", "lib/python3.11/"):
            if marker in filename:
                short = filename.split(marker, 1)[1]
                break
        by_cum.append(
            {
                "function": f"{short}:{line}({function})",
                "calls": calls,
                "tottime": tottime,
                "cumtime": cumtime,
            }
        )
    by_cum.sort(key=lambda r: -r["cumtime"])
    return {
        "selected": chosen,
        "top_tottime": _profile_top(profiler, 25),
        "top_cumtime": by_cum[:40],
    }


def job_profile(args: argparse.Namespace) -> dict[str, Any]:
    """Queue the sample newsletter, then deliver `messages` of it under cProfile in this
    process (the worker's code path without the job runner around it) and as many again
    without the profiler (the real cost per message); counts statements per message too."""
    import cProfile

    from django.utils import timezone

    from bench.audience import query_stats
    from publikum.audience.models import Segment
    from publikum.journeys.delivery import messages_deliver
    from publikum.journeys.models import EmailTemplate, Message, MessageStatus, Newsletter
    from publikum.journeys.newsletters import newsletter_queue

    org = _org()
    segment = Segment.objects.get(organisation=org, name=SEGMENT_SAMPLE)
    template = EmailTemplate.objects.get(organisation=org, name=TEMPLATE_NAME)
    newsletter = Newsletter.objects.create(
        organisation=org,
        name="Newsletter (profile)",
        template=template,
        segment=segment,
        status="scheduled",
        scheduled_at=timezone.now(),
    )
    start = time.perf_counter()
    queued = newsletter_queue(newsletter_id=newsletter.pk)
    queue_seconds = time.perf_counter() - start
    messages = Message.objects.filter(newsletter=newsletter)
    ids = list(messages.order_by("pk").values_list("pk", flat=True))
    warm = min(20, len(ids) // 5)
    size = max(1, min(args.messages, (len(ids) - warm) // 2))
    # Nothing due, then due slice by slice.
    messages.update(due_at=timezone.now() + timedelta(days=1))

    def deliver(slice_ids: list[int]) -> tuple[Any, float, float]:
        Message.objects.filter(pk__in=slice_ids, status=MessageStatus.QUEUED).update(
            due_at=timezone.now()
        )
        start = time.perf_counter()
        cpu = time.process_time()
        report = messages_deliver()
        return report, time.perf_counter() - start, time.process_time() - cpu

    deliver(ids[:warm])  # imports, the SMTP connection, template compilation, caches
    profiler = cProfile.Profile()
    with query_stats() as stats:
        profiler.enable()
        profiled, seconds, cpu = deliver(ids[warm : warm + size])
        profiler.disable()
    plain, plain_seconds, plain_cpu = deliver(ids[warm + size : warm + 2 * size])
    Message.objects.filter(newsletter=newsletter).delete()
    newsletter.delete()
    db = stats.result()
    db.pop("plans", None)
    return {
        "queued": queued,
        "queue_seconds": queue_seconds,
        "profiled": {
            "sent": profiled.sent,
            "suppressed": profiled.suppressed,
            "reasons": profiled.reasons,
            "seconds": seconds,
            "cpu_seconds": cpu,
        },
        "plain": {
            "sent": plain.sent,
            "suppressed": plain.suppressed,
            "seconds": plain_seconds,
            "cpu_seconds": plain_cpu,
        },
        "db": db,
        "profile": _profile_rows(profiler),
    }


# --- entry point --------------------------------------------------------------------------------

JOBS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "info": job_info,
    "setup": job_setup,
    "send": job_send,
    "verify": job_verify,
    "reset": job_reset,
    "triggers": job_triggers,
    "trigger-verify": job_trigger_verify,
    "tick": job_tick,
    "profile": job_profile,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.journeys_jobs")
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("--contacts", type=int, default=0)
    parser.add_argument("--segment", type=int, default=0)
    parser.add_argument("--shares", default="100")
    parser.add_argument("--label", default="")
    parser.add_argument("--newsletter", type=int, default=0)
    parser.add_argument("--since", type=float, default=0.0)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--spacing", type=float, default=0.2)
    parser.add_argument("--round", type=int, default=1)
    parser.add_argument("--emails", default="[]")
    parser.add_argument("--waiting", type=int, default=0)
    parser.add_argument("--baseline", type=int, default=0)
    parser.add_argument("--due", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--messages", type=int, default=0)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "publikum.settings")
    import django

    django.setup()
    try:
        result = JOBS[args.job](args)
    except Exception as exc:
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
    sys.stdout.write("RESULT " + json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
