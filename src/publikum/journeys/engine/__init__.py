"""The journey engine: definitions, validation, state, advancing runs step by step, dry run.

Modules: `definition` (reading steps, when a wait ends), `validation`, `states` (switch on,
pause, resume, archive), `runner` (claims and the walk of a run), `steps` (one function per
step type), `webhooks` (signing, SSRF guard), `dryrun`. Contacts enter through
`publikum.journeys.triggers`.

A journey's `definition` is JSON (docs/journeys.md):
`{"start": "s1", "steps": [{"id": "s1", "type": "wait", ...}, ...]}`; each contact that
enters has one `JourneyRun`, which this package moves along.

How a step is processed exactly once with any number of workers (docs/journeys.md, "Timing"):

* A run that has something to do is `waiting` with `due_at <= now`. `advance_due` claims a
  small batch of such runs with `SELECT ... FOR UPDATE SKIP LOCKED` in one transaction: a
  second worker skips the rows the first one holds and takes others, and a row committed
  meanwhile is re-checked by PostgreSQL against the WHERE clause, so it is never taken again.
* The run walks its steps inside that transaction until a wait (new `due_at`) or the end;
  each step in a savepoint of its own, so that a failing step loses only itself.
* What a step sends is a row written in the same transaction: a `Message` with the key
  `run:<run>:<step>:<steps taken>` (delivery sends it after commit, once per key), a
  `StaffTask` with the same key. A worker killed before the commit leaves the run as it
  was; the next worker repeats the step and the keys make the repetition write nothing new.
  Only a webhook leaves the house before the commit: it is delivered at least once, and
  carries the same key (`X-Publikum-Delivery`) for the receiver to recognise a repetition.
"""

from __future__ import annotations

from publikum.journeys.engine.definition import organisation_zone, steps_of, targets_of, wait_until
from publikum.journeys.engine.dryrun import SimulatedStep, simulate, suppression_reason
from publikum.journeys.engine.runner import advance_due, schedule_advance
from publikum.journeys.engine.states import (
    journey_activate,
    journey_archive,
    journey_pause,
    journey_resume,
)
from publikum.journeys.engine.steps import execute_step, split_side, task_notify
from publikum.journeys.engine.validation import Problem, journey_validate
from publikum.journeys.engine.webhooks import (
    webhook_post,
    webhook_secret,
    webhook_signature,
    webhook_url_problem,
)

__all__ = [
    "Problem",
    "SimulatedStep",
    "advance_due",
    "execute_step",
    "journey_activate",
    "journey_archive",
    "journey_pause",
    "journey_resume",
    "journey_validate",
    "organisation_zone",
    "schedule_advance",
    "simulate",
    "split_side",
    "steps_of",
    "suppression_reason",
    "targets_of",
    "task_notify",
    "wait_until",
    "webhook_post",
    "webhook_secret",
    "webhook_signature",
    "webhook_url_problem",
]
