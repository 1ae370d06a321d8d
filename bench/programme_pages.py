"""Benchmark of the public programme: the list page, an item page and the iCalendar feed.

    python -m bench programme-pages                    # SQLite
    python -m bench programme-pages --db postgres      # PostgreSQL (127.0.0.1:5432)
    python -m bench programme-pages --db both --items 500 --requests 200

For each database: a fresh database (a SQLite file in a temporary PUBLIKUM_DATA_DIR, or the
PostgreSQL database `publikum_bench_programme`, dropped afterwards), `publikum migrate`, then
an organisation with `--items` upcoming published programme items (themes, venues, one to
three price categories, one to three dates in the next four months, bookings on a share of
the dates so that some are nearly or fully sold out), plus past and unpublished items that
the pages must leave out. The pages are served by `publikum serve --no-worker` (waitress,
the server of a single-machine installation) and fetched over HTTP one after another: a
warm-up, then `--requests` timed requests per page. Each page is also rendered once inside a
Django process to count its database queries.

Prints the figures and rewrites docs/benchmarks/programme.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.audience import PG_SERVER, base_env, log, machine, migrate, percentile, psql

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks" / "programme.md"
RAW = ROOT / "var" / "bench" / "programme-results.json"
PG_DATABASE = "publikum_bench_programme"
ORG_SLUG = "bench-programm"
TARGET_LIST_P95 = 0.150
WARMUP = 10
COLD_RUNS = 5  # in-process renders with an empty cache, per page
SEED = 4242


# --- the Django side (child processes) ----------------------------------------------------------


def child_generate(args: argparse.Namespace) -> dict[str, Any]:
    import random

    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from publikum.bookings.models import Booking
    from publikum.bookings.services import new_code
    from publikum.core import services
    from publikum.programme.models import (
        AccessibilityFeature,
        ItemKind,
        Occurrence,
        PriceCategory,
        ProgrammeItem,
        TargetGroup,
        Theme,
        Venue,
    )

    rng = random.Random(SEED)
    start = time.perf_counter()
    now = timezone.now()
    with transaction.atomic():
        org = services.organisation_create(slug=ORG_SLUG, name="Bench Stadtmuseum")
        themes = Theme.objects.bulk_create(
            Theme(organisation=org, slug=f"thema-{n}", name_de=f"Thema {n}", name_en=f"Theme {n}")
            for n in range(12)
        )
        venues = Venue.objects.bulk_create(
            Venue(
                organisation=org,
                name_de=f"Saal {n}",
                name_en=f"Hall {n}",
                street=f"Museumsplatz {n}",
                postcode="50667",
                city="Köln",
                is_main=n == 0,
            )
            for n in range(5)
        )
        kinds = list(ItemKind.values)
        groups = list(TargetGroup.values)
        features = list(AccessibilityFeature.values)
        upcoming, past, hidden = args.items, args.items // 5, args.items // 20
        items = ProgrammeItem.objects.bulk_create(
            ProgrammeItem(
                organisation=org,
                slug=f"programmpunkt-{n}",
                kind=rng.choice(kinds),
                title_de=f"Programmpunkt {n}: Führung durch die Sammlung",
                title_en=f"Programme item {n}: a tour of the collection",
                summary_de="Eine Stunde mit den Kuratorinnen durch die neue Ausstellung. " * 2,
                summary_en="An hour with the curators through the new exhibition. " * 2,
                description_de="Ausführliche Beschreibung. " * 40,
                description_en="A long description. " * 40,
                target_groups=rng.sample(groups, rng.randint(0, 2)),
                accessibility=rng.sample(features, rng.randint(0, 3)),
                venue=rng.choice(venues),
                published=n < upcoming + past,
                bookable=rng.random() > 0.1,
            )
            for n in range(upcoming + past + hidden)
        )
        through = ProgrammeItem.themes.through
        through.objects.bulk_create(
            through(programmeitem_id=item.pk, theme_id=theme.pk)
            for item in items
            for theme in rng.sample(themes, rng.randint(1, 3))
        )
        prices = [("Regulär", "Regular", 14), ("Ermäßigt", "Reduced", 9), ("Kinder", "Children", 0)]
        PriceCategory.objects.bulk_create(
            PriceCategory(
                organisation=org,
                item=item,
                name_de=name_de,
                name_en=name_en,
                price_eur=Decimal(price),
                position=position,
            )
            for item in items
            for position, (name_de, name_en, price) in enumerate(prices[: rng.randint(1, 3)])
        )
        dates = []
        for n, item in enumerate(items):
            for _ in range(rng.randint(1, 3)):
                if upcoming <= n < upcoming + past:
                    starts = now - timedelta(days=rng.uniform(1, 300))
                else:
                    starts = now + timedelta(days=rng.uniform(0.2, 120))
                starts = starts.replace(minute=0, second=0, microsecond=0)
                dates.append(
                    Occurrence(
                        organisation=org,
                        item=item,
                        starts_at=starts,
                        ends_at=starts + timedelta(hours=rng.choice([1, 2, 3])),
                        capacity=rng.choice([20, 25, 30, 60, 120, 300]),
                    )
                )
        dates = Occurrence.objects.bulk_create(dates)
        bookings = []
        for date in dates:
            share = rng.random()
            if share < 0.5:
                continue  # half the dates have no bookings yet
            # a quarter nearly or fully sold out, a quarter partly booked
            seats = date.capacity if share > 0.9 else int(date.capacity * rng.uniform(0.1, 0.95))
            while seats > 0:
                quantity = min(seats, rng.randint(1, 4))
                seats -= quantity
                bookings.append(
                    Booking(
                        organisation=org,
                        occurrence=date,
                        code=new_code(),
                        name="Gast",
                        email=f"gast{len(bookings)}@bench.example",
                        quantity=quantity,
                        total_eur=Decimal(14 * quantity),
                        source="web",
                    )
                )
        Booking.objects.bulk_create(bookings, batch_size=2000)
    return {
        "seconds": time.perf_counter() - start,
        "items": len(items),
        "upcoming_items": upcoming,
        "past_items": past,
        "unpublished_items": hidden,
        "dates": len(dates),
        "bookings": len(bookings),
        "sample_slugs": [items[n].slug for n in range(0, upcoming, max(1, upcoming // 20))][:20],
        "theme": themes[0].slug,
    }


def child_queries(args: argparse.Namespace) -> dict[str, Any]:
    """Each page rendered once in this process: status, queries, their time, size."""
    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="localhost")
    out = {}
    for name, url in json.loads(args.urls).items():
        cold = []
        for _ in range(COLD_RUNS):
            cache.clear()  # the feeds keep their body a minute in the cache
            start = time.perf_counter()
            client.get(url)
            cold.append(time.perf_counter() - start)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)  # caches warm, as in most of the timed requests
        out[name] = {
            "status": response.status_code,
            "queries": len(captured.captured_queries),
            "db_seconds": sum(float(q["time"]) for q in captured.captured_queries),
            "bytes": len(response.content),
            "cold_median": statistics.median(cold),
        }
    return out


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.programme_pages")
    sub = parser.add_subparsers(dest="job", required=True)
    generate = sub.add_parser("generate")
    generate.add_argument("--items", type=int, required=True)
    queries = sub.add_parser("queries")
    queries.add_argument("--urls", required=True)
    args = parser.parse_args(argv)
    result = child_generate(args) if args.job == "generate" else child_queries(args)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    return 0


def run_child(env: dict[str, str], args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.programme_pages", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=1800,
    )
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


# --- the server and the clients ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import requests

    port = free_port()
    publikum = Path(sys.executable).with_name("publikum")
    command = [str(publikum)] if publikum.exists() else [sys.executable, "-m", "publikum.cli"]
    log_file = (data_dir / "serve.log").open("wb")
    process = subprocess.Popen(
        [*command, "serve", "--no-worker", "--host=127.0.0.1", f"--port={port}"],
        env=env,
        cwd=ROOT,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.1)
    stop_server(process)
    raise RuntimeError((data_dir / "serve.log").read_text()[-3000:])


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def time_page(base: str, urls: list[str], requests_count: int) -> dict[str, Any]:
    """`requests_count` sequential GETs (cycling through `urls`) after a warm-up."""
    import requests

    with requests.Session() as session:
        for n in range(WARMUP):
            session.get(base + urls[n % len(urls)], timeout=60)
        seconds, statuses, sizes = [], set(), []
        for n in range(requests_count):
            start = time.perf_counter()
            response = session.get(base + urls[n % len(urls)], timeout=60)
            seconds.append(time.perf_counter() - start)
            statuses.add(response.status_code)
            sizes.append(len(response.content))
    return {
        "requests": requests_count,
        "urls": len(urls),
        "statuses": sorted(statuses),
        "p50": percentile(seconds, 0.50),
        "p95": percentile(seconds, 0.95),
        "max": max(seconds),
        "mean": statistics.fmean(seconds),
        "bytes": statistics.median(sizes),
    }


def pages(generated: dict[str, Any]) -> dict[str, list[str]]:
    base = f"/{ORG_SLUG}"
    return {
        "Programme list, page 1": [f"{base}/programme/"],
        "Programme list, page 5": [f"{base}/programme/?page=5"],
        "Programme list, one theme": [f"{base}/programme/?theme={generated['theme']}"],
        "Item page (20 different items)": [
            f"{base}/programme/{slug}/" for slug in generated["sample_slugs"]
        ],
        "iCalendar feed, whole programme": [f"{base}/programme.ics"],
    }


# --- the run ------------------------------------------------------------------------------------


def run_database(db: str, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"publikum-bench-programme-{db}-"))
    (data_dir / "static").mkdir()
    env = base_env(data_dir)
    if db == "postgres":
        env["DATABASE_URL"] = f"{PG_SERVER}/{PG_DATABASE}"
        psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        psql(f"CREATE DATABASE {PG_DATABASE}")
    out: dict[str, Any] = {"db": db}
    server = None
    try:
        migrate(env)
        log(f"{db}: generating {args.items} upcoming programme items")
        out["data"] = run_child(env, ["generate", f"--items={args.items}"])
        urls = pages(out["data"])
        out["queries"] = run_child(
            env, ["queries", "--urls", json.dumps({k: v[0] for k, v in urls.items()})]
        )
        server, base = start_server(env, data_dir)
        out["pages"] = {}
        for name, page_urls in urls.items():
            log(f"{db}: {name}")
            out["pages"][name] = time_page(base, page_urls, args.requests)
            out["pages"][name]["load"] = os.getloadavg()[0]
    finally:
        if server is not None:
            stop_server(server)
        if db == "postgres":
            psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        shutil.rmtree(data_dir, ignore_errors=True)
    return out


def main(argv: list[str]) -> int:
    if argv and argv[0] in {"generate", "queries"}:
        return child_main(argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench programme-pages",
        description="Public programme list, item page and iCalendar feed over HTTP.",
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="sqlite")
    parser.add_argument("--items", type=int, default=500, help="upcoming published items")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON", help="only re-render")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
    else:
        result = {
            "command": "python -m bench programme-pages"
            + "".join(f" {shlex.quote(a)}" for a in argv),
            "settings": {"items": args.items, "requests": args.requests},
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "results": [],
        }
        databases = ["sqlite", "postgres"] if args.db == "both" else [args.db]
        for db in databases:
            result["results"].append(run_database(db, args))
        result["machine"]["load_end"] = os.getloadavg()
        result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        RAW.parent.mkdir(parents=True, exist_ok=True)
        RAW.write_text(json.dumps(result, indent=1))
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(render_report(result))
    sys.stdout.write(console(result))
    sys.stdout.write(f"\nReport written to {args.report}\n")
    return 0


# --- the report ---------------------------------------------------------------------------------

DB_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def target_of(name: str) -> str:
    return f"p95 < {TARGET_LIST_P95 * 1000:.0f} ms" if name.startswith("Programme list") else "–"


def rows(result: dict[str, Any]) -> list[list[str]]:
    table = []
    for res in result["results"]:
        for name, page in res["pages"].items():
            target = target_of(name)
            met = "–"
            if name.startswith("Programme list"):
                met = "yes" if page["p95"] < TARGET_LIST_P95 else "**no**"
            queries = res["queries"].get(name, {})
            table.append(
                [
                    DB_NAMES[res["db"]],
                    name,
                    f"{ms(page['p50'])} / {ms(page['p95'])}",
                    target,
                    met,
                    f"{ms(page['max'])}",
                    ms(queries["cold_median"]) if "cold_median" in queries else "–",
                    str(queries.get("queries", "–")),
                    f"{page['bytes'] / 1024:,.0f} KiB",
                    ", ".join(map(str, page["statuses"])),
                    f"{page['load']:.1f}",
                ]
            )
    return table


def console(result: dict[str, Any]) -> str:
    return (
        "\n".join(
            f"{r[0]:<10} {r[1]:<36} p50/p95 {r[2]:<20} max {r[5]:<8} empty cache {r[6]:<8} "
            f"queries {r[7]:<3} {r[8]:>8}  target {r[3]}: {r[4]}"
            for r in rows(result)
        )
        + "\n"
    )


def render_report(result: dict[str, Any]) -> str:
    m = result["machine"]
    s = result["settings"]
    out = [
        "# Benchmark: the public programme pages",
        "",
        "The public programme list, an item page and the iCalendar feed of an organisation with "
        f'{s["items"]} upcoming programme items, fetched over HTTP (issue "Programme and '
        'bookings"). This file is written by the benchmark; do not edit it by hand, run it '
        "again.",
        "",
        "```sh",
        result["command"],
        "```",
        "",
        f"Run {result['started']} – {result['finished']} (UTC).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['ram_gib']:.1f} GiB RAM; Linux {m['kernel']}; Python {m['python']}",
        f"- Load average (1 min) at the start {m['load_start'][0]:.1f}, at the end "
        f"{m['load_end'][0]:.1f}, and per page below. The machine is shared with other "
        "engineers' test suites; a load above 2 on 2 cores means the server waited for the CPU.",
        "",
        "## Data",
        "",
    ]
    for res in result["results"]:
        d = res["data"]
        out.append(
            f"- {DB_NAMES[res['db']]}: {d['upcoming_items']} upcoming published items, "
            f"{d['past_items']} items with past dates only, {d['unpublished_items']} "
            f"unpublished; {d['dates']:,} dates in all, {d['bookings']:,} bookings (half the "
            f"dates have bookings, a tenth are sold out); 12 themes, 5 venues, 1–3 prices per "
            f"item; generated in {d['seconds']:.1f} s."
        )
    out += [
        "",
        "## How it is measured",
        "",
        "- Server: `publikum serve --no-worker` (waitress, 8 threads), `DEBUG=false`, as a "
        "single-machine installation runs it; no cache in front (the pages send "
        "`Cache-Control: public, max-age=60`, which a proxy would use).",
        f"- Client: one connection, requests one after another: {WARMUP} warm-up requests, "
        f"then {s['requests']} timed requests per page; p50 / p95 are nearest-rank "
        "percentiles of the time from sending the request to the last byte of the answer.",
        "- Queries and empty cache: each page rendered inside a Django process with the "
        f"same database: the median of {COLD_RUNS} renders right after emptying the cache "
        '("Empty cache"), then once more counting its SQL queries. The iCalendar feed keeps '
        "its body a minute in the server's cache (or until the programme changes), so its "
        "timed requests over HTTP are mostly cache hits; the empty-cache figure is what "
        "building it costs. The list and item pages are built on every request.",
        "- The list shows 50 items per page, each with its first dates and their seats.",
        "",
        "## Figures",
        "",
        "| Database | Page | p50 / p95 | Target | Met? | Max | Empty cache | Queries | Size "
        "| Status | Load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    out += ["| " + " | ".join(r) + " |" for r in rows(result)]
    out.append("")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
