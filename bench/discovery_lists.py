"""Precomputed lists in a real database: the worker's batch and a request served from a
stored list against the live path, in the same run (part of `python -m bench discovery`).

    python -m bench discovery --skip-accuracy --skip-speed            # this part alone
    python -m bench discovery --lists-db sqlite --lists-contacts 5000 # a quick check

The parent (`run`) makes a fresh database (PostgreSQL `publikum_bench_discovery` on
127.0.0.1:5432, or SQLite in a temporary directory), migrates it and runs the measurement
in a child process (`python -m bench.discovery_lists ...`) whose environment points Django
at that database, so the developer's database is never touched. The child loads the
synthetic house of the speed run (bench/discovery.py: its past dates, visits and upcoming
dates, shifted so that its reference day is today) as programme items, dates, contacts and
timeline entries, then measures:

1. requests through `discovery.services.contact_recommendations` (top 10 at the house's
   dial, what the API calls) with the model fitted and cached in the process: the live path;
2. `discovery.precompute.lists_precompute` writing every contact's list (first into an
   empty table, then again over the lists it wrote: the steady state, rows updated);
3. the same requests again, now answered from the stored lists, and whether each whole
   list (top 20: items, dates, explanations) is the one the live path gave.

Prints one line `RESULT {json}`.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

PG_DATABASE = "publikum_bench_discovery"
SLUG = "bench-discovery"
BATCH_NAMES = {
    "insert": "Batch into an empty table (rows inserted)",
    "update": "Batch again over its lists (rows updated)",
}


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": ordered[len(ordered) // 2],
        "p95": ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)],
        "max": ordered[-1],
        "count": len(ordered),
    }


def _load_house(*, seed: int, contacts: int, upcoming: int, say: Callable) -> dict[str, Any]:
    """The synthetic house as rows; returns the organisation and what was written."""
    from django.db import transaction
    from django.utils import timezone

    from bench.discovery import REFERENCE, synthetic_house
    from publikum.audience.models import Contact, Interaction, InteractionKind
    from publikum.core.models import Organisation
    from publikum.programme.models import Occurrence, ProgrammeItem, Theme

    rng = random.Random(seed)
    say(f"lists: generating {contacts:,} contacts and {upcoming} upcoming dates")
    items, visits, future = synthetic_house(
        seed=seed, visitors=int(contacts * 0.85), upcoming_dates=upcoming
    )
    shift = timezone.now().replace(microsecond=0) - REFERENCE
    say(f"lists: writing {len(items) + len(future):,} dates and {len(visits):,} visits")
    started = time.perf_counter()
    with transaction.atomic():
        org = Organisation.objects.create(slug=SLUG, name="Bench Discovery", city="Köln")
        slugs = sorted({t for item in [*items, *future] for t in item.themes})
        themes = {
            t.slug: t
            for t in Theme.objects.bulk_create(
                [
                    Theme(organisation=org, slug=s, name_de=s.title(), name_en=s.title())
                    for s in slugs
                ]
            )
        }
        rows = ProgrammeItem.objects.bulk_create(
            [
                ProgrammeItem(
                    organisation=org,
                    slug=f"termin-{item.id}",
                    kind=item.kind,
                    title_de=item.title,
                    description_de=item.description,
                    target_groups=list(item.target_groups),
                    accessibility=list(item.accessibility),
                )
                for item in [*items, *future]
            ],
            batch_size=2000,
        )
        by_id = {item.id: row for item, row in zip([*items, *future], rows, strict=True)}
        through = ProgrammeItem.themes.through
        through.objects.bulk_create(
            [
                through(programmeitem_id=by_id[item.id].pk, theme_id=themes[t].pk)
                for item in [*items, *future]
                for t in set(item.themes)
            ],
            batch_size=5000,
        )
        dates = Occurrence.objects.bulk_create(
            [
                Occurrence(
                    organisation=org,
                    item=by_id[item.id],
                    starts_at=item.starts_at + shift,
                    ends_at=item.starts_at + shift + timedelta(hours=2),
                    capacity=200,
                )
                for item in [*items, *future]
            ],
            batch_size=2000,
        )
        date_of = {item.id: d.pk for item, d in zip([*items, *future], dates, strict=True)}
        users = sorted({v.user for v in visits})
        users += [f"n{n:06d}" for n in range(contacts - len(users))]
        people = Contact.objects.bulk_create(
            [Contact(organisation=org, email=f"{u}@bench.example", language="de") for u in users],
            batch_size=5000,
        )
        contact_of = {u: c.pk for u, c in zip(users, people, strict=True)}
        # People without history: two thirds told us their interests (as in the speed run).
        links = Contact.interests.through
        links.objects.bulk_create(
            [
                links(contact_id=contact_of[u], theme_id=themes[t].pk)
                for u in users
                if u.startswith("n") and rng.random() < 0.65
                for t in rng.sample(slugs, rng.randint(1, 2))
            ],
            batch_size=5000,
        )
        Interaction.objects.bulk_create(
            [
                Interaction(
                    organisation=org,
                    contact_id=contact_of[v.user],
                    kind=InteractionKind.VISIT,
                    occurred_at=datetime.fromtimestamp(v.timestamp, UTC) + shift,
                    item_id=by_id[v.item].pk,
                    occurrence_id=date_of[v.item],
                )
                for v in visits
            ],
            batch_size=5000,
        )
    say(f"lists: written in {time.perf_counter() - started:.0f} s")
    return {
        "organisation": org,
        "contact_ids": [contact_of[u] for u in users],
        "contacts": len(users),
        "with_history": len({v.user for v in visits}),
        "visits": len(visits),
        "past_dates": len(items),
        "upcoming": len(future),
    }


def _requests(
    org: Any, sample: list[int], limit: int = 10
) -> tuple[dict[str, float], dict[str, int], dict[int, list[Any]]]:
    """Timings, which path answered, and what each contact was shown."""
    from publikum.discovery import services

    timings: list[float] = []
    sources: dict[str, int] = {}
    answers: dict[int, list[Any]] = {}
    for contact_id in sample:
        started = time.perf_counter()
        result = services.contact_recommendations(
            organisation=org, contact_id=contact_id, limit=limit
        )
        timings.append((time.perf_counter() - started) * 1000)
        sources[result.source] = sources.get(result.source, 0) + 1
        answers[contact_id] = [
            (r.item_id, r.occurrence_id, r.explanation.parts) for r in result.items
        ]
    return _percentiles(timings), sources, answers


def _table_mib() -> float | None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size('discovery_storedlist')")
        return cursor.fetchone()[0] / 2**20


def child(*, seed: int, contacts: int, upcoming: int, requests: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "publikum.settings")
    import django

    django.setup()
    from django.db import connection

    from bench.discovery import _load, _peak_mib
    from publikum.discovery import precompute, services

    def say(text: str) -> None:
        print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", file=sys.stderr, flush=True)

    house = _load_house(seed=seed, contacts=contacts, upcoming=upcoming, say=say)
    org = house.pop("organisation")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    sample = random.Random(seed).sample(house.pop("contact_ids"), requests)
    say("lists: live requests (the first one fits the model)")
    started = time.perf_counter()
    services.contact_recommendations(organisation=org, contact_id=sample[0], limit=10)
    first_live = time.perf_counter() - started
    load_live = _load()
    live, live_sources, _ = _requests(org, sample)
    # The whole list (what the batch stores) for the comparison: a shorter one may differ
    # above horizon 0, its dial reaching less far down the ranking (docs/discovery.md).
    _, _, live_answers = _requests(org, sample, limit=20)
    batches = []
    for label in ("insert", "update"):
        say(f"lists: the batch ({label})")
        load = _load()
        report = precompute.lists_precompute(organisation=org)
        batches.append(
            {
                "rows": label,
                "contacts": report.contacts,
                "seconds": report.seconds,
                "fit_seconds": report.fit_seconds,
                "recommend_seconds": report.recommend_seconds,
                "write_seconds": report.write_seconds,
                "per_second": report.contacts / report.seconds,
                "load": load,
            }
        )
    say("lists: requests served from the stored lists")
    load_stored = _load()
    served, stored_sources, _ = _requests(org, sample)
    _, whole_sources, stored_answers = _requests(org, sample, limit=20)
    same = sum(1 for c in sample if stored_answers[c] == live_answers[c])
    return {
        "database": connection.vendor,
        **house,
        "requests": requests,
        "first_live_seconds": first_live,
        "live_ms": {**live, "sources": live_sources, "load": load_live},
        "stored_ms": {**served, "sources": stored_sources, "load": load_stored},
        "same_as_live": same,
        "whole_lists_stored": whole_sources.get("stored", 0),
        "batches": batches,
        "table_mib": _table_mib(),
        "peak_rss_mib": _peak_mib(),
    }


def run(
    *, db: str, seed: int, contacts: int, upcoming: int, requests: int, say: Callable
) -> dict[str, Any]:
    """A fresh database, migrated, and the measurement in a child process pointed at it."""
    from bench.audience import PG_SERVER, base_env, migrate, psql

    data_dir = Path(tempfile.mkdtemp(prefix="publikum-bench-lists-"))
    env = base_env(data_dir)
    if db == "postgres":
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
        psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        psql(f"CREATE DATABASE {PG_DATABASE}")
    try:
        say(f"lists: migrating a fresh {db} database")
        migrate(env)
        command = [
            sys.executable,
            "-m",
            "bench.discovery_lists",
            f"--seed={seed}",
            f"--contacts={contacts}",
            f"--upcoming={upcoming}",
            f"--requests={requests}",
        ]
        proc = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True, check=True)
        line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
        return json.loads(line.removeprefix("RESULT "))
    finally:
        if db == "postgres":
            psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        shutil.rmtree(data_dir, ignore_errors=True)


def render(lists: dict[str, Any]) -> list[str]:
    """The report's section."""
    live, stored = lists["live_ms"], lists["stored_ms"]
    db = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(lists["database"], lists["database"])
    short = (
        " (the others: a list too short for 10, or empty)"
        if stored["sources"].get("stored", 0) < stored["count"]
        else ""
    )
    size = f"; the table takes {lists['table_mib']:.0f} MiB" if lists.get("table_mib") else ""
    return [
        "## Precomputed lists",
        "",
        f"The synthetic house of the speed run written into {db} as programme items, dates, "
        f"contacts and timeline entries: {lists['contacts']:,} contacts "
        f"({lists['with_history']:,} with {lists['visits']:,} visits to "
        f"{lists['past_dates']:,} past dates) and {lists['upcoming']} upcoming dates. The "
        "worker's batch (`discovery.precompute.lists_precompute`: fit, top 20 with "
        "explanations for every contact at the house's dial, one upsert per 4,096 contacts; "
        "on PostgreSQL by COPY, written while the next chunk is computed, so fit + lists + "
        "write add up to more than the total) and requests for the top 10 through "
        "`contact_recommendations` (what the API calls) for the same "
        f"{lists['requests']} contacts, first live, then from the stored lists.",
        "",
        "| What | Figure |",
        "|---|---|",
        *(
            f"| {BATCH_NAMES[b['rows']]} (load {b['load']:.1f}) | "
            f"{b['seconds']:.1f} s, {b['per_second']:,.0f} contacts/s "
            f"(fit {b['fit_seconds']:.1f} s, lists {b['recommend_seconds']:.1f} s, write "
            f"{b['write_seconds']:.1f} s) |"
            for b in lists["batches"]
        ),
        f"| First live request (fits the model in the process) | "
        f"{lists['first_live_seconds']:.1f} s |",
        f"| Request, live path, model cached (load {live['load']:.1f}) | p50 "
        f"{live['p50']:.1f} ms, p95 {live['p95']:.1f} ms, max {live['max']:.1f} ms |",
        f"| Request served from the stored list (load {stored['load']:.1f}) | p50 "
        f"{stored['p50']:.1f} ms, p95 {stored['p95']:.1f} ms, max {stored['max']:.1f} ms |",
        "",
        f"Answered from stored lists: {stored['sources'].get('stored', 0)} of "
        f"{stored['count']} requests after the batch{short}; before it, "
        f"{live['sources'].get('live', 0)} of {live['count']} live. "
        f"Whole lists (top 20): {lists.get('whole_lists_stored', 0)} answered from the stored "
        f"lists, {lists.get('same_as_live', 0)} of {stored['count']} the same as the live "
        "path had answered before the batch (items, dates and explanations). Peak resident "
        "set size of the measuring process "
        f"{lists['peak_rss_mib']:.0f} MiB (including the generated house){size}.",
        "",
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery_lists")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--contacts", type=int, required=True)
    parser.add_argument("--upcoming", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True)
    args = parser.parse_args(argv)
    result = child(
        seed=args.seed, contacts=args.contacts, upcoming=args.upcoming, requests=args.requests
    )
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
