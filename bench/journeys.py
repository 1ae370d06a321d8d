"""Benchmark of journeys and newsletters (issue 5): sending speed, trigger latency, the tick.

    python -m bench journeys                          # PostgreSQL, 100,000 contacts (~15 min)
    python -m bench journeys --rounds 2:100 --skip-tick   # one full round with two workers
    python -m bench journeys --quick                  # a tiny run on SQLite (the smoke test's)

A fresh database (PostgreSQL `publikum_bench_journeys` on 127.0.0.1:5432, or SQLite in a
temporary PUBLIKUM_DATA_DIR), migrated, then four parts, each job in its own process with
the environment that points Django at that database:

1. Newsletter: a house with `--contacts` contacts (German and English speakers, names,
   interests; the newsletter consent for most, and some who never consented, unsubscribed,
   bounced, complained, paused or were erased, so that the guardrails have work), upcoming
   dates for the events block, and a personalised marketing template (greeting with the first
   name, a Markdown text, upcoming events matching the contact's interests, a button). A
   counting SMTP sink in its own process (bench/journeys_sink.py). `publikum worker`
   processes run against the database and send to the sink; the benchmark presses "send
   now" (`newsletter_schedule`), and the worker's jobs queue the messages
   (`newsletter_queue`) and deliver them (`messages_deliver`). A baseline round sends to
   every tenth contact with one worker first; then the rounds of `--rounds` (default: two
   workers to everyone, one worker to a regional segment of 30 %, which keeps the whole run
   near 15 minutes; the rate does not depend on the segment's size). Figures: messages per
   second from the first message queued to the last mail received, the sink's count against
   the database's count of sent messages, keys received twice, peak RSS of each worker
   (VmHWM), CPU time of workers, sink and PostgreSQL, and what other processes used.
2. Trigger latency: one worker running (with its tick), the ready-made "welcome" journey
   active; people subscribe and confirm one after another (`subscription_create`,
   `subscription_confirm`: the audience service that fires the "subscribed" trigger after
   its commit); from the confirmation's commit to the welcome mail at the sink.
3. Delivery under cProfile: a few thousand messages of a newsletter delivered in one process
   with the profiler, and as many again without it; statements per message.
4. The tick: a second house whose contacts wait in a journey (due over the next 30 days),
   `--tick-baseline` of them, then `--waiting`; the periodic advance job
   (`engine_tasks.advance_due_job`) with none and with `--due` runs due, and the plan of its
   claim query.

Prints the figures and rewrites docs/benchmarks/journeys.md (the raw results go to
var/bench/journeys-results.json; `--render` re-renders a report from them).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.audience import PG_SERVER, base_env, log, machine, migrate, percentile, psql
from bench.bookings import cpu_of, free_port

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks" / "journeys.md"
RAW = ROOT / "var" / "bench" / "journeys-results.json"
PG_DATABASE = "publikum_bench_journeys"

TARGET_RATE = 250.0  # messages per second
TARGET_TRIGGER_P95 = 5.0  # seconds
CIVIMAIL_PER_HOUR = 144_000  # on four cores, as the issue quotes it
# Memory is "bounded" when a worker's peak at full size stays within this factor of the
# baseline round's peak (a tenth of the contacts).
MEMORY_FACTOR = 1.25
# The tick is "not slowed" when the pass with nothing due at full size takes at most this
# factor of the baseline's, or less than TICK_FLOOR seconds (noise at a few milliseconds).
TICK_FACTOR = 2.0
TICK_FLOOR = 0.050

QUICK = {
    "contacts": 200,
    "rounds": "1:100",
    "triggers": 5,
    "spacing": 0.1,
    "waiting": 400,
    "tick_baseline": 100,
    "due": 20,
    "profile_messages": 30,
    "repeats": 2,
}


# --- the database and the processes around it ---------------------------------------------------


@dataclass
class Bench:
    db: str
    env: dict[str, str]
    data_dir: Path
    pg_database: str = PG_DATABASE
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bench-j-")))

    def job(
        self, name: str, *args: str, env: dict[str, str] | None = None, timeout: float = 3600
    ) -> dict[str, Any]:
        """`python -m bench.journeys_jobs name args`; its stderr shows, its RESULT returns."""
        proc = subprocess.run(
            [sys.executable, "-m", "bench.journeys_jobs", name, *args],
            env=self.env | (env or {}),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
            timeout=timeout,
            check=False,
        )
        lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"job {name} failed (exit code {proc.returncode})")
        result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
        if "error" in result:
            raise RuntimeError(f"job {name}: {result['error']}")
        return result

    def query(self, sql: str) -> list[str]:
        """One row of a read-only query, as text (psql, or sqlite3 on the file)."""
        if self.db == "postgres":
            return psql(sql, self.pg_database).split("|")
        path = self.data_dir / "publikum.sqlite3"
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as conn:
            row = conn.execute(sql).fetchone()
        return [str(v) for v in row or ()]

    def backend_pids(self) -> list[int]:
        """The PostgreSQL server processes of this database's client connections."""
        if self.db != "postgres":
            return []
        out = psql(
            "SELECT pid FROM pg_stat_activity WHERE datname = '"  # noqa: S608
            + self.pg_database
            + "' AND backend_type = 'client backend' AND application_name <> 'psql'"
        )
        return [int(p) for p in out.split()]


def prepare(args: argparse.Namespace) -> Bench:
    data_dir = Path(tempfile.mkdtemp(prefix="publikum-bench-journeys-"))
    (data_dir / "static").mkdir()  # WhiteNoise warns about a missing STATIC_ROOT
    env = base_env(data_dir) | {
        "PUBLIKUM_TASK_QUEUE": "database",
        "PUBLIKUM_PUBLIC_URL": "https://publikum.example",
        "PYTHONUNBUFFERED": "1",
    }
    if args.db == "postgres":
        env["DATABASE_URL"] = f"{PG_SERVER}/{args.pg_database}"
        psql(f"DROP DATABASE IF EXISTS {args.pg_database} WITH (FORCE)")
        psql(f"CREATE DATABASE {args.pg_database}")
    migrate(env)
    return Bench(args.db, env, data_dir, args.pg_database)


def drop(bench: Bench, keep: bool) -> None:
    if not keep:
        if bench.db == "postgres":
            psql(f"DROP DATABASE IF EXISTS {bench.pg_database} WITH (FORCE)")
        shutil.rmtree(bench.data_dir, ignore_errors=True)
    shutil.rmtree(bench.work_dir, ignore_errors=True)


def proc_memory(pid: int) -> dict[str, float]:
    """Resident set size now and its peak (VmHWM), in MiB; empty if the process is gone."""
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1]) / 1024
    except OSError:
        return {}
    return out


@dataclass
class Sink:
    process: subprocess.Popen[bytes]
    port: int
    status_file: Path
    out_file: Path

    @classmethod
    def start(cls, directory: Path) -> Sink:
        port = free_port()
        status, out = directory / f"sink-{port}.json", directory / f"received-{port}.json"
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.journeys_sink",
                f"--port={port}",
                f"--status={status}",
                f"--out={out}",
            ],
            cwd=ROOT,
            env=os.environ | {"PYTHONPATH": str(ROOT)},
            start_new_session=True,
        )
        sink = cls(process, port, status, out)
        deadline = time.monotonic() + 30
        while not sink.status().get("ready"):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the SMTP sink did not start")
            time.sleep(0.05)
        return sink

    def status(self) -> dict[str, Any]:
        try:
            result: dict[str, Any] = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return {}
        return result

    def stop(self) -> list[list[Any]]:
        """Stop the sink; returns its records: [time, recipients, key, size]."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)
        records: list[list[Any]] = json.loads(self.out_file.read_text())["records"]
        return records


@dataclass
class Workers:
    processes: list[subprocess.Popen[bytes]]
    logs: list[Path]
    idle: list[dict[str, float]] = field(default_factory=list)

    @classmethod
    def start(cls, bench: Bench, count: int, sink: Sink, name: str) -> Workers:
        publikum = Path(sys.executable).with_name("publikum")
        command = [str(publikum)] if publikum.exists() else [sys.executable, "-m", "publikum.cli"]
        env = bench.env | {"EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
        processes, logs = [], []
        for n in range(count):
            log_file = bench.work_dir / f"worker-{name}-{n}.log"
            with log_file.open("wb") as fh:
                processes.append(
                    subprocess.Popen(
                        [*command, "worker"],
                        env=env,
                        cwd=ROOT,
                        stdout=fh,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            logs.append(log_file)
        workers = cls(processes, logs)
        deadline = time.monotonic() + 120
        while not all("Worker " in p.read_text(errors="replace") for p in logs):
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                workers.stop()
                tails = "\n".join(p.read_text(errors="replace")[-2000:] for p in logs)
                raise RuntimeError(f"a worker did not start:\n{tails}")
            time.sleep(0.1)
        time.sleep(0.5)  # the first poll: its imports and connection belong to start-up
        workers.idle = [proc_memory(p.pid) for p in processes]
        return workers

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]

    def stop(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.processes:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def errors(self) -> list[str]:
        """Tracebacks and errors the workers logged (there should be none)."""
        found = []
        for path in self.logs:
            for line in path.read_text(errors="replace").splitlines():
                if "Traceback" in line or " ERROR " in line or line.startswith("ERROR"):
                    found.append(f"{path.name}: {line[:300]}")
        return found[:20]


class CpuMeter:
    """CPU seconds of workers, sink and the database's server processes between start and
    the last `sample`; server processes are sampled while they live (connections of short
    jobs come and go)."""

    def __init__(self, bench: Bench, workers: Workers, sink: Sink) -> None:
        self.bench, self.workers, self.sink = bench, workers, sink
        self.base = {
            "workers": {pid: cpu_of(pid) for pid in workers.pids},
            "sink": {sink.process.pid: cpu_of(sink.process.pid)},
            "database": {pid: cpu_of(pid) for pid in bench.backend_pids()},
        }
        self.last: dict[str, dict[int, float]] = {k: dict(v) for k, v in self.base.items()}
        self.machine_base = machine_busy()
        self.machine_last = self.machine_base

    def sample(self) -> None:
        current = {
            "workers": self.workers.pids,
            "sink": [self.sink.process.pid],
            "database": self.bench.backend_pids(),
        }
        for part, pids in current.items():
            for pid in pids:
                seconds = cpu_of(pid)
                if seconds:
                    self.last[part][pid] = max(seconds, self.last[part].get(pid, 0.0))
        self.machine_last = machine_busy()

    def used(self) -> dict[str, float]:
        """CPU seconds per part; `others`: what the rest of the machine used meanwhile (the
        benchmark's own polling, and other people's processes on a shared machine)."""
        parts = {
            part: sum(s - self.base[part].get(pid, 0.0) for pid, s in self.last[part].items())
            for part in self.last
        }
        busy = self.machine_last[0] - self.machine_base[0]
        parts["others"] = max(0.0, busy - sum(parts.values()))
        parts["elapsed"] = self.machine_last[1] - self.machine_base[1]
        return parts


def machine_busy() -> tuple[float, float]:
    """(CPU seconds all cores spent busy since boot, seconds since boot) from /proc."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait.
    busy = sum(fields[:8]) - fields[3] - fields[4]
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    return busy / os.sysconf("SC_CLK_TCK"), uptime


# --- 1. newsletter rounds ----------------------------------------------------------------------


def newsletter_round(
    bench: Bench, *, label: str, segment: int, expected: int, workers_count: int
) -> dict[str, Any]:
    """One newsletter, sent by `workers_count` worker processes into a fresh sink."""
    sink = Sink.start(bench.work_dir)
    workers = Workers.start(bench, workers_count, sink, label)
    load_before = os.getloadavg()[0]
    rss: list[list[float]] = [[] for _ in workers.pids]
    try:
        sent = bench.job("send", f"--segment={segment}", f"--label={label}")
        # After the sending job's own process (its start-up is not the round's work).
        meter = CpuMeter(bench, workers, sink)
        newsletter = sent["newsletter"]
        log(f"{label}: newsletter {newsletter} to {expected:,} contacts, {workers_count} worker(s)")
        deadline = time.monotonic() + max(180.0, expected / 25)
        last_log = time.monotonic()
        poll = (
            "SELECT CASE WHEN n.queued_all_at IS NULL THEN 0 ELSE 1 END, "  # noqa: S608
            "(SELECT count(*) FROM journeys_message m WHERE m.newsletter_id = n.id "
            "AND m.status IN ('queued', 'sending')), "
            "(SELECT count(*) FROM journeys_message m WHERE m.newsletter_id = n.id "
            f"AND m.status = 'sent'), n.queued FROM journeys_newsletter n WHERE n.id = {newsletter}"
        )
        done_at = None
        while time.monotonic() < deadline:
            time.sleep(0.5)
            meter.sample()
            for n, pid in enumerate(workers.pids):
                rss[n].append(proc_memory(pid).get("VmRSS", 0.0))
            all_queued, waiting, db_sent, queued = bench.query(poll)
            received = sink.status().get("count", 0)
            if time.monotonic() - last_log > 15:
                rate = received / max(time.time() - sent["committed"], 1e-6)
                log(f"{label}: queued {queued}, sent {db_sent}, received {received} ({rate:.0f}/s)")
                last_log = time.monotonic()
            # Every contact queued and every message dealt with (sent, suppressed, failed).
            finished = all_queued == "1" and waiting == "0"
            if finished and received >= int(db_sent):
                break
            if finished and done_at is None:
                done_at = time.monotonic()
            if done_at is not None and time.monotonic() - done_at > 10:
                break  # the sink has fewer than the database says were sent: reported
        else:
            log(f"{label}: not finished before the deadline")
        meter.sample()
        memory = [proc_memory(pid) for pid in workers.pids]
        cpu = meter.used()
    finally:
        workers.stop()
        records = sink.stop()
    errors = workers.errors()
    db = bench.job("verify", f"--newsletter={newsletter}", f"--since={sent['schedule_called']}")
    result = summarise_round(records, db, sent, expected)
    result.update(
        label=label,
        workers=workers_count,
        segment_contacts=expected,
        memory=[
            {"idle": idle.get("VmRSS"), "peak": peak.get("VmHWM"), "samples": series[-1:]}
            for idle, peak, series in zip(workers.idle, memory, rss, strict=True)
        ],
        cpu=cpu,
        load=[load_before, os.getloadavg()[0]],
        worker_errors=errors,
    )
    result["cpu_ms_per_message"] = {
        k: v * 1000 / max(result["received"], 1)
        for k, v in cpu.items()
        if k in {"workers", "sink", "database"}
    }
    log(
        f"{label}: {result['received']:,} received, {result['rate']:.0f} messages/s "
        f"(first queued → last received), peak RSS "
        + ", ".join(f"{m['peak']:.0f} MiB" for m in result["memory"] if m["peak"])
    )
    bench.job("reset")
    return result


def summarise_round(
    records: list[list[Any]], db: dict[str, Any], sent: dict[str, Any], expected: int
) -> dict[str, Any]:
    prefix = f"newsletter:{db['newsletter']}:"
    mine = [r for r in records if str(r[2]).startswith(prefix)]
    keys = [r[2] for r in mine]
    twice = len(keys) - len(set(keys))
    times = sorted(r[0] for r in mine)
    db_sent = int(db["by_status"].get("sent", 0))
    first_queued = db.get("first_created") or sent["committed"]
    last = times[-1] if times else first_queued
    wall = last - first_queued
    return {
        "newsletter": db["newsletter"],
        "db": db,
        "received": len(mine),
        "other_mails": len(records) - len(mine),
        "keys_twice": twice,
        "recipients": len({rcpt for r in mine for rcpt in r[1]}),
        "sink_equals_db": len(mine) == db_sent,
        "exact": len(mine) == db_sent and twice == 0 and db["contacts_with_two_messages"] == 0,
        "wall": wall,
        "rate": len(mine) / wall if wall > 0 else 0.0,
        "from_send": last - sent["committed"],
        "rate_from_send": len(mine) / max(last - sent["committed"], 1e-6),
        "first_received_after": (times[0] - first_queued) if times else None,
        "queueing_seconds": _job_span(db, "newsletter_queue_job"),
        "jobs": db.get("jobs", {}),
        "start_delay": first_queued - sent["committed"],
        "mean_size": statistics.fmean(r[3] for r in mine) if mine else 0,
        "expected": expected,
    }


def _job_span(db: dict[str, Any], name: str) -> float | None:
    """Seconds from the first start to the last end of the round's jobs of this name."""
    job = db.get("jobs", {}).get(name)
    if not job or job["first_started"] is None or job["last_finished"] is None:
        return None
    return float(job["last_finished"] - job["first_started"])


# --- 2. trigger latency ---------------------------------------------------------------------------


def trigger_phase(bench: Bench, count: int, spacing: float, workers_count: int) -> dict[str, Any]:
    sink = Sink.start(bench.work_dir)
    workers = Workers.start(bench, workers_count, sink, "triggers")
    info = bench.job("info")
    try:
        log(f"triggers: {count} confirmations, one every {spacing * 1000:.0f} ms")
        env = {"EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
        result = bench.job(
            "triggers", f"--count={count}", f"--spacing={spacing}", env=env, timeout=600
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sink.status().get("prefixes", {}).get("run", 0) >= count:
                break
            time.sleep(0.2)
    finally:
        workers.stop()
        records = sink.stop()
    confirmations = result["confirmations"]
    emails = [c["email"] for c in confirmations]
    first: dict[str, float] = {}
    for received, recipients, key, _size in records:
        if str(key).startswith("run:"):
            for rcpt in recipients:
                first[rcpt] = min(received, first.get(rcpt, received))
    split = bench.job("trigger-verify", "--emails=" + json.dumps(emails))["per_email"]
    latencies, missing, parts = [], [], []
    for c in confirmations:
        got = first.get(c["email"])
        if got is None:
            missing.append(c["email"])
            continue
        latencies.append(got - c["committed"])
        times = split.get(c["email"], {})
        if times.get("entered") and times.get("queued") and times.get("sent"):
            parts.append(
                {
                    "entered": times["entered"] - c["committed"],
                    "queued": times["queued"] - times["entered"],
                    "sent": times["sent"] - times["queued"],
                    "received": got - times["sent"],
                }
            )
    out: dict[str, Any] = {
        "count": count,
        "spacing": spacing,
        "workers": workers_count,
        "received": len(latencies),
        "missing": missing,
        "confirmation_mails": sum(1 for r in records if str(r[2]).startswith("subscribe-")),
        "tick_seconds": info.get("tick_seconds"),
        "worker_errors": workers.errors(),
    }
    if latencies:
        out["latency"] = {
            "p50": percentile(latencies, 0.50),
            "p95": percentile(latencies, 0.95),
            "max": max(latencies),
            "min": min(latencies),
        }
    if parts:
        out["split_median"] = {k: statistics.median(p[k] for p in parts) for k in parts[0]}
    log(
        "triggers: "
        + (
            f"p50 {out['latency']['p50']:.2f} s, p95 {out['latency']['p95']:.2f} s, "
            f"max {out['latency']['max']:.2f} s"
            if latencies
            else "no welcome mail arrived"
        )
    )
    return out


# --- 3. profile, 4. tick -------------------------------------------------------------------------


def profile_phase(bench: Bench, messages: int) -> dict[str, Any]:
    sink = Sink.start(bench.work_dir)
    try:
        log(f"profile: delivering {messages:,} messages under cProfile")
        env = {"EMAIL_URL": f"smtp://127.0.0.1:{sink.port}"}
        result = bench.job("profile", f"--messages={messages}", env=env)
    finally:
        sink.stop()
    bench.job("reset")
    return result


def tick_phase(bench: Bench, args: argparse.Namespace) -> dict[str, Any]:
    log(f"tick: {args.waiting:,} waiting runs (baseline {args.tick_baseline:,}), {args.due} due")
    return bench.job(
        "tick",
        f"--waiting={args.waiting}",
        f"--baseline={args.tick_baseline}",
        f"--due={args.due}",
        f"--repeats={args.repeats}",
    )


# --- the run ---------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bench = prepare(args)
    try:
        out["info"] = bench.job("info")
        log(f"setup: {args.contacts:,} contacts")
        shares = ",".join(sorted({str(share) for _w, share in args.round_plan}))
        setup = bench.job("setup", f"--contacts={args.contacts}", f"--shares={shares}")
        out["setup"] = setup
        segments = setup["segments"]
        if not args.skip_newsletter:
            rounds = []
            rounds.append(
                newsletter_round(
                    bench,
                    label="baseline",
                    segment=segments["sample"]["id"],
                    expected=segments["sample"]["count"],
                    workers_count=1,
                )
            )
            for count, share in args.round_plan:
                segment = segments[str(share)]
                rounds.append(
                    newsletter_round(
                        bench,
                        label=f"{share}%-{count}w",
                        segment=segment["id"],
                        expected=segment["count"],
                        workers_count=count,
                    )
                )
            out["rounds"] = rounds
        if not args.skip_triggers:
            out["triggers"] = trigger_phase(bench, args.triggers, args.spacing, 1)
        if not args.skip_profile and args.profile_messages:
            out["profile"] = profile_phase(bench, args.profile_messages)
        if not args.skip_tick:
            out["tick"] = tick_phase(bench, args)
    finally:
        drop(bench, args.keep)
    return out


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench journeys",
        description="Newsletter speed, trigger latency and the tick with many waiting runs.",
    )
    parser.add_argument("--db", choices=["postgres", "sqlite"], help="default: postgres")
    parser.add_argument("--pg-database", default=PG_DATABASE, help="PostgreSQL database name")
    parser.add_argument("--contacts", type=int, help="newsletter audience (default 100,000)")
    parser.add_argument(
        "--rounds",
        help="newsletter rounds after the baseline, WORKERS:PERCENT of the contacts each "
        "(percent in tens; default '2:100,1:30': two workers to everyone, one worker to a "
        "regional 30 %%)",
    )
    parser.add_argument("--triggers", type=int, help="confirmations (default 100)")
    parser.add_argument("--spacing", type=float, help="seconds between them (default 0.2)")
    parser.add_argument("--waiting", type=int, help="waiting runs (default 1,000,000)")
    parser.add_argument("--tick-baseline", type=int, help="baseline (default 10,000)")
    parser.add_argument("--due", type=int, help="runs due at once (default 1,000)")
    parser.add_argument("--repeats", type=int, help="passes with nothing due (default 5)")
    parser.add_argument("--profile-messages", type=int, help="0 skips (default 2,000)")
    parser.add_argument("--skip-newsletter", action="store_true")
    parser.add_argument("--skip-triggers", action="store_true")
    parser.add_argument("--skip-profile", action="store_true")
    parser.add_argument("--skip-tick", action="store_true")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, SQLite (smoke test)")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    parser.add_argument("--raw", type=Path, default=RAW, help="where to write the raw results")
    parser.add_argument("--render", type=Path, metavar="RESULTS_JSON", help="only re-render")
    args = parser.parse_args(argv)
    defaults = {
        "contacts": 100_000,
        "rounds": "2:100,1:30",
        "triggers": 100,
        "spacing": 0.2,
        "waiting": 1_000_000,
        "tick_baseline": 10_000,
        "due": 1000,
        "profile_messages": 2000,
        "repeats": 5,
    }
    for name, value in (QUICK if args.quick else defaults).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.db is None:
        args.db = "sqlite" if args.quick else "postgres"
    args.round_plan = []
    for entry in str(args.rounds).split(","):
        workers, _, share = entry.strip().partition(":")
        percent = int(share or 100)
        if not workers.isdigit() or int(workers) < 1 or percent % 10 or not 10 <= percent <= 100:
            parser.error(f"--rounds: {entry!r} is not WORKERS:PERCENT (percent 10, 20, ... 100)")
        args.round_plan.append((int(workers), percent))
    return args


SETTINGS = (
    "db",
    "contacts",
    "rounds",
    "triggers",
    "spacing",
    "waiting",
    "tick_baseline",
    "due",
    "profile_messages",
    "repeats",
    "quick",
)


def main(argv: list[str]) -> int:
    args = parse(argv)
    if args.render:
        result = json.loads(args.render.read_text())
    else:
        result = {
            "command": "python -m bench journeys" + "".join(f" {shlex.quote(a)}" for a in argv),
            "settings": {k: getattr(args, k) for k in SETTINGS},
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
        }
        if args.db == "postgres":
            result["postgres"] = psql("SHOW server_version")
        result["sqlite"] = sqlite3.sqlite_version
        start = time.perf_counter()
        result |= run(args)
        result["seconds"] = time.perf_counter() - start
        result["machine"]["load_end"] = os.getloadavg()
        result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        args.raw.parent.mkdir(parents=True, exist_ok=True)
        args.raw.write_text(json.dumps(result, indent=1, default=str))
    from bench.journeys_report import console, render_report, verdicts

    checks = verdicts(result)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(render_report(result, checks))
    sys.stdout.write(console(result, checks))
    sys.stdout.write(f"\nReport written to {args.report}\n")
    exact = all(c["met"] for c in checks if c["kind"] == "correct")
    return 0 if exact else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
