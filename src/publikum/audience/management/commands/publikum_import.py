"""`publikum import contacts|interactions|programme FILE --org SLUG`: an import run at once.

A programme file (iCalendar or CSV) is handed to `publikum.programme.import_cli`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publikum.audience import importing
from publikum.audience.models import ImportStatus
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
from publikum.programme import import_cli


class Command(BaseCommand):
    help = (
        "Import contacts or their visits and bookings from a CSV file. Rejected rows are "
        "reported with their row number and reason; the valid rows are kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "kind", choices=[*importing.KINDS, "programme"], help="what the file contains"
        )
        parser.add_argument("file", help="the CSV file (programme: also an iCalendar file)")
        parser.add_argument("--org", required=True, help="organisation slug")
        parser.add_argument(
            "--preset",
            choices=sorted({*importing.PRESETS, *import_cli.PRESET_NAMES}),
            help="column layout of a known export (default: recognised from the column names)",
        )
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="COLUMN=FIELD",
            help='assign a column to a field, e.g. --map "E-Mail=email"; FIELD empty ignores it',
        )
        parser.add_argument(
            "--consent-source",
            default="",
            help="where the consent in the file was given; without it consent columns are ignored",
        )
        parser.add_argument(
            "--interaction-kind",
            choices=["visit", "booking"],
            help="kind of rows without a kind column (interactions; default visit)",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="check and count every row, keep nothing"
        )
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        import_cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["org"]).first()
        if organisation is None:
            raise CommandError(f"There is no organisation '{options['org']}'.")
        path = Path(options["file"]).expanduser()
        if not path.is_file():
            raise CommandError(f"There is no file {path}.")
        if options["kind"] == "programme":
            import_cli.run(
                organisation=organisation, path=path, options=options, stdout=self.stdout
            )
            return
        try:
            run = importing.import_file(
                organisation=organisation,
                path=path,
                kind=options["kind"],
                preset=options["preset"],
                mapping=importing.parse_map_options(options["map"]),
                consent_source=options["consent_source"],
                interaction_kind=options["interaction_kind"],
                dry_run=options["dry_run"],
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        if options["json"]:
            self.stdout.write(json.dumps(importing.report_dict(run), ensure_ascii=False, indent=2))
        else:
            self.stdout.write(importing.report_text(run).rstrip("\n"))
        if run.status == ImportStatus.FAILED:
            raise CommandError(run.error or "The import failed.")
