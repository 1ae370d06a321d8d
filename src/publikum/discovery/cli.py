"""`publikum discovery evaluate`: the offline evaluation on a house's own CSV files.

The management command (core/management/commands/discovery.py) only parses arguments and
hands them here, so that the command works before the discovery app is installed and
needs no database. Every problem with the input ends as one line naming the file, row and
column, and exit code 2.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser, OutputWrapper

from publikum.core.errors import DomainError
from publikum.discovery import csvio, evaluation
from publikum.discovery.recommender import COLLABORATIVE, ModelConfig

EXIT_BAD_INPUT = 2


def add_arguments(parser: CommandParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    evaluate = sub.add_parser(
        "evaluate",
        help="measure the recommender on your own interactions and items (CSV files)",
        description=(
            "Split your history, train on one part, rank the held-out part, and report "
            "accuracy, coverage, diversity, novelty, serendipity and calibration for "
            "Publikum at each horizon and for two baselines (popularity, content profile)."
        ),
    )
    evaluate.add_argument(
        "--interactions",
        required=True,
        type=Path,
        help="CSV with user_id,item_id,timestamp[,weight]",
    )
    evaluate.add_argument(
        "--items",
        required=True,
        type=Path,
        help="CSV with item_id,title,themes[,kind,starts_at,description]; themes separated by |",
    )
    evaluate.add_argument(
        "--split",
        choices=evaluation.SPLITS,
        default="item-cold-start",
        help="item-cold-start (default): rank the newest 20%% of items; temporal; random",
    )
    evaluate.add_argument("--k", type=int, default=10, help="length of each list (default 10)")
    evaluate.add_argument(
        "--horizon",
        default="0,0.3,0.6",
        help="horizon values from 0 to 1, comma separated (default 0,0.3,0.6)",
    )
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the random split")
    evaluate.add_argument(
        "--max-users", type=int, help="evaluate on a random sample of this many test users"
    )
    evaluate.add_argument(
        "--collaborative",
        choices=COLLABORATIVE,
        default="ease",
        help="collaborative model (default ease)",
    )


def parse_horizons(text: str) -> list[float]:
    values: list[float] = []
    for raw in text.split(","):
        part = raw.strip()
        try:
            value = float(part)
        except ValueError:
            raise CommandError(
                f"--horizon: {part!r} is not a number; give values from 0 to 1 such as 0,0.3,0.6.",
                returncode=EXIT_BAD_INPUT,
            ) from None
        if math.isnan(value) or not 0.0 <= value <= 1.0:
            raise CommandError(
                f"--horizon: {part} is outside 0..1 (0 = only the familiar, 1 = mostly new).",
                returncode=EXIT_BAD_INPUT,
            )
        values.append(value)
    return values


def run(options: dict[str, Any], stdout: OutputWrapper) -> None:
    horizons = parse_horizons(options["horizon"])
    if options["k"] < 1:
        raise CommandError(
            f"--k must be at least 1, not {options['k']}.", returncode=EXIT_BAD_INPUT
        )
    if options.get("max_users") is not None and options["max_users"] < 1:
        raise CommandError("--max-users must be at least 1.", returncode=EXIT_BAD_INPUT)
    items_path: Path = options["items"]
    interactions_path: Path = options["interactions"]
    try:
        items = csvio.read_items(items_path)
        interactions = csvio.read_interactions(
            interactions_path, {item.id: item for item in items}, items_path
        )
        report = evaluation.evaluate(
            interactions,
            items,
            split=options["split"],
            k=options["k"],
            horizons=horizons,
            seed=options["seed"],
            max_users=options.get("max_users"),
            config=ModelConfig(collaborative=options["collaborative"]),
            progress=None if options["json"] else _progress,
        )
    except DomainError as exc:
        raise CommandError(exc.message, returncode=EXIT_BAD_INPUT) from None
    if options["json"]:
        stdout.write(json.dumps(report, indent=2))
    else:
        stdout.write(evaluation.report_text(report).rstrip("\n"))


def _progress(text: str) -> None:
    sys.stderr.write(f"… {text}\n")
