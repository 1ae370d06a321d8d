"""The hybrid recommender on a small house whose audience has a known shape.

Two groups of regulars: "music" people go to concerts only; "music and books" people go to
concerts and to literature talks. History people go to city history tours. Families go to
family workshops on Saturdays. The upcoming programme consists of new dates nobody has
attended: a recommender that only knew interactions could not rank them at all.
"""

from __future__ import annotations

import pickle
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from publikum.core.errors import ValidationFailed
from publikum.discovery import Interaction, Item, ModelConfig, Person, fit, render_explanation
from publikum.discovery.metrics import catalogue_coverage, intra_list_diversity
from publikum.discovery.rerank import pool_size, rerank

START = datetime(2025, 1, 7, 19, 0, tzinfo=UTC)  # a Tuesday evening

FORMATS = {
    # theme: (kind, title stem, description words, weekday offset, hour)
    "musik": ("concert", "Kammerkonzert", "Streichquartett Musik Abend Konzert", 0, 19),
    "literatur": ("talk", "Lesung", "Autorin liest Roman Literatur Gespräch", 2, 19),
    "stadtgeschichte": ("tour", "Stadtführung", "Altstadt Geschichte Rathaus Rundgang", 4, 11),
    "kinder-familie": ("workshop", "Familienwerkstatt", "Kinder basteln Familien Werkstatt", 4, 10),
    "wissenschaft": ("talk", "Wissenschaftsabend", "Forschung Physik Vortrag Labor", 1, 18),
    "fotografie": ("tour", "Fotoführung", "Fotografie Kamera Bilder Ausstellung", 5, 15),
}


def _item(theme: str, n: int, *, upcoming: bool, **extra: object) -> Item:
    kind, stem, words, weekday, hour = FORMATS[theme]
    week = 60 + n if upcoming else n
    starts = START + timedelta(weeks=week, days=weekday) - timedelta(hours=19 - hour)
    prefix = "u" if upcoming else "p"
    return Item(
        id=f"{prefix}-{theme}-{n}",
        title=f"{stem} {n}",
        themes=(theme,),
        kind=kind,
        starts_at=starts,
        description=f"{words} {stem}",
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def house() -> dict[str, object]:
    past = [_item(theme, n, upcoming=False) for theme in FORMATS for n in range(8)]
    upcoming = [_item(theme, n, upcoming=True) for theme in FORMATS for n in range(5)]
    groups = {
        "music": ["musik"],
        "music-books": ["musik", "literatur"],
        "history": ["stadtgeschichte"],
        "family": ["kinder-familie"],
    }
    interactions: list[Interaction] = []
    for group, themes in groups.items():
        for person in range(12):
            user = f"{group}-{person}"
            for theme in themes:
                for n in range(8):
                    # Everyone skips a few dates, differently, so histories are not identical.
                    if (n + person) % 4 == 0:
                        continue
                    item = f"p-{theme}-{n}"
                    interactions.append(Interaction(user, item, START.timestamp() + n * 86400))
    # Someone who tried photography once; gives the photo items a little history.
    interactions.append(Interaction("photo-1", "p-fotografie-0", START.timestamp()))
    interactions.append(Interaction("photo-1", "p-fotografie-1", START.timestamp()))
    model = fit(interactions, past + upcoming)
    return {"model": model, "past": past, "upcoming": upcoming}


def _ids(recs: list) -> list[str]:
    return [r.item for r in recs]


def test_new_dates_are_ranked_by_what_people_came_to(house):
    model = house["model"]
    recs = model.recommend("history-1", house["upcoming"], k=5)
    # Nobody has attended any upcoming date, yet the history tours come first.
    assert all(item.startswith("u-stadtgeschichte-") for item in _ids(recs))
    assert recs[0].relevance == 1.0
    assert recs[0].basis == "history"


def test_people_who_enjoyed_the_same_concerts_carry_literature_to_music_lovers(house):
    """Content alone cannot prefer a reading over a science talk for someone who only went to
    concerts; the people who went to the same concerts and also to readings can."""
    model = house["model"]
    cs = model.prepare(house["upcoming"])
    recs = model.recommend("music-1", cs, k=30, horizon=0.0)
    order = _ids(recs)
    first_reading = min(i for i, item in enumerate(order) if "literatur" in item)
    science = [i for i, item in enumerate(order) if "wissenschaft" in item]
    assert all(first_reading < i for i in science)
    assert all("musik" in item for item in order[:5])


def test_horizon_widens_the_lists_without_leaving_relevance(house):
    model = house["model"]
    cs = model.prepare(house["upcoming"])
    music = [f"music-{n}" for n in range(12)]
    history = [f"history-{n}" for n in range(12)]
    themes = {item.id: item.themes for item in house["upcoming"]}

    def lists(users: list[str], horizon: float) -> list[list[str]]:
        recs = model.recommend_batch(users, cs, k=5, horizon=horizon)
        return [_ids(recs[u]) for u in users]

    def diversity(found: list[list[str]]) -> float:
        return sum(intra_list_diversity(lst, themes, 5) for lst in found) / len(found)

    narrow, wide = lists(music, 0.0), lists(music, 0.5)
    # At 0 the music lovers get five concerts; at 0.5 readings join them: the people who
    # enjoyed the same concerts went to those.
    assert diversity(narrow) == 0.0
    assert diversity(wide) > 0.3
    assert all(any("literatur" in item for item in lst) for lst in wide)
    assert catalogue_coverage(wide, list(themes), 5) >= catalogue_coverage(narrow, list(themes), 5)
    # Nothing else is relevant enough for the history people (the floor): their lists keep
    # the same tours, whatever the dial says.
    assert [set(x) for x in lists(history, 0.0)] == [set(x) for x in lists(history, 0.5)]


def test_the_relevance_floor_holds_at_the_widest_horizon(house):
    model = house["model"]
    for user in ("music-3", "history-2", "family-5"):
        recs = model.recommend(user, house["upcoming"], k=10, horizon=1.0)
        assert recs
        assert all(r.relevance >= model.config.floor for r in recs)
        # The least relevant candidate of this person never shows up.
        scored = model.recommend(user, house["upcoming"], k=30, horizon=0.0)
        relevance = {r.item: r.relevance for r in scored}
        worst = min(house["upcoming"], key=lambda i: relevance.get(i.id, 0.0)).id
        assert worst not in _ids(recs)


def test_explanations_name_the_visit_and_what_is_new(house):
    model = house["model"]
    titles = {item.id: item.title for item in [*house["past"], *house["upcoming"]]}
    familiar = model.recommend("history-1", house["upcoming"], k=1)[0]
    (part,) = familiar.explanation
    assert part.kind == "because_visited"
    assert part.item_ids[0].startswith("p-stadtgeschichte-")
    visited = titles[part.item_ids[0]]
    assert render_explanation(familiar.explanation, "en", titles=titles) == (
        f"Because you visited “{visited}”."
    )
    assert render_explanation(familiar.explanation, "de", titles=titles) == (
        f"Weil Sie „{visited}“ besucht haben."
    )

    recs = model.recommend("music-1", house["upcoming"], k=10, horizon=0.6)
    new = next(r for r in recs if "literatur" in r.item)
    part = new.explanation[0]
    assert part.kind == "new_for_you"
    assert part.themes == ("literatur",)
    assert part.item_kinds == ("talk",)
    assert part.item_ids[0].startswith("p-musik-")
    names = {"literatur": "Literatur"}
    kinds_de = {"talk": "Vortrag"}
    text_de = render_explanation(
        new.explanation, "de", titles=titles, theme_names=names, kind_names=kinds_de
    )
    assert text_de.startswith("Neu für Sie: Literatur und Vortrag. Ausgewählt, weil Menschen")
    assert titles[part.item_ids[0]] in text_de
    text_en = render_explanation(new.explanation, "en", titles=titles)
    assert text_en.startswith("New for you: literatur and talk. Chosen because people who")


def test_without_history_stated_interests_come_first_and_say_so(house):
    model = house["model"]
    person = Person(stated_interests=("fotografie",))
    recs = model.recommend("newcomer", house["upcoming"], k=5, person=person)
    assert recs[0].basis == "interests"
    assert recs[0].item.startswith("u-fotografie-")
    assert recs[0].explanation[0].kind == "interest"
    assert render_explanation(recs[0].explanation, "en", titles={}) == (
        "Because you are interested in fotografie."
    )


def test_without_history_or_interests_a_diverse_popular_selection(house):
    model = house["model"]
    recs = model.recommend("stranger", house["upcoming"], k=4)
    assert len(recs) == 4
    assert {r.basis for r in recs} == {"popular"}
    assert [p.kind for r in recs for p in r.explanation] == ["popular"] * 4
    themes = {model.items[r.item].themes for r in recs}
    assert len(themes) == 4  # four different themes, not four dates of the most popular one
    text = render_explanation(recs[0].explanation, "de", titles={})
    assert text.startswith("Wir kennen Ihre Interessen noch nicht")


def test_practical_fit_excludes_what_a_person_cannot_attend(house):
    model = house["model"]
    step_free = Item(
        "u-stadtgeschichte-access",
        "Stadtführung barrierefrei",
        themes=("stadtgeschichte",),
        kind="tour",
        starts_at=START + timedelta(weeks=61, days=4, hours=-8),
        description="Altstadt Geschichte Rathaus Rundgang Stadtführung",
        accessibility=("wheelchair",),
    )
    candidates = [*house["upcoming"], step_free]
    person = Person(needs=("wheelchair",))
    recs = model.recommend("history-1", candidates, k=5, person=person)
    assert _ids(recs) == ["u-stadtgeschichte-access"]


def test_language_lowers_a_date_held_in_another_language(house):
    model = house["model"]
    english = replace(
        _item("stadtgeschichte", 0, upcoming=True, language="en"), id="u-stadtgeschichte-en"
    )
    candidates = [*house["upcoming"], english]
    plain = {r.item: r.relevance for r in model.recommend("history-1", candidates, k=6)}
    german_reader = {
        r.item: r.relevance
        for r in model.recommend("history-1", candidates, k=6, person=Person(language="de"))
    }
    # The same tour in English: as relevant as the German ones, until the person reads German.
    assert plain["u-stadtgeschichte-en"] == pytest.approx(plain["u-stadtgeschichte-0"])
    assert plain["u-stadtgeschichte-en"] == pytest.approx(1.0)
    assert german_reader["u-stadtgeschichte-en"] == pytest.approx(model.config.language_penalty)


def test_history_given_at_request_time_and_batch_agree_with_single(house):
    model = house["model"]
    cs = model.prepare(house["upcoming"])
    late = model.recommend("late-comer", cs, k=3, history=["p-kinder-familie-1"])
    assert all("kinder-familie" in r.item for r in late)
    batch = model.recommend_batch(["music-2", "family-3"], cs, k=5, horizon=0.3)
    assert batch["music-2"] == model.recommend("music-2", cs, k=5, horizon=0.3)
    assert batch["family-3"] == model.recommend("family-3", cs, k=5, horizon=0.3)


def test_model_survives_pickling(house):
    model = house["model"]
    copy = pickle.loads(pickle.dumps(model))  # noqa: S301 (bytes we just wrote)
    cs = copy.prepare(house["upcoming"])
    assert copy.recommend("music-4", cs, k=5) == model.recommend("music-4", cs, k=5)


def test_other_collaborative_models_rank_new_dates_too(house):
    model = house["model"]
    interactions = [
        Interaction(user, item, 0.0) for user in model.user_ids for item in model.history_of(user)
    ]
    items = [*house["past"], *house["upcoming"]]
    for name in ("svd", "knn"):
        other = fit(interactions, items, ModelConfig(collaborative=name))
        recs = other.recommend("history-1", house["upcoming"], k=3)
        assert all(r.item.startswith("u-stadtgeschichte-") for r in recs), name


def test_bad_input_is_refused_clearly(house):
    model = house["model"]
    with pytest.raises(ValidationFailed, match="between 0 and 1"):
        model.recommend("music-1", house["upcoming"], horizon=1.5)
    with pytest.raises(ValidationFailed, match="between 0 and 1"):
        model.recommend("music-1", house["upcoming"], horizon=-0.1)
    with pytest.raises(ValidationFailed, match="unknown item id 'nope'"):
        fit([Interaction("a", "nope", 0.0)], house["past"])
    with pytest.raises(ValidationFailed, match="appears twice"):
        fit([], [house["past"][0], house["past"][0]])
    with pytest.raises(ValidationFailed, match="Unknown collaborative model"):
        ModelConfig(collaborative="magic")
    assert model.recommend("music-1", [], k=5) == []


def test_at_horizon_zero_the_list_is_the_plain_relevance_order(house):
    model = house["model"]
    cs = model.prepare(house["upcoming"])
    for user in ("music-1", "music-books-4", "history-2", "family-7"):
        everything = model.recommend(user, cs, k=len(cs), horizon=0.0)
        top = model.recommend(user, cs, k=10, horizon=0.0)
        relevance = [r.relevance for r in top]
        assert relevance == sorted(relevance, reverse=True), user
        # No diversity at 0: exactly the ten most relevant candidates of all.
        assert _ids(top) == _ids(everything)[:10], user


def test_a_date_that_is_itself_a_past_item_keeps_its_own_audience(house):
    """A running exhibition is a past item and a candidate at once: with every collaborative
    model it goes to people like those who came, and not again to people who have been."""
    model = house["model"]
    running = next(i for i in house["past"] if i.id == "p-musik-2")
    candidates = [*house["upcoming"], running]
    for name in ("ease", "svd", "knn"):
        m = model if name == "ease" else _refit(house, name)
        # music-2 skipped p-musik-2; music-3 went to it.
        newcomer = _ids(m.recommend("music-2", candidates, k=6))
        assert "p-musik-2" in newcomer, name
        assert all("musik" in item for item in newcomer), name
        assert "p-musik-2" not in _ids(m.recommend("music-3", candidates, k=len(candidates)))
        again = m.recommend("music-3", candidates, k=6, exclude_seen=False)
        assert "p-musik-2" in _ids(again), name


def test_without_history_the_dial_starts_half_open(house):
    """A diverse popular selection already at 0: the dial only acts above 0.5 for a person
    we know nothing about (why the benchmark's lists of such people do not change from 0 to
    0.5, docs/benchmarks/discovery.md)."""
    model = house["model"]
    cs = model.prepare(house["upcoming"])
    at = {h: _ids(model.recommend("stranger", cs, k=6, horizon=h)) for h in (0.0, 0.3, 0.5, 1.0)}
    assert at[0.0] == at[0.3] == at[0.5]

    def themes(h: float) -> int:
        return len({model.items[i].themes for i in at[h]})

    # Popularity still counts at 0.5; wide open, all six themes of the programme appear.
    assert themes(0.5) < themes(1.0) == 6


def _refit(house: dict[str, object], collaborative: str):
    model = house["model"]
    interactions = [
        Interaction(user, item, 0.0) for user in model.user_ids for item in model.history_of(user)
    ]
    items = [*house["past"], *house["upcoming"]]
    return fit(interactions, items, ModelConfig(collaborative=collaborative))


def _expected_parts(model, cs, user: str, person: Person | None, rec) -> list[tuple]:
    """A pick's explanation by the rules, worked out for this one pick (the batch derives
    them for all picks at once with array operations): (kind, anchors the part may name,
    themes, kinds) per part. The anchor is the past item of the person's history that
    added most to the pick's score; with equals, any of them."""
    item = cs.items[cs.index[rec.item]]
    chosen = set(person.stated_interests) if person else set()
    parts: list[tuple] = []
    if rec.basis == "history":
        history = model.history_of(user)
        attended = [model.items[i] for i in history]
        familiar = {t for it in attended for t in it.themes}
        new_themes = tuple(t for t in item.themes if t not in familiar)
        new_kind = (item.kind,) if item.kind and item.kind not in {i.kind for i in attended} else ()
        row = model.history[model.user_index[user]]
        weight = {model.past_ids[i]: w for i, w in zip(row.indices, row.data, strict=True)}
        column = cs.index[rec.item]
        added = {i: weight[i] * cs.transfer[model.past_index[i], column] for i in history}
        anchors = frozenset(i for i, a in added.items() if a == max(added.values()))
        if new_themes or new_kind:
            parts.append(("new_for_you", anchors, new_themes, new_kind))
        else:
            parts.append(("because_visited", anchors, (), ()))
    matched = tuple(t for t in item.themes if t in chosen)
    if matched:
        parts.append(("interest", frozenset(), matched, ()))
    if not parts:
        parts.append(("popular" if rec.basis == "popular" else "also_popular", frozenset(), (), ()))
    return parts


def _assert_explained_by_the_rules(model, cs, recs_of: dict, persons: dict) -> int:
    checked = 0
    for user, recs in recs_of.items():
        for rec in recs:
            expected = _expected_parts(model, cs, user, persons.get(user), rec)
            assert len(rec.explanation) == len(expected), (user, rec)
            for part, (kind, anchors, themes, kinds) in zip(rec.explanation, expected, strict=True):
                assert (part.kind, part.themes, part.item_kinds) == (kind, themes, kinds), user
                named = set(part.item_ids)
                assert named <= anchors, (user, rec)
                assert len(named) == (1 if anchors else 0), (user, rec)
            checked += 1
    return checked


def test_every_pick_of_a_batch_is_explained_by_the_rules(house):
    """Themes several per date, stated interests with and without a history (one of them a
    theme no item of the past had), a date without a kind: each of the batch's picks, at
    every position of the lists, says what the rules say for that one pick."""
    model = house["model"]
    start = START + timedelta(weeks=70)
    extra = [
        Item("u-mixed-1", "Lieder und Lesung", ("musik", "literatur"), "concert", start),
        Item("u-mixed-2", "Stadt im Bild", ("fotografie", "stadtgeschichte"), "tour", start),
        Item("u-mixed-3", "Forschung und Familie", ("wissenschaft", "kinder-familie"), "", start),
        Item("u-dance", "Tanzabend", ("tanz", "musik"), "dance", start),
    ]
    cs = model.prepare([*house["upcoming"], *extra])
    persons = {
        "music-1": Person(stated_interests=("literatur", "tanz")),
        "history-3": Person(stated_interests=("stadtgeschichte",)),
        "newcomer": Person(stated_interests=("tanz", "fotografie")),
        "newcomer-2": Person(stated_interests=("tanz",)),
    }
    users = [*model.user_ids, "newcomer", "newcomer-2", "stranger"]
    checked = 0
    for horizon in (0.0, 0.3, 1.0):
        batch = model.recommend_batch(users, cs, k=len(cs), horizon=horizon, persons=persons)
        checked += _assert_explained_by_the_rules(model, cs, batch, persons)
        assert {r.basis for recs in batch.values() for r in recs} == {
            "history",
            "interests",
            "popular",
        }
        for user in ("music-1", "newcomer", "stranger", "photo-1"):
            single = model.recommend(user, cs, k=len(cs), horizon=horizon, person=persons.get(user))
            assert batch[user] == single, user
    kinds = {p.kind for recs in batch.values() for r in recs for p in r.explanation}
    assert kinds == {"because_visited", "new_for_you", "interest", "popular", "also_popular"}
    assert checked > 3 * len(users) * 10


def test_a_date_with_very_many_themes_is_explained_like_any_other(house):
    """More themes than fit in one machine word: the explanation still names the right ones."""
    model = house["model"]
    many = tuple(f"thema-{n:02d}" for n in range(70))
    wide = Item(
        "u-wide", "Alles auf einmal", ("musik", *many), "concert", START + timedelta(weeks=70)
    )
    cs = model.prepare([*house["upcoming"], wide])
    persons = {"music-1": Person(stated_interests=("thema-65", "thema-03"))}
    recs = model.recommend_batch(["music-1", "music-2"], cs, k=len(cs), persons=persons)
    _assert_explained_by_the_rules(model, cs, recs, persons)
    (pick,) = [r for r in recs["music-1"] if r.item == "u-wide"]
    new, interest = pick.explanation
    assert new.themes == many
    assert interest.themes == ("thema-03", "thema-65")


def _rerank_one_column_at_a_time(relevance, novelty, similarity, *, k, horizon, eligible, floor):
    """The dial as its docstring states it (novelty share 0.5), candidate by candidate,
    the sums in the same order as the batch so that equal gains are equal."""
    n_users, n_cand = relevance.shape
    picks = np.full((n_users, k), -1)
    pool = pool_size(k, horizon)
    for r in range(n_users):
        allowed = [j for j in range(n_cand) if relevance[r, j] >= floor and eligible[r, j]]
        # The `pool` most relevant, equal relevance in index order.
        allowed = sorted(sorted(allowed, key=lambda j, r=r: -relevance[r, j])[:pool])
        chosen: list[int] = []
        for step in range(min(k, len(allowed))):
            gains = {}
            for j in allowed:
                if j in chosen:
                    continue
                closest = max((similarity[s, j] for s in chosen), default=0.0)
                base = (1.0 - horizon) * relevance[r, j] + horizon * 0.5 * novelty[r, j]
                gains[j] = base + horizon * 0.5 * (1.0 - closest)
            best = max(gains, key=gains.__getitem__)  # the first of equals
            chosen.append(best)
            picks[r, step] = best
    return picks


def test_the_dial_picks_as_its_rule_says_also_among_equals():
    rng = np.random.default_rng(7)
    for _ in range(200):
        n_users, n_cand, k = rng.integers(1, 8), rng.integers(1, 40), int(rng.integers(1, 12))
        steps = int(rng.choice([2, 4, 1000]))  # coarse values: many ties
        relevance = rng.integers(0, steps + 1, (n_users, n_cand)) / steps
        novelty = rng.integers(0, steps + 1, (n_users, n_cand)) / steps
        similarity = rng.integers(0, steps + 1, (n_cand, n_cand)) / steps
        eligible = rng.random((n_users, n_cand)) < 0.8
        horizon = float(rng.choice([0.0, 0.3, 1.0]))
        floor = float(rng.choice([0.0, 0.25]))
        got = rerank(
            relevance, novelty, similarity, k=k, horizon=horizon, eligible=eligible, floor=floor
        )
        want = _rerank_one_column_at_a_time(
            relevance, novelty, similarity, k=k, horizon=horizon, eligible=eligible, floor=floor
        )
        assert got.tolist() == want.tolist()
