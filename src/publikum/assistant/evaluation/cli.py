"""`publikum assistant evaluate`: run evaluation cases against an organisation.

Bad input (a missing or unreadable file, invalid YAML, an unknown organisation, a file
without a single usable case) ends as one line and exit code 2. A single bad case is
reported and skipped; the others run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError, CommandParser, OutputWrapper
from django.test.utils import override_settings

from publikum.assistant.evaluation import calibrate, cases, metrics
from publikum.assistant.evaluation.runner import Runner

EXIT_BAD_INPUT = 2
DEV_CASES = Path(__file__).with_name("dev_cases.yaml")


def add_arguments(parser: CommandParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    evaluate = sub.add_parser(
        "evaluate",
        help="run question and dialogue cases against an organisation's assistant",
        description=(
            "Run the cases of a YAML file against the assistant of an organisation, each in "
            "a transaction that is rolled back (nothing is written, no mail is sent), and "
            "print accuracy per category and language, hand-over precision and recall, "
            "booking dialogue success and the latency per message."
        ),
    )
    evaluate.add_argument(
        "--cases",
        type=Path,
        default=DEV_CASES,
        help="YAML file with the cases (default: the development set shipped with Publikum)",
    )
    evaluate.add_argument("--org", required=True, help="slug of the organisation")
    evaluate.add_argument("--json", action="store_true", help="print the figures as JSON")
    evaluate.add_argument(
        "--calibrate",
        action="store_true",
        help="choose the hand-over threshold on these cases and store it in the settings",
    )
    evaluate.add_argument(
        "--verbose", action="store_true", help="show each failed case's messages and replies"
    )


def _bad(message: str) -> CommandError:
    return CommandError(message, returncode=EXIT_BAD_INPUT)


def run(options: dict[str, Any], stdout: OutputWrapper) -> None:
    from publikum.core.models import Organisation

    path: Path = options["cases"]
    try:
        loaded, invalid = cases.load(path)
    except cases.CaseFileError as exc:
        raise _bad(str(exc)) from None
    organisation = Organisation.objects.filter(slug=options["org"]).first()
    if organisation is None:
        raise _bad(f"--org: there is no organisation with the slug {options['org']!r}.")
    if not loaded:
        detail = f" ({len(invalid)} invalid: {invalid[0]})" if invalid else ""
        raise _bad(f"{path}: no case to run{detail}")
    as_json = options["json"]
    # Nothing leaves the machine: mails go to memory (and are rolled back with the rest).
    with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
        chosen = None
        if options["calibrate"]:
            chosen = calibrate.calibrate(
                organisation,
                loaded,
                invalid,
                progress=None if as_json else _progress,
            )
            calibrate.store(organisation, chosen.threshold)
        runner = Runner(organisation)
        result = runner.run(loaded, invalid)
    f = metrics.figures(result)
    from publikum.assistant.models import AssistantSettings

    stored = (
        AssistantSettings.objects.filter(organisation=organisation)
        .values_list("threshold", flat=True)
        .first()
    )
    f["threshold"] = stored
    if chosen is not None:
        f["calibration"] = {
            "threshold": chosen.threshold,
            "reached_recall": chosen.reached_recall,
            "table": chosen.table,
        }
    if as_json:
        stdout.write(json.dumps(f, indent=2, default=str))
        return
    if chosen is not None:
        stdout.write(calibrate.table_text(chosen))
        stdout.write(f"Stored threshold {chosen.threshold:.2f} for {organisation.slug}.\n")
    stdout.write(metrics.report_text(f, verbose=options["verbose"]).rstrip("\n"))


def _progress(text: str) -> None:
    sys.stderr.write(f"… {text}\n")
