"""Choosing the confidence threshold of hand-over on the evaluation set.

The whole set is run once for every candidate threshold (0.00, 0.05, ... 0.90), each case
in its rolled-back transaction with `AssistantSettings.threshold` set to the candidate.
The rule:

1. Only thresholds whose hand-over recall is at least 90 % count (a visitor who needs a
   person must reach one).
2. Among those, the one with the most correct cases overall (answers, hand-overs and
   booking dialogues) wins.
3. Ties: the higher hand-over precision (fewer needless hand-overs for staff). Thresholds
   still tied usually form a plateau (0.10 to 0.35 all equally good): the middle of the
   longest such run of neighbouring candidates is taken, the value farthest from both
   edges, where questions unlike the set's are least likely to tip the other way. Its
   lower end would answer everything the set happens to contain and nothing more.

When no threshold reaches 90 % recall, the one with the highest recall is taken (ties as
above) and the report says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from publikum.assistant.evaluation import metrics
from publikum.assistant.evaluation.cases import Case, CaseError
from publikum.assistant.evaluation.runner import Runner
from publikum.core.models import Organisation

CANDIDATES = tuple(round(n * 0.05, 2) for n in range(19))


@dataclass
class Choice:
    threshold: float
    reached_recall: bool
    table: list[dict[str, Any]]


def calibrate(
    organisation: Organisation,
    cases: list[Case],
    invalid: list[CaseError],
    *,
    candidates: tuple[float, ...] = CANDIDATES,
    progress: Callable[[str], None] | None = None,
) -> Choice:
    table: list[dict[str, Any]] = []
    runner = Runner(organisation)
    for threshold in candidates:
        runner.threshold = threshold
        f = metrics.figures(runner.run(cases, invalid))
        row = {
            "threshold": threshold,
            "accuracy": f["accuracy"] or 0.0,
            "passed": f["passed"],
            "ran": f["ran"],
            "answers": f["answers"]["accuracy"],
            "precision": f["handoff"]["precision"],
            "recall": f["handoff"]["recall"],
            "bookings": f["bookings"]["accuracy"],
        }
        table.append(row)
        if progress is not None:
            progress(
                f"threshold {threshold:.2f}: {row['passed']}/{row['ran']} correct, "
                f"hand-over recall {metrics._ratio(row['recall'])}, "
                f"precision {metrics._ratio(row['precision'])}"
            )
    return choose(table)


def choose(table: list[dict[str, Any]]) -> Choice:
    def recall(row: dict[str, Any]) -> float:
        return 1.0 if row["recall"] is None else float(row["recall"])

    def precision(row: dict[str, Any]) -> float:
        return 1.0 if row["precision"] is None else float(row["precision"])

    eligible = [r for r in table if recall(r) >= metrics.TARGET_HANDOFF_RECALL]
    if eligible:
        top = max((r["passed"], precision(r)) for r in eligible)
        tied = [r for r in table if r in eligible and (r["passed"], precision(r)) == top]
        return Choice(_middle_of_longest_run(table, tied), True, table)
    best = max(table, key=lambda r: (recall(r), r["passed"], precision(r), -r["threshold"]))
    return Choice(best["threshold"], False, table)


def _middle_of_longest_run(table: list[dict[str, Any]], tied: list[dict[str, Any]]) -> float:
    """The middle threshold of the longest run of neighbouring rows (in `table` order) that
    are all in `tied`; the lower middle for a run of even length, the first run on a tie."""
    runs: list[list[float]] = []
    current: list[float] = []
    for row in table:
        if row in tied:
            current.append(row["threshold"])
            continue
        if current:
            runs.append(current)
        current = []
    if current:
        runs.append(current)
    longest = max(runs, key=len)
    return longest[(len(longest) - 1) // 2]


def store(organisation: Organisation, threshold: float) -> None:
    from publikum.assistant.models import AssistantSettings

    AssistantSettings.objects.update_or_create(
        organisation=organisation, defaults={"threshold": threshold}
    )


def table_text(choice: Choice) -> str:
    lines = ["threshold  correct   answers  hand-over precision  recall   bookings"]
    for r in choice.table:
        mark = "  <- chosen" if r["threshold"] == choice.threshold else ""
        lines.append(
            f"  {r['threshold']:.2f}     {r['passed']:>3}/{r['ran']:<4} "
            f"{metrics._ratio(r['answers']):>7}  {metrics._ratio(r['precision']):>19}  "
            f"{metrics._ratio(r['recall']):>6}  {metrics._ratio(r['bookings']):>8}{mark}"
        )
    if not choice.reached_recall:
        lines.append("No threshold reaches 90 % hand-over recall; the highest recall was taken.")
    return "\n".join(lines) + "\n"
