"""The audience at scale (issue 3): the stored figures segments read instead of the timeline,
kept by `audience.activity`, merge, erasure and the lifecycle recompute; the contact list's
pages by key, its capped count and its search table.

Every expectation is computed from what the test recorded, the way a person would check it:
who visited which theme when, who is called what.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from publikum.audience import lifecycle, selectors
from publikum.audience import segments as seg
from publikum.audience.duplicates import contact_merge
from publikum.audience.importing import import_file
from publikum.audience.models import Contact, ContactThemeActivity
from publikum.audience.privacy import contact_erase
from publikum.audience.services import contact_create, contact_update, interaction_record
from publikum.core.models import Organisation
from publikum.programme.models import ProgrammeItem, Theme

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


def themes_and_items(organisation: Organisation) -> dict[str, ProgrammeItem]:
    """Three items: photography, music, and one of both themes."""
    themes = {
        slug: Theme.objects.create(organisation=organisation, slug=slug, name_de=slug, name_en=slug)
        for slug in ("fotografie", "musik")
    }
    items = {}
    for slug, with_themes in (
        ("foto", ["fotografie"]),
        ("konzert", ["musik"]),
        ("fotokonzert", ["fotografie", "musik"]),
    ):
        items[slug] = ProgrammeItem.objects.create(
            organisation=organisation, slug=slug, kind="exhibition", title_de=slug
        )
        items[slug].themes.set([themes[t] for t in with_themes])
    return items


def person(organisation: Organisation, name: str) -> Contact:
    return contact_create(
        organisation=organisation, first_name=name, last_name="Muster", email=f"{name}@example.org"
    )


def members(organisation: Organisation, rules: Any) -> set[str]:
    contacts = seg.rules_contacts(organisation=organisation, rules=rules)
    return set(contacts.values_list("first_name", flat=True))


def recompute(organisation: Organisation, now: datetime = NOW) -> lifecycle.RecomputeResult:
    return lifecycle.lifecycle_recompute(organisation=organisation, now=now, chunk_size=2)


# --- the segment rules that read stored figures ------------------------------------------------


def test_theme_and_visit_rules_name_whom_the_timeline_names(organisation, other_organisation):
    items = themes_and_items(organisation)
    now = timezone.now()
    history = {
        # name: [(kind, days ago, item or None)]
        "anna": [("visit", 10, "foto"), ("visit", 40, "konzert"), ("visit", 70, None)],
        "ben": [("visit", 400, "foto"), ("visit", 20, "konzert")],
        "cem": [("booking", 5, "foto"), ("visit", 50, "fotokonzert")],
        "dora": [("visit", 900, "fotokonzert")],
        "emil": [("visit", 15, None), ("visit", 25, None), ("visit", 35, None)],
        "fritz": [("booking", 3, "konzert"), ("booking", 33, "konzert")],
        "gabi": [],
    }
    for name, entries in history.items():
        contact = person(organisation, name)
        for kind, days, item in entries:
            interaction_record(
                contact=contact,
                kind=kind,
                occurred_at=now - timedelta(days=days),
                item=items[item] if item else None,
            )
    # Another house's visitor of its own photography theme is never counted here.
    theirs = themes_and_items(other_organisation)
    interaction_record(
        contact=person(other_organisation, "zora"), kind="visit", item=theirs["foto"]
    )

    def expected(rule: Any) -> set[str]:
        return {name for name, entries in history.items() if rule(entries)}

    def attended(theme: str, within: int | None) -> Any:
        with_theme = {"fotografie": ("foto", "fotokonzert"), "musik": ("konzert", "fotokonzert")}
        return lambda entries: any(
            k == "visit" and i in with_theme[theme] and (within is None or d < within)
            for k, d, i in entries
        )

    def times(kind: str, within: int) -> Any:
        return lambda entries: sum(1 for k, d, _i in entries if k == kind and d < within)

    def visits(n: int, within: int = 365) -> Any:
        return lambda entries: times("visit", within)(entries) >= n

    cases = [
        ({"attended_theme": "fotografie", "months": 24}, expected(attended("fotografie", 730))),
        ({"attended_theme": "fotografie"}, expected(attended("fotografie", None))),
        ({"attended_theme": "musik", "months": 1}, expected(attended("musik", 28))),
        ({"activity": "visit", "min": 2, "months": 12}, expected(visits(2))),
        ({"activity": "visit", "months": 12}, expected(visits(1))),
        ({"activity": "visit", "none_in_months": 12}, expected(lambda e: not visits(1)(e))),
        ({"activity": "visit", "min": 2, "months": 6}, expected(visits(2, 180))),
        (
            {"activity": "booking", "min": 2, "months": 12},
            expected(lambda e: times("booking", 365)(e) >= 2),
        ),
    ]
    # Counted as the visits came in, before any recompute ...
    for rules, names in cases:
        assert members(organisation, rules) == names, rules
    # ... and the same after the daily recompute has checked everything against the timeline.
    lifecycle.lifecycle_recompute(organisation=organisation, chunk_size=3)
    assert lifecycle.theme_summary_correct(organisation=organisation, chunk_size=3).corrected == 0
    for rules, names in cases:
        assert members(organisation, rules) == names, rules


def test_a_visit_counts_in_segments_at_once(organisation):
    items = themes_and_items(organisation)
    anna = person(organisation, "anna")
    recompute(organisation, now=timezone.now())
    rules = {
        "all": [
            {"attended_theme": "musik", "months": 12},
            {"activity": "visit", "min": 1, "months": 12},
        ]
    }
    assert members(organisation, rules) == set()

    interaction_record(contact=anna, kind="visit", item=items["fotokonzert"])

    assert members(organisation, rules) == {"anna"}
    assert seg.rules_count(organisation=organisation, rules=rules) == 1


def test_the_recompute_corrects_what_changed_in_the_programme_and_the_year(organisation):
    items = themes_and_items(organisation)
    anna, ben = person(organisation, "anna"), person(organisation, "ben")
    interaction_record(contact=anna, kind="visit", item=items["foto"], occurred_at=NOW)
    interaction_record(
        contact=ben, kind="visit", item=items["konzert"], occurred_at=NOW - timedelta(days=300)
    )
    recompute(organisation)
    assert members(organisation, {"attended_theme": "fotografie"}) == {"anna"}

    # The item is no photography after all; the segments follow at the next check of the
    # theme summary (the stages' recompute leaves the summary alone).
    items["foto"].themes.set([Theme.objects.get(organisation=organisation, slug="musik")])
    recompute(organisation)
    assert members(organisation, {"attended_theme": "fotografie"}) == {"anna"}
    result = lifecycle.theme_summary_correct(organisation=organisation, chunk_size=1)
    assert result.corrected == 2  # anna's photography row gone, her music row new
    assert members(organisation, {"attended_theme": "fotografie"}) == set()
    assert members(organisation, {"attended_theme": "musik"}) == {"anna", "ben"}

    # Ben's visit leaves the twelve months; the recompute 100 days later says so.
    twelve = {"activity": "visit", "months": 12}
    assert members(organisation, twelve) == {"anna", "ben"}
    recompute(organisation, now=NOW + timedelta(days=100))
    assert members(organisation, twelve) == {"anna"}


def test_visits_counted_while_the_recompute_runs_are_kept(organisation):
    items = themes_and_items(organisation)
    anna = person(organisation, "anna")
    interaction_record(contact=anna, kind="visit", item=items["foto"], occurred_at=NOW)
    # The item turns out to be music as well: the next recompute adds her music row.
    items["foto"].themes.add(Theme.objects.get(organisation=organisation, slug="musik"))
    now = timezone.now()
    run = lifecycle._Run.prepare(organisation=organisation, now=now, chunk_size=10)
    with connection.cursor() as cursor:
        run.snapshot(cursor)
        # A concert's check-in between the recompute's reading and its writing.
        interaction_record(contact=anna, kind="visit", item=items["konzert"])
        run.write_back(cursor)
        run.drop(cursor)

    anna.refresh_from_db()
    assert anna.visits_12m == 2
    rows = dict(
        ContactThemeActivity.objects.filter(contact=anna).values_list("theme__slug", "visits")
    )
    assert rows == {"fotografie": 1, "musik": 2}
    # The next run finds nothing left to correct.
    assert lifecycle.theme_summary_correct(organisation=organisation).corrected == 0
    lifecycle.lifecycle_recompute(organisation=organisation)
    anna.refresh_from_db()
    assert anna.visits_12m == 2


def test_merging_keeps_the_themes_and_visits_of_both(organisation):
    items = themes_and_items(organisation)
    keep, merge = person(organisation, "anna"), person(organisation, "anna2")
    now = timezone.now()
    interaction_record(contact=keep, kind="visit", item=items["foto"], occurred_at=now)
    interaction_record(
        contact=merge, kind="visit", item=items["fotokonzert"], occurred_at=now - timedelta(days=5)
    )
    interaction_record(contact=merge, kind="visit", item=items["konzert"])

    contact_merge(keep=keep, merge=merge)

    keep.refresh_from_db()
    assert keep.visits_12m == 3
    rows = {
        slug: (visits, last)
        for slug, visits, last in ContactThemeActivity.objects.filter(contact=keep).values_list(
            "theme__slug", "visits", "last_attended_at"
        )
    }
    assert rows["fotografie"] == (2, now)
    assert rows["musik"][0] == 2
    assert members(organisation, {"activity": "visit", "min": 3, "months": 12}) == {"anna"}
    # The recompute agrees with what the merge wrote.
    assert lifecycle.theme_summary_correct(organisation=organisation).corrected == 0


def test_erasure_forgets_themes_attended_and_the_search_entry(organisation):
    items = themes_and_items(organisation)
    anna = person(organisation, "anna")
    interaction_record(contact=anna, kind="visit", item=items["foto"])
    assert selectors.contact_search(organisation=organisation, q="anna").count() == 1

    contact_erase(contact=anna)

    assert not ContactThemeActivity.objects.filter(contact=anna).exists()
    assert selectors.contact_search(organisation=organisation, q="anna").count() == 0
    assert members(organisation, {"attended_theme": "fotografie"}) == set()
    recompute(organisation, now=timezone.now())
    assert not ContactThemeActivity.objects.filter(contact=anna).exists()


def test_an_interaction_import_counts_its_visits_in_the_figures(organisation, tmp_path):
    themes_and_items(organisation)
    anna = person(organisation, "anna")
    day = timezone.localdate() - timedelta(days=3)
    path = tmp_path / "besuche.csv"
    path.write_text(
        "email,date,kind,item\n"
        f"anna@example.org,{day:%Y-%m-%d},visit,foto\n"
        f"ANNA@example.org,{day:%Y-%m-%d} 18:00,visit,fotokonzert\n"
        f"anna@example.org,{day:%Y-%m-%d},booking,konzert\n"
    )

    run = import_file(organisation=organisation, path=path, kind="interactions")

    assert (run.created_count, run.rejected_count) == (3, 0)
    anna.refresh_from_db()
    assert (anna.visits_12m, anna.bookings_12m) == (2, 1)
    assert members(organisation, {"attended_theme": "musik", "months": 1}) == {"anna"}
    # Importing the same file again adds nothing.
    import_file(organisation=organisation, path=path, kind="interactions")
    anna.refresh_from_db()
    assert anna.visits_12m == 2


# --- the contact list --------------------------------------------------------------------------


def roster(organisation: Organisation) -> list[Contact]:
    names = [
        ("Müller", "Anna"), ("Müller", "Anna"), ("Müller", "Bert"), ("Abel", "Zoe"),
        ("Zander", "Ali"), ("Schmidt", "Anna"), ("Schmidt", "Hans"), ("", ""), ("Öztürk", "Can"),
        ("Berg", "Clara"), ("Berg", "Clara"), ("Klein", "Ida"),
    ]  # fmt: skip
    made = []
    for n, (last, first) in enumerate(names):
        made.append(
            contact_create(
                organisation=organisation,
                first_name=first,
                last_name=last,
                organisation_name="" if last else "Gymnasium Nord",
                kind="person" if last else "organisation",
                email=f"c{n}@example.org",
                postcode=f"50{n:03d}",
            )
        )
    return made


def test_paging_by_key_shows_everyone_once_in_name_order(organisation):
    made = roster(organisation)
    expected = [c.pk for c in sorted(made, key=lambda c: (c.last_name, c.first_name, c.pk))]
    seen: list[int] = []
    page = selectors.contact_page(organisation=organisation, size=5)
    pages = [page]
    while page.has_next:
        page = selectors.contact_page(organisation=organisation, after=page.last_id, size=5)
        pages.append(page)
    for one in pages:
        seen += [c.pk for c in one.contacts]
        assert one.count == len(made)
    assert seen == expected
    assert [p.has_previous for p in pages] == [False, True, True]

    # "Previous" from the last page leads back to the page before it.
    back = selectors.contact_page(organisation=organisation, before=pages[-1].first_id, size=5)
    assert [c.pk for c in back.contacts] == [c.pk for c in pages[-2].contacts]
    assert (back.has_previous, back.has_next) == (True, True)
    # A cursor that names nobody (any more) starts from the top.
    gone = selectors.contact_page(organisation=organisation, after=10**9, size=5)
    assert [c.pk for c in gone.contacts] == expected[:5]


def test_the_count_stops_at_the_cap(organisation):
    roster(organisation)
    capped = selectors.contact_page(organisation=organisation, size=3, cap=5)
    assert capped.count_capped
    assert (len(capped.contacts), capped.has_next) == (3, True)
    exact = selectors.contact_page(organisation=organisation, size=3, cap=50)
    assert (exact.count, exact.count_capped) == (12, False)
    # A search with more matches than the cap still lists them in name order.
    search = selectors.contact_page(organisation=organisation, filters={"q": "example"}, cap=5)
    everyone = selectors.contact_page(organisation=organisation)
    assert search.count_capped
    assert [c.pk for c in search.contacts] == [c.pk for c in everyone.contacts]


def test_search_finds_names_addresses_and_postcodes_as_before(organisation, other_organisation):
    made = roster(organisation)
    person(other_organisation, "anna")

    def found(q: str, **filters: Any) -> list[str]:
        page = selectors.contact_page(organisation=organisation, filters={"q": q, **filters})
        return [c.display_name for c in page.contacts]

    assert found("anna") == ["Anna Müller", "Anna Müller", "Anna Schmidt"]
    assert found("ANNA schm") == ["Anna Schmidt"]
    assert found("müller b") == ["Bert Müller"]
    assert found("gymnasium") == ["Gymnasium Nord"]
    assert found("c3@example") == ["Zoe Abel"]
    assert found("50011") == ["Ida Klein"]
    assert found("011") == []  # postcodes match from their start only
    assert found("clara", stage="none") == ["Clara Berg", "Clara Berg"]
    assert found("clara", stage="loyal") == []
    # The entry follows a change of name at once.
    contact_update(contact=made[11], last_name="Kleinschmidt")
    assert found("schmidt") == ["Ida Kleinschmidt", "Anna Schmidt", "Hans Schmidt"]
    # A page of search results links on like the whole list does.
    first = selectors.contact_page(organisation=organisation, filters={"q": "a"}, size=4)
    second = selectors.contact_page(
        organisation=organisation, filters={"q": "a"}, after=first.last_id, size=4
    )
    assert (first.has_next, second.has_previous) == (True, True)
    assert not {c.pk for c in first.contacts} & {c.pk for c in second.contacts}


def test_the_contact_list_page_links_on_by_key(organisation, owner):
    roster(organisation)
    for n in range(50):
        contact_create(organisation=organisation, first_name="Zeta", last_name=f"Zz{n:02d}")
    client = Client(headers={"accept-language": "en"})
    client.force_login(owner)
    base = f"/o/{organisation.slug}/contacts/"

    first = client.get(base).content.decode()
    assert "62 contacts" in first
    assert "Zz38" in first
    assert "Zz39" not in first
    assert 'rel="next"' in first
    assert 'rel="prev"' not in first
    last_shown = Contact.objects.get(organisation=organisation, last_name="Zz38")
    second = client.get(base, {"after": last_shown.pk}).content.decode()
    assert "Zz39" in second
    assert "Öztürk" in second
    assert "Zz38" not in second
    assert 'rel="prev"' in second
    assert 'rel="next"' not in second
    searched = client.get(base, {"q": "zz4"}).content.decode()
    assert "10 contacts" in searched
    assert client.get(base, {"after": "x"}).status_code == 200  # a bad cursor: the first page


def test_a_big_import_reports_every_rejected_row_and_matches_addresses_ignoring_case(
    organisation, tmp_path
):
    anna = person(organisation, "Anna")  # stored as Anna@example.org
    lines = ["E-Mail;Vorname;Nachname;Geburtsdatum"]
    bad_rows = []
    for n in range(2, 6003):  # two batches of the importer
        if n % 1000 == 0:
            lines.append(f"kaputt{n};X;Y;")
            bad_rows.append(n)
        elif n == 7:
            lines.append("ANNA@EXAMPLE.ORG;Anna;Neu;")
        else:
            lines.append(f"p{n}@example.org;P{n};Q;")
    path = tmp_path / "kontakte.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    run = import_file(organisation=organisation, path=path, kind="contacts", preset="eventim")

    assert [r["row"] for r in run.rejected] == bad_rows
    assert (run.created_count, run.updated_count) == (6001 - len(bad_rows) - 1, 1)
    anna.refresh_from_db()
    assert anna.last_name == "Neu"
    assert selectors.contact_search(organisation=organisation, q="p5999@").count() == 1
