"""The same jobs on the distributed queue: RQ on Redis (PUBLIKUM_TASK_QUEUE=rq)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry

from conftest import REDIS_URL
from publikum.core.models import AuditEntry, FailedJob, Organisation
from publikum.core.tests import sample_jobs
from publikum.core.tests.test_cli import column, instance_copy, ok, publikum

pytestmark = pytest.mark.redis


def rq_env() -> dict[str, str]:
    return {"PUBLIKUM_TASK_QUEUE": "rq", "REDIS_URL": REDIS_URL}


def rq(*args: str, data_dir: Path) -> str:
    return ok(publikum(*args, data_dir=data_dir, env=rq_env())).stdout


@pytest.fixture
def data_dir(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return instance_copy(tmp_path, tmp_path_factory)


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def enqueue(call: str, data_dir: Path) -> None:
    code = f"from publikum.core.tests import sample_jobs\n{call}"
    rq("shell", "-v", "0", "-c", code, data_dir=data_dir)


def attempts(data_dir: Path) -> int:
    return column(data_dir, AuditEntry, "action").count(sample_jobs.ATTEMPT)


def test_rq_runs_jobs_of_other_processes_and_retries_failures_on_schedule(data_dir, redis_db):
    queue = Queue("default", connection=redis_db)
    scheduled = ScheduledJobRegistry("default", connection=redis_db)
    org_id = column(data_dir, Organisation, "id")[0]
    enqueue(
        "sample_jobs.record_run.enqueue(key='sent-by-rq')\n"
        "sample_jobs.gives_up_after_two_attempts.enqueue(\n"
        f"    organisation_id={org_id}, key='via-rq')",
        data_dir,
    )
    assert queue.count == 2

    rq("worker", "--burst", data_dir=data_dir)

    assert column(data_dir, AuditEntry, "object_id").count("sent-by-rq") == 1
    assert attempts(data_dir) == 1
    assert column(data_dir, FailedJob, "id") == []
    assert queue.count == 0
    # The retry waits in RQ's schedule, due in the future.
    (retry_id,) = scheduled.get_job_ids()
    assert scheduled.get_scheduled_time(retry_id).timestamp() > time.time()

    # Time passes: the retry falls due for the scheduler of the next worker.
    redis_db.zadd(scheduled.key, {retry_id: time.time() - 1})
    rq("worker", "--burst", data_dir=data_dir)

    assert attempts(data_dir) == 2
    assert scheduled.get_job_ids() == []
    assert column(data_dir, FailedJob, "organisation_id") == [org_id]
    assert column(data_dir, FailedJob, "attempts") == [2]
    (error,) = column(data_dir, FailedJob, "error")
    assert sample_jobs.FAILURE_TEXT in str(error)
    assert column(data_dir, FailedJob, "task_path") == [
        sample_jobs.gives_up_after_two_attempts.module_path
    ]
