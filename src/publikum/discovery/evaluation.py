"""Offline evaluation on a house's own data: splits, baselines, and one report for all methods.

Splits (docs/discovery.md has the details):

- item-cold-start: the newest 20% of the items that have interactions (by `starts_at`, else
  by their first interaction) are held out with all their interactions. The model trains on
  the rest and ranks only the held-out items for every user who has interactions with them.
  This is the house's real situation: upcoming dates nobody has attended yet.
- temporal: interactions before the 80th percentile of time train, the later ones test; the
  candidates are the items of the test period, minus what each user already had.
- random: 20% of the (user, item) pairs, drawn with `seed`, test; all items are candidates,
  minus what each user already had.

Baselines measured in the same run: popularity (observed for past items, predicted from
content by ridge regression for new ones) and content-only profile matching (cosine between
a user's summed item vectors and each candidate).

Every result holds the metrics over all test users and, under `with_history`, over the test
users with at least one training interaction: the others get the fallbacks (Publikum's
popular fallback spreads its list whatever the dial), which can hide what the dial does for
people the model knows.
"""

from __future__ import annotations

import math
import random
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import Ridge
from sklearn.preprocessing import normalize

from publikum.core.errors import ValidationFailed
from publikum.discovery import metrics
from publikum.discovery import rerank as rr
from publikum.discovery.data import Interaction, Item
from publikum.discovery.features import ItemFeaturizer
from publikum.discovery.recommender import ModelConfig, fit

SPLITS = ("item-cold-start", "temporal", "random")
HELD_OUT_SHARE = 0.2


@dataclass
class Split:
    """Training interactions, what each test user went on to do, and what may be ranked."""

    name: str
    train: list[Interaction]
    test: dict[str, set[str]]
    candidates: list[Item]
    exclude_seen: bool


def _pairs(interactions: Sequence[Interaction]) -> dict[tuple[str, str], float]:
    """First timestamp of each (user, item) pair."""
    first: dict[tuple[str, str], float] = {}
    for inter in interactions:
        key = (inter.user, inter.item)
        if key not in first or inter.timestamp < first[key]:
            first[key] = inter.timestamp
    return first


def split_item_cold_start(
    interactions: Sequence[Interaction], items: Sequence[Item], share: float = HELD_OUT_SHARE
) -> Split:
    first_seen: dict[str, float] = {}
    for inter in interactions:
        first_seen[inter.item] = min(first_seen.get(inter.item, math.inf), inter.timestamp)
    by_id = {item.id: item for item in items}

    def moment(item_id: str) -> float:
        starts = by_id[item_id].starts_at
        return starts.timestamp() if starts is not None else first_seen[item_id]

    attended = sorted(first_seen, key=lambda i: (moment(i), i))
    held = max(1, math.ceil(share * len(attended))) if len(attended) > 1 else 0
    held_out = set(attended[len(attended) - held :])
    train = [i for i in interactions if i.item not in held_out]
    test: dict[str, set[str]] = defaultdict(set)
    for inter in interactions:
        if inter.item in held_out:
            test[inter.user].add(inter.item)
    candidates = [by_id[i] for i in sorted(held_out)]
    return Split("item-cold-start", train, dict(test), candidates, exclude_seen=False)


def split_temporal(
    interactions: Sequence[Interaction], items: Sequence[Item], share: float = HELD_OUT_SHARE
) -> Split:
    stamps = sorted(i.timestamp for i in interactions)
    cutoff = stamps[min(len(stamps) - 1, int((1.0 - share) * len(stamps)))]
    train = [i for i in interactions if i.timestamp < cutoff]
    seen: dict[str, set[str]] = defaultdict(set)
    for inter in train:
        seen[inter.user].add(inter.item)
    test: dict[str, set[str]] = defaultdict(set)
    on_offer: set[str] = set()
    for inter in interactions:
        if inter.timestamp >= cutoff:
            on_offer.add(inter.item)
            if inter.item not in seen[inter.user]:
                test[inter.user].add(inter.item)
    by_id = {item.id: item for item in items}
    candidates = [by_id[i] for i in sorted(on_offer)]
    return Split("temporal", train, {u: s for u, s in test.items() if s}, candidates, True)


def split_random(
    interactions: Sequence[Interaction],
    items: Sequence[Item],
    share: float = HELD_OUT_SHARE,
    seed: int = 0,
) -> Split:
    pairs = sorted(_pairs(interactions))
    rng = random.Random(seed)
    held = set(rng.sample(pairs, math.ceil(share * len(pairs)))) if len(pairs) > 1 else set()
    train = [i for i in interactions if (i.user, i.item) not in held]
    test: dict[str, set[str]] = defaultdict(set)
    for user, item in held:
        test[user].add(item)
    by_id = {item.id: item for item in items}
    candidates = [by_id[i] for i in sorted({item for _, item in pairs})]
    return Split("random", train, dict(test), candidates, exclude_seen=True)


def make_split(
    name: str, interactions: Sequence[Interaction], items: Sequence[Item], *, seed: int = 0
) -> Split:
    if name == "item-cold-start":
        return split_item_cold_start(interactions, items)
    if name == "temporal":
        return split_temporal(interactions, items)
    if name == "random":
        return split_random(interactions, items, seed=seed)
    raise ValidationFailed(f"Unknown split {name!r}; one of {', '.join(SPLITS)}.")


# --- baselines ----------------------------------------------------------------------------


def _history_matrix(
    train: Sequence[Interaction], past_ids: list[str], users: Sequence[str]
) -> sp.csr_matrix:
    past = {item: i for i, item in enumerate(past_ids)}
    index = {user: i for i, user in enumerate(users)}
    cells = {(index[i.user], past[i.item]) for i in train if i.user in index}
    rows = np.array([r for r, _ in cells], dtype=np.int64)
    cols = np.array([c for _, c in cells], dtype=np.int64)
    return sp.csr_matrix((np.ones(len(cells)), (rows, cols)), shape=(len(users), len(past_ids)))


class PopularityBaseline:
    """Distinct users per past item; for a new item, ridge regression from its content."""

    def __init__(self, train: Sequence[Interaction], items: Sequence[Item]) -> None:
        self.featurizer = ItemFeaturizer().fit(items)
        users: dict[str, set[str]] = defaultdict(set)
        for inter in train:
            users[inter.item].add(inter.user)
        self.past_ids = sorted(users)
        by_id = {item.id: item for item in items}
        self.counts = {i: len(users[i]) for i in self.past_ids}
        self.ridge = Ridge(alpha=1.0)
        if self.past_ids:
            content = self.featurizer.transform([by_id[i] for i in self.past_ids])
            self.ridge.fit(content, np.log1p([self.counts[i] for i in self.past_ids]))

    def scores(self, users: Sequence[str], candidates: Sequence[Item]) -> np.ndarray:
        if not self.past_ids:
            return np.zeros((len(users), len(candidates)))
        predicted = self.ridge.predict(self.featurizer.transform(candidates))
        for j, item in enumerate(candidates):
            if item.id in self.counts:
                predicted[j] = math.log1p(self.counts[item.id])
        return np.tile(predicted, (len(users), 1))


class ContentBaseline:
    """Cosine between a user's profile (sum of their items' vectors) and each candidate;
    users without history get the popularity ranking."""

    def __init__(self, train: Sequence[Interaction], items: Sequence[Item]) -> None:
        self.featurizer = ItemFeaturizer().fit(items)
        self.train = train
        self.by_id = {item.id: item for item in items}
        self.past_ids = sorted({i.item for i in train})
        self.content = self.featurizer.transform([self.by_id[i] for i in self.past_ids])
        self.popularity = PopularityBaseline(train, items)

    def scores(self, users: Sequence[str], candidates: Sequence[Item]) -> np.ndarray:
        history = _history_matrix(self.train, self.past_ids, users)
        profile = normalize(history @ self.content)
        cand = normalize(self.featurizer.transform(candidates))
        scores = np.asarray((profile @ cand.T).todense())
        empty = np.diff(history.indptr) == 0
        if empty.any():
            pop = self.popularity.scores(["-"], candidates)[0]
            # Below any cosine (>= 0) of a user with history; only the order matters.
            scores[empty] = pop[None, :] - pop.max() - 1.0 if len(pop) else 0.0
        return scores


def _top_k(
    scores: np.ndarray,
    candidates: Sequence[Item],
    users: Sequence[str],
    k: int,
    seen: Mapping[str, set[str]] | None,
) -> dict[str, list[str]]:
    ids = [c.id for c in candidates]
    index = {c: j for j, c in enumerate(ids)}
    out: dict[str, list[str]] = {}
    for r, user in enumerate(users):
        row = scores[r].astype(np.float64, copy=True)
        if seen:
            for item in seen.get(user, ()):
                j = index.get(item)
                if j is not None:
                    row[j] = -np.inf
        order = np.argsort(-row, kind="stable")[:k]
        out[user] = [ids[j] for j in order if np.isfinite(row[j])]
    return out


# --- the run ------------------------------------------------------------------------------


@dataclass
class _Context:
    """What the metrics need besides the lists: the truth and what each user knew before."""

    split: Split
    k: int
    attributes: Mapping[str, frozenset[str]]
    themes: Mapping[str, tuple[str, ...]]
    user_counts: Mapping[str, int]
    n_users: int
    familiar: Mapping[str, set[str]]
    theme_mix: Mapping[str, dict[str, float]]


def _metrics(lists: Mapping[str, list[str]], ctx: _Context) -> dict[str, float]:
    users = list(lists)
    n = max(len(users), 1)
    k, test, themes = ctx.k, ctx.split.test, ctx.themes
    calibrated = [u for u in users if ctx.theme_mix.get(u)]
    return {
        "ndcg": sum(metrics.ndcg_at_k(lists[u], test[u], k) for u in users) / n,
        "recall": sum(metrics.recall_at_k(lists[u], test[u], k) for u in users) / n,
        "coverage": metrics.catalogue_coverage(
            lists.values(), [c.id for c in ctx.split.candidates], k
        ),
        "diversity": sum(metrics.intra_list_diversity(lists[u], themes, k) for u in users) / n,
        "novelty": sum(metrics.novelty(lists[u], ctx.user_counts, ctx.n_users, k) for u in users)
        / n,
        "serendipity": sum(
            metrics.serendipity(lists[u], test[u], ctx.attributes, ctx.familiar.get(u, set()), k)
            for u in users
        )
        / n,
        "calibration_kl": sum(
            metrics.calibration_kl(
                ctx.theme_mix[u], metrics.theme_distribution(themes[j] for j in lists[u][:k])
            )
            for u in calibrated
        )
        / max(len(calibrated), 1),
    }


def evaluate(
    interactions: Sequence[Interaction],
    items: Sequence[Item],
    *,
    split: str = "item-cold-start",
    k: int = 10,
    horizons: Sequence[float] = (0.0,),
    seed: int = 0,
    max_users: int | None = None,
    config: ModelConfig | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the split, fit Publikum and the baselines on it and measure all; JSON-ready."""
    if k < 1:
        raise ValidationFailed(f"k must be at least 1, not {k}.")
    horizons = [rr.check_horizon(h) for h in horizons]
    if not interactions:
        raise ValidationFailed("There are no interactions to evaluate on.")
    say = progress or (lambda _text: None)
    the_split = make_split(split, interactions, items, seed=seed)
    if not the_split.train:
        raise ValidationFailed(
            "The split leaves no training interactions; the data needs more items or users."
        )
    users = sorted(the_split.test)
    if max_users is not None and len(users) > max_users:
        users = sorted(random.Random(seed).sample(users, max_users))
    if not users or not the_split.candidates:
        raise ValidationFailed("The split leaves no test users; the data is too small.")
    themes = {i.id: i.themes for i in items}
    attributes = {i.id: i.attributes() for i in items}
    user_counts: dict[str, int] = {}
    all_users: set[str] = set()
    for user, item in _pairs(interactions):
        user_counts[item] = user_counts.get(item, 0) + 1
        all_users.add(user)
    seen: dict[str, set[str]] = defaultdict(set)
    for inter in the_split.train:
        seen[inter.user].add(inter.item)
    ctx = _Context(
        split=the_split,
        k=k,
        attributes=attributes,
        themes=themes,
        user_counts=user_counts,
        n_users=len(all_users),
        familiar={u: set().union(*(attributes[i] for i in seen.get(u, ()))) for u in users},
        theme_mix={
            u: metrics.theme_distribution(themes[i] for i in seen.get(u, ())) for u in users
        },
    )

    known = [u for u in users if seen.get(u)]

    def measured(
        lists: Mapping[str, list[str]],
    ) -> tuple[dict[str, float], dict[str, float] | None]:
        overall = _metrics(lists, ctx)
        if not known:
            return overall, None
        return overall, _metrics({u: lists[u] for u in known}, ctx)

    results: list[dict[str, Any]] = []
    say(f"fitting Publikum on {len(the_split.train)} interactions")
    started = time.perf_counter()
    model = fit(the_split.train, items, config)
    candidates = model.prepare(the_split.candidates)
    fit_seconds = time.perf_counter() - started
    for horizon in horizons:
        say(f"recommending for {len(users)} users at horizon {horizon:g}")
        started = time.perf_counter()
        recs = model.recommend_batch(
            users, candidates, k=k, horizon=horizon, exclude_seen=the_split.exclude_seen
        )
        elapsed = time.perf_counter() - started
        lists = {u: [r.item for r in recs[u]] for u in users}
        results.append(
            _result("publikum", horizon, *measured(lists), fit_seconds, elapsed, len(users))
        )

    exclude = seen if the_split.exclude_seen else None
    for name, factory in (("popularity", PopularityBaseline), ("content", ContentBaseline)):
        say(f"baseline {name}")
        started = time.perf_counter()
        baseline = factory(the_split.train, items)
        baseline_fit = time.perf_counter() - started
        started = time.perf_counter()
        scores = baseline.scores(users, the_split.candidates)
        lists = _top_k(scores, the_split.candidates, users, k, exclude)
        elapsed = time.perf_counter() - started
        results.append(_result(name, None, *measured(lists), baseline_fit, elapsed, len(users)))

    return {
        "split": split,
        "k": k,
        "seed": seed,
        "data": {
            "interactions": len(interactions),
            "users": len(all_users),
            "items": len(items),
            "train_interactions": len(the_split.train),
            "test_users": len(users),
            # Test users with at least one training interaction (the others get fallbacks).
            "test_users_with_history": len(known),
            "candidates": len(the_split.candidates),
        },
        "config": {
            "collaborative": model.config.collaborative,
            "past_items": len(model.past_ids),
        },
        "results": results,
    }


def _result(  # noqa: PLR0917 (one row of the report, in the order of its columns)
    method: str,
    horizon: float | None,
    values: dict[str, float],
    with_history: dict[str, float] | None,
    fit_seconds: float,
    recommend_seconds: float,
    n_users: int,
) -> dict[str, Any]:
    return {
        "method": method,
        "horizon": horizon,
        **{name: round(value, 6) for name, value in values.items()},
        "fit_seconds": round(fit_seconds, 4),
        "recommend_seconds": round(recommend_seconds, 4),
        "recommend_ms_per_user": round(1000 * recommend_seconds / max(n_users, 1), 4),
        # The same metrics over the test users with a training history; None if none has.
        "with_history": (
            None
            if with_history is None
            else {name: round(value, 6) for name, value in with_history.items()}
        ),
    }


METRIC_LABELS = (
    ("ndcg", "NDCG@k"),
    ("recall", "Recall@k"),
    ("coverage", "Coverage@k"),
    ("diversity", "Diversity"),
    ("novelty", "Novelty"),
    ("serendipity", "Serendip."),
    ("calibration_kl", "Calib. KL"),
)


def report_text(report: Mapping[str, Any]) -> str:
    """The report as an aligned table for a terminal."""
    data = report["data"]
    k = report["k"]
    known = data.get("test_users_with_history", data["test_users"])
    lines = [
        f"Split {report['split']}, k = {k}: {data['interactions']} interactions of "
        f"{data['users']} users with {data['items']} items; trained on "
        f"{data['train_interactions']}, ranked {data['candidates']} candidates for "
        f"{data['test_users']} users.",
        "",
    ]
    metric_head = f"{'method':<18}" + "".join(
        f"{label.replace('@k', f'@{k}'):>12}" for _, label in METRIC_LABELS
    )
    head = metric_head + f"{'fit s':>9}{'ms/user':>9}"
    lines += [head, "-" * len(head)]
    for row in report["results"]:
        cells = "".join(f"{row[key]:>12.4f}" for key, _ in METRIC_LABELS)
        lines.append(
            f"{_method_name(row):<18}{cells}{row['fit_seconds']:>9.2f}"
            f"{row['recommend_ms_per_user']:>9.3f}"
        )
    if 0 < known < data["test_users"]:
        without = data["test_users"] - known
        lines += [
            "",
            f"{without} of the {data['test_users']} test users "
            f"({100 * without / data['test_users']:.1f} %) have no history in the training "
            f"data and get the fallbacks. The {known} users with a history:",
            "",
            metric_head,
            "-" * len(metric_head),
        ]
        for row in report["results"]:
            cells = "".join(f"{row['with_history'][key]:>12.4f}" for key, _ in METRIC_LABELS)
            lines.append(f"{_method_name(row):<18}{cells}")
    elif known == 0:
        lines += ["", "No test user has a history in the training data: all get the fallbacks."]
    return "\n".join(lines) + "\n"


def _method_name(row: Mapping[str, Any]) -> str:
    return row["method"] + (f" h={row['horizon']:g}" if row["horizon"] is not None else "")
