"""Benchmark of the audience module at scale: segments, lifecycle, CSV import, contact list.

    python -m bench audience                      # PostgreSQL (1M / 20M), then SQLite (100k / 2M)
    python -m bench audience --db postgres        # one database
    python -m bench audience --db sqlite --contacts 20000 --interactions 400000   # a quick run
    python -m bench audience --keep               # keep (and reuse) the generated database

For each database: a fresh database (PostgreSQL `publikum_bench` on 127.0.0.1:5432, or a
SQLite file in a temporary PUBLIKUM_DATA_DIR), `publikum migrate`, the data generator
(bench/datagen.py), then each measurement in its own Python process with the environment
that points Django at that database, so that memory figures belong to one job alone.

Figures: wall-clock seconds (median and 95th percentile, nearest rank, where runs are cheap;
one timed run for the long jobs), throughput, and ratios against the small organisation
generated in the same database (1 % of the size) as the baseline of the same run. Memory:
resident set size sampled every 20 ms by a thread of the measuring process (peak and
growth over the RSS before the job) and the process's ru_maxrss.

Prints the figures and rewrites docs/benchmarks/audience.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks" / "audience.md"
PG_SERVER = "postgres://postgres@127.0.0.1:5432"
PG_DATABASE = "publikum_bench"
SIZES = {"postgres": (1_000_000, 20_000_000), "sqlite": (100_000, 2_000_000)}
IMPORT_ROWS = 100_000
EXISTING_SHARE = 0.10  # rows of the import into the large organisation that update a contact

MAIN_SLUG = "bench"
SMALL_SLUG = "bench-klein"

# The four-rule segment of the issue, in the rule format of publikum.audience.segments.
SEGMENT_RULES: dict[str, Any] = {
    "all": [
        {"field": "language", "op": "eq", "value": "de"},
        {"consent": {"channel": "email", "purpose": "newsletter"}},
        {"activity": "visit", "min": 3, "months": 12},
        {"attended_theme": "fotografie", "months": 24},
    ]
}
RULE_NAMES = [
    "language = de",
    "consent e-mail/newsletter granted",
    "visited ≥ 3 times in the last 12 months",
    "attended theme 'fotografie' in the last 24 months",
]

TARGETS = {
    "segment": 1.0,  # s, PostgreSQL
    "lifecycle": 60.0,  # s for 1,000,000 contacts
    "import": 30.0,  # s for 100,000 rows
    "page": 0.300,  # s
}


# --- helpers shared by parent and children --------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (with 20 values the 95th is the 19th smallest)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "runs": len(values),
        "median": statistics.median(values),
        "p95": percentile(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def budget_runs(wanted: int, one_run: float, *, budget: float, minimum: int) -> int:
    """`wanted` runs, fewer when they would take longer than `budget` seconds together."""
    return max(minimum, min(wanted, int(budget / max(one_run, 1e-6))))


PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE_SIZE


class RssSampler(threading.Thread):
    """Samples the resident set size of this process every `interval` seconds."""

    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.before = rss_bytes()
        self.peak = self.before
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self.peak = max(self.peak, rss_bytes())
            self.samples += 1

    def stop(self) -> dict[str, Any]:
        self._stop_event.set()
        self.join()
        after = rss_bytes()
        self.peak = max(self.peak, after)
        import resource

        return {
            "rss_before_mb": self.before / 2**20,
            "rss_peak_mb": self.peak / 2**20,
            "rss_after_mb": after / 2**20,
            "rss_growth_mb": (self.peak - self.before) / 2**20,
            "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "samples": self.samples,
        }


class QueryStats:
    """A database execute wrapper: number of queries, time in the database, slowest ones."""

    def __init__(self, keep: int = 3, plan_kinds: tuple[str, ...] = ()) -> None:
        self.keep = keep
        self.count = 0
        self.seconds = 0.0
        self.slowest: list[dict[str, Any]] = []
        self.by_kind: dict[str, list[float]] = {}  # "INSERT audience_contact" → [n, seconds]
        # PostgreSQL: the plan (EXPLAIN, not executed) of the first statement of these kinds,
        # taken on the job's own connection just before it runs (temporary tables exist).
        self.plan_kinds = plan_kinds
        self.plans: dict[str, dict[str, str]] = {}

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        if self.plan_kinds and not many:
            self._plan(sql, params, context)
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            took = time.perf_counter() - start
            self.count += 1
            self.seconds += took
            kind = self.by_kind.setdefault(statement_kind(sql), [0, 0.0])
            kind[0] += 1
            kind[1] += took
            if len(self.slowest) < self.keep or took > self.slowest[-1]["seconds"]:
                self._record(took, sql, params, many, context)

    def _record(self, took: float, sql: str, params: Any, many: bool, context: Any) -> None:
        text = sql
        if not many:
            try:
                cursor = context["cursor"]
                text = context["connection"].ops.last_executed_query(cursor, sql, params)
            except Exception:  # the raw SQL will do
                text = sql
        else:
            text = f"{sql}  -- executemany"
        self.slowest.append({"seconds": took, "sql": text, "many": many})
        self.slowest.sort(key=lambda q: -q["seconds"])
        del self.slowest[self.keep :]

    def _plan(self, sql: str, params: Any, context: Any) -> None:
        kind = statement_kind(sql)
        if kind not in self.plan_kinds or kind in self.plans:
            return
        connection = context["connection"]
        if connection.vendor != "postgresql":
            return
        raw = context["cursor"].cursor  # the driver's cursor: no wrappers, no recursion
        try:
            text = raw.mogrify(sql, params) if hasattr(raw, "mogrify") else sql
            raw.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in raw.fetchall())
        except Exception as exc:  # a plan is a bonus; the job goes on
            plan, text = f"(no plan: {exc})", sql
        self.plans[kind] = {"sql": text, "plan": plan}

    def result(self) -> dict[str, Any]:
        kinds = sorted(self.by_kind.items(), key=lambda kv: -kv[1][1])
        return {
            "plans": self.plans,
            "queries": self.count,
            "db_seconds": self.seconds,
            "by_kind": [{"kind": k, "count": int(n), "seconds": t} for k, (n, t) in kinds[:8]],
            "slowest": [
                {"seconds": q["seconds"], "sql": q["sql"][:3000], "many": q["many"]}
                for q in self.slowest
            ],
        }


_VERB = re.compile(r"\s*(\w+)")
_TABLE = re.compile(r"\b(?:INTO|FROM|UPDATE|TABLE)\s+(?:pg_temp\.)?\"?(\w+)\"?", re.IGNORECASE)


def statement_kind(sql: str) -> str:
    """ "INSERT audience_contact", "SELECT audience_consent", ...: verb and first table."""
    verb = _VERB.match(sql)
    table = _TABLE.search(sql)
    return f"{verb[1].upper() if verb else '?'} {table[1] if table else ''}".strip()


@contextmanager
def query_stats(plan_kinds: tuple[str, ...] = ()) -> Iterator[QueryStats]:
    from django.db import connection

    stats = QueryStats(plan_kinds=plan_kinds)
    with connection.execute_wrapper(stats):
        yield stats


# --- children: one measurement per process --------------------------------------------------------


def _org(slug: str) -> Any:
    from publikum.core.models import Organisation

    return Organisation.objects.get(slug=slug)


def _explain(sql: str, settings: tuple[str, ...] = ()) -> str:
    """The plan of `sql` (PostgreSQL: executed, with buffers), after `settings` (SET LOCAL
    statements, in a transaction that is rolled back)."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cur:
        if connection.vendor == "postgresql":
            for setting in settings:
                cur.execute(setting)
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        else:
            cur.execute("EXPLAIN QUERY PLAN " + sql)
        rows = cur.fetchall()
        transaction.set_rollback(True)
    if connection.vendor == "postgresql":
        return "\n".join(r[0] for r in rows)
    return "\n".join(" | ".join(str(c) for c in r) for r in rows)


def child_info(args: argparse.Namespace) -> dict[str, Any]:
    import django
    from django.db import connection

    info: dict[str, Any] = {"vendor": connection.vendor, "django": django.get_version()}
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT version()")
            info["version"] = cur.fetchone()[0]
            cur.execute(
                "SELECT name, setting, unit FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
                [
                    [
                        "shared_buffers",
                        "work_mem",
                        "effective_cache_size",
                        "max_parallel_workers_per_gather",
                        "random_page_cost",
                        "jit",
                        "max_wal_size",
                    ]
                ],
            )
            info["settings"] = {n: f"{s}{' ' + u if u else ''}" for n, s, u in cur.fetchall()}
            cur.execute(
                "SELECT tablename, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
                "ORDER BY tablename, indexname",
                [["audience_contact", "audience_interaction"]],
            )
        else:
            cur.execute("SELECT sqlite_version()")
            info["version"] = "SQLite " + cur.fetchone()[0]
            cur.execute("PRAGMA journal_mode")
            info["settings"] = {"journal_mode": cur.fetchone()[0]}
            cur.execute(
                "SELECT tbl_name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name IN "
                "(%s, %s) ORDER BY tbl_name, name",
                ["audience_contact", "audience_interaction"],
            )
        indexes: dict[str, list[str]] = {}
        for table, definition in cur.fetchall():
            indexes.setdefault(table, []).append(definition or "(primary key / unique)")
        info["indexes"] = indexes
    return info


def child_segments(args: argparse.Namespace) -> dict[str, Any]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from publikum.audience import segments as seg

    org = _org(args.org)
    out: dict[str, Any] = {"rules": SEGMENT_RULES, "org": args.org}

    def count(rules: Any) -> tuple[float, int]:
        start = time.perf_counter()
        n = seg.rules_count(organisation=org, rules=rules)
        return time.perf_counter() - start, n

    # Cold: the first count in a new process on a new connection (see the report for what
    # that means for the caches).
    with CaptureQueriesContext(connection) as captured:
        cold, n = count(SEGMENT_RULES)
    out["cold_seconds"] = cold
    out["count"] = n
    out["queries_per_count"] = len(captured.captured_queries)
    # The count itself; on PostgreSQL it runs in a transaction after a planner setting.
    statements = [q["sql"] for q in captured.captured_queries]
    sql = next(q for q in reversed(statements) if q.upper().startswith("SELECT COUNT"))
    settings = tuple(q for q in statements if q.upper().startswith("SET LOCAL"))
    out["sql"] = sql
    out["settings"] = list(settings)
    # Several warm runs where they are cheap; a few where a single run takes long.
    runs = budget_runs(args.runs, cold, budget=60.0, minimum=3)
    warm = [count(SEGMENT_RULES)[0] for _ in range(runs)]
    out["warm"] = summary(warm)
    out["per_rule"] = []
    for name, rule in zip(RULE_NAMES, SEGMENT_RULES["all"], strict=True):
        times, matched = [], 0
        for _ in range(1 if cold > 5 else 3):
            took, matched = count({"all": [rule]})
            times.append(took)
        out["per_rule"].append({"rule": name, "median": statistics.median(times), "count": matched})
    out["explain"] = _explain(sql, settings)
    out["contacts"] = seg._audience(org).count()  # the denominator for the report
    return out


def child_lifecycle(args: argparse.Namespace) -> dict[str, Any]:
    from django.db.models import Count

    from publikum.audience import lifecycle
    from publikum.audience.models import Contact, LifecycleChange

    org = _org(args.org)
    contacts = Contact.objects.filter(organisation=org).count()
    changes_before = LifecycleChange.objects.filter(organisation=org).count()
    sampler = RssSampler()
    sampler.start()
    plan_kinds = (
        "CREATE publikum_lifecycle_scratch",
        "UPDATE audience_contact",
        "INSERT audience_lifecyclechange",
    )
    with query_stats(plan_kinds) as stats:
        start = time.perf_counter()
        returned = lifecycle.lifecycle_recompute(organisation=org)
        seconds = time.perf_counter() - start
    memory = sampler.stop()
    stages = dict(
        Contact.objects.filter(organisation=org)
        .values_list("lifecycle_stage")
        .annotate(n=Count("id"))
        .order_by()
    )
    recency = dict(
        Contact.objects.filter(organisation=org)
        .values_list("rfm_recency")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {
        "org": args.org,
        "contacts": contacts,
        "seconds": seconds,
        "contacts_per_second": contacts / seconds if seconds else None,
        "returned": _jsonable(returned),
        "stages": stages,
        "rfm_recency": {str(k): v for k, v in recency.items()},
        "changes_recorded": LifecycleChange.objects.filter(organisation=org).count()
        - changes_before,
        "memory": memory,
        "db": stats.result(),
    }


def child_themes(args: argparse.Namespace) -> dict[str, Any]:
    """The nightly check of the contact × theme summary, a job apart from the lifecycle."""
    from publikum.audience import lifecycle
    from publikum.audience.models import Contact

    org = _org(args.org)
    contacts = Contact.objects.filter(organisation=org).count()
    sampler = RssSampler()
    sampler.start()
    with query_stats(("CREATE publikum_theme_scratch",)) as stats:
        start = time.perf_counter()
        returned = lifecycle.theme_summary_correct(organisation=org)
        seconds = time.perf_counter() - start
    return {
        "org": args.org,
        "contacts": contacts,
        "seconds": seconds,
        "returned": _jsonable(returned),
        "memory": sampler.stop(),
        "db": stats.result(),
    }


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
    except TypeError:
        if hasattr(value, "__dict__"):
            return {k: _jsonable(v) for k, v in vars(value).items() if not k.startswith("_")}
        return repr(value)[:500]
    return value


def child_import(args: argparse.Namespace) -> dict[str, Any]:
    from bench import datagen
    from publikum.audience import importing
    from publikum.audience.models import Contact

    if args.org == "new":
        slug = f"bench-import-{int(time.time())}"
        datagen.setup_organisation(slug, "Neues Museum (Import)")
        org = _org(slug)
        existing: list[str] = []
    else:
        org = _org(args.org)
        existing = list(
            Contact.objects.filter(organisation=org, erased_at__isnull=True)
            .exclude(email="")
            .order_by("?")
            .values_list("email", flat=True)[: int(args.rows * EXISTING_SHARE)]
        )
    contacts_before = Contact.objects.filter(organisation=org).count()
    path = Path(os.environ["PUBLIKUM_DATA_DIR"]) / f"import-{org.slug}.csv"
    plan = datagen.write_import_csv(
        str(path), args.rows, existing, seed=7, tag=format(int(time.time()), "x")
    )
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
    sampler = RssSampler()
    sampler.start()
    with query_stats() as stats:
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        run = importing.import_file(
            organisation=org,
            path=path,
            kind="contacts",
            preset="eventim",
            consent_source="Eventim-Export (Benchmark)",
        )
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - start
    memory = sampler.stop()
    profile = _profile_top(profiler) if profiler else None
    size = path.stat().st_size
    path.unlink()
    return {
        "org": org.slug,
        "contacts_before": contacts_before,
        "file_bytes": size,
        "plan": plan,
        "seconds": seconds,
        "rows_per_second": args.rows / seconds,
        "status": run.status,
        "encoding": run.encoding,
        "delimiter": run.delimiter,
        "total": run.total_rows,
        "created": run.created_count,
        "updated": run.updated_count,
        "rejected": run.rejected_count,
        "run_error": run.error,
        "memory": memory,
        "db": stats.result(),
        "profile": profile,
    }


def _profile_top(profiler: Any, limit: int = 15) -> list[dict[str, Any]]:
    """The functions with the most time of their own (cProfile's tottime)."""
    import pstats

    stats = pstats.Stats(profiler)
    rows = []
    for (filename, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        short = filename
        for marker in ("site-packages/", "src/", "lib/python3"):
            if marker in filename:
                short = filename.split(marker, 1)[1]
                break
        rows.append(
            {
                "function": f"{short}:{line}({name})",
                "calls": calls,
                "tottime": tottime,
                "cumtime": cumtime,
            }
        )
    rows.sort(key=lambda r: -r["tottime"])
    return rows[:limit]


def child_pages(args: argparse.Namespace) -> dict[str, Any]:
    from django.test import Client

    from publikum.audience import segments as seg
    from publikum.audience.models import Contact, Segment
    from publikum.core.models import User

    org = _org(args.org)
    user = User.objects.get(email="bench@publikum.example")
    client = Client()
    client.force_login(user)
    total = Contact.objects.filter(organisation=org, erased_at__isnull=True).count()
    middle = max(1, math.ceil(total / 50) // 2)
    # The list pages by key ("next" links carry the id of the last contact shown): page N
    # is the page after the contact at position 50 × (N - 1), found once (untimed).
    before_middle = (
        Contact.objects.filter(organisation=org, erased_at__isnull=True)
        .order_by("last_name", "first_name", "id")
        .values_list("pk", flat=True)[50 * (middle - 1) - 1]
    )
    segment = Segment.objects.filter(organisation=org, name="Benchmark: vier Regeln").first()
    if segment is None:
        segment = seg.segment_create(
            organisation=org, name="Benchmark: vier Regeln", rules=SEGMENT_RULES, actor=user
        )
    base = f"/o/{org.slug}"
    pages: list[tuple[str, str, str, Any]] = [
        ("contact list, page 1", "get", f"{base}/contacts/", None),
        (
            f"contact list, page {middle:,} (middle)",
            "get",
            f"{base}/contacts/?after={before_middle}",
            None,
        ),
        ("contact list, search 'müller'", "get", f"{base}/contacts/?q=m%C3%BCller", None),
        ("contact list, search 'anna schmidt'", "get", f"{base}/contacts/?q=anna+schmidt", None),
        ("contact list, search by postcode '50667'", "get", f"{base}/contacts/?q=50667", None),
        ("contact list, stage 'loyal'", "get", f"{base}/contacts/?stage=loyal", None),
        ("segment page (count + preview)", "get", f"{base}/segments/{segment.pk}/", None),
        (
            "segment live count (editor, POST)",
            "post",
            f"{base}/segments/count/",
            json.dumps({"rules": SEGMENT_RULES, "segment_id": None}),
        ),
    ]
    results = []
    for name, method, url, body in pages:

        def request(method: str = method, url: str = url, body: Any = body) -> Any:
            if method == "post":
                return client.post(url, body, content_type="application/json")
            return client.get(url)

        start = time.perf_counter()
        response = request()
        first = time.perf_counter() - start
        entry: dict[str, Any] = {"name": name, "url": url, "status": response.status_code}
        if response.status_code != 200:
            entry["error"] = response.content[:300].decode(errors="replace")
            results.append(entry)
            continue
        times = []
        for _ in range(budget_runs(args.runs, first, budget=30.0, minimum=3)):
            start = time.perf_counter()
            request()
            times.append(time.perf_counter() - start)
        with query_stats() as stats:
            request()
        entry.update(first=first, **summary(times), db=stats.result())
        results.append(entry)
    return {"org": args.org, "contacts": total, "pages": results}


EXPORT_RULES: dict[str, Any] = {"all": [{"tag": "abonnement"}]}


def child_export(args: argparse.Namespace) -> dict[str, Any]:
    """The segment's CSV export through the staff view, a streamed response read to the end."""
    from django.test import Client

    from publikum.audience import segments as seg
    from publikum.audience.models import Segment
    from publikum.core.models import User

    org = _org(args.org)
    user = User.objects.get(email="bench@publikum.example")
    segment = Segment.objects.filter(organisation=org, name="Benchmark: Abonnement").first()
    if segment is None:
        segment = seg.segment_create(
            organisation=org, name="Benchmark: Abonnement", rules=EXPORT_RULES, actor=user
        )
    client = Client()
    client.force_login(user)
    sampler = RssSampler()
    sampler.start()
    with query_stats() as stats:
        start = time.perf_counter()
        response = client.get(f"/o/{org.slug}/segments/{segment.pk}/export/")
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        seconds = time.perf_counter() - start
    memory = sampler.stop()
    return {
        "org": args.org,
        "rules": EXPORT_RULES,
        "status": response.status_code,
        "rows": max(lines - 1, 0),
        "bytes": size,
        "seconds": seconds,
        "rows_per_second": max(lines - 1, 0) / seconds if seconds else None,
        "memory": memory,
        "db": stats.result(),
    }


# The segment of the issue written against the timeline, as the rules compiled before the
# stored figures (visits_12m, the contact × theme summary) existed: for comparison.
TIMELINE_COUNT_SQL = """
SELECT COUNT(*) FROM audience_contact c
WHERE c.organisation_id = %(org)s AND c.erased_at IS NULL AND c.language = 'de'
  AND EXISTS (SELECT 1 FROM audience_consent u WHERE u.contact_id = c.id
              AND u.channel = 'email' AND u.purpose = 'newsletter' AND u.granted)
  AND c.id IN (SELECT i.contact_id FROM audience_interaction i
               WHERE i.organisation_id = %(org)s AND i.kind = 'visit'
                 AND i.occurred_at >= %(since_12m)s
               GROUP BY i.contact_id HAVING COUNT(*) >= 3)
  AND EXISTS (SELECT 1 FROM audience_interaction i
              JOIN programme_programmeitem_themes t ON t.programmeitem_id = i.item_id
              WHERE i.contact_id = c.id AND i.kind = 'visit' AND t.theme_id = %(theme)s
                AND i.occurred_at >= %(since_24m)s)
"""


def child_whatif(args: argparse.Namespace) -> dict[str, Any]:
    """PostgreSQL: the segment count as the product runs it (hash joins), with the planner's
    default (nested loops allowed), and written against the timeline instead of the stored
    figures. Nothing changes in the database; shows what each choice is worth, in the same
    run."""
    from django.db import connection, transaction

    from publikum.audience import segments as seg
    from publikum.programme.models import Theme

    org = _org(args.org)

    def median(count: Callable[[], int], runs: int = 3) -> dict[str, Any]:
        count()  # warm up, untimed
        times, n = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            n = count()
            times.append(time.perf_counter() - start)
        return {"median": statistics.median(times), "count": n, "runs": runs}

    contacts = seg.rules_contacts(organisation=org, rules=SEGMENT_RULES)
    out: dict[str, Any] = {"org": args.org}
    out["product"] = median(lambda: seg.rules_count(organisation=org, rules=SEGMENT_RULES))
    out["nested_loops"] = median(contacts.count)
    with CaptureQueries() as captured:
        contacts.count()
    out["explain_nested_loops"] = _explain(captured.last_sql())
    now = datetime.now(UTC)
    params = {
        "org": org.pk,
        "theme": Theme.objects.get(organisation=org, slug="fotografie").pk,
        "since_12m": now - timedelta(days=365),
        "since_24m": now - timedelta(days=730),
    }

    def timeline() -> int:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SET LOCAL enable_nestloop = off")
            cur.execute(TIMELINE_COUNT_SQL, params)
            return int(cur.fetchone()[0])

    out["timeline"] = median(timeline, runs=1)
    out["timeline_sql"] = TIMELINE_COUNT_SQL.strip()
    return out


class CaptureQueries:
    """The SQL of the queries run inside the block (Django's CaptureQueriesContext)."""

    def __enter__(self) -> CaptureQueries:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.context = CaptureQueriesContext(connection)
        self.context.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.context.__exit__(*exc)

    def last_sql(self) -> str:
        return str(self.context.captured_queries[-1]["sql"])


def child_explain(args: argparse.Namespace) -> dict[str, Any]:
    return {"plan": _explain(Path(args.sql_file).read_text())}


CHILDREN: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "info": child_info,
    "segments": child_segments,
    "lifecycle": child_lifecycle,
    "themes": child_themes,
    "import": child_import,
    "pages": child_pages,
    "export": child_export,
    "whatif": child_whatif,
    "explain": child_explain,
}


def child_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audience")
    parser.add_argument("step", choices=sorted(CHILDREN))
    parser.add_argument("--org", default=MAIN_SLUG)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=IMPORT_ROWS)
    parser.add_argument("--sql-file")
    parser.add_argument("--profile", action="store_true", help="import: under cProfile")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "publikum.settings")
    import django

    django.setup()
    load_before = os.getloadavg()
    try:
        result = CHILDREN[args.step](args)
    except Exception as exc:  # reported; the other measurements go on
        traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {exc}"[:1000]}
    result["load"] = [load_before[0], os.getloadavg()[0]]
    sys.stdout.write("RESULT " + json.dumps(result, default=str) + "\n")
    return 0


# --- the parent: databases, steps, report ---------------------------------------------------------


def log(message: str) -> None:
    sys.stderr.write(f"[bench] {message}\n")
    sys.stderr.flush()


def run_step(
    env: dict[str, str], module: str, args: list[str], timeout: float = 7200
) -> dict[str, Any]:
    """Run `python -m module args` with `env`; its stderr shows, its RESULT line is returned."""
    command = [sys.executable, "-m", module, *args]
    start = time.perf_counter()
    proc = subprocess.run(
        command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False
    )
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        return {"error": f"exit code {proc.returncode}, no result", "wall": wall}
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["wall"] = wall
    return result


def psql(sql: str, database: str = "postgres") -> str:
    proc = subprocess.run(
        ["psql", f"{PG_SERVER}/{database}", "-v", "ON_ERROR_STOP=1", "-Atqc", sql],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def base_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DJANGO_SETTINGS_MODULE="publikum.settings",
        PUBLIKUM_MODE="development",
        DEBUG="false",  # no query log in memory; production-like templates
        LOG_LEVEL="WARNING",
        PUBLIKUM_DATA_DIR=str(data_dir),
        PUBLIKUM_RATELIMIT="false",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
    )
    return env


def migrate(env: dict[str, str]) -> None:
    publikum = Path(sys.executable).with_name("publikum")
    command = [str(publikum)] if publikum.exists() else [sys.executable, "-m", "publikum.cli"]
    subprocess.run([*command, "migrate", "--no-input", "-v", "0"], env=env, cwd=ROOT, check=True)


def prepare_postgres(args: argparse.Namespace, data_dir: Path) -> tuple[dict[str, str], bool]:
    """A database with data; returns its environment and whether data was generated."""
    env = base_env(data_dir) | {"DATABASE_URL": f"{PG_SERVER}/{PG_DATABASE}"}
    exists = psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'") == "1"  # noqa: S608
    if args.keep and exists:
        has_data = psql("SELECT count(*) FROM core_organisation WHERE slug = 'bench'", PG_DATABASE)
        if has_data == "1":
            log(f"reusing the kept database {PG_DATABASE}")
            migrate(env)
            return env, False
    psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
    psql(f"CREATE DATABASE {PG_DATABASE}")
    migrate(env)
    return env, True


def prepare_sqlite(args: argparse.Namespace, data_dir: Path) -> tuple[dict[str, str], bool]:
    env = base_env(data_dir)
    database = data_dir / "publikum.sqlite3"
    if args.keep and database.exists():
        log(f"reusing the kept database {database}")
        migrate(env)
        return env, False
    for leftover in data_dir.glob("publikum.sqlite3*"):
        leftover.unlink()
    migrate(env)
    return env, True


def run_database(
    db: str, args: argparse.Namespace, out: dict[str, Any], progress: Callable[[], None]
) -> dict[str, Any]:
    """Prepare `db`, generate the data, run every step; fills `out`, calls `progress` after
    each step (the raw results are saved as they come)."""
    contacts = args.contacts or SIZES[db][0]
    interactions = args.interactions or SIZES[db][1]
    if args.keep:
        data_dir = ROOT / "var" / f"bench-{db}"
        data_dir.mkdir(parents=True, exist_ok=True)
    else:
        data_dir = Path(tempfile.mkdtemp(prefix=f"publikum-bench-{db}-"))
    (data_dir / "static").mkdir(exist_ok=True)  # WhiteNoise warns about a missing STATIC_ROOT
    out.update(db=db, data_dir=str(data_dir), keep=args.keep)
    try:
        log(f"{db}: preparing the database")
        start = time.perf_counter()
        prepare = prepare_postgres if db == "postgres" else prepare_sqlite
        env, fresh = prepare(args, data_dir)
        out["prepare_seconds"] = time.perf_counter() - start
        out["fresh"] = fresh
        if fresh:
            log(f"{db}: generating {contacts:,} contacts and {interactions:,} interactions")
            out["datagen"] = run_step(
                env,
                "bench.datagen",
                [f"--contacts={contacts}", f"--interactions={interactions}", "--jobs=2"],
            )
            progress()
        out["info"] = run_step(env, "bench.audience", ["info"])
        steps = _steps(db, args)
        for name, step in steps:
            if args.only and name.split("_")[0] not in args.only:
                continue
            log(f"{db}: {name}")
            out[name] = run_step(env, "bench.audience", step)
            if name == "pages" and db == "postgres":
                # Right away, before the imports change the data the pages showed.
                explain_slow_pages(env, out["pages"], data_dir)
            progress()
            if out[name].get("error"):
                log(f"{db}: {name} failed: {out[name]['error']}")
            else:
                log(f"{db}: {name} done in {out[name]['wall']:.1f} s")
    finally:
        if not args.keep:
            if db == "postgres":
                psql(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
            shutil.rmtree(data_dir, ignore_errors=True)
    return out


def _steps(db: str, args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The measurements, in order: (name, arguments of `python -m bench.audience`)."""
    # The lifecycle first: segments read the figures it stores (visits_12m), as they do
    # after the nightly run in production.
    steps: list[tuple[str, list[str]]] = [
        ("lifecycle_small", ["lifecycle", "--org", SMALL_SLUG]),
        ("lifecycle_1", ["lifecycle", "--org", MAIN_SLUG]),
        ("lifecycle_2", ["lifecycle", "--org", MAIN_SLUG]),
        ("themes", ["themes", "--org", MAIN_SLUG]),
        ("segments", ["segments", "--org", MAIN_SLUG, "--runs", str(args.runs)]),
        ("segments_small", ["segments", "--org", SMALL_SLUG, "--runs", str(args.runs)]),
        ("pages", ["pages", "--org", MAIN_SLUG, "--runs", "20"]),
        ("export_small", ["export", "--org", SMALL_SLUG]),
        ("export", ["export", "--org", MAIN_SLUG]),
        (
            "import_baseline",
            ["import", "--org", "new", "--rows", str(max(args.import_rows // 10, 100))],
        ),
        ("import_new", ["import", "--org", "new", "--rows", str(args.import_rows)]),
        (
            "import_profile",
            [
                "import",
                "--org",
                "new",
                "--rows",
                str(max(args.import_rows // 10, 100)),
                "--profile",
            ],
        ),
        ("import_existing", ["import", "--org", MAIN_SLUG, "--rows", str(args.import_rows)]),
    ]
    if db == "postgres":
        steps.append(("whatif", ["whatif", "--org", MAIN_SLUG]))
    return steps


def explain_slow_pages(env: dict[str, str], pages: dict[str, Any], data_dir: Path) -> None:
    """EXPLAIN ANALYZE the slowest query of every page that misses its target."""
    for page in pages.get("pages", []):
        slowest = (page.get("db") or {}).get("slowest") or []
        if page.get("p95", 0) < TARGETS["page"] or not slowest or slowest[0]["many"]:
            continue
        sql_file = data_dir / "explain.sql"
        sql_file.write_text(slowest[0]["sql"])
        page["explain"] = run_step(env, "bench.audience", ["explain", "--sql-file", str(sql_file)])


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "ram_gib": mem_kb / 2**20,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_start": os.getloadavg(),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench audience",
        description="Audience at scale: segments, lifecycle, CSV import, contact list.",
    )
    parser.add_argument(
        "--db",
        choices=["sqlite", "postgres", "both"],
        default="both",
        help="database(s) to measure (default: both, PostgreSQL first)",
    )
    parser.add_argument("--contacts", type=int, help="default 1,000,000 (PG) / 100,000 (SQLite)")
    parser.add_argument(
        "--interactions", type=int, help="default 20,000,000 (PG) / 2,000,000 (SQLite)"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the database afterwards and reuse a kept one instead of generating anew",
    )
    parser.add_argument("--runs", type=int, default=10, help="warm runs of the segment count")
    parser.add_argument("--import-rows", type=int, default=IMPORT_ROWS)
    parser.add_argument(
        "--only",
        nargs="*",
        choices=["segments", "lifecycle", "themes", "pages", "export", "import", "whatif"],
        help="measure only these (for development; the report then lacks the others)",
    )
    parser.add_argument("--report", type=Path, default=REPORT, help="where to write the report")
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="only write the report again from the raw results of an earlier run",
    )
    args = parser.parse_args(argv)
    if args.render:
        run = json.loads(args.render.read_text())
    else:
        run = {
            "command": "python -m bench audience" + "".join(f" {shlex.quote(a)}" for a in argv),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": machine(),
            "results": {},
        }
        databases = ["postgres", "sqlite"] if args.db == "both" else [args.db]
        for db in databases:
            run["results"][db] = {}
            run_database(db, args, run["results"][db], lambda: save_raw(run))
            save_raw(run)
        run["machine"]["load_end"] = os.getloadavg()
        run["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
        save_raw(run)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(render_report(run))
    sys.stdout.write(console_table(run))
    sys.stdout.write(f"\nReport written to {args.report}\n")
    return 0


RAW = ROOT / "var" / "bench" / "audience-results.json"


def save_raw(run: dict[str, Any]) -> None:
    """The raw figures, for `--render` (var/ is the local data directory, not committed)."""
    RAW.parent.mkdir(parents=True, exist_ok=True)
    RAW.write_text(json.dumps(run, indent=1, default=str))


# --- the report -----------------------------------------------------------------------------------

DB_NAMES = {"postgres": "PostgreSQL", "sqlite": "SQLite"}
# "Bounded" memory: the peak RSS growth of the job at the large size is at most twice the
# growth at the baseline size plus 32 MiB. Memory that grows with the data would be ~100×
# (lifecycle) or ~10× (import) the baseline's.
BOUND_FACTOR, BOUND_SLACK_MB = 2.0, 32.0


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 10:
        return f"{seconds:.2f} s"
    return f"{seconds:.1f} s"


def fmt_n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def fmt_mb(value: float | None) -> str:
    return "–" if value is None else f"{value:,.1f} MiB"


def verdict(ok: bool | None) -> str:
    return "–" if ok is None else ("yes" if ok else "**no**")


def _ok(step: dict[str, Any] | None) -> bool:
    return bool(step) and not step.get("error")  # type: ignore[union-attr]


def _bounded(large: dict[str, Any] | None, small: dict[str, Any] | None) -> bool | None:
    if not _ok(large) or not _ok(small):
        return None
    grow_large = large["memory"]["rss_growth_mb"]  # type: ignore[index]
    grow_small = small["memory"]["rss_growth_mb"]  # type: ignore[index]
    return grow_large <= BOUND_FACTOR * grow_small + BOUND_SLACK_MB


class _Rows:
    """Rows of the figures table: measurement, figure, target, met?, notes."""

    def __init__(self, db: str) -> None:
        self.db = db
        self.pg = db == "postgres"
        self.rows: list[dict[str, str]] = []

    def add(self, what: str, figure: str, target: str, met: bool | None, notes: str = "") -> None:
        self.rows.append(
            {"db": DB_NAMES[self.db], "what": what, "figure": figure, "target": target,
             "met": verdict(met), "notes": notes}
        )  # fmt: skip

    def failed(self, what: str, step: dict[str, Any] | None) -> None:
        error = (step or {}).get("error", "")[:200]
        self.add(what, "failed" if step else "not run", "", None, error)

    def memory(
        self, what: str, large: dict[str, Any], small: dict[str, Any], unit: str, label: str
    ) -> None:
        scale = large[unit] / max(small[unit], 1)
        self.add(
            what,
            f"{fmt_mb(large['memory']['rss_growth_mb'])} (baseline "
            f"{fmt_mb(small['memory']['rss_growth_mb'])})",
            "bounded",
            _bounded(large, small),
            f"{scale:.0f}× the {label} of the baseline; "
            f"max RSS {fmt_mb(large['memory']['ru_maxrss_mb'])}",
        )


def _segment_rows(t: _Rows, res: dict[str, Any]) -> None:
    seg, small = res.get("segments"), res.get("segments_small")
    if not _ok(seg):
        t.failed("Segment count, 4 rules", seg)
        return
    limit = TARGETS["segment"] if t.pg else None
    target = "< 1 s" if t.pg else "– (set for PostgreSQL)"
    t.add(
        "Segment count, 4 rules, cold (first query of a new process)",
        fmt_s(seg["cold_seconds"]),
        target,
        seg["cold_seconds"] < limit if limit else None,
        f"{seg['count']:,} of {seg['contacts']:,} contacts",
    )
    warm = seg["warm"]
    ratio = ""
    if _ok(small):
        ratio = (
            f"{warm['median'] / small['warm']['median']:.0f}× the baseline "
            f"({fmt_s(small['warm']['median'])} at {small['contacts']:,} contacts)"
        )
    whatif = res.get("whatif")
    if _ok(whatif):
        w: dict[str, Any] = whatif  # type: ignore[assignment]
        ratio += (
            f"; with nested loops allowed {fmt_s(w['nested_loops']['median'])}, against the "
            f"timeline {fmt_s(w['timeline']['median'])} (see details)"
        )
    t.add(
        f"Segment count, 4 rules, warm (median / p95 of {warm['runs']})",
        f"{fmt_s(warm['median'])} / {fmt_s(warm['p95'])}",
        target,
        warm["p95"] < limit if limit else None,
        ratio,
    )


def _lifecycle_rows(t: _Rows, res: dict[str, Any]) -> None:
    first = "first run after the load" if res.get("fresh") else "run 1 on a kept database"
    for key, label in (("lifecycle_1", first), ("lifecycle_2", "next run")):
        lc = res.get(key)
        what = f"Lifecycle + RFM recompute, {label}"
        if not _ok(lc):
            t.failed(what, lc)
            continue
        target = "< 60 s for 1,000,000" if t.pg else "– (set for 1,000,000)"
        met = lc["seconds"] < TARGETS["lifecycle"] * lc["contacts"] / 1_000_000 if t.pg else None
        notes = f"{fmt_n(lc['contacts'])} contacts, {fmt_n(lc['contacts_per_second'])} contacts/s"
        phases = (lc.get("returned") or {}).get("phases")
        if phases:
            notes += "; " + ", ".join(f"{k} {fmt_s(v)}" for k, v in phases.items())
        t.add(what, fmt_s(lc["seconds"]), target, met, notes)
    lc, small = res.get("lifecycle_1"), res.get("lifecycle_small")
    if _ok(lc) and _ok(small):
        t.memory(
            "Lifecycle memory (peak RSS growth of the process)", lc, small, "contacts", "contacts"
        )
    themes = res.get("themes")
    what = "Theme summary check (nightly job of its own)"
    if not _ok(themes):
        t.failed(what, themes)
        return
    returned = themes.get("returned") or {}  # type: ignore[union-attr]
    notes = f"{fmt_n(themes['contacts'])} contacts; {returned.get('corrected', 0):,} rows corrected"  # type: ignore[index]
    phases = returned.get("phases")
    if phases:
        notes += "; " + ", ".join(f"{k} {fmt_s(v)}" for k, v in phases.items())
    notes += f"; peak RSS growth {fmt_mb(themes['memory']['rss_growth_mb'])}"  # type: ignore[index]
    t.add(what, fmt_s(themes["seconds"]), "– (apart from the recompute)", None, notes)  # type: ignore[index]


def _import_rows(t: _Rows, res: dict[str, Any]) -> None:
    for key, label in (
        ("import_new", "into an empty organisation"),
        ("import_existing", "into the large organisation (10 % updates)"),
    ):
        imp = res.get(key)
        what = f"CSV import of {fmt_n((imp or {}).get('total'))} rows {label}"
        if not _ok(imp) or imp.get("status") != "done":  # type: ignore[union-attr]
            t.failed(what, imp)
            continue
        t.add(
            what,
            fmt_s(imp["seconds"]),
            "< 30 s for 100,000",
            imp["seconds"] < TARGETS["import"] * imp["total"] / 100_000,
            f"{fmt_n(imp['rows_per_second'])} rows/s; created {imp['created']:,}, updated "
            f"{imp['updated']:,}, rejected {imp['rejected']:,}; "
            f"DB {fmt_s(imp['db']['db_seconds'])}",
        )
    imp, base = res.get("import_new"), res.get("import_baseline")
    if _ok(imp) and _ok(base):
        t.memory("CSV import memory (peak RSS growth of the process)", imp, base, "total", "rows")


def _export_rows(t: _Rows, res: dict[str, Any]) -> None:
    exp, small = res.get("export"), res.get("export_small")
    if not exp:
        return
    if not _ok(exp) or exp.get("status") != 200:
        t.failed("Segment CSV export", exp)
        return
    t.add(
        f"Segment CSV export, {exp['rows']:,} contacts (streamed)",
        fmt_s(exp["seconds"]),
        "–",
        None,
        f"{fmt_n(exp['rows_per_second'])} rows/s; {fmt_mb(exp['bytes'] / 2**20)} of CSV",
    )
    if _ok(small):
        t.memory("Segment CSV export memory (peak RSS growth)", exp, small, "rows", "rows")


def _page_rows(t: _Rows, res: dict[str, Any]) -> None:
    pages = res.get("pages")
    if not _ok(pages):
        t.failed("Pages", pages)
        return
    for page in pages["pages"]:  # type: ignore[index]
        name = page["name"]
        if page.get("status") != 200 or "median" not in page:
            t.add(name, f"HTTP {page.get('status')}", "", None, page.get("error", "")[:120])
            continue
        if name.startswith("contact list"):
            target, limit = "< 300 ms", TARGETS["page"]
        elif "live count" in name and t.pg:
            target, limit = "< 1 s (segment count)", TARGETS["segment"]
        else:
            target, limit = "–", None
        slowest = page["db"]["slowest"][0]["seconds"] if page["db"]["slowest"] else 0
        t.add(
            f"Page: {name}",
            f"{fmt_s(page['median'])} / {fmt_s(page['p95'])}",
            target,
            page["p95"] < limit if limit else None,
            f"median / p95 of {page['runs']}; {page['db']['queries']} queries, "
            f"slowest {fmt_s(slowest)}",
        )


def summary_rows(db: str, res: dict[str, Any]) -> list[dict[str, str]]:
    table = _Rows(db)
    for section in (_segment_rows, _lifecycle_rows, _import_rows, _export_rows, _page_rows):
        section(table, res)
    return table.rows


def _table(rows: list[dict[str, str]], with_db: bool) -> list[str]:
    head = (["Database"] if with_db else []) + ["Measurement", "Figure", "Target", "Met?", "Notes"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = ([r["db"]] if with_db else []) + [
            r["what"], r["figure"], r["target"], r["met"], r["notes"].replace("|", "/")
        ]  # fmt: skip
        out.append("| " + " | ".join(cells) + " |")
    return out


def console_table(run: dict[str, Any]) -> str:
    lines = ["", f"{'database':<11} {'measurement':<62} {'figure':<22} {'target':<22} met?"]
    for db, res in run["results"].items():
        for r in summary_rows(db, res):
            lines.append(
                f"{r['db']:<11} {r['what'][:62]:<62} {r['figure'][:22]:<22} "
                f"{r['target'][:22]:<22} {r['met'].strip('*')}"
            )
    return "\n".join(lines) + "\n"


def _code(text: str, lang: str = "") -> list[str]:
    return [f"```{lang}", text.rstrip(), "```"]


def _slowest_node_lines(plan: str, count: int = 6) -> list[str]:
    """The scans of a plan by time (actual time per loop × loops; parallel workers count
    as loops, so their scans show the sum over the workers)."""
    import re

    found = []
    for line in plan.splitlines():
        m = re.search(r"actual time=[\d.]+\.\.([\d.]+) rows=(\d+) loops=(\d+)", line)
        if m and "Scan" in line:
            total_ms = float(m[1]) * int(m[3])
            found.append((total_ms, line.strip()))
    found.sort(key=lambda x: -x[0])
    return [f"{ms / 1000:8.2f} s  {text[:160]}" for ms, text in found[:count]]


def render_report(run: dict[str, Any]) -> str:
    m = run["machine"]
    results = run["results"]
    out: list[str] = [
        "# Benchmark: the audience at scale",
        "",
        "Segments, lifecycle and RFM recompute, CSV import and the staff pages of the audience "
        'module (issue 3, "Speed") on a generated audience. This file is written by the '
        "benchmark; do not edit it by hand, run it again.",
        "",
        "```sh",
        run["command"],
        "```",
        "",
        f"Run {run['started']} – {run.get('finished', '(unfinished)')} (UTC).",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable), "
        f"{m['ram_gib']:.1f} GiB RAM; Linux {m['kernel']}; Python {m['python']}",
    ]
    for db, res in results.items():
        info = res.get("info") or {}
        settings_text = ", ".join(f"{k} = {v}" for k, v in (info.get("settings") or {}).items())
        out.append(
            f"- {DB_NAMES[db]}: {info.get('version', '?')}"
            + (
                f" ({'server defaults' if db == 'postgres' else 'settings'}: {settings_text})"
                if settings_text
                else ""
            )
            + f"; Django {info.get('django', '?')}"
        )
    load_start, load_end = m.get("load_start", [0])[0], (m.get("load_end") or [0])[0]
    out += [
        f"- Load average (1 min) at the start {load_start:.1f}, at the end {load_end:.1f}, "
        "and per measurement below. The machine is shared with other engineers' test suites "
        "and data loads, so absolute figures are noisy (a load above 2 on 2 cores means the "
        "benchmark waited for the CPU). The ratios against the "
        "baseline organisation, measured in the same database minutes apart, are the steadier "
        "figures.",
        "",
        "## Figures",
        "",
        "p95 is the nearest-rank 95th percentile (with 20 runs the 19th fastest; with fewer "
        'than 20 runs the slowest). "Met?" compares the p95 where there are several runs.',
        "",
    ]
    all_rows = [r for db, res in results.items() for r in summary_rows(db, res)]
    out += _table(all_rows, with_db=len(results) > 1)
    misses = [r for r in all_rows if r["met"] == "**no**"]
    out += ["", "## What missed its target, and why", ""]
    if not misses:
        out.append("Every target was met in this run.")
    for db, res in results.items():
        out += _analysis(db, res)
    for db, res in results.items():
        out += _details(db, res)
    out += _method()
    return "\n".join(out) + "\n"


def _analysis(db: str, res: dict[str, Any]) -> list[str]:
    """Evidence for each miss, from the figures of this run, and what would fix it."""
    missed = {r["what"] for r in summary_rows(db, res) if r["met"] == "**no**"}
    if not missed:
        return []
    out = [f"### {DB_NAMES[db]}", ""]
    for part in (_analysis_segment, _analysis_lifecycle, _analysis_import, _analysis_pages):
        out += part(db, res, missed)
    if db == "postgres":
        out += _analysis_server(res)
    return out


def _by_kind(step: dict[str, Any]) -> str:
    kinds = step["db"].get("by_kind") or []
    return "; ".join(f"{k['kind']} ×{k['count']:,} {fmt_s(k['seconds'])}" for k in kinds[:5])


def _slowest(step: dict[str, Any], width: int = 180) -> list[str]:
    return [
        f"- {fmt_s(q['seconds'])}: `{_one_line(q['sql'])[:width]}`" for q in step["db"]["slowest"]
    ]


def _analysis_segment(db: str, res: dict[str, Any], missed: set[str]) -> list[str]:
    seg = res.get("segments")
    if not _ok(seg) or not any(w.startswith("Segment count") for w in missed):
        return []
    rules = sorted(seg["per_rule"], key=lambda r: -r["median"])  # type: ignore[index]
    plan = seg.get("explain", "")  # type: ignore[union-attr]
    out = [
        "**Segment count.** The four rules compile to one `COUNT(*)`: language and "
        "`visits_12m ≥ 3` (the figure the lifecycle job stores and `interaction_record` counts "
        "up) are conditions on the contact row, consent and the theme are semi-joins on the "
        "partial index of granted consents and on the contact × theme summary (SQL and plan "
        'under "Segment count" below). Each rule alone, on the same '
        f"{seg['contacts']:,} contacts:",  # type: ignore[index]
        "",
        "| Rule alone | Time | Contacts matched |",
        "|---|---|---|",
        *(f"| {r['rule']} | {fmt_s(r['median'])} | {r['count']:,} |" for r in rules),
        "",
    ]
    nodes = _slowest_node_lines(plan) if db == "postgres" else []
    if nodes:
        out += ["The scans in the plan by time (time per loop × loops):", ""]
        out += _code("\n".join(nodes))
        out += [""]
    out += [
        "What remains is reading the contacts that pass the column rules and joining them to "
        "their consent and summary rows; the time grows with the number of contacts, not of "
        "interactions any more. Keeping the per-contact facts the rules ask most (newsletter "
        "consent) on the contact row would leave a single scan of the organisation's contacts "
        f'("language = de" alone takes {fmt_s(_rule_time(seg, "language"))}).',  # type: ignore[arg-type]
        "",
    ]
    return out


def _whatif(whatif: dict[str, Any] | None) -> list[str]:
    if not _ok(whatif):
        return []
    w: dict[str, Any] = whatif  # type: ignore[assignment]
    rows = [
        ("as the product counts (hash joins: `enable_nestloop = off` for the count)",
         *_mc(w["product"])),
        ("the same query with the planner's default (nested loops allowed)",
         *_mc(w["nested_loops"])),
        ("the four rules against the timeline (as compiled before this change)",
         *_mc(w["timeline"])),
    ]  # fmt: skip
    out = [
        "Compared in the same run (nothing changed in the database; median of 3 warm counts, "
        "the timeline once):",
        "",
        "| Variant | Count time | Contacts |",
        "|---|---|---|",
        *(f"| {label} | {fmt_s(t)} | {n:,} |" for label, t, n in rows),
        "",
        (
            "The timeline and the stored figures name the same contacts here."
            if w["timeline"]["count"] == w["product"]["count"]
            else "The timeline and the stored figures differ by "
            f"{abs(w['timeline']['count'] - w['product']['count']):,} contacts: visits that "
            "left the last 12 months since the last recompute, and calendar months against "
            "365 days (docs/segments.md)."
        ),
        "",
    ]
    plan = w.get("explain_nested_loops")
    if plan:
        nodes = _slowest_node_lines(plan)
        out += ["With nested loops allowed, the scans by time:", "", *_code("\n".join(nodes)), ""]
    return out


def _rule_time(seg: dict[str, Any], prefix: str) -> float | None:
    for rule in seg.get("per_rule") or []:
        if rule["rule"].startswith(prefix):
            return float(rule["median"])
    return None


def _mc(entry: dict[str, Any]) -> tuple[float, int]:
    return entry["median"], entry["count"]


def _analysis_lifecycle(db: str, res: dict[str, Any], missed: set[str]) -> list[str]:
    lc = res.get("lifecycle_1")
    if not _ok(lc) or not any(w.startswith("Lifecycle + RFM") for w in missed):
        return []
    out = []
    for key in ("lifecycle_1", "lifecycle_2"):
        step = res.get(key)
        if not _ok(step):
            continue
        phases = (step.get("returned") or {}).get("phases") or {}  # type: ignore[union-attr]
        out += [
            f"**Lifecycle recompute, run {key[-1]}.** {fmt_s(step['seconds'])} for "  # type: ignore[index]
            f"{step['contacts']:,} contacts, {fmt_s(step['db']['db_seconds'])} of it inside "  # type: ignore[index]
            "the database. Phases: " + ", ".join(f"{k} {fmt_s(v)}" for k, v in phases.items())
            + f". Statements by kind: {_by_kind(step)}. Slowest:",  # type: ignore[arg-type]
            "",
            *_slowest(step),  # type: ignore[arg-type]
            "",
        ]  # fmt: skip
    first = res.get("lifecycle_1") or {}
    kinds = {k["kind"]: k for k in first.get("db", {}).get("by_kind") or []}
    update = kinds.get("UPDATE audience_contact")
    updated = (first.get("returned") or {}).get("updated")
    indexes = ((res.get("info") or {}).get("indexes") or {}).get("audience_contact") or []
    if update and updated and _ok(first) and db == "postgres":
        out += [
            f"Run 1 wrote {updated:,} contacts (after a load every contact's stage moves from "
            f"'none'); its {update['count']} chunk UPDATEs took {fmt_s(update['seconds'])}. "
            "Each updated row is a new row version, and because the job writes an indexed "
            "column (`lifecycle_stage`) PostgreSQL cannot make it a HOT update: every index of "
            "the contact table"
            + (f" ({len(indexes)} of them)" if indexes else "")
            + " gets a new entry, and with the server's `max_wal_size` of 1 GB the run writes "
            "full-page images of most index pages again after each checkpoint. That cost "
            "falls on the days when many stages change; the daily run (run 2) changes few.",
            "",
        ]
    out += [
        "The aggregate (`CREATE TEMPORARY TABLE ... AS SELECT ... GROUP BY`) reads every "
        "visit and booking of the organisation, all years. More `work_mem` keeps its hash "
        "in memory (see the server settings below). The check of the contact × theme "
        "summary, which reads them once more grouped by contact and theme, is a job of its "
        "own and measured apart.",
        "",
    ]
    if _ok(first) and db == "postgres":
        load = first.get("load") or [0, 0]
        out += [
            f"The load average was {load[0]:.1f} at the start of run 1 and {load[1]:.1f} at "
            "its end. What would bring the first run under the target, in order of effort: "
            "a larger `max_wal_size` and `wal_compression = on` on the server (the update "
            "phase is mostly writing full-page images); `fillfactor` below 100 on the "
            "contact table and no index on `lifecycle_stage`, so that the write-back's "
            "updates stay on their page (HOT) and write no index entries.",
            "",
        ]
    return out


def _analysis_import(db: str, res: dict[str, Any], missed: set[str]) -> list[str]:
    keys = [
        k
        for k, suffix in (("import_new", "empty organisation"), ("import_existing", "updates)"))
        if _ok(res.get(k))
        and any(w.startswith("CSV import of") and w.endswith(suffix) for w in missed)
    ]  # fmt: skip
    if not keys:
        return []
    out = []
    lower_scan = False
    n_indexes = (
        len(((res.get("info") or {}).get("indexes") or {}).get("audience_contact") or []) or "many"
    )
    for key in keys:
        imp = res[key]
        python_s = imp["seconds"] - imp["db"]["db_seconds"]
        where = "empty organisation" if key == "import_new" else "large organisation"
        lower_scan |= any(
            'LOWER("audience_contact"."email") IN' in q["sql"] for q in imp["db"]["slowest"]
        )
        out += [
            f"**CSV import ({where}).** {fmt_s(imp['seconds'])} for {imp['total']:,} rows: "
            f"{fmt_s(imp['db']['db_seconds'])} in {imp['db']['queries']:,} database statements "
            f"({_by_kind(imp)}), {fmt_s(python_s)} in Python (reading, checking and building "
            "rows). Slowest statements:",
            "",
            *_slowest(imp),
            "",
        ]
    prof = (res.get("import_profile") or {}).get("profile")
    if prof:
        out += [
            f"Where the Python time goes (cProfile of a {res['import_profile']['total']:,}-row "
            "import, own time per function; the profiler slows the run down):",
            "",
            "| Function | Calls | Own time | With callees |",
            "|---|---|---|---|",
            *(
                f"| `{p['function'][:90]}` | {p['calls']:,} | {fmt_s(p['tottime'])} | "
                f"{fmt_s(p['cumtime'])} |"
                for p in prof[:12]
            ),
            "",
        ]
    if lower_scan:
        out += [
            "What would fix it: the lookup of existing contacts compares `LOWER(email)`, "
            "which no index serves, so every batch scans the organisation's contacts; the "
            "lookup should use the index on `(organisation_id, UPPER(email))`.",
            "",
        ]
    else:
        out += [
            "Where the time goes: see the split above. Each batch of new contacts is one "
            f"`COPY` into the contact table ({n_indexes} indexes), whose trigger writes each "
            "contact's search entry (the trigram index of the search is the dearest part of "
            "it); consents are a second `COPY`. What is left in Python is reading, checking "
            "and preparing the rows (see the profile).",
            "",
        ]
    return out


def _analysis_pages(db: str, res: dict[str, Any], missed: set[str]) -> list[str]:
    pages = res.get("pages") or {}
    slow = [p for p in pages.get("pages", []) if f"Page: {p['name']}" in missed]
    out = []
    for page in slow:
        q = page["db"]["slowest"][0] if page["db"]["slowest"] else None
        out += [
            f"**{page['name']}** ({fmt_s(page['median'])} median): "
            f"{page['db']['queries']} queries ({_by_kind(page)})"
            + (
                f"; the slowest took {fmt_s(q['seconds'])}: `{_one_line(q['sql'])[:300]}`"
                if q else ""
            ),
            "",
        ]  # fmt: skip
        plan = (page.get("explain") or {}).get("plan")
        if plan:
            out += [
                "Its plan (EXPLAIN ANALYZE, run once right after the page timings):",
                "",
                *_code(plan),
                "",
            ]
    if any(p["name"].startswith("contact list") for p in slow):
        out += [
            "How the list works: a page starts at its key in the index `contact_list_order` "
            "(no OFFSET), the count stops at 10,000, and a search first collects the ids of its "
            "matches from the search table (at most 10,000; on PostgreSQL through its trigram "
            "index, on SQLite by reading the narrow table) and sorts only those. A search "
            "that matches more than 10,000 walks the name index and checks each contact's "
            "search entry until the page is full; how far it walks depends on where the "
            "matching names sort. The segment pages inherit the time of the segment count.",
            "",
        ]
    return out


def _analysis_server(res: dict[str, Any]) -> list[str]:
    settings = (res.get("info") or {}).get("settings") or {}
    if settings.get("shared_buffers") != "16384 8kB":
        return []
    return [
        "**Server settings.** The PostgreSQL server runs with its defaults: `shared_buffers` "
        "128 MB and `work_mem` 4 MB, on a machine with 24 GB. The interaction table alone is "
        "several GB, so index probes go to the operating system's cache, and hash aggregates "
        'spill to disk ("Disk Usage" in the plans). A production server would give '
        "`shared_buffers` about a quarter of the memory and `work_mem` 32–64 MB; that is "
        "configuration, not code, and was not changed on this shared server.",
        "",
    ]


def _one_line(sql: str) -> str:
    return " ".join(sql.split()).replace("`", "'")


def _details(db: str, res: dict[str, Any]) -> list[str]:
    out = ["", f"## {DB_NAMES[db]}: details", ""]
    for part in (
        _details_data, _details_segment, _details_lifecycle, _details_import,
        _details_export, _details_pages,
    ):  # fmt: skip
        out += part(db, res)
    return out


def _details_data(db: str, res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    gen = res.get("datagen")
    out += [
        f"Database prepared (created, migrated) in {fmt_s(res.get('prepare_seconds'))}; "
        + ("data generated in this run." if res.get("fresh") else
           "**data kept from an earlier run** (`--keep`): the lifecycle stages and earlier "
           "imports are as that run left them."),
        "",
    ]  # fmt: skip
    if _ok(gen):
        secs = gen["seconds"]
        rows = gen["rows"]
        out += [
            "### Data",
            "",
            "| Table | Rows | Size |",
            "|---|---|---|",
        ]
        sizes = gen.get("table_bytes") or {}
        for table, n in rows.items():
            size = sizes.get(table)
            out.append(f"| `{table}` | {n:,} | {fmt_mb(size / 2**20) if size else '–'} |")
        if gen.get("file_bytes"):
            out.append(f"| (database file) | | {fmt_mb(gen['file_bytes'] / 2**20)} |")
        orgs = gen["organisations"]
        inter = rows.get("audience_interaction", 0)
        out += [
            "",
            f"Two organisations: `{MAIN_SLUG}` ({orgs[MAIN_SLUG]['contacts']:,} contacts, "
            f"about {orgs[MAIN_SLUG]['interactions']:,} interactions) and the baseline "
            f"`{SMALL_SLUG}` ({orgs[SMALL_SLUG]['contacts']:,} / about "
            f"{orgs[SMALL_SLUG]['interactions']:,}). Generation: "
            + ", ".join(f"{k.replace('_', ' ')} {fmt_s(v)}" for k, v in secs.items())
            + f" ({fmt_n(inter / secs['interactions'] if secs.get('interactions') else None)} "
            "interactions/s while loading without secondary indexes; the indexes are built "
            "afterwards, timed separately). Distributions: see the docstring of "
            "`bench/datagen.py`.",
            "",
        ]
        indexes = (res.get("info") or {}).get("indexes") or {}
        if indexes:
            out += [
                "Indexes (as the migrations create them): "
                + "; ".join(f"`{t}` {len(d)}" for t, d in sorted(indexes.items()))
                + ".",
                "",
            ]
        idx = sorted((gen.get("index_seconds") or {}).items(), key=lambda kv: -kv[1])[:6]
        if idx:
            out += ["Slowest index builds: " + ", ".join(f"`{k}` {fmt_s(v)}" for k, v in idx), ""]
    elif gen:
        out += [f"Data generation failed: {gen.get('error')}", ""]
    return out


def _details_segment(db: str, res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    seg = res.get("segments")
    if _ok(seg):
        small = res.get("segments_small")
        out += [
            "### Segment count",
            "",
            "Rules (the format of `publikum.audience.segments`), counted with "
            "`segments.rules_count()` — the live count of the segment editor, which also "
            f"checks the tree ({seg['queries_per_count']} statements per count"
            + (
                ", the count in a transaction after " + ", ".join(f"`{q}`" for q in seg["settings"])
                if seg.get("settings")
                else ""
            )
            + "):",
            "",
        ]
        out += _code(json.dumps(seg["rules"], indent=2, ensure_ascii=False), "json")
        out += [
            "",
            f"{seg['count']:,} of {seg['contacts']:,} contacts match. Cold (first count in a "
            f"new process and connection) {fmt_s(seg['cold_seconds'])}; warm: median "
            f"{fmt_s(seg['warm']['median'])}, p95 {fmt_s(seg['warm']['p95'])}, min "
            f"{fmt_s(seg['warm']['min'])}, max {fmt_s(seg['warm']['max'])} over "
            f"{seg['warm']['runs']} runs. Load average during: {seg['load'][0]:.1f} → "
            f"{seg['load'][1]:.1f}.",
        ]
        if _ok(small):
            out += [
                "",
                f"Baseline, the same rules on `{SMALL_SLUG}` ({small['contacts']:,} contacts, "
                f"{small['count']:,} match): median {fmt_s(small['warm']['median'])}; the large "
                f"organisation takes {seg['warm']['median'] / small['warm']['median']:.0f}× as "
                f"long for {seg['contacts'] / small['contacts']:.0f}× the contacts.",
            ]
        out += ["", "Each rule alone:", "", "| Rule | Time (median) | Contacts |", "|---|---|---|"]
        out += [f"| {r['rule']} | {fmt_s(r['median'])} | {r['count']:,} |" for r in seg["per_rule"]]
        out += ["", "The count query:", ""]
        out += _code(seg["sql"], "sql")
        label = "EXPLAIN (ANALYZE, BUFFERS)" if db == "postgres" else "EXPLAIN QUERY PLAN"
        out += ["", f"{label}, run once after the timed counts:", ""]
        out += _code(seg["explain"])
        if db == "postgres":
            nodes = _slowest_node_lines(seg["explain"])
            if nodes:
                out += ["", "Plan nodes by time spent (including their children):", ""]
                out += _code("\n".join(nodes))
        out += [""]
        if db == "postgres":
            out += _whatif(res.get("whatif"))
    elif seg:
        out += ["### Segment count", "", f"Failed: {seg.get('error')}", ""]
    return out


def _details_lifecycle(db: str, res: dict[str, Any]) -> list[str]:
    out = ["### Lifecycle and RFM recompute", ""]
    lcs = [(k, res.get(k)) for k in ("lifecycle_small", "lifecycle_1", "lifecycle_2")]
    if any(_ok(v) for _k, v in lcs):
        out += [
            "`lifecycle.lifecycle_recompute(organisation=...)`, one timed run each, each in a "
            "new process. Memory: RSS of the process sampled every 20 ms.",
            "",
            "| Run | Contacts | Time | Contacts/s | Stages changed | DB statements / time | "
            "RSS before | Peak growth | Max RSS | Load |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        labels = {
            "lifecycle_small": f"baseline `{SMALL_SLUG}`",
            "lifecycle_1": f"`{MAIN_SLUG}`, run 1"
            + (" (first after the load)" if res.get("fresh") else ""),
            "lifecycle_2": f"`{MAIN_SLUG}`, run 2",
        }
        for key, lc in lcs:
            if not _ok(lc):
                out.append(f"| {labels[key]} | failed: {(lc or {}).get('error', 'not run')} |")
                continue
            mem = lc["memory"]
            out.append(
                f"| {labels[key]} | {lc['contacts']:,} | {fmt_s(lc['seconds'])} | "
                f"{fmt_n(lc['contacts_per_second'])} | {lc['changes_recorded']:,} | "
                f"{lc['db']['queries']} / {fmt_s(lc['db']['db_seconds'])} | "
                f"{fmt_mb(mem['rss_before_mb'])} | {fmt_mb(mem['rss_growth_mb'])} | "
                f"{fmt_mb(mem['ru_maxrss_mb'])} | {lc['load'][0]:.1f} |"
            )
        lc = res.get("lifecycle_1")
        if _ok(lc):
            stages = ", ".join(f"{k} {v:,}" for k, v in sorted(lc["stages"].items()))
            out += ["", f"Stages after the recompute ({MAIN_SLUG}): {stages}.", ""]
    return out


def _details_import(db: str, res: dict[str, Any]) -> list[str]:
    out = ["### CSV import", ""]
    imports = [(k, res.get(k)) for k in ("import_baseline", "import_new", "import_existing")]
    if any(_ok(v) for _k, v in imports):
        out += [
            "`importing.import_file(kind=\"contacts\", preset=\"eventim\", consent_source=...)`, "
            "the service behind `publikum import contacts FILE --org SLUG`, on a generated "
            "Eventim-style export: semicolon-separated, Windows-1252, 14 German columns (four "
            "of them ignored by the mapping), consent with its date for 55 %, about 1 % bad rows "
            "(invalid address or date).",
            "",
            "| Import | Rows | File | Time | Rows/s | Created / updated / rejected | "
            "DB statements / time | RSS before | Peak growth | Max RSS | Load |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]  # fmt: skip
        labels = {
            "import_baseline": "baseline, empty organisation",
            "import_new": "empty organisation",
            "import_existing": f"`{MAIN_SLUG}` (10 % existing addresses)",
        }
        for key, imp in imports:
            if not _ok(imp):
                out.append(f"| {labels[key]} | failed: {(imp or {}).get('error', 'not run')} |")
                continue
            mem = imp["memory"]
            out.append(
                f"| {labels[key]} | {imp['total']:,} | {fmt_mb(imp['file_bytes'] / 2**20)} | "
                f"{fmt_s(imp['seconds'])} | {fmt_n(imp['rows_per_second'])} | "
                f"{imp['created']:,} / {imp['updated']:,} / {imp['rejected']:,} | "
                f"{imp['db']['queries']:,} / {fmt_s(imp['db']['db_seconds'])} | "
                f"{fmt_mb(mem['rss_before_mb'])} | {fmt_mb(mem['rss_growth_mb'])} | "
                f"{fmt_mb(mem['ru_maxrss_mb'])} | {imp['load'][0]:.1f} |"
            )
        out += [""]
    return out


def _details_pages(db: str, res: dict[str, Any]) -> list[str]:
    out: list[str] = []
    pages = res.get("pages")
    if _ok(pages):
        out += [
            "### Staff pages",
            "",
            f"Django's test `Client` in one process (the whole middleware stack, templates "
            f"rendered; no network), logged in as an owner of `{MAIN_SLUG}` "
            f"({pages['contacts']:,} contacts). One untimed request first, then the timed ones.",
            "",
            "| Page | URL | First | Median | p95 | Runs | Queries | Slowest query |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for page in pages["pages"]:
            if "median" not in page:
                out.append(f"| {page['name']} | `{page['url']}` | HTTP {page.get('status')} |")
                continue
            slowest = page["db"]["slowest"][0]["seconds"] if page["db"]["slowest"] else None
            out.append(
                f"| {page['name']} | `{page['url'][:60]}` | {fmt_s(page['first'])} | "
                f"{fmt_s(page['median'])} | {fmt_s(page['p95'])} | {page['runs']} | "
                f"{page['db']['queries']} | {fmt_s(slowest)} |"
            )
        out += [""]
    return out


def _details_export(db: str, res: dict[str, Any]) -> list[str]:
    exp, small = res.get("export"), res.get("export_small")
    if not _ok(exp):
        return []
    out = [
        "### Segment CSV export",
        "",
        f"The staff view `segments/<id>/export/` for the rules `{json.dumps(exp['rules'])}`, a "
        "streamed response read to its end through the test `Client`.",
        "",
        "| Organisation | Rows | CSV | Time | Rows/s | Queries | RSS before | Peak growth | "
        "Max RSS |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for step in (small, exp):
        if not _ok(step):
            continue
        mem = step["memory"]  # type: ignore[index]
        out.append(
            f"| `{step['org']}` | {step['rows']:,} | {fmt_mb(step['bytes'] / 2**20)} | "  # type: ignore[index]
            f"{fmt_s(step['seconds'])} | {fmt_n(step['rows_per_second'])} | "  # type: ignore[index]
            f"{step['db']['queries']:,} | {fmt_mb(mem['rss_before_mb'])} | "  # type: ignore[index]
            f"{fmt_mb(mem['rss_growth_mb'])} | {fmt_mb(mem['ru_maxrss_mb'])} |"
        )
    return [*out, ""]


def _method() -> list[str]:
    return [
        "## Method",
        "",
        "- `python -m bench audience` (also `make bench` lists it) creates the database, runs "
        "`publikum migrate`, generates the data with `bench/datagen.py` and runs each "
        "measurement in a new Python process (`python -m bench.audience STEP`) whose "
        "environment points Django at that database (`DATABASE_URL`, or `PUBLIKUM_DATA_DIR` "
        "for SQLite) with `DEBUG=false`. `--keep` keeps the database and reuses it next time.",
        "- Baseline of the same run: a second organisation with 1 % of the contacts and "
        "interactions in the same database; ratios against it are less sensitive to the load "
        "of the shared machine than absolute times.",
        "- Derived tables are filled by the generator the way the product keeps them when "
        "data comes in through it: the contact list's search table (database triggers on "
        "every new contact) and the contact × theme summary of the segments (the interaction "
        "import and `interaction_record` count each visit). The lifecycle recompute runs "
        "first; the segments are counted after it, because they read the figures it stores "
        "(`visits_12m`), as after the nightly run in production.",
        "- The contact list pages by key: the middle page is requested through the link that "
        "leads to it (`?after=` the last contact of the page before, found once, untimed).",
        "- Cold means the first count in a new process on a new database connection. The "
        "operating system's page cache and PostgreSQL's shared buffers are not emptied (that "
        "would need a restart of the shared server); after the load they hold what the index "
        "builds and VACUUM ANALYZE left there.",
        "- Memory: a thread samples the resident set size (`/proc/self/statm`) every 20 ms; "
        '"peak growth" is the peak minus the RSS just before the job, "max RSS" is '
        "`ru_maxrss` of the process (Django and the imports included). Bounded means: the "
        f"growth at the large size is at most {BOUND_FACTOR:.0f}× the baseline's plus "
        f"{BOUND_SLACK_MB:.0f} MiB, where memory that grew with the data would be 10× "
        "(import) or 100× (lifecycle); the fixed allowance covers caches that stop growing "
        "at some size. On SQLite the database engine runs inside the measured process, so "
        "its page caches and sort buffers (bounded by SQLite's `cache_size`) count too. A "
        "PostgreSQL server's memory is not counted; it is bounded by its own settings "
        "(`work_mem`, `shared_buffers`).",
        "- Database time: a `connection.execute_wrapper` counts statements and the time spent "
        "in them; the rest of a job's time is Python.",
        "- The generated data is seeded (PostgreSQL `setseed`, Python `random.Random`), so "
        "runs see the same distributions; PostgreSQL loads in two parallel connections, so "
        "ids are not identical between runs.",
        "",
    ]


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
