"""`publikum check`: is the configuration sound and can we reach what we need?"""

from __future__ import annotations

import smtplib
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from publikum.settings import DEFAULT_SECRET_KEY


class Command(BaseCommand):
    help = "Check configuration and connectivity (database, Redis, mail server, task queue)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-mail", action="store_true", help="do not contact the SMTP server"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self.errors = 0
        self._line("ok", f"mode: {settings.MODE}, DEBUG={'on' if settings.DEBUG else 'off'}")
        if settings.SECRET_KEY == DEFAULT_SECRET_KEY:
            self._line(
                "warn", "SECRET_KEY is the development default; set SECRET_KEY in production."
            )
        self._check_database()
        self._check_redis()
        self._check_tasks()
        if not options["skip_mail"]:
            self._check_mail()
        if self.errors:
            raise CommandError(f"{self.errors} problem(s) found.")
        self.stdout.write(self.style.SUCCESS("All checks passed."))

    def _line(self, status: str, text: str) -> None:
        style = {"ok": self.style.SUCCESS, "warn": self.style.WARNING, "error": self.style.ERROR}
        if status == "error":
            self.errors += 1
        self.stdout.write(f"{style[status](f'[{status:>5}]')} {text}")

    def _check_database(self) -> None:
        vendor = connection.vendor
        try:
            connection.ensure_connection()
            executor = MigrationExecutor(connection)
            pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except Exception as exc:
            self._line("error", f"database ({vendor}) unreachable: {exc}")
            return
        if pending:
            self._line(
                "error",
                f"database ({vendor}): {len(pending)} migration(s) not applied; "
                "run `publikum migrate`.",
            )
        else:
            self._line("ok", f"database ({vendor}) reachable, migrations applied")

    def _check_redis(self) -> None:
        if not settings.REDIS_URL:
            self._line("ok", "Redis not configured (local-memory cache, database queue)")
            return
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            self._line("error", f"Redis at {settings.REDIS_URL} unreachable: {exc}")
        else:
            self._line("ok", "Redis reachable")

    def _check_tasks(self) -> None:
        self._line("ok", f"task queue: {settings.TASK_QUEUE} ({', '.join(settings.TASK_QUEUES)})")

    def _check_mail(self) -> None:
        backend = settings.EMAIL_BACKEND
        if not backend.endswith("smtp.EmailBackend"):
            self._line("ok", f"mail backend: {backend}")
            return
        try:
            with smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT, timeout=5) as smtp:
                smtp.noop()
        except (TimeoutError, OSError, smtplib.SMTPException) as exc:
            self._line(
                "error",
                f"SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT} "
                f"unreachable: {exc}. Set EMAIL_URL, or start `publikum serve "
                "--smtp-sink` for the local sink.",
            )
        else:
            self._line("ok", f"SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT} reachable")
