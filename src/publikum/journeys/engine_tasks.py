"""Background jobs of the journey engine: advancing runs, entering contacts, the scans.

Event-driven first: entering contacts queues `advance_runs` for the new runs after commit,
so a first step runs as soon as a worker picks the job up (the database queue polls every
half second). The periodic `advance_due_job` (every 5 s, in practice every tick) moves on
runs whose wait has ended and catches anything a lost job left behind. Every job here is
safe to run twice and alongside itself (skip-locked claims, keyed writes, causes).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from publikum.core.jobs import job, periodic
from publikum.journeys import engine, triggers


@job(max_attempts=3)
def advance_runs(*, run_ids: list[int]) -> int:
    """Move on the given runs (just entered) if they are due; the rest is the tick's."""
    return engine.advance_due(run_ids=list(run_ids), limit=len(run_ids))


@periodic("journeys.advance_due", every=timedelta(seconds=5))
@job(queue_name="periodic")
def advance_due_job() -> int:
    """Move on every run that is due (waits that ended, retries, runs of resumed journeys)."""
    total = 0
    while True:
        done = engine.advance_due(limit=1000)
        total += done
        if done < 1000:
            return total


@job(max_attempts=5)
def fire_event_job(
    *, organisation_id: int, trigger_name: str, contact_id: int, context: dict[str, Any]
) -> list[int]:
    """An event trigger whose entering failed right after its commit, tried again."""
    return triggers.fire_event(
        organisation_id=organisation_id,
        trigger_name=trigger_name,
        contact_id=contact_id,
        context=context,
    )


@job(max_attempts=3)
def enter_new_item(*, item_id: int) -> int:
    """Enter the contacts interested in a newly published programme item."""
    return triggers.enter_new_item(item_id=item_id)


@job(queue_name="mail", max_attempts=5)
def notify_task(*, task_id: int) -> bool:
    """Mail a staff task made by a journey to its assignee."""
    return engine.task_notify(task_id=task_id)


@periodic("journeys.scan_stage_changes", every=timedelta(minutes=1))
@job(queue_name="periodic")
def scan_stage_changes() -> int:
    return triggers.scan_stage_changes()


@periodic("journeys.scan_dates", every=timedelta(minutes=15))
@job(queue_name="periodic")
def scan_dates() -> int:
    return triggers.scan_dates()


@periodic("journeys.scan_birthdays", every=timedelta(hours=1))
@job(queue_name="periodic")
def scan_birthdays() -> int:
    return triggers.scan_birthdays()


@periodic("journeys.scan_segments", every=timedelta(minutes=15))
@job(queue_name="periodic")
def scan_segments() -> int:
    return triggers.scan_segments()
