"""The task layer: Django's Tasks API with bounded retries, failure records and a tick.

Every background job is a `django_tasks` task (the backport of Django 6's Tasks API), so a
move to Django 6 changes imports only. `job()` adds what the API leaves to us:

* bounded retries with exponential backoff, by re-enqueueing with `run_after`;
* after the last attempt a `FailedJob` row that staff see on the "Background work" page;
* jobs take ids and must be safe to run twice (a retry may repeat work).

Periodic work is registered with `periodic()`; `tick()` runs inside every worker and
enqueues each due job exactly once, whatever the number of workers: the claim is a
conditional UPDATE on `PeriodicRun`, which only one worker can win per interval.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task
from django_tasks.base import Task

logger = logging.getLogger("publikum.jobs")

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPT_KWARG = "_attempt"


def backoff_seconds(attempt: int) -> float:
    """Delay before attempt `attempt + 1`: 10 s, 40 s, 160 s, ... capped at one hour."""
    return float(min(3600, 10 * 4 ** (attempt - 1)))


def job(
    *, max_attempts: int = 3, queue_name: str = "default", priority: int = 0
) -> Callable[[Callable[P, T]], Task[P, T]]:
    """Declare a background job. Call `.enqueue(...)` with ids, never with model objects."""
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def decorate(func: Callable[P, T]) -> Task[P, T]:
        @functools.wraps(func)
        def runner(*args: Any, **kwargs: Any) -> Any:
            attempt = int(kwargs.pop(ATTEMPT_KWARG, 1))
            try:
                return func(*args, **kwargs)
            except Exception as exc:
                _handle_failure(task_obj, attempt, max_attempts, args, kwargs, exc)
                raise

        task_obj: Task[Any, Any] = task(queue_name=queue_name, priority=priority)(runner)
        return task_obj

    return decorate


def _handle_failure(  # noqa: PLR0917
    task_obj: Task[Any, Any],
    attempt: int,
    max_attempts: int,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    exc: BaseException,
) -> None:
    from publikum.core.models import FailedJob

    if attempt < max_attempts:
        delay = backoff_seconds(attempt)
        logger.warning(
            "job %s failed (attempt %d of %d): %s; retrying in %.0f s",
            task_obj.module_path,
            attempt,
            max_attempts,
            exc,
            delay,
        )
        task_obj.using(run_after=timezone.now() + timedelta(seconds=delay)).enqueue(
            *args, **{**kwargs, ATTEMPT_KWARG: attempt + 1}
        )
        return
    logger.error("job %s failed for good after %d attempts: %s", task_obj.module_path, attempt, exc)
    FailedJob.objects.create(
        organisation_id=kwargs.get("organisation_id"),
        task_path=task_obj.module_path,
        args=list(args),
        kwargs=kwargs,
        attempts=attempt,
        error="".join(traceback.format_exception(exc))[-8000:],
    )


def on_commit_enqueue(task_obj: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Enqueue after the surrounding transaction commits, so the job sees committed rows."""
    transaction.on_commit(lambda: task_obj.enqueue(*args, **kwargs))


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    every: timedelta
    task: Task[Any, Any]


_PERIODIC: dict[str, PeriodicJob] = {}


def periodic(name: str, *, every: timedelta) -> Callable[[Task[P, T]], Task[P, T]]:
    """Register a job (taking no arguments) to be enqueued every `every` by the tick."""

    def register(task_obj: Task[P, T]) -> Task[P, T]:
        _PERIODIC[name] = PeriodicJob(name=name, every=every, task=task_obj)
        return task_obj

    return register


def periodic_jobs() -> list[PeriodicJob]:
    return list(_PERIODIC.values())


def tick(now: Any = None) -> list[str]:
    """Enqueue every periodic job that is due. Returns the names this call enqueued."""
    from publikum.core.models import PeriodicRun

    now = now or timezone.now()
    enqueued = []
    for pj in periodic_jobs():
        # Another worker may create the row at the same moment.
        with contextlib.suppress(IntegrityError):
            PeriodicRun.objects.get_or_create(name=pj.name)
        due = Q(last_enqueued_at__isnull=True) | Q(last_enqueued_at__lte=now - pj.every)
        # Only one worker's UPDATE matches: the claim that makes the tick single-leader.
        claimed = PeriodicRun.objects.filter(due, name=pj.name).update(last_enqueued_at=now)
        if claimed:
            pj.task.enqueue()
            enqueued.append(pj.name)
    return enqueued
