"""Benchmark of bookings under contention: many people book one date at the same instant.

    python -m bench bookings                                  # 4 processes, 500 clients, 300 seats
    python -m bench bookings --processes 4 --clients 500 --capacity 300 --rounds 3

On PostgreSQL (a fresh database `publikum_bench_bookings` on 127.0.0.1:5432, migrated, dropped
at the end unless --keep): gunicorn with N sync worker processes serves the REST API; the
benchmark process fires all clients at once (coroutines with one connection each, released
together) and each books one seat with its own e-mail address.

Two phases per round, measured in the same run:

1. contended: every client books the same date (capacity 300 for 500 clients): the answers
   must be exactly 300 × 201, 200 × 409 sold_out, no 5xx, and the database must hold
   exactly 300 confirmed seats for the date, marked sold out;
2. uncontended: the same number of clients book on 50 different dates (10 each, none sells
   out): the throughput of the same code path when the date locks rarely meet, as baseline.

Figures: wall time from the first request sent to the last answer received, bookings per
second (confirmed bookings / wall time), client-side latency p50/p95/p99 (nearest rank), the
server's own time per request from gunicorn's access log, and the ratio contended /
uncontended. The confirmation mails are enqueued as jobs in the database queue and not sent
during the benchmark (no worker runs); the report counts them.

Prints the figures and rewrites docs/benchmarks/bookings.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.audience import PG_SERVER, base_env, log, machine, migrate, percentile, psql

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks" / "bookings.md"
RAW = ROOT / "var" / "bench" / "bookings-results.json"
PG_DATABASE = "publikum_bench_bookings"
ORG_SLUG = "bench-kasse"
TARGET_PER_SECOND = 100.0
PRETIX_PER_MINUTE = (300, 400)
SEQUENTIAL = 100  # bookings of the single client that shows what one booking costs


# --- the Django side (child processes with DATABASE_URL set) ---------------------------------


def child_setup(args: argparse.Namespace) -> dict[str, Any]:
    """An organisation, a front-desk token, one contended date per round with `capacity`
    seats and `dates` dates per round for the uncontended phase, plus a warm-up date."""
    import django

    django.setup()
    from datetime import timedelta
    from decimal import Decimal

    from django.db import connection
    from django.utils import timezone

    from publikum.audience.models import Contact
    from publikum.core import services
    from publikum.core.models import Role
    from publikum.programme.models import ItemKind, Occurrence, PriceCategory, ProgrammeItem

    org = services.organisation_create(slug=ORG_SLUG, name="Bench Kasse")
    # The house's existing audience: a booking looks its booker up among these.
    Contact.objects.bulk_create(
        (
            Contact(
                organisation=org,
                first_name="Bestand",
                last_name=f"Kontakt {n}",
                email=f"bestand{n}@bench.example",
            )
            for n in range(args.contacts)
        ),
        batch_size=5000,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    _, token = services.token_create(organisation=org, name="bench", role=Role.FRONT_DESK)
    item = ProgrammeItem.objects.create(
        organisation=org, slug="premiere", kind=ItemKind.PERFORMANCE, title_de="Premiere"
    )
    PriceCategory.objects.create(
        organisation=org, item=item, name_de="Regulär", price_eur=Decimal("24.00")
    )
    start = timezone.now() + timedelta(days=30)

    def date(n: int, capacity: int) -> int:
        starts = start + timedelta(hours=n)
        return Occurrence.objects.create(
            organisation=org,
            item=item,
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
            capacity=capacity,
        ).pk

    per_date = -(-args.clients // args.dates)
    counter = iter(range(10**6))
    rounds = [
        {
            "contended": date(next(counter), args.capacity),
            "uncontended": [date(next(counter), per_date * 2) for _ in range(args.dates)],
        }
        for _ in range(args.rounds)
    ]
    return {"token": token, "warmup": date(next(counter), 10**6), "rounds": rounds}


def child_verify(args: argparse.Namespace) -> dict[str, Any]:
    """What the database holds for the given dates: confirmed seats, status, jobs queued."""
    import django

    django.setup()
    from django.db.models import Count, Sum
    from django_tasks_db.models import DBTaskResult

    from publikum.bookings.models import Booking
    from publikum.programme.models import Occurrence

    ids = [int(i) for i in args.ids.split(",")]
    seats = (
        Booking.objects.filter(occurrence_id__in=ids, status="confirmed")
        .values("occurrence_id")
        .annotate(n=Sum("quantity"), bookings=Count("pk"))
    )
    return {
        "confirmed_seats": sum(row["n"] for row in seats),
        "bookings": sum(row["bookings"] for row in seats),
        "statuses": dict(
            Counter(Occurrence.objects.filter(pk__in=ids).values_list("status", flat=True))
        ),
        "jobs_waiting": DBTaskResult.objects.filter(status="READY").count(),
        "jobs_done": DBTaskResult.objects.exclude(status="READY").count(),
    }


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bookings")
    sub = parser.add_subparsers(dest="job", required=True)
    setup = sub.add_parser("setup")
    setup.add_argument("--capacity", type=int, required=True)
    setup.add_argument("--clients", type=int, required=True)
    setup.add_argument("--dates", type=int, required=True)
    setup.add_argument("--rounds", type=int, required=True)
    setup.add_argument("--contacts", type=int, required=True)
    verify = sub.add_parser("verify")
    verify.add_argument("--ids", required=True)
    args = parser.parse_args(argv)
    result = child_setup(args) if args.job == "setup" else child_verify(args)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    return 0


def run_child(env: dict[str, str], args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.bookings", *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        timeout=600,
    )
    line = next(x for x in reversed(proc.stdout.splitlines()) if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT ") :])
    return result


# --- the web processes ----------------------------------------------------------------------


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    access_log: Path
    error_log: Path

    def access_lines(self) -> list[str]:
        return self.access_log.read_text().splitlines() if self.access_log.exists() else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(env: dict[str, str], processes: int, directory: Path) -> Server:
    port = free_port()
    access_log, error_log = directory / "access.log", directory / "error.log"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "publikum.wsgi:application",
            f"--bind=127.0.0.1:{port}",
            f"--workers={processes}",
            "--worker-class=sync",
            "--preload",
            "--backlog=2048",
            "--timeout=120",
            f"--access-logfile={access_log}",
            # worker pid, status, path, request time in microseconds
            "--access-logformat=%(p)s %(s)s %(U)s %(D)s",
            f"--error-logfile={error_log}",
            "--log-level=info",
        ],
        env=env | {"PUBLIKUM_TASK_QUEUE": "database"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(f"http://127.0.0.1:{port}", process, access_log, error_log)
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            tail = error_log.read_text()[-3000:] if error_log.exists() else ""
            raise RuntimeError(f"gunicorn did not come up:\n{tail}")
        booted = error_log.exists() and error_log.read_text().count("Booting worker") >= processes
        if booted and _healthy(server.url):
            return server
        time.sleep(0.2)


def _healthy(url: str) -> bool:
    import requests

    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


# --- the clients ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    start: float
    end: float
    status: int
    code: str


def burst(
    server: Server, token: str, date_ids: list[int], prefix: str, one_by_one: bool = False
) -> list[Sent]:
    """One client per entry of `date_ids`, all released at once; each books one seat over
    its own connection. `one_by_one`: a single client sends them one after another.

    The clients are coroutines writing plain HTTP/1.1 on asyncio streams: one thread, little
    CPU, so that the load generator takes as few cycles as possible from the server under
    test on the same cores (500 threads with an HTTP library took several ms of CPU each).
    """
    host, port = server.url.removeprefix("http://").split(":")

    def request(n: int) -> bytes:
        body = json.dumps(
            {
                "occurrence_id": date_ids[n],
                "quantity": 1,
                "contact": {"email": f"{prefix}-{n}@bench.example", "name": f"Gast {n}"},
            }
        ).encode()
        head = (
            f"POST /api/v1/bookings HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        return head.encode() + body

    async def client(n: int, go: asyncio.Event) -> Sent:
        data = request(n)
        await go.wait()
        start = time.perf_counter()
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(data)
            await writer.drain()
            answer = await asyncio.wait_for(reader.read(), timeout=300)
            writer.close()
            end = time.perf_counter()
            head, _, body = answer.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            code = json.loads(body).get("error", {}).get("code", "") if status >= 400 else ""
        except (OSError, TimeoutError, ValueError, IndexError) as exc:
            end, status, code = time.perf_counter(), 0, type(exc).__name__
        return Sent(start, end, status, code)

    async def run() -> list[Sent]:
        go = asyncio.Event()
        if one_by_one:
            go.set()
            return [await client(n, go) for n in range(len(date_ids))]
        tasks = [asyncio.create_task(client(n, go)) for n in range(len(date_ids))]
        await asyncio.sleep(0.05)  # every client waits at the start line
        go.set()
        return list(await asyncio.gather(*tasks))

    return asyncio.run(run())


def figures(sent: list[Sent], server_us: list[int]) -> dict[str, Any]:
    wall = max(s.end for s in sent) - min(s.start for s in sent)
    latencies = [s.end - s.start for s in sent]
    confirmed = sum(1 for s in sent if s.status == 201)
    return {
        "requests": len(sent),
        "statuses": {str(k): v for k, v in sorted(Counter(s.status for s in sent).items())},
        "errors": dict(Counter(s.code for s in sent if s.status != 201)),
        "server_errors": sum(1 for s in sent if s.status >= 500 or s.status == 0),
        "wall": wall,
        "confirmed": confirmed,
        "bookings_per_second": confirmed / wall,
        "requests_per_second": len(sent) / wall,
        "latency": {
            "p50": percentile(latencies, 0.50),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies),
        },
        "server": {
            "requests": len(server_us),
            "p50": percentile(server_us, 0.50) / 1e6 if server_us else None,
            "p95": percentile(server_us, 0.95) / 1e6 if server_us else None,
            "mean": statistics.fmean(server_us) / 1e6 if server_us else None,
        },
    }


def server_times(lines: list[str]) -> tuple[list[int], set[str]]:
    """Request times (µs) and worker pids of the booking requests in these log lines."""
    times, pids = [], set()
    for line in lines:
        parts = line.split()
        if len(parts) == 4 and parts[2] == "/api/v1/bookings":
            times.append(int(parts[3]))
            pids.add(parts[0])
    return times, pids


# --- CPU time spent, per component (steadier than wall time on a shared machine) -----------


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of one process so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(server: Server) -> list[int]:
    path = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def backend_pids() -> list[int]:
    """The PostgreSQL server processes of the benchmark database's client connections."""
    out = psql(
        "SELECT pid FROM pg_stat_activity WHERE datname = '"  # noqa: S608
        + PG_DATABASE
        + "' AND backend_type = 'client backend' AND application_name <> 'psql'"
    )
    return [int(p) for p in out.split()]


def cpu_snapshot(server: Server) -> dict[str, dict[int, float]]:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "web": {pid: cpu_of(pid) for pid in worker_pids(server)},
        "database": {pid: cpu_of(pid) for pid in backend_pids()},
        "clients": {0: usage.ru_utime + usage.ru_stime},
    }


def cpu_used(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    """CPU seconds per component between two snapshots (processes that appeared count whole)."""
    return {
        part: sum(seconds - before[part].get(pid, 0.0) for pid, seconds in after[part].items())
        for part in before
    }


def phase(
    server: Server, token: str, date_ids: list[int], prefix: str, one_by_one: bool = False
) -> dict[str, Any]:
    before = len(server.access_lines())
    load = os.getloadavg()[0]
    cpu_before = cpu_snapshot(server)
    sent = burst(server, token, date_ids, prefix, one_by_one=one_by_one)
    time.sleep(0.3)  # the access log line is written after the response
    cpu = cpu_used(cpu_before, cpu_snapshot(server))
    times, pids = server_times(server.access_lines()[before:])
    result = figures(sent, times)
    result["worker_processes_answering"] = len(pids)
    result["load_before"] = load
    result["load_after"] = os.getloadavg()[0]
    result["cpu_seconds"] = cpu
    result["cpu_ms_per_request"] = {k: v * 1000 / len(sent) for k, v in cpu.items()}
    return result


# --- the run ----------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    data_dir = Path(tempfile.mkdtemp(prefix="publikum-bench-bookings-"))
    (data_dir / "static").mkdir()
    env = base_env(data_dir) | {"DATABASE_URL": f"{PG_SERVER}/{PG_DATABASE}"}
    out: dict[str, Any] = {"rounds": []}
    server = None
    try:
        log(f"creating the database {PG_DATABASE}")
        psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        psql(f"CREATE DATABASE {PG_DATABASE}")
        migrate(env)
        out["postgres"] = psql("SHOW server_version")
        setup = run_child(
            env,
            [
                "setup",
                f"--capacity={args.capacity}",
                f"--clients={args.clients}",
                f"--dates={args.dates}",
                f"--rounds={args.rounds}",
                f"--contacts={args.contacts}",
            ],
        )
        log(f"starting gunicorn with {args.processes} worker processes")
        server = start_server(env, args.processes, data_dir)
        token = setup["token"]
        # Every worker loads the URLs, the API and the ORM's queries on its first requests.
        burst(server, token, [setup["warmup"]] * (args.processes * 10), "warmup")
        log(f"one client books {SEQUENTIAL} seats one after another")
        out["sequential"] = phase(
            server, token, [setup["warmup"]] * SEQUENTIAL, "one", one_by_one=True
        )
        for n, dates in enumerate(setup["rounds"], start=1):
            log(f"round {n}: {args.clients} clients book one date of {args.capacity} seats")
            contended = phase(server, token, [dates["contended"]] * args.clients, f"c{n}")
            contended["db"] = run_child(env, ["verify", f"--ids={dates['contended']}"])
            log(
                f"round {n}: {contended['statuses']} in {contended['wall']:.2f} s, "
                f"{contended['bookings_per_second']:.0f} bookings/s"
            )
            ids = [dates["uncontended"][i % args.dates] for i in range(args.clients)]
            log(f"round {n}: {args.clients} clients book on {args.dates} dates")
            uncontended = phase(server, token, ids, f"u{n}")
            uncontended["db"] = run_child(
                env, ["verify", "--ids=" + ",".join(map(str, dates["uncontended"]))]
            )
            log(
                f"round {n}: {uncontended['statuses']} in {uncontended['wall']:.2f} s, "
                f"{uncontended['bookings_per_second']:.0f} bookings/s"
            )
            out["rounds"].append({"contended": contended, "uncontended": uncontended})
    finally:
        if server is not None:
            stop_server(server)
        if not args.keep:
            psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    return out


def expected(args: argparse.Namespace, contended: dict[str, Any]) -> bool:
    sold = min(args.capacity, args.clients)
    return (
        contended["statuses"].get("201", 0) == sold
        and contended["statuses"].get("409", 0) == args.clients - sold
        and contended["server_errors"] == 0
        and set(contended["errors"]) <= {"sold_out"}
        and contended["db"]["confirmed_seats"] == sold
        and (sold < args.capacity or contended["db"]["statuses"] == {"sold_out": 1})
    )


def main(argv: list[str]) -> int:
    if argv and argv[0] in {"setup", "verify"}:
        return child_main(argv)
    parser = argparse.ArgumentParser(
        prog="python -m bench bookings",
        description="Bookings under contention on PostgreSQL with several web processes.",
    )
    parser.add_argument("--processes", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=500, help="simultaneous clients")
    parser.add_argument("--capacity", type=int, default=300, help="seats of the contended date")
    parser.add_argument("--dates", type=int, default=50, help="dates of the uncontended phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both phases")
    parser.add_argument(
        "--contacts", type=int, default=50_000, help="contacts the house has before the sale"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON", help="only re-render")
    args = parser.parse_args(argv)
    if args.render:
        result = json.loads(args.render.read_text())
    else:
        result = {
            "command": "python -m bench bookings" + "".join(f" {shlex.quote(a)}" for a in argv),
            "settings": {
                k: getattr(args, k)
                for k in ("processes", "clients", "capacity", "dates", "rounds", "contacts")
            },
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
        }
        result |= run(args)
        result["machine"]["load_end"] = os.getloadavg()
        result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        RAW.parent.mkdir(parents=True, exist_ok=True)
        RAW.write_text(json.dumps(result, indent=1))
    ns = argparse.Namespace(**result["settings"])
    ok = all(expected(ns, r["contended"]) for r in result["rounds"])
    report = render_report(result, ok)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report)
    sys.stdout.write(console(result, ok))
    sys.stdout.write(f"\nReport written to {args.report}\n")
    return 0 if ok else 1


# --- the report -------------------------------------------------------------------------------


def ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f} ms"


def cpu_text(p: dict[str, Any]) -> str:
    c = p["cpu_ms_per_request"]
    return f"{c['web']:.1f} / {c['database']:.1f} / {c['clients']:.1f} ms"


def ceiling(rounds: list[dict[str, Any]], cores: int) -> float:
    """Bookings/s that `cores` dedicated cores would allow by CPU alone (web + database),
    from the uncontended phase's CPU time per booking."""
    per = statistics.median(
        r["uncontended"]["cpu_ms_per_request"]["web"]
        + r["uncontended"]["cpu_ms_per_request"]["database"]
        for r in rounds
    )
    return cores * 1000 / per


def median_of(rounds: list[dict[str, Any]], phase_name: str, key: str) -> float:
    return statistics.median(r[phase_name][key] for r in rounds)


def console(result: dict[str, Any], ok: bool) -> str:
    lines = []
    for n, r in enumerate(result["rounds"], start=1):
        for name in ("contended", "uncontended"):
            p = r[name]
            lines.append(
                f"round {n} {name:<11} {p['statuses']}  wall {p['wall']:.2f} s  "
                f"{p['bookings_per_second']:.0f} bookings/s  p50/p95/p99 "
                f"{ms(p['latency']['p50'])} / {ms(p['latency']['p95'])} / "
                f"{ms(p['latency']['p99'])}  CPU/request {cpu_text(p)}"
            )
    one = result.get("sequential")
    if one:
        lines.append(
            f"one client, one by one: {one['bookings_per_second']:.0f} bookings/s, latency p50 "
            f"{ms(one['latency']['p50'])}, CPU/request {cpu_text(one)}"
        )
    c = median_of(result["rounds"], "contended", "bookings_per_second")
    u = median_of(result["rounds"], "uncontended", "bookings_per_second")
    lines.append(
        f"median: contended {c:.0f} bookings/s, uncontended {u:.0f} bookings/s, "
        f"ratio {c / u:.2f}; exact counts and no 5xx: {'yes' if ok else 'NO'}"
    )
    return "\n".join(lines) + "\n"


def render_report(result: dict[str, Any], ok: bool) -> str:
    s = result["settings"]
    m = result["machine"]
    rounds = result["rounds"]
    c = median_of(rounds, "contended", "bookings_per_second")
    u = median_of(rounds, "uncontended", "bookings_per_second")
    per_minute = c * 60
    out = [
        "# Benchmark: bookings under contention",
        "",
        "Many people book the same date at the same instant, through the REST API, served by "
        'several web processes on PostgreSQL (issue "Programme and bookings"). This file is '
        "written by the benchmark; do not edit it by hand, run it again.",
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
        f"- PostgreSQL {result.get('postgres', '?')} on the same machine (server defaults)",
        f"- Load average (1 min) at the start {m['load_start'][0]:.1f}, at the end "
        f"{m['load_end'][0]:.1f}. The clients, gunicorn's {s['processes']} "
        "worker processes and PostgreSQL share these cores; the machine is shared with other "
        "engineers' test suites, so absolute figures are noisy. The contended / uncontended "
        "ratio, measured minutes apart in the same run, is the steadier figure.",
        "",
        "## Set-up",
        "",
        f"- gunicorn, {s['processes']} sync worker processes (one request and one database "
        "connection each), `--preload`, persistent database connections (`CONN_MAX_AGE` 60 s); "
        "`DEBUG=false`.",
        f"- {s['clients']} clients, each with its own HTTP connection (coroutines on one "
        "thread, plain HTTP/1.1), released at the same instant; each books one seat "
        "(`POST /api/v1/bookings`, "
        "`quantity: 1`) with its own e-mail address, so every booking also creates a contact, "
        f"a timeline entry and two audit entries. The house already has {s['contacts']:,} "
        "contacts, among which each booking looks its booker up by address.",
        f"- Contended phase: all {s['clients']} clients book the same date of "
        f"{s['capacity']} seats. Uncontended phase (baseline): {s['clients']} clients spread "
        f"over {s['dates']} dates that do not sell out.",
        f"- {s['rounds']} rounds of both phases on fresh dates, after a warm-up of "
        f"{s['processes'] * 10} bookings.",
        "- Confirmation mails are enqueued as jobs in the database queue "
        "(`PUBLIKUM_TASK_QUEUE=database`) inside the request and not sent during the "
        "benchmark: no worker runs. Sending is a worker's job, outside the date's lock.",
        "- Wall time: from the first request sent to the last answer received. Bookings per "
        "second: confirmed bookings ÷ wall time. Latency: as the client sees it (connect, "
        "queue in the listen backlog, lock wait, work), nearest-rank percentiles. Server "
        "time: gunicorn's own time per request (from the access log).",
        "",
        "## Figures",
        "",
        "| Round | Phase | Answers | Wall | Bookings/s | Latency p50 / p95 / p99 | "
        "Server time p50 / p95 | CPU per request: web / database / clients | "
        "Processes answering | Database afterwards | Load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r in enumerate(rounds, start=1):
        for name in ("contended", "uncontended"):
            p = r[name]
            answers = ", ".join(
                f"{v} × {k}" + (" sold_out" if k == "409" else "") for k, v in p["statuses"].items()
            )
            db = p["db"]
            statuses = ", ".join(f"{v} {k}" for k, v in sorted(db["statuses"].items()))
            out.append(
                f"| {n} | {name} | {answers} | {p['wall']:.2f} s | "
                f"{p['bookings_per_second']:.0f} | {ms(p['latency']['p50'])} / "
                f"{ms(p['latency']['p95'])} / {ms(p['latency']['p99'])} | "
                f"{ms(p['server']['p50'])} / {ms(p['server']['p95'])} | "
                f"{cpu_text(p)} | "
                f"{p['worker_processes_answering']} | {db['confirmed_seats']} seats confirmed; "
                f"date(s): {statuses} | {p['load_before']:.1f} → {p['load_after']:.1f} |"
            )
    jobs = rounds[-1]["uncontended"]["db"]["jobs_waiting"]
    one = result.get("sequential")
    if one:
        out += [
            "",
            f"One client alone, {one['requests']} bookings one after another on a date "
            f"with room (what one booking costs without any queue): latency p50 "
            f"{ms(one['latency']['p50'])}, p95 {ms(one['latency']['p95'])}; server time "
            f"p50 {ms(one['server']['p50'])}; CPU per booking {cpu_text(one)} "
            f"(web / database / client); {one['bookings_per_second']:.0f} bookings/s for one "
            "client.",
        ]
    out += [
        "",
        f"Median over the rounds: **{c:.0f} bookings/s contended** (one date), "
        f"**{u:.0f} bookings/s uncontended** ({s['dates']} dates); ratio contended / "
        f"uncontended **{c / u:.2f}**.",
        "",
        f"Exactly {min(s['capacity'], s['clients'])} × 201 and "
        f"{s['clients'] - min(s['capacity'], s['clients'])} × 409 `sold_out`, no 5xx, and "
        f"exactly {min(s['capacity'], s['clients'])} confirmed seats in the database in every "
        f"round: **{'yes' if ok else 'NO'}**.",
        "",
        f"Jobs waiting in the database queue at the end (confirmation mails not sent): {jobs:,}.",
        "",
        "## Compared with",
        "",
        f"- Our target: ≥ {TARGET_PER_SECOND:.0f} bookings/s on one date: "
        f"**{'met' if c >= TARGET_PER_SECOND else 'not met'}** ({c:.0f} bookings/s).",
        f"- pretix: the issue quotes pretix's documentation with {PRETIX_PER_MINUTE[0]}–"
        f"{PRETIX_PER_MINUTE[1]} tickets per minute for one event (pretix, too, serialises "
        "the sales of one event on a database lock of its quotas; see its scaling guide, "
        "https://docs.pretix.eu/en/latest/admin/scaling.html, and "
        "https://docs.pretix.eu/en/latest/development/implementation/locking.html). "
        f"We measured {per_minute:,.0f} bookings per minute on one date, "
        f"{per_minute / PRETIX_PER_MINUTE[1]:.1f}× the upper figure. The comparison is rough: "
        "a pretix order does more (cart, payment, invoice, several quota checks) and pretix "
        "runs on other hardware.",
        "",
        "## Reading the figures",
        "",
        "- CPU per request is the CPU time the gunicorn workers (web), the PostgreSQL "
        "server processes of their connections (database) and the benchmark's own client "
        "coroutines used during the phase, divided by its requests. It depends much less on "
        "the other load of the machine than the wall time does. By CPU alone, "
        f"{m['usable_cores']} cores for web and database (clients elsewhere) would allow "
        f"about {ceiling(rounds, m['usable_cores']):.0f} bookings/s uncontended; here "
        "the clients, the other engineers' processes and the waits of the lock queue share "
        "the same cores.",
        "- On one date every booking waits for the date's row lock, so the bookings of that "
        "date run one after another; what a booking does while it holds the lock (recount, "
        "booking, lines, audit entry, commit: seven statements) sets the ceiling. With "
        "several dates the processes work side by side; the ratio shows what the lock costs.",
        "- The 409 answers are cheap (the recount finds no seat and the transaction ends), so "
        "the contended phase's requests per second are higher than its bookings per second "
        "suggest.",
        "- Where a booking's CPU goes: 24 SQL statements for a new booker (token; date and "
        "prices; the booker's contact: lookup, the contact service's own check, insert, audit "
        "entry; lock timeout, lock, recount; booking, lines, timeline entry and its counters, "
        "audit entry; six savepoint statements of the audience services; BEGIN and COMMIT; "
        "the mail job after the commit), and Django's ORM spends more CPU building and "
        "reading them than PostgreSQL spends running them (roughly 0.3 to 1.5 ms of web CPU "
        "per ORM statement on this machine; the recount, written in SQL, about 0.1 ms). Fewer "
        "statements per booking raise both figures; more cores raise the uncontended one (web "
        "processes are stateless), the contended one grows only with a shorter time under the "
        "lock.",
        "- A booking looks its booker up by address among the house's contacts "
        "(`email__iexact`, i.e. `UPPER(email)`), twice for a new address, before it takes the "
        "date's lock. Without the index on `(organisation, UPPER(email))` (audience migration "
        "0005) each lookup read all contacts of the house: about 0.1 s at 100,000 contacts on "
        "this machine (measured with EXPLAIN ANALYZE); when the lookups still ran under the "
        "lock, that allowed at most about five bookings per second on one date.",
        "- Client-side latency includes the wait in the listen backlog: "
        f"{s['clients']} requests arrive at once and {s['processes']} processes take one each.",
    ]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
