"""`publikum discovery evaluate ...`: recommendations, checked offline on your own data.

The work is done in `publikum.discovery.cli`, so that the command stays a thin shell.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from publikum.discovery import cli


class Command(BaseCommand):
    help = (
        "Discovery: `discovery evaluate --interactions FILE.csv --items FILE.csv "
        "[--split item-cold-start|temporal|random] [--k 10] [--horizon 0,0.3,0.6] [--json]`."
    )
    # Reads two files and computes; no database, so no checks that would need one.
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        cli.run(options, self.stdout)
