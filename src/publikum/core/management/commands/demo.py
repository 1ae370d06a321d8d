from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Create the demo institution 'Stadtmuseum Beispielstadt' unless it exists."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--contacts", type=int, default=20000, help="number of contacts (default 20000)"
        )
        parser.add_argument("--seed", type=int, default=20261123)

    def handle(self, *args: Any, **options: Any) -> None:
        from publikum.core.demo import DEMO_LOGIN, build_demo

        if options["contacts"] < 1 or options["contacts"] > 2_000_000:
            raise CommandError("--contacts must be between 1 and 2000000.")
        started = time.monotonic()
        org = build_demo(seed=options["seed"], contacts=options["contacts"], stdout=self.stdout)
        self.stdout.write(
            f"Demo institution '{org.name}' ready ({time.monotonic() - started:.1f} s). "
            f"Log in as {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]}"
        )
