"""`publikum assistant evaluate ...`: the assistant, checked on evaluation cases.

The work is done in `publikum.assistant.evaluation.cli`; the command stays a thin shell.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from publikum.assistant.evaluation import cli


class Command(BaseCommand):
    help = (
        "Assistant: `assistant evaluate --cases FILE.yaml --org SLUG [--json] [--calibrate] "
        "[--verbose]`."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        cli.run(options, self.stdout)
