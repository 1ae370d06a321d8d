"""The worker's precomputed lists: written by the batch, served while fresh, kept fresh by
the periodic check (discovery.precompute, discovery.tasks, discovery.stored)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from conftest import make_token, run_worker_burst
from publikum.audience.models import Contact
from publikum.audience.privacy import contact_erase
from publikum.audience.services import contact_update
from publikum.bookings.services import booking_create
from publikum.core.models import Organisation, Role
from publikum.discovery import precompute, services, stored, stored_write
from publikum.discovery.models import DiscoverySettings, StoredList
from publikum.discovery.recommender import Recommendation
from publikum.discovery.rerank import ExplanationPart
from publikum.discovery.tasks import lists_batch, lists_check, lists_refresh
from publikum.discovery.tests.house import House, build_house, days
from publikum.programme import services as programme


@pytest.fixture(autouse=True)
def _no_batch_models() -> Iterator[None]:
    precompute.models_clear()
    yield
    precompute.models_clear()


@pytest.fixture
def house(organisation) -> House:
    return build_house(organisation)


def recommend(house: House, name: str, **kwargs: Any) -> services.ContactRecommendations:
    return services.contact_recommendations(
        organisation=house.organisation, contact_id=house.contacts[name].pk, **kwargs
    )


def shown(result: services.ContactRecommendations) -> list[tuple[Any, ...]]:
    """What a person sees of a list: items, dates, titles and the reasons in both languages."""
    return [
        (
            r.item_id,
            r.occurrence_id,
            r.starts_at,
            r.title,
            r.text,
            r.explanation.texts["de"],
            r.explanation.texts["en"],
            r.explanation.parts,
        )
        for r in result.items
    ]


def book(house: House, slug: str, name: str) -> None:
    booking_create(
        organisation=house.organisation,
        occurrence_id=house.next_date[slug].pk,
        name=f"{name} Test",
        email=f"{name.lower()}@example.org",
        quantity=1,
    )


def jobs_enqueued(task_name: str) -> list[dict[str, Any]]:
    return [
        row.args_kwargs["kwargs"]
        for row in DBTaskResult.objects.order_by("enqueued_at")
        if row.task_path.endswith(f".{task_name}")
    ]


LIVING = ("Anna", "Ben", "Clara", "Foto0", "Foto5", "Musik2", "Geschichte1")


def test_the_batch_stores_every_contacts_list_as_the_live_path_answers_it(house) -> None:
    live = {name: recommend(house, name, limit=20) for name in LIVING}
    assert {r.source for r in live.values()} == {"live"}

    report = precompute.lists_precompute(organisation=house.organisation)

    everyone = {c.pk for name, c in house.contacts.items() if name != "Eva"}
    assert report.contacts == len(everyone)
    assert report.horizon == 0.3  # the house never set its dial
    lists = {s.contact_id: s for s in StoredList.objects.filter(organisation=house.organisation)}
    assert set(lists) == everyone  # Eva was erased: no list
    for name in LIVING:
        row = lists[house.contacts[name].pk]
        entries = stored.entries_of(row.items)
        assert [e.item for e in entries] == [r.item_id for r in live[name].items], name
        assert [e.occurrence for e in entries] == [r.occurrence_id for r in live[name].items]
        assert [e.parts for e in entries] == [r.explanation.parts for r in live[name].items]
        assert row.basis == live[name].basis
        assert row.horizon == 0.3
        served = recommend(house, name, limit=20)
        assert served.source == "stored", name
        assert shown(served) == shown(live[name]), name
        assert (served.basis, served.note, served.language) == (
            live[name].basis,
            live[name].note,
            live[name].language,
        )
    settings = DiscoverySettings.objects.get(organisation=house.organisation)
    assert settings.computed_contacts == len(everyone)
    assert settings.computed_horizon == 0.3
    assert settings.computed_at is not None


def test_a_stored_list_is_rendered_in_the_language_asked_for_and_cut_to_the_limit(house) -> None:
    live_en = recommend(house, "Anna", limit=20, language="en")
    precompute.lists_precompute(organisation=house.organisation)

    served = recommend(house, "Anna", limit=2, language="en")

    assert served.source == "stored"
    assert shown(served) == shown(live_en)[:2]
    assert served.items[0].title == "New Photography from Saxony"
    assert served.items[0].text.startswith("Because you visited “")


def test_requests_the_list_does_not_fit_are_answered_live(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)

    assert recommend(house, "Anna", limit=5).source == "stored"
    assert recommend(house, "Anna", limit=5, horizon=0.3).source == "stored"  # the dial's
    assert recommend(house, "Anna", limit=5, horizon=0.7).source == "live"
    assert recommend(house, "Anna", limit=21).source == "live"
    # A list shorter than its length holds all that fits: a larger limit gets all of it.
    stored_anna = StoredList.objects.get(contact=house.contacts["Anna"])
    assert len(stored_anna.items) < stored.LIST_LENGTH
    assert recommend(house, "Anna", limit=20).source == "stored"


def test_a_date_that_began_since_the_batch_is_dropped_when_read(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    row = StoredList.objects.get(contact=house.contacts["Foto0"])
    entries = stored.entries_of(row.items)
    begun = house.next_date[
        next(slug for slug, i in house.upcoming.items() if i.pk == entries[0].item)
    ].starts_at

    later = stored.stored_answer(
        organisation=house.organisation,
        contact_id=house.contacts["Foto0"].pk,
        horizon=0.3,
        limit=2,
        interests=row.interests,
        now=begun + timedelta(minutes=1),
    )

    assert later is not None
    assert [int(r.item) for r in later.recs] == [e.item for e in entries[1:3]]


def test_a_new_booking_makes_the_list_stale_until_the_refresh_rewrites_it(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    tour = house.upcoming["fotografische-stadtgeschichte"]
    before = recommend(house, "Anna", limit=5)
    assert before.source == "stored"
    assert tour.pk in {r.item_id for r in before.items}

    book(house, "fotografische-stadtgeschichte", "Anna")

    # The booking changed a date's seats, not the programme: only Anna's list is stale.
    after = recommend(house, "Anna", limit=5)
    assert after.source == "live"
    assert tour.pk not in {r.item_id for r in after.items}
    assert recommend(house, "Foto0", limit=5).source == "stored"
    due = precompute.lists_due(organisation=house.organisation)
    assert due.full == ""
    assert due.contact_ids == (house.contacts["Anna"].pk,)

    assert (
        precompute.lists_refresh_contacts(
            organisation=house.organisation, contact_ids=due.contact_ids
        )
        == 1
    )

    refreshed = recommend(house, "Anna", limit=5)
    assert refreshed.source == "stored"
    assert tour.pk not in {r.item_id for r in refreshed.items}
    assert shown(refreshed) == shown(after)
    assert precompute.lists_due(organisation=house.organisation).nothing


def test_a_changed_interest_makes_the_list_stale_until_the_next_batch(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    ben, anna = house.contacts["Ben"], house.contacts["Anna"]
    assert StoredList.objects.get(contact=ben).interests == "musik"
    assert StoredList.objects.get(contact=anna).interests == ""
    assert recommend(house, "Ben", limit=3).source == "stored"

    # Staff change his interests on the contact page (the audience service behind it).
    contact_update(contact=ben, interests=["stadtgeschichte"])

    changed = recommend(house, "Ben", limit=3)
    assert changed.source == "live"
    assert changed.items[0].explanation.parts[0].themes == ("stadtgeschichte",)
    assert recommend(house, "Anna", limit=3).source == "stored"  # hers did not change
    contact_update(contact=anna, interests=["musik"])
    assert recommend(house, "Anna", limit=3).source == "live"
    # Not a reason for the periodic check: the live path answers until the next batch.
    assert precompute.lists_due(organisation=house.organisation).nothing

    precompute.lists_precompute(organisation=house.organisation)

    assert StoredList.objects.get(contact=ben).interests == "stadtgeschichte"
    served = recommend(house, "Ben", limit=3)
    assert served.source == "stored"
    assert shown(served) == shown(changed)
    contact_update(contact=ben, interests=[])
    assert recommend(house, "Ben", limit=3).source == "live"


def test_a_programme_change_wants_the_whole_batch(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    assert precompute.lists_due(organisation=house.organisation).nothing

    talk = programme.item_create(
        organisation=house.organisation,
        data={"title_de": "Vortrag über Fotografie", "kind": "talk", "themes": ["fotografie"]},
    )
    date = programme.occurrence_create(
        item=talk, starts_at=days(3), ends_at=days(3) + timedelta(hours=1), capacity=20
    )

    assert precompute.lists_due(organisation=house.organisation).full == "programme"
    assert recommend(house, "Anna", limit=5).source == "live"
    precompute.lists_precompute(organisation=house.organisation)
    served = recommend(house, "Anna", limit=5)
    assert served.source == "stored"
    assert talk.pk in {r.item_id for r in served.items}

    programme.occurrence_cancel(occurrence=date)

    assert precompute.lists_due(organisation=house.organisation).full == "programme"
    assert recommend(house, "Anna", limit=5).source == "live"
    assert talk.pk not in {r.item_id for r in recommend(house, "Anna", limit=5).items}


def test_moving_the_dial_wants_a_batch_at_the_new_horizon(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)

    services.discovery_settings_update(organisation=house.organisation, horizon=1.0)

    assert precompute.lists_due(organisation=house.organisation).full == "wanted"
    assert recommend(house, "Anna", limit=1).source == "live"
    wide_live = recommend(house, "Anna", limit=20)
    precompute.lists_precompute(organisation=house.organisation)
    settings = DiscoverySettings.objects.get(organisation=house.organisation)
    assert settings.wanted_at is None
    assert settings.computed_horizon == 1.0
    assert set(
        StoredList.objects.filter(organisation=house.organisation).values_list("horizon", flat=True)
    ) == {1.0}
    served = recommend(house, "Anna", limit=20)
    assert served.source == "stored"
    assert served.horizon == 1.0
    assert shown(served) == shown(wide_live)
    assert precompute.lists_due(organisation=house.organisation).nothing


def test_erased_contacts_have_no_list(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    anna = house.contacts["Anna"]
    assert StoredList.objects.filter(contact=anna).exists()

    contact_erase(contact=anna)
    report = precompute.lists_precompute(organisation=house.organisation)

    assert not StoredList.objects.filter(contact=anna).exists()
    assert not StoredList.objects.filter(contact=house.contacts["Eva"]).exists()
    assert report.contacts == len(house.contacts) - 2


def test_the_batch_is_safe_to_run_twice(house) -> None:
    first = precompute.lists_precompute(organisation=house.organisation)
    lists = {s.contact_id: s.items for s in StoredList.objects.all()}

    second = precompute.lists_precompute(organisation=house.organisation)

    assert second.contacts == first.contacts
    assert StoredList.objects.count() == first.contacts
    assert {s.contact_id: s.items for s in StoredList.objects.all()} == lists
    # The job checks what is due first: a second run finds the lists fresh.
    assert lists_batch.call(organisation_id=house.organisation.pk) == 0
    assert lists_batch.call(organisation_id=10**9) == 0
    assert lists_refresh.call(organisation_id=10**9, contact_ids=[1]) == 0


# The worker runs in this process and closes the connection between jobs: no test transaction.
@pytest.mark.django_db(transaction=True)
def test_the_periodic_check_enqueues_the_batch_then_refreshes(
    house, other_organisation, keep_signal_handlers: Any
) -> None:
    # Another house without contacts is left alone.
    assert lists_check.call() == 1
    assert jobs_enqueued("lists_batch") == [{"organisation_id": house.organisation.pk}]
    run_worker_burst()
    assert recommend(house, "Anna", limit=5).source == "stored"
    assert lists_check.call() == 0  # everything fresh: nothing to do

    book(house, "fotografische-stadtgeschichte", "Anna")
    assert lists_check.call() == 1
    assert jobs_enqueued("lists_refresh") == [
        {"organisation_id": house.organisation.pk, "contact_ids": [house.contacts["Anna"].pk]}
    ]
    run_worker_burst()
    served = recommend(house, "Anna", limit=5)
    assert served.source == "stored"
    assert house.upcoming["fotografische-stadtgeschichte"].pk not in {
        r.item_id for r in served.items
    }
    assert lists_check.call() == 0


def test_many_contacts_with_new_history_want_the_whole_batch(house, monkeypatch) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    monkeypatch.setattr(precompute, "REFRESH_MAX", 1)
    book(house, "fotografische-stadtgeschichte", "Anna")
    assert precompute.lists_due(organisation=house.organisation).contact_ids

    book(house, "jazznacht", "Clara")

    assert precompute.lists_due(organisation=house.organisation).full == "history"


def test_the_api_says_which_path_answered(api, house) -> None:
    client = api(make_token(house.organisation, Role.VIEWER))
    anna = house.contacts["Anna"].pk

    live = client.get("/recommendations", params={"contact": anna, "limit": 3}).json()
    precompute.lists_precompute(organisation=house.organisation)
    served = client.get("/recommendations", params={"contact": anna, "limit": 3}).json()
    wide = client.get("/recommendations", params={"contact": anna, "horizon": 0.9}).json()

    assert live["source"] == "live"
    assert served["source"] == "stored"
    assert wide["source"] == "live"
    assert [i["item"] for i in served["items"]] == [i["item"] for i in live["items"]]
    assert served["items"][0]["explanation"] == live["items"][0]["explanation"]


@pytest.mark.postgres
@pytest.mark.django_db(databases=["default", "pg"])
def test_the_upsert_inserts_then_replaces_lists_on_postgresql() -> None:
    org = Organisation.objects.using("pg").create(slug="pg-haus", name="PG Haus")
    people = [
        Contact.objects.using("pg").create(organisation=org, email=f"p{n}@example.org")
        for n in range(3)
    ]
    at = timezone.now()

    def pick(item: int) -> Recommendation:
        because = ExplanationPart("because_visited", item_ids=("7",))
        return Recommendation(str(item), 0.123456, 1.0, 0.25, "history", (because,))

    def row(contact: Contact, item: int, mark: int, interests: str) -> stored_write.ListRow:
        text = stored.recommendations_json([pick(item)], {str(item): item + 100})
        return (org.pk, contact.pk, 0.3, "history", text, "v1", mark, interests, at)

    stored_write.lists_write([row(c, 1, 10, "") for c in people], using="pg")
    stored_write.lists_write(
        [row(people[0], 2, 11, "musik"), row(people[1], 3, 12, ""), row(people[2], 1, 10, "")],
        using="pg",
    )

    lists = StoredList.objects.using("pg").filter(organisation=org).order_by("contact_id")
    assert [
        (stored.entries_of(s.items), s.history_mark, s.interests, s.computed_at) for s in lists
    ] == [
        ([stored.Entry(2, 102, 0.1235, 1.0, 0.25, pick(2).explanation)], 11, "musik", at),
        ([stored.Entry(3, 103, 0.1235, 1.0, 0.25, pick(3).explanation)], 12, "", at),
        ([stored.Entry(1, 101, 0.1235, 1.0, 0.25, pick(1).explanation)], 10, "", at),
    ]
    # Stored as jsonb, not as a JSON string: the database can look inside.
    assert lists.filter(items__0__0=3).get().contact_id == people[1].pk
    # Written twice in one transaction (the second write finds the staging table there).
    with transaction.atomic(using="pg"):
        stored_write.lists_write([row(people[0], 3, 13, "")], using="pg")
        stored_write.lists_write([row(people[1], 1, 14, "")], using="pg")
    assert [(s.items[0][0], s.history_mark) for s in lists.all()] == [(3, 13), (1, 14), (1, 10)]


def test_a_stored_answer_does_not_count_the_timeline(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)

    with CaptureQueriesContext(connection) as captured:
        assert recommend(house, "Anna", limit=5).source == "stored"

    timeline = [q["sql"] for q in captured.captured_queries if "audience_interaction" in q["sql"]]
    assert timeline  # the contact's own newest entry is read ...
    assert not [sql for sql in timeline if "COUNT(" in sql.upper()]  # ... nobody else's counted


# The writer's thread has a connection of its own: it sees only what was committed.
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, databases=["default", "pg"])
def test_the_writer_writes_chunks_in_a_thread_on_postgresql_and_reports_failures() -> None:
    org = Organisation.objects.using("pg").create(slug="pg-haus", name="PG Haus")
    people = [
        Contact.objects.using("pg").create(organisation=org, email=f"p{n}@example.org")
        for n in range(5)
    ]
    at = timezone.now()

    def row(contact_id: int, item: int) -> stored_write.ListRow:
        pick = Recommendation(str(item), 0.5, 1.0, 0.25, "popular", (ExplanationPart("popular"),))
        text = stored.recommendations_json([pick], {str(item): item})
        return (org.pk, contact_id, 0.3, "popular", text, "v1", 0, "", at)

    writer = stored_write.ListsWriter(using="pg")
    for n, person in enumerate(people):
        writer.write([row(person.pk, n + 1)])
    writer.close()

    lists = StoredList.objects.using("pg").filter(organisation=org).order_by("contact_id")
    assert [s.items[0][0] for s in lists] == [1, 2, 3, 4, 5]

    failing = stored_write.ListsWriter(using="pg")
    failing.write([row(people[0].pk, 9)])
    failing.write([row(10**9, 9)])  # no such contact: the foreign key refuses it
    with pytest.raises(IntegrityError):
        failing.close()
    assert [s.items[0][0] for s in lists.all()] == [9, 2, 3, 4, 5]
