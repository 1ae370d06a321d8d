"""The task layer: retries with backoff, failure records, the burst worker and the tick."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import run_worker_burst
from publikum.core import jobs
from publikum.core.models import AuditEntry, FailedJob, ReceivedMail, Role
from publikum.core.tasks import OUTBOX_KEEP_DAYS, prune_outbox
from publikum.core.tests import sample_jobs

READY = "READY"


def let_retries_fall_due() -> None:
    """Time passes: every waiting retry becomes ready."""
    DBTaskResult.objects.filter(status=READY).update(
        run_after=timezone.now() - timedelta(seconds=1)
    )


def results_of(task: object) -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(task_path=task.module_path).order_by("enqueued_at")  # type: ignore[attr-defined]
    )


def attempts_of(key: str) -> int:
    return AuditEntry.objects.filter(action=sample_jobs.ATTEMPT, object_id=key).count()


@pytest.mark.django_db(transaction=True)
def test_failing_job_is_retried_with_growing_pauses_then_recorded_for_staff(
    keep_signal_handlers, organisation, other_organisation, member_factory
):
    sample_jobs.always_fails.enqueue(organisation_id=organisation.id, key="nightly-export")

    # First attempt fails: a retry waits in the queue, due in the future.
    run_worker_burst()
    first, retry = results_of(sample_jobs.always_fails)
    assert first.status == "FAILED"
    assert retry.status == READY
    assert retry.args_kwargs["kwargs"]["_attempt"] == 2
    assert retry.run_after > timezone.now()
    first_pause = retry.run_after - retry.enqueued_at
    assert first_pause >= timedelta(seconds=5)
    assert not FailedJob.objects.exists()

    # A burst before the pause is over leaves the retry alone.
    run_worker_burst()
    assert attempts_of("nightly-export") == 1

    # Second attempt fails too: the next pause is longer.
    let_retries_fall_due()
    run_worker_burst()
    second_retry = results_of(sample_jobs.always_fails)[-1]
    assert second_retry.status == READY
    assert second_retry.args_kwargs["kwargs"]["_attempt"] == 3
    assert second_retry.run_after - second_retry.enqueued_at > first_pause
    assert not FailedJob.objects.exists()

    # Third and last attempt: no further retry, a failure record instead.
    let_retries_fall_due()
    run_worker_burst()
    assert attempts_of("nightly-export") == 3
    assert not DBTaskResult.objects.filter(status=READY).exists()
    failed = FailedJob.objects.get()
    assert failed.organisation == organisation
    assert failed.attempts == 3
    assert failed.task_path == sample_jobs.always_fails.module_path
    assert sample_jobs.FAILURE_TEXT in failed.error
    assert "RuntimeError" in failed.error

    manager = Client()
    manager.force_login(member_factory(organisation, Role.MANAGER))
    page = manager.get(f"/o/{organisation.slug}/jobs/")
    assert page.status_code == 200
    assert sample_jobs.always_fails.module_path in page.content.decode()
    assert sample_jobs.FAILURE_TEXT in page.content.decode()

    stranger = Client()
    stranger.force_login(member_factory(other_organisation, Role.OWNER))
    own_page = stranger.get(f"/o/{other_organisation.slug}/jobs/")
    assert own_page.status_code == 200
    assert sample_jobs.FAILURE_TEXT not in own_page.content.decode()
    assert stranger.get(f"/o/{organisation.slug}/jobs/").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_job_that_fails_twice_then_succeeds_leaves_no_failure_record(keep_signal_handlers):
    sample_jobs.fails_then_succeeds.enqueue(key="flaky-import", failures=2)

    for _ in range(3):
        run_worker_burst()
        let_retries_fall_due()

    results = results_of(sample_jobs.fails_then_succeeds)
    assert [r.status for r in results] == ["FAILED", "FAILED", "SUCCESSFUL"]
    assert results[-1].return_value == 3
    assert AuditEntry.objects.filter(
        action=sample_jobs.SUCCEEDED, object_id="flaky-import"
    ).exists()
    assert not FailedJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_burst_worker_runs_the_ready_jobs_and_leaves_later_ones(keep_signal_handlers):
    sample_jobs.record_run.enqueue(key="first")
    sample_jobs.record_run.enqueue(key="second")
    sample_jobs.record_run.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(
        key="tomorrow"
    )

    run_worker_burst()

    ran = set(AuditEntry.objects.filter(action=sample_jobs.RAN).values_list("object_id", flat=True))
    assert ran == {"first", "second"}
    later = DBTaskResult.objects.get(status=READY)
    assert later.args_kwargs["kwargs"] == {"key": "tomorrow"}


@pytest.mark.django_db(transaction=True)
def test_job_enqueued_on_commit_waits_for_the_transaction_and_skips_a_rollback():
    with transaction.atomic():
        jobs.on_commit_enqueue(sample_jobs.record_run, key="after-commit")
        assert not DBTaskResult.objects.exists()
    assert DBTaskResult.objects.get().args_kwargs["kwargs"] == {"key": "after-commit"}

    def book_and_fail() -> None:
        with transaction.atomic():
            jobs.on_commit_enqueue(sample_jobs.record_run, key="rolled-back")
            raise RuntimeError("the booking failed")

    with pytest.raises(RuntimeError):
        book_and_fail()

    assert DBTaskResult.objects.count() == 1


def test_a_job_needs_at_least_one_attempt():
    with pytest.raises(ValueError, match="max_attempts"):
        jobs.job(max_attempts=0)


@pytest.mark.django_db
def test_tick_enqueues_each_periodic_job_once_per_interval():
    now = timezone.now()
    periodic = jobs.periodic_jobs()
    assert "core.prune_outbox" in {pj.name for pj in periodic}

    assert sorted(jobs.tick(now=now)) == sorted(pj.name for pj in periodic)
    assert jobs.tick(now=now) == []
    assert jobs.tick(now=now + timedelta(seconds=1)) == []
    for pj in periodic:
        assert DBTaskResult.objects.filter(task_path=pj.task.module_path).count() == 1

    six_hours = timedelta(hours=6)
    assert "core.prune_outbox" not in jobs.tick(now=now + six_hours - timedelta(seconds=1))
    assert "core.prune_outbox" in jobs.tick(now=now + six_hours)
    assert "core.prune_outbox" not in jobs.tick(now=now + six_hours)
    pruning = DBTaskResult.objects.filter(task_path=prune_outbox.module_path)
    assert pruning.count() == 2
    assert set(pruning.values_list("queue_name", flat=True)) == {"periodic"}


@pytest.mark.django_db
def test_prune_outbox_deletes_old_mails_and_keeps_newer_ones(organisation):
    now = timezone.now()

    def mail(subject: str, age: timedelta) -> ReceivedMail:
        return ReceivedMail.objects.create(
            organisation=organisation,
            received_at=now - age,
            mail_from="noreply@example.org",
            recipients=["guest@example.org"],
            subject=subject,
            raw=f"Subject: {subject}\r\n\r\nHello",
        )

    mail("last season", timedelta(days=OUTBOX_KEEP_DAYS, hours=1))
    mail("very old", timedelta(days=400))
    mail("last week", timedelta(days=7))
    mail("almost a month", timedelta(days=OUTBOX_KEEP_DAYS) - timedelta(hours=1))

    assert prune_outbox.call() == 2

    assert set(ReceivedMail.objects.values_list("subject", flat=True)) == {
        "last week",
        "almost a month",
    }
