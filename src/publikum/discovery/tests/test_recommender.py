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

import pytest

from publikum.core.errors import ValidationFailed
from publikum.discovery import Interaction, Item, ModelConfig, Person, fit, render_explanation
from publikum.discovery.metrics import catalogue_coverage, intra_list_diversity

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
