"""Each metric on a list small enough to compute by hand; the arithmetic is in the comments."""

from __future__ import annotations

import math

import pytest

from publikum.discovery import metrics


def test_ndcg_rewards_hits_near_the_top():
    # Hits at ranks 1 and 3: DCG = 1/log2(2) + 1/log2(4) = 1 + 0.5 = 1.5.
    # Two relevant items: ideal DCG = 1 + 1/log2(3) = 1.63093.
    value = metrics.ndcg_at_k(["a", "x", "b", "y"], {"a", "b"}, k=3)
    assert value == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert value == pytest.approx(0.919721, abs=1e-6)


def test_ndcg_only_counts_the_first_k():
    # The only hit is at rank 3, outside k = 2.
    assert metrics.ndcg_at_k(["x", "y", "a"], {"a"}, k=2) == 0.0
    assert metrics.ndcg_at_k(["a"], {"a"}, k=10) == 1.0
    assert metrics.ndcg_at_k(["a"], set(), k=10) == 0.0


def test_recall_caps_the_denominator_at_k():
    # 1 hit of 3 relevant items in a list of 2: 1 / min(3, 2) = 0.5.
    assert metrics.recall_at_k(["a", "x"], {"a", "b", "c"}, k=2) == 0.5
    # 2 hits of 4 relevant with k = 10: 2 / 4.
    assert metrics.recall_at_k(["a", "b", "x"], {"a", "b", "c", "d"}, k=10) == 0.5


def test_catalogue_coverage_counts_distinct_items_over_all_lists():
    # Lists cut at k = 2: {a, b} and {b, c} -> 3 of the 5 candidates.
    lists = [["a", "b", "e"], ["b", "c", "d"]]
    assert metrics.catalogue_coverage(lists, {"a", "b", "c", "d", "e"}, k=2) == 0.6
    assert metrics.catalogue_coverage(lists, set(), k=2) == 0.0


def test_intra_list_diversity_is_the_mean_pairwise_jaccard_distance():
    themes = {"a": {"music"}, "b": {"music", "history"}, "c": {"art"}}
    # d(a,b) = 1 - 1/2 = 0.5; d(a,c) = 1; d(b,c) = 1; mean = 2.5 / 3.
    assert metrics.intra_list_diversity(["a", "b", "c"], themes, k=3) == pytest.approx(2.5 / 3)
    # One item has no pair.
    assert metrics.intra_list_diversity(["a"], themes, k=3) == 0.0


def test_novelty_is_the_mean_self_information():
    counts = {"a": 50, "b": 1, "c": 0}
    # log2(100/50) = 1, log2(100/1) = 6.643856, an unseen item counts as one user: 6.643856.
    expected = (1 + 2 * math.log2(100)) / 3
    assert metrics.novelty(["a", "b", "c"], counts, n_users=100, k=3) == pytest.approx(expected)
    assert metrics.novelty(["a", "b", "c"], counts, n_users=100, k=1) == pytest.approx(1.0)


def test_serendipity_counts_relevant_items_by_how_new_they_are():
    attributes = {
        "a": {"music", "kind:concert"},  # all familiar
        "b": {"art", "kind:tour"},  # art is new, tours are familiar: 1/2
        "c": {"science", "kind:talk"},  # entirely new, but not relevant
    }
    familiar = {"music", "kind:concert", "kind:tour"}
    # Hits a (0) and b (0.5) over a list of 3: 0.5 / 3.
    value = metrics.serendipity(["a", "b", "c"], {"a", "b"}, attributes, familiar, k=3)
    assert value == pytest.approx(0.5 / 3)


def test_theme_distribution_spreads_each_item_over_its_themes():
    # Item 1 gives music 1; item 2 gives music 0.5 and art 0.5: music 1.5/2, art 0.5/2.
    dist = metrics.theme_distribution([["music"], ["music", "art"], []])
    assert dist == {"music": 0.75, "art": 0.25}


def test_calibration_kl_is_zero_for_a_matching_list_and_grows_with_mismatch():
    user = {"music": 0.75, "art": 0.25}
    assert metrics.calibration_kl(user, {"music": 0.75, "art": 0.25}) == pytest.approx(0.0)
    # The list shows only music: q~(music) = 0.99 * 1 + 0.01 * 0.75 = 0.9975,
    # q~(art) = 0 + 0.01 * 0.25 = 0.0025.
    expected = 0.75 * math.log(0.75 / 0.9975) + 0.25 * math.log(0.25 / 0.0025)
    assert metrics.calibration_kl(user, {"music": 1.0}) == pytest.approx(expected)
    assert expected == pytest.approx(0.937408, abs=1e-6)
