"""Advancing due runs: skip-locked claims, one savepoint per step, retries with backoff."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.journeys.engine.definition import (
    ATTEMPTS_KEY,
    CLAIM_BATCH,
    END,
    MAX_STEPS_PER_PASS,
    RETRY_DELAYS,
    steps_of,
)
from publikum.journeys.engine.steps import StepFailed, execute_step
from publikum.journeys.models import (
    JourneyRun,
    JourneyStatus,
    RunStatus,
    StepEvent,
    Trigger,
)

logger = logging.getLogger("publikum.journeys")


def advance_due(
    *, now: datetime | None = None, limit: int = 1000, run_ids: list[int] | None = None
) -> int:
    """Move on every waiting run that is due (of active journeys), at most `limit` runs;
    `run_ids` narrows it to those runs. Safe with many workers at once (skip-locked claims).
    Returns the number of runs processed."""
    now = now or timezone.now()
    processed = 0
    while processed < limit:
        with transaction.atomic():
            claim = (
                JourneyRun.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("journey", "journey__organisation", "contact")
                .filter(
                    status=RunStatus.WAITING,
                    due_at__lte=now,
                    journey__status=JourneyStatus.ACTIVE,
                )
                .order_by("due_at", "pk")
            )
            if run_ids is not None:
                claim = claim.filter(pk__in=run_ids)
            runs = list(claim[: min(CLAIM_BATCH, limit - processed)])
            for run in runs:
                _advance_run(run, now)
        if not runs:
            break
        processed += len(runs)
    return processed


def _event(run: JourneyRun, step_id: str, event: str, detail: str, now: datetime) -> None:
    StepEvent.objects.create(
        organisation_id=run.organisation_id,
        journey_id=run.journey_id,
        run=run,
        step_id=step_id,
        event=event,
        detail=detail[:300],
        at=now,
    )


def _finish(run: JourneyRun, status: str, now: datetime, error: str = "") -> None:
    run.status = status
    run.finished_at = now
    run.due_at = None
    run.error = error
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "due_at",
            "error",
            "step_id",
            "steps_taken",
            "context",
        ]
    )


def _exit_reason(run: JourneyRun) -> str:
    if run.contact.erased_at is not None:
        return _("the contact was erased")
    booking_id = run.context.get("booking") if isinstance(run.context, dict) else None
    if booking_id and run.journey.trigger in (Trigger.BOOKING_MADE, Trigger.BOOKED_DATE_AHEAD):
        from publikum.bookings.models import Booking, BookingStatus

        if Booking.objects.filter(
            organisation_id=run.organisation_id, pk=booking_id, status=BookingStatus.CANCELLED
        ).exists():
            return _("the booking was cancelled")
    return ""


def _advance_run(run: JourneyRun, now: datetime) -> None:  # noqa: PLR0911
    """Walk one claimed run from its due step to the next wait or the end.

    Call inside the transaction that holds the run's row lock.
    """
    reason = _exit_reason(run)
    if reason:
        _event(run, run.step_id or "-", "exited", reason, now)
        _finish(run, RunStatus.EXITED, now)
        return
    steps = steps_of(run.journey.definition)
    for _taken in range(MAX_STEPS_PER_PASS):
        step_id = run.step_id
        if step_id == END:
            _event(run, "-", "ended", "", now)
            _finish(run, RunStatus.DONE, now)
            return
        step = steps.get(step_id)
        if step is None:
            message = _("the step '%(id)s' no longer exists in the journey") % {"id": step_id}
            _event(run, step_id, "failed", message, now)
            _finish(run, RunStatus.FAILED, now, message)
            return
        try:
            with transaction.atomic():
                outcome = execute_step(run, step, now)
        except StepFailed as exc:
            _event(run, step_id, "failed", str(exc), now)
            _finish(run, RunStatus.FAILED, now, str(exc))
            return
        except Exception as exc:
            logger.warning("journey run %s failed at step %s: %s", run.pk, step_id, exc)
            _retry_or_fail(run, step_id, now, str(exc) or exc.__class__.__name__)
            return
        _event(run, step_id, outcome.event, outcome.detail, now)
        run.steps_taken += 1
        run.error = ""
        run.context = {k: v for k, v in run.context.items() if k != ATTEMPTS_KEY}
        if outcome.wait_until is not None:
            run.step_id = outcome.next if outcome.next is not None else END
            run.due_at = outcome.wait_until
            run.save(update_fields=["step_id", "due_at", "steps_taken", "error", "context"])
            return
        if not outcome.next:
            _finish(run, RunStatus.DONE, now)
            return
        run.step_id = outcome.next
    message = _(
        "more than %(n)d steps in a row without a wait: the journey seems to go round in circles"
    ) % {"n": MAX_STEPS_PER_PASS}
    _event(run, run.step_id, "failed", message, now)
    _finish(run, RunStatus.FAILED, now, message)


def _retry_or_fail(run: JourneyRun, step_id: str, now: datetime, error: str) -> None:
    """A step raised: try it again later (backoff), after the last attempt fail the run.
    The run is saved at the failing step with what it had done before it."""
    attempts = int(run.context.get(ATTEMPTS_KEY, 0)) + 1
    if attempts > len(RETRY_DELAYS):
        _event(run, step_id, "failed", error, now)
        run.context = {k: v for k, v in run.context.items() if k != ATTEMPTS_KEY}
        _finish(run, RunStatus.FAILED, now, error[:2000])
        return
    run.context = {**run.context, ATTEMPTS_KEY: attempts}
    run.due_at = now + RETRY_DELAYS[attempts - 1]
    run.error = error[:2000]
    run.save(update_fields=["step_id", "due_at", "steps_taken", "error", "context"])
    _event(run, step_id, "retry", error, now)


def schedule_advance(run_ids: list[int] | None) -> None:
    """After commit, let a worker move the given runs on (None: every due run)."""
    from publikum.journeys import engine_tasks

    if run_ids:
        ids = list(run_ids)
        transaction.on_commit(lambda: engine_tasks.advance_runs.enqueue(run_ids=ids), robust=True)
    else:
        transaction.on_commit(engine_tasks.advance_due_job.enqueue, robust=True)
