"""The offline evaluation reports people with a history apart from those who get fallbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from publikum.discovery.data import Interaction, Item
from publikum.discovery.evaluation import evaluate, report_text

THEMES = ("musik", "literatur", "stadtgeschichte", "kinder-familie", "fotografie")
KINDS = ("concert", "talk", "tour", "workshop", "exhibition")
START = datetime(2025, 1, 4, 18, 0, tzinfo=UTC)
# Metrics that depend only on the lists and the split, not on who else is in the file
# (novelty counts every user of the file).
LIST_METRICS = ("ndcg", "recall", "coverage", "diversity", "serendipity", "calibration_kl")


def _house(newcomers: int) -> tuple[list[Interaction], list[Item]]:
    """40 dates over 20 weeks; 30 visitors with two favourite themes; `newcomers` people who
    only came to the newest dates (the held-out ones), so they have no training history."""
    items = [
        Item(
            id=f"d{n}",
            title=f"{THEMES[n % 5].title()} Nr. {n}",
            themes=(THEMES[n % 5],) if n % 3 else (THEMES[n % 5], THEMES[(n + 1) % 5]),
            kind=KINDS[n % 5],
            starts_at=START + timedelta(days=3 * n),
            description=f"Ein Abend über {THEMES[n % 5]}",
        )
        for n in range(40)
    ]
    interactions = []
    for person in range(30):
        favourites = {THEMES[person % 5], THEMES[(person * 2 + 1) % 5]}
        for n, item in enumerate(items):
            if item.themes[0] in favourites and (n + person) % 3:
                moment = (item.starts_at or START).timestamp() + 3600
                interactions.append(Interaction(f"c{person}", item.id, moment))
    for person in range(newcomers):
        for n in (34 + person % 3, 38):
            interactions.append(
                Interaction(
                    f"new{person}", items[n].id, (START + timedelta(days=3 * n)).timestamp()
                )
            )
    return interactions, items


def test_users_without_training_history_are_counted_and_left_out_of_with_history() -> None:
    interactions, items = _house(newcomers=6)
    without_newcomers = [i for i in interactions if not i.user.startswith("new")]

    report = evaluate(interactions, items, k=5, horizons=(0.0, 0.5))
    reference = evaluate(without_newcomers, items, k=5, horizons=(0.0, 0.5))

    # The newcomers' dates were also visited by others: the split is the same in both runs.
    assert report["data"]["candidates"] == reference["data"]["candidates"] == 8
    assert report["data"]["test_users"] == reference["data"]["test_users"] + 6
    assert report["data"]["test_users_with_history"] == reference["data"]["test_users"]
    assert [r["method"] for r in report["results"]] == [
        "publikum",
        "publikum",
        "popularity",
        "content",
    ]
    for row, alone in zip(report["results"], reference["results"], strict=True):
        assert (row["method"], row["horizon"]) == (alone["method"], alone["horizon"])
        for metric in LIST_METRICS:
            # With history = the run in which nobody else was tested.
            assert row["with_history"][metric] == alone[metric], (row["method"], metric)
    # The newcomers make a difference overall: the popular fallback finds few of their dates.
    publikum = report["results"][0]
    assert publikum["ndcg"] != publikum["with_history"]["ndcg"]

    text = report_text(report)
    share = 100 * 6 / report["data"]["test_users"]
    assert f"6 of the {report['data']['test_users']} test users ({share:.1f} %)" in text
    assert "have no history in the training data" in text


def test_when_everybody_has_a_history_both_figures_are_the_same() -> None:
    interactions, items = _house(newcomers=0)

    report = evaluate(interactions, items, k=5, horizons=(0.3,))

    assert report["data"]["test_users_with_history"] == report["data"]["test_users"]
    for row in report["results"]:
        for metric in (*LIST_METRICS, "novelty"):
            assert row["with_history"][metric] == row[metric], (row["method"], metric)
    assert "no history in the training data" not in report_text(report)
