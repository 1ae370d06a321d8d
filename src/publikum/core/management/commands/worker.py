"""`publikum worker`: runs background jobs and the periodic tick.

With the default database queue it runs django-tasks-db's worker loop; with
PUBLIKUM_TASK_QUEUE=rq an RQ worker on Redis. Either way a tick thread enqueues due
periodic jobs; the claim in `jobs.tick` keeps that single-leader across any number of workers.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections

from publikum.core import jobs

logger = logging.getLogger("publikum.worker")


def run_ticks(stop: threading.Event, every: float) -> None:
    while not stop.is_set():
        try:
            close_old_connections()
            enqueued = jobs.tick()
            if enqueued:
                logger.info("tick enqueued %s", ", ".join(enqueued))
        except Exception:  # the tick must survive a database hiccup
            logger.exception("tick failed; trying again in %.0f s", every)
        stop.wait(every)


class Command(BaseCommand):
    help = "Run background jobs and the periodic tick until stopped (Ctrl-C)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue",
            action="append",
            dest="queues",
            help=f"queue to serve (repeatable; default all: {settings.TASK_QUEUES})",
        )
        parser.add_argument("--no-tick", action="store_true", help="do not run the periodic tick")
        parser.add_argument(
            "--burst", action="store_true", help="run the jobs that are ready, then exit"
        )
        parser.add_argument(
            "--interval",
            type=float,
            default=0.5,
            help="seconds between polls of the database queue (default 0.5)",
        )
        parser.add_argument("--max-tasks", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        queues = options["queues"] or list(settings.TASK_QUEUES)
        unknown = set(queues) - set(settings.TASK_QUEUES)
        if unknown:
            raise CommandError(
                f"Unknown queue(s): {', '.join(sorted(unknown))}. "
                f"Known: {', '.join(settings.TASK_QUEUES)}."
            )
        if options["interval"] <= 0:
            raise CommandError("--interval must be positive.")
        stop = threading.Event()
        ticker = None
        if not options["no_tick"] and not options["burst"]:
            ticker = threading.Thread(
                target=run_ticks, args=(stop, settings.TICK_SECONDS), name="tick", daemon=True
            )
            ticker.start()
        worker_id = f"{socket.gethostname()}-{os.getpid()}"
        self.stdout.write(
            f"Worker {worker_id} on {settings.TASK_QUEUE} queue(s) {', '.join(queues)}"
        )
        try:
            if settings.TASK_QUEUE == "rq":
                self._run_rq(queues, options)
            else:
                self._run_db(queues, worker_id, options)
        finally:
            stop.set()

    def _run_db(self, queues: list[str], worker_id: str, options: dict[str, Any]) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        worker = Worker(
            queue_names=queues,
            interval=options["interval"],
            batch=options["burst"],
            backend_name="default",
            startup_delay=False,
            max_tasks=options["max_tasks"],
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        worker.configure_signals()
        try:
            worker.run()
        finally:
            worker.reset_signals()

    def _run_rq(self, queues: list[str], options: dict[str, Any]) -> None:
        import django_rq
        from django_tasks_rq.backend import Job

        worker = django_rq.get_worker(*queues, job_class=Job)
        worker.work(
            with_scheduler=True,
            burst=options["burst"],
            max_jobs=options["max_tasks"],
            logging_level="WARNING",
        )
