"""Jobs for the tests, declared like real jobs so worker subprocesses can import and run them.

They leave their traces in `AuditEntry` rows (an existing table, so every database the
tests migrate has it): `object_id` carries the job's key, `action` says what happened.
"""

from __future__ import annotations

import os
import time

from publikum.core.jobs import job

RAN = "tests.sample.ran"
ATTEMPT = "tests.sample.attempt"
SUCCEEDED = "tests.sample.succeeded"
FAILURE_TEXT = "the sample job failed on purpose"


def _trace(action: str, key: str) -> None:
    from publikum.core.models import AuditEntry

    AuditEntry.objects.create(action=action, object_type="sample_job", object_id=key)


@job()
def record_run(*, key: str, pause: float = 0.0) -> str:
    """Record one run under `key`; `pause` makes the job take a little while."""
    if pause:
        time.sleep(pause)
    _trace(RAN, key)
    return key


@job(max_attempts=1)
def wait_for_release(*, key: str, release: str, timeout: float = 60.0) -> str:
    """Keep running until the file `release` exists (bounded), then record the run."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(release):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{release} did not appear within {timeout} s")
        time.sleep(0.05)
    _trace(RAN, key)
    return key


@job(max_attempts=3)
def always_fails(*, organisation_id: int | None = None, key: str = "") -> None:
    _trace(ATTEMPT, key)
    raise RuntimeError(f"{FAILURE_TEXT} ({key})")


@job(max_attempts=2)
def gives_up_after_two_attempts(*, organisation_id: int | None = None, key: str = "") -> None:
    _trace(ATTEMPT, key)
    raise RuntimeError(f"{FAILURE_TEXT} ({key})")


@job(max_attempts=3)
def fails_then_succeeds(*, key: str, failures: int = 2) -> int:
    """Fail `failures` times (counted in the database), then succeed."""
    from publikum.core.models import AuditEntry

    _trace(ATTEMPT, key)
    attempts = AuditEntry.objects.filter(action=ATTEMPT, object_id=key).count()
    if attempts <= failures:
        raise RuntimeError(f"{FAILURE_TEXT} ({key}, attempt {attempts})")
    _trace(SUCCEEDED, key)
    return attempts
