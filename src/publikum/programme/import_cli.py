"""`publikum import programme FILE --org SLUG`: the programme part of the import command.

The command itself lives with the contacts import (`audience/management/commands/
publikum_import.py`); it hands a programme file to `run` here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser, OutputWrapper

from publikum.audience.models import ImportStatus
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
from publikum.programme import import_csv, importing
from publikum.programme.models import ItemKind


def add_arguments(parser: CommandParser) -> None:
    """The options only a programme import takes."""
    parser.add_argument(
        "--format",
        choices=importing.FORMATS,
        help="programme: ics or csv (default: recognised from the file)",
    )
    parser.add_argument(
        "--capacity",
        type=int,
        help="programme: seats of each new date (required; a CSV capacity column wins)",
    )
    parser.add_argument(
        "--item-kind",
        choices=ItemKind.values,
        default=ItemKind.PERFORMANCE,
        help="programme: kind of items whose kind the file does not name (default performance)",
    )


PRESET_NAMES = tuple(import_csv.PRESETS)


def run(
    *, organisation: Organisation, path: Path, options: dict[str, Any], stdout: OutputWrapper
) -> None:
    capacity = options.get("capacity")
    if capacity is None:
        raise CommandError(
            "A programme import needs --capacity: the number of seats of each new date."
        )
    preset = options.get("preset")
    if preset and preset not in import_csv.PRESETS:
        raise CommandError(
            f"Unknown column layout '{preset}' for a programme; one of {', '.join(PRESET_NAMES)}."
        )
    try:
        run_ = importing.import_file(
            organisation=organisation,
            path=path,
            file_format=options.get("format") or "",
            default_kind=options.get("item_kind") or ItemKind.PERFORMANCE,
            capacity=capacity,
            preset=preset,
            mapping=import_csv.parse_map_options(options.get("map") or []),
            dry_run=bool(options.get("dry_run")),
        )
    except DomainError as exc:
        raise CommandError(exc.message) from exc
    if options.get("json"):
        stdout.write(json.dumps(importing.report_dict(run_), ensure_ascii=False, indent=2))
    else:
        stdout.write(importing.report_text(run_).rstrip("\n"))
    if run_.status == ImportStatus.FAILED:
        raise CommandError(run_.error or "The import failed.")
