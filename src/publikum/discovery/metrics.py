"""Offline metrics of a top-k list, one user at a time; `evaluation` averages them.

Every function takes the ranked list as item ids, best first, and looks only at its first
`k` entries. The formulas are written out in docs/discovery.md; the tests compute each one
by hand on small lists.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from itertools import combinations

# Steck (2018) mixes a little of the user's own distribution into the list's, so that a
# theme the list lacks costs a large but finite amount instead of infinity.
CALIBRATION_ALPHA = 0.01


def ndcg_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Normalised discounted cumulative gain with binary relevance (0 without relevant items)."""
    if not relevant:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 2) for i, item in enumerate(ranked[:k]) if item in relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return dcg / ideal


def recall_at_k(ranked: Sequence[str], relevant: Collection[str], k: int) -> float:
    """Hits in the top k over min(|relevant|, k): 1 means the list could not have done better.

    Capping the denominator at k (Liang et al. 2018) keeps heavy users, who have more relevant
    items than fit into a list, from pulling the mean down for no fault of the ranking.
    """
    if not relevant:
        return 0.0
    hits = sum(1 for item in ranked[:k] if item in relevant)
    return hits / min(len(relevant), k)


def catalogue_coverage(lists: Iterable[Sequence[str]], catalogue: Collection[str], k: int) -> float:
    """Share of the candidate catalogue that appears in at least one user's top k."""
    if not catalogue:
        return 0.0
    shown: set[str] = set()
    for ranked in lists:
        shown.update(ranked[:k])
    return len(shown & set(catalogue)) / len(catalogue)


def jaccard_distance(a: Collection[str], b: Collection[str]) -> float:
    """1 - |a ∩ b| / |a ∪ b|; two items without any theme count as alike (distance 0)."""
    union = set(a) | set(b)
    if not union:
        return 0.0
    return 1.0 - len(set(a) & set(b)) / len(union)


def intra_list_diversity(
    ranked: Sequence[str], themes: Mapping[str, Collection[str]], k: int
) -> float:
    """Mean Jaccard distance of the theme sets over all pairs in the top k (0 for < 2 items)."""
    top = ranked[:k]
    if len(top) < 2:
        return 0.0
    pairs = list(combinations(top, 2))
    return sum(jaccard_distance(themes.get(a, ()), themes.get(b, ())) for a, b in pairs) / len(
        pairs
    )


def novelty(ranked: Sequence[str], user_counts: Mapping[str, int], n_users: int, k: int) -> float:
    """Mean self-information log2(|U| / users(j)) of the top k (Zhou et al. 2010).

    `user_counts[j]` is the number of distinct users who interacted with j; an item nobody
    interacted with counts as one user, so the value stays finite.
    """
    top = ranked[:k]
    if not top or n_users <= 0:
        return 0.0
    return sum(math.log2(n_users / max(user_counts.get(j, 0), 1)) for j in top) / len(top)


def unexpectedness(attributes: Collection[str], familiar: Collection[str]) -> float:
    """Share of an item's attributes (themes and kind) the user has never attended."""
    if not attributes:
        return 0.0
    return sum(1 for a in attributes if a not in familiar) / len(attributes)


def serendipity(
    ranked: Sequence[str],
    relevant: Collection[str],
    attributes: Mapping[str, Collection[str]],
    familiar: Collection[str],
    k: int,
) -> float:
    """Relevant and unexpected: (1/k) * sum over hits of their unexpectedness.

    Follows Kaminskas and Bridge (2016): an item counts by how far it lies outside what the
    user attended before (themes and kinds of their training history), and only if the user
    actually came to it.
    """
    top = ranked[:k]
    if not top:
        return 0.0
    total = sum(unexpectedness(attributes.get(j, ()), familiar) for j in top if j in relevant)
    return total / len(top)


def theme_distribution(lists_of_themes: Iterable[Collection[str]]) -> dict[str, float]:
    """p(t): each item spreads weight 1 evenly over its themes, then the sum is normalised.

    This is Steck's p(g|i) = 1/|genres(i)|; items without themes do not count.
    """
    mass: dict[str, float] = {}
    for item_themes in lists_of_themes:
        unique = set(item_themes)
        for theme in unique:
            mass[theme] = mass.get(theme, 0.0) + 1.0 / len(unique)
    total = sum(mass.values())
    return {t: m / total for t, m in mass.items()} if total else {}


def calibration_kl(
    user_distribution: Mapping[str, float],
    list_distribution: Mapping[str, float],
    alpha: float = CALIBRATION_ALPHA,
) -> float:
    """KL(p || q~) with q~ = (1 - alpha) q + alpha p (Steck 2018); 0 means perfectly calibrated."""
    total = 0.0
    for theme, p in user_distribution.items():
        if p <= 0:
            continue
        q = (1 - alpha) * list_distribution.get(theme, 0.0) + alpha * p
        total += p * math.log(p / q)
    return total
