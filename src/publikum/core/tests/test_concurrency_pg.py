"""What must hold with many workers on PostgreSQL: one enqueue per interval, one run per job.

Real processes against the test database pytest-django created for the alias "pg".
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connections
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from publikum.core import jobs
from publikum.core.models import AuditEntry, PeriodicRun
from publikum.core.tests import sample_jobs

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, databases=["default", "pg"]),
]

PROCESSES = 4
INTERVALS = 5
TICKS_PER_INTERVAL = 20
JOBS = 200
TIMEOUT = 120


def pg_url() -> str:
    db = connections["pg"].settings_dict
    auth = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def pg_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PUBLIKUM_TASK_QUEUE"}}
    return env | {
        "DJANGO_SETTINGS_MODULE": "publikum.settings",
        "PUBLIKUM_DATA_DIR": str(tmp_path),
        "DATABASE_URL": pg_url(),
        **extra,
    }


def finish(processes: list[subprocess.Popen[str]]) -> list[str]:
    """Wait (bounded) for every process; return their outputs; fail on any error."""
    done = []
    deadline = time.monotonic() + TIMEOUT
    try:
        for process in processes:
            out, err = process.communicate(timeout=max(1, deadline - time.monotonic()))
            done.append((process.returncode, out, err))
    except subprocess.TimeoutExpired:
        pytest.fail(f"a process did not finish within {TIMEOUT} s")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for code, _, err in done:
        assert code == 0, err
    return [out for _, out, _ in done]


# Each process waits for the start signal, then ticks many times per interval, walking
# through INTERVALS consecutive intervals of the longest periodic job.
TICKER = """
import datetime, os, sys, time
import django
django.setup()
from django.db import connection
from publikum.core import jobs
connection.ensure_connection()
base = datetime.datetime.fromisoformat(os.environ["TICK_BASE"])
step = max(pj.every for pj in jobs.periodic_jobs())
open(os.environ["TICK_READY"], "w").close()
deadline = time.monotonic() + 60
while not os.path.exists(os.environ["TICK_GO"]):
    if time.monotonic() > deadline:
        sys.exit("no start signal")
    time.sleep(0.001)
claimed = 0
for k in range(int(os.environ["TICK_INTERVALS"])):
    for _ in range(int(os.environ["TICK_TIMES"])):
        claimed += len(jobs.tick(now=base + k * step))
print(claimed)
"""


def test_concurrent_ticks_enqueue_each_periodic_job_once_per_interval(tmp_path):
    periodic = jobs.periodic_jobs()
    step = max(pj.every for pj in periodic)
    base = timezone.now().replace(microsecond=0)
    go = tmp_path / "go"
    processes = []
    for n in range(PROCESSES):
        env = pg_env(
            tmp_path,
            TICK_BASE=base.isoformat(),
            TICK_READY=str(tmp_path / f"ready-{n}"),
            TICK_GO=str(go),
            TICK_INTERVALS=str(INTERVALS),
            TICK_TIMES=str(TICKS_PER_INTERVAL),
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", TICKER],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    deadline = time.monotonic() + TIMEOUT
    while not all((tmp_path / f"ready-{n}").exists() for n in range(PROCESSES)):
        if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
            go.touch()  # let the others run to the end, then report
            finish(processes)
            pytest.fail("the tickers did not all get ready")
        time.sleep(0.02)
    go.touch()  # all at the same instant

    claims = [int(out.strip()) for out in finish(processes)]

    assert sum(claims) == INTERVALS * len(periodic)
    for pj in periodic:
        enqueued = DBTaskResult.objects.using("pg").filter(task_path=pj.task.module_path)
        assert enqueued.count() == INTERVALS, pj.name
    runs = PeriodicRun.objects.using("pg")
    assert runs.count() == len(periodic)
    assert {run.last_enqueued_at for run in runs} == {base + (INTERVALS - 1) * step}


ENQUEUE = """
import os
import django
django.setup()
from publikum.core.tests.sample_jobs import record_run
for n in range(int(os.environ["JOBS"])):
    record_run.enqueue(key=f"job-{n:03}", pause=0.01)
"""


def test_many_burst_workers_run_every_job_exactly_once(tmp_path):
    subprocess.run(
        [sys.executable, "-c", ENQUEUE],
        env=pg_env(tmp_path, JOBS=str(JOBS)),
        check=True,
        timeout=TIMEOUT,
    )
    assert DBTaskResult.objects.using("pg").filter(status="READY").count() == JOBS

    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "publikum.cli", "worker", "--burst"],
            env=pg_env(tmp_path),
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    finish(workers)

    runs = Counter(
        AuditEntry.objects.using("pg")
        .filter(action=sample_jobs.RAN)
        .values_list("object_id", flat=True)
    )
    assert len(runs) == JOBS
    assert set(runs.values()) == {1}
    results = DBTaskResult.objects.using("pg").all()
    assert {r.status for r in results} == {"SUCCESSFUL"}
    assert all(len(r.worker_ids) == 1 for r in results)
    # The run is only a test of concurrency if several workers shared the jobs.
    assert len({r.worker_ids[0] for r in results}) > 1
