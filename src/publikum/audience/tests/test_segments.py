"""Segments: every kind of rule against hand-built contacts, groups, limits, cycles, the
staff pages, the live count, the CSV export, and proof that a count is one SQL query.

The expected members of each rule are computed in Python from the facts the test wrote,
never written down as ids.
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from conftest import make_member
from publikum.audience import segments as seg
from publikum.audience.models import Contact, Segment
from publikum.audience.services import consent_set, contact_create, interaction_record
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import AuditEntry, Organisation, Role
from publikum.programme.models import ProgrammeItem, Theme

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    # Messages are asserted in English; the product's default language is German.
    with translation.override("en"):
        yield


@pytest.fixture
def owner_client(owner) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(owner)
    return client


# Days ago at which interactions happen: none within days of the boundaries the rules use
# (6, 12 and 24 months; the day CUTOFF_DAYS ago), so that the expectations are exact.
OFFSETS = (3, 20, 45, 80, 110, 140, 170, 200, 250, 300, 340, 390, 450, 600, 690, 800, 1000)
CUTOFF_DAYS = 125
TAGS = ("vip", "press", "Förderer", "school")
POSTCODES = ("10115", "10117", "80331", "20095", "")
STAGES = ("none", "new", "regular", "loyal", "lapsing", "lapsed")


@dataclass
class Person:
    """What the test wrote about one contact: the facts the rules are checked against."""

    pk: int
    kind: str
    language: str
    postcode: str
    birthday: date | None
    email: str
    email_status: str
    created_days_ago: int
    last_visit_days_ago: int | None
    stage: str
    rfm: tuple[int, int, int]
    visits_12m: int
    bookings_12m: int
    spend_12m: Decimal
    tags: list[str]
    interests: set[str]
    consents: set[tuple[str, str]]  # granted (channel, purpose)
    interactions: list[tuple[str, int, str]] = field(default_factory=list)  # kind, days, theme

    def count(self, kind: str, within_days: int | None = None) -> int:
        return sum(
            1
            for k, days, _ in self.interactions
            if k == kind and (within_days is None or days < within_days)
        )

    def attended(self, theme: str, within_days: int | None = None) -> bool:
        return any(
            k == "visit" and t == theme and (within_days is None or days < within_days)
            for k, days, t in self.interactions
        )


@dataclass
class Audience:
    organisation: Organisation
    people: list[Person]
    cutoff: str  # the date CUTOFF_DAYS ago, YYYY-MM-DD

    def expect(self, predicate: Callable[[Person], bool]) -> set[int]:
        return {p.pk for p in self.people if predicate(p)}

    def everyone(self) -> set[int]:
        return {p.pk for p in self.people}

    def members(self, rules: Any) -> set[int]:
        qs = seg.rules_contacts(organisation=self.organisation, rules=rules)
        return set(qs.values_list("pk", flat=True))


def _themes_and_items(organisation: Organisation) -> dict[str, ProgrammeItem]:
    items = {}
    for slug, name in (("fotografie", "Fotografie"), ("musik", "Musik"), ("kinder", "Kinder")):
        theme = Theme.objects.create(
            organisation=organisation, slug=slug, name_de=name, name_en=name
        )
        item = ProgrammeItem.objects.create(
            organisation=organisation, slug=f"item-{slug}", kind="exhibition", title_de=name
        )
        item.themes.add(theme)
        items[slug] = item
    return items


def build_audience(organisation: Organisation, size: int = 36, seed: int = 7) -> Audience:
    rng = random.Random(seed)
    now = timezone.now()
    items = _themes_and_items(organisation)
    themes = {slug: item.themes.get() for slug, item in items.items()}
    people = []
    for n in range(size):
        kind = "organisation" if n % 7 == 0 else "person"
        has_email = n % 5 != 4
        contact = contact_create(
            organisation=organisation,
            kind=kind,
            first_name=f"Vorname{n}",
            last_name=f"Nachname{n:02d}",
            organisation_name=f"Schule {n}" if kind == "organisation" else "",
            email=f"person{n}@example.org" if has_email else "",
            phone="" if has_email else f"030 {n:04d}",
            language=rng.choice(("de", "de", "en")),
            postcode=rng.choice(POSTCODES),
            birthday=date(1950 + n, n % 12 + 1, rng.randint(1, 28)) if n % 4 != 3 else None,
            tags=rng.sample(TAGS, rng.randint(0, 2)),
        )
        interests = set(rng.sample(sorted(themes), rng.randint(0, 2)))
        contact.interests.set([themes[s] for s in interests])
        consents = set()
        for purpose in ("newsletter", "offers"):
            roll = rng.random()
            if roll < 0.4:
                consent_set(
                    contact=contact, channel="email", purpose=purpose, granted=True, source="test"
                )
                consents.add(("email", purpose))
            elif roll < 0.55:  # granted once, withdrawn since: does not count
                consent_set(
                    contact=contact, channel="email", purpose=purpose, granted=True, source="test"
                )
                consent_set(
                    contact=contact, channel="email", purpose=purpose, granted=False, source="test"
                )
        interactions = []
        for _ in range(rng.randint(0, 6)):
            kind_ = rng.choice(("visit", "visit", "booking"))
            days = rng.choice(OFFSETS)
            theme = rng.choice(("fotografie", "musik", "kinder", ""))
            interaction_record(
                contact=contact,
                kind=kind_,
                occurred_at=now - timedelta(days=days),
                item=items[theme] if theme else None,
            )
            interactions.append((kind_, days, theme))
        visit_days = [d for k, d, _ in interactions if k == "visit"]
        facts = {
            "email_status": rng.choice(("ok", "ok", "bounced", "complained")),
            "created_at": now - timedelta(days=rng.choice((10, 60, 200, 400, 900))),
            "last_visit_at": now - timedelta(days=min(visit_days)) if visit_days else None,
            "lifecycle_stage": rng.choice(STAGES),
            "rfm_recency": rng.randint(0, 5),
            "rfm_frequency": rng.randint(0, 5),
            "rfm_monetary": rng.randint(0, 5),
            "visits_12m": sum(1 for d in visit_days if d < 365),
            "bookings_12m": sum(1 for k, d, _ in interactions if k == "booking" and d < 365),
            "spend_12m": Decimal(rng.choice(("0", "12.50", "49.99", "50", "120"))),
        }
        Contact.objects.filter(pk=contact.pk).update(**facts)
        people.append(
            Person(
                pk=contact.pk,
                kind=kind,
                language=contact.language,
                postcode=contact.postcode,
                birthday=contact.birthday,
                email=contact.email,
                email_status=facts["email_status"],
                created_days_ago=(now - facts["created_at"]).days,
                last_visit_days_ago=min(visit_days) if visit_days else None,
                stage=facts["lifecycle_stage"],
                rfm=(facts["rfm_recency"], facts["rfm_frequency"], facts["rfm_monetary"]),
                visits_12m=facts["visits_12m"],
                bookings_12m=facts["bookings_12m"],
                spend_12m=facts["spend_12m"],
                tags=contact.tags,
                interests=interests,
                consents=consents,
                interactions=interactions,
            )
        )
    # An erased contact that would match almost anything: never a member.
    erased = contact_create(
        organisation=organisation, first_name="Gelöscht", email="erased@example.org", tags=TAGS
    )
    erased.interests.set(themes.values())
    for days in OFFSETS[:5]:
        interaction_record(contact=erased, kind="visit", occurred_at=now - timedelta(days=days))
    Contact.objects.filter(pk=erased.pk).update(erased_at=now, lifecycle_stage="loyal")
    cutoff = (timezone.localtime(now) - timedelta(days=CUTOFF_DAYS)).date().isoformat()
    return Audience(organisation, people, cutoff)


@pytest.fixture
def audience(organisation: Organisation) -> Audience:
    return build_audience(organisation)


def _created_before(p: Person) -> bool:
    return p.created_days_ago > CUTOFF_DAYS


# rule → the Python statement of who should match; "{cutoff}" is filled in per test.
LEAF_CASES: list[tuple[str, dict[str, Any], Callable[[Person], bool]]] = [
    (
        "kind eq",
        {"field": "kind", "op": "eq", "value": "organisation"},
        lambda p: p.kind == "organisation",
    ),
    ("language ne", {"field": "language", "op": "ne", "value": "en"}, lambda p: p.language != "en"),
    (
        "language in",
        {"field": "language", "op": "in", "value": ["en"]},
        lambda p: p.language == "en",
    ),
    (
        "postcode eq",
        {"field": "postcode", "op": "eq", "value": "10115"},
        lambda p: p.postcode == "10115",
    ),
    (
        "postcode prefix",
        {"field": "postcode", "op": "prefix", "value": "101"},
        lambda p: p.postcode.startswith("101"),
    ),
    (
        "postcode in",
        {"field": "postcode", "op": "in", "value": ["80331", "20095"]},
        lambda p: p.postcode in {"80331", "20095"},
    ),
    (
        "birthday month in",
        {"field": "birthday_month", "op": "in", "value": [1, 2, 3, 4, 5, 6]},
        lambda p: p.birthday is not None and p.birthday.month <= 6,
    ),
    (
        "birthday month eq",
        {"field": "birthday_month", "op": "eq", "value": 7},
        lambda p: p.birthday is not None and p.birthday.month == 7,
    ),
    (
        "email status",
        {"field": "email_status", "op": "ne", "value": "ok"},
        lambda p: p.email_status != "ok",
    ),
    (
        "created before",
        {"field": "created_at", "op": "before", "value": "{cutoff}"},
        _created_before,
    ),
    (
        "created after",
        {"field": "created_at", "op": "after", "value": "{cutoff}"},
        lambda p: not _created_before(p),
    ),
    (
        "last visit before",
        {"field": "last_visit_at", "op": "before", "value": "{cutoff}"},
        lambda p: p.last_visit_days_ago is not None and p.last_visit_days_ago > CUTOFF_DAYS,
    ),
    (
        "stage in",
        {"field": "lifecycle_stage", "op": "in", "value": ["loyal", "regular"]},
        lambda p: p.stage in {"loyal", "regular"},
    ),
    ("recency gte", {"field": "rfm_recency", "op": "gte", "value": 4}, lambda p: p.rfm[0] >= 4),
    ("frequency lte", {"field": "rfm_frequency", "op": "lte", "value": 2}, lambda p: p.rfm[1] <= 2),
    ("monetary eq", {"field": "rfm_monetary", "op": "eq", "value": 3}, lambda p: p.rfm[2] == 3),
    ("visits 12m", {"field": "visits_12m", "op": "gte", "value": 2}, lambda p: p.visits_12m >= 2),
    (
        "spend",
        {"field": "spend_12m", "op": "gte", "value": 49.99},
        lambda p: p.spend_12m >= Decimal("49.99"),
    ),
    ("tag", {"tag": "vip"}, lambda p: "vip" in p.tags),
    ("tag with umlaut", {"tag": "Förderer"}, lambda p: "Förderer" in p.tags),
    ("interest", {"interest": "fotografie"}, lambda p: "fotografie" in p.interests),
    (
        "consent",
        {"consent": {"channel": "email", "purpose": "newsletter"}},
        lambda p: ("email", "newsletter") in p.consents,
    ),
    ("has email", {"has_email": True}, lambda p: bool(p.email)),
    ("has no email", {"has_email": False}, lambda p: not p.email),
    (
        "visited 3 times in 12 months",
        {"activity": "visit", "min": 3, "months": 12},
        lambda p: p.count("visit", 365) >= 3,
    ),
    ("visited ever", {"activity": "visit"}, lambda p: p.count("visit") >= 1),
    ("booked twice ever", {"activity": "booking", "min": 2}, lambda p: p.count("booking") >= 2),
    (
        "no visit since",
        {"activity": "visit", "none_since": "{cutoff}"},
        lambda p: p.count("visit", CUTOFF_DAYS) == 0,
    ),
    (
        "no visit in 6 months",
        {"activity": "visit", "none_in_months": 6},
        lambda p: p.count("visit", 181) == 0,
    ),
    (
        "attended theme in 24 months",
        {"attended_theme": "fotografie", "months": 24},
        lambda p: p.attended("fotografie", 730),
    ),
    ("attended theme ever", {"attended_theme": "musik"}, lambda p: p.attended("musik")),
]


def _fill(rules: Any, cutoff: str) -> Any:
    return json.loads(json.dumps(rules).replace("{cutoff}", cutoff))


@pytest.mark.parametrize(("name", "rule", "predicate"), LEAF_CASES, ids=[c[0] for c in LEAF_CASES])
def test_each_kind_of_rule_matches_exactly_the_contacts_it_describes(
    audience: Audience, name: str, rule: dict[str, Any], predicate: Callable[[Person], bool]
) -> None:
    expected = audience.expect(predicate)
    # The data must make the rule discriminate, or the test could not fail.
    assert 0 < len(expected) < len(audience.people), f"{name}: {len(expected)} expected"
    assert audience.members(_fill(rule, audience.cutoff)) == expected


def test_all_any_and_not_combine_rules(audience: Audience) -> None:
    rules = {
        "all": [
            {"any": [{"tag": "vip"}, {"interest": "musik"}]},
            {"not": {"field": "language", "op": "eq", "value": "en"}},
            {"activity": "visit"},
        ]
    }
    expected = audience.expect(
        lambda p: (
            ("vip" in p.tags or "musik" in p.interests)
            and p.language != "en"
            and p.count("visit") > 0
        )
    )
    assert expected
    assert audience.members(rules) == expected
    # Negating the whole tree gives the rest of the (not erased) audience.
    everyone = audience.everyone()
    assert audience.members({"not": rules}) == everyone - expected


def test_empty_groups_match_everyone_or_nobody(audience: Audience) -> None:
    everyone = audience.everyone()
    assert audience.members({"all": []}) == everyone
    assert audience.members({"any": []}) == set()
    assert audience.members({"not": {"any": []}}) == everyone


def test_a_segment_never_contains_contacts_of_another_organisation(
    audience: Audience, other_organisation: Organisation
) -> None:
    stranger = contact_create(organisation=other_organisation, email="x@example.org", tags=["vip"])
    assert stranger.pk not in audience.members({"tag": "vip"})
    assert stranger.pk not in audience.members({"all": []})


def test_in_segment_uses_the_other_segments_rules(audience: Audience) -> None:
    org = audience.organisation
    vips = seg.segment_create(organisation=org, name="VIPs", rules={"tag": "vip"})
    rules = {"all": [{"in_segment": vips.pk}, {"field": "language", "op": "eq", "value": "de"}]}
    expected = audience.expect(lambda p: "vip" in p.tags and p.language == "de")
    assert expected
    assert audience.members(rules) == expected
    assert audience.members({"not": {"in_segment": vips.pk}}) == audience.expect(
        lambda p: "vip" not in p.tags
    )


def test_a_cycle_of_segments_is_refused_with_a_clear_error(organisation: Organisation) -> None:
    a = seg.segment_create(organisation=organisation, name="A", rules={"all": []})
    b = seg.segment_create(organisation=organisation, name="B", rules={"in_segment": a.pk})
    c = seg.segment_create(organisation=organisation, name="C", rules={"in_segment": b.pk})
    with pytest.raises(ValidationFailed) as caught:
        seg.segment_update(segment=a, rules={"any": [{"tag": "x"}, {"in_segment": c.pk}]})
    assert "rules.any[1]" in caught.value.fields
    assert "circle" in caught.value.message
    assert "'C' → 'B' → this segment" in caught.value.message
    with pytest.raises(ValidationFailed, match="cannot contain itself"):
        seg.segment_update(segment=a, rules={"in_segment": a.pk})
    a.refresh_from_db()
    assert a.rules == {"all": []}


def test_a_segment_used_by_another_cannot_be_deleted(organisation: Organisation) -> None:
    a = seg.segment_create(organisation=organisation, name="A", rules={"all": []})
    seg.segment_create(organisation=organisation, name="Uses A", rules={"in_segment": a.pk})
    with pytest.raises(Conflict, match="Uses A"):
        seg.segment_delete(segment=a)
    assert Segment.objects.filter(pk=a.pk).exists()


def _nested(depth: int) -> dict[str, Any]:
    rule: dict[str, Any] = {"tag": "vip"}
    for _ in range(depth):
        rule = {"all": [rule]}
    return rule


def test_nesting_deeper_than_six_groups_is_refused_naming_the_node(
    organisation: Organisation,
) -> None:
    assert seg.validate_rules(organisation=organisation, rules=_nested(6))
    with pytest.raises(ValidationFailed) as caught:
        seg.validate_rules(organisation=organisation, rules=_nested(7))
    path = "rules" + ".all[0]" * 6
    assert list(caught.value.fields) == [path]
    assert "deeper than 6" in caught.value.fields[path][0]


def test_more_than_a_hundred_rules_are_refused(organisation: Organisation) -> None:
    assert seg.validate_rules(organisation=organisation, rules={"any": [{"tag": "t"}] * 100})
    with pytest.raises(ValidationFailed, match="more than 100 rules") as caught:
        seg.validate_rules(organisation=organisation, rules={"any": [{"tag": "t"}] * 101})
    assert "rules.any[100]" in caught.value.fields


@pytest.mark.parametrize(
    ("rules", "path", "words"),
    [
        (
            {"all": [{"tag": "a"}, {"field": "colour", "op": "eq", "value": "red"}]},
            "rules.all[1]",
            "unknown field",
        ),
        (
            {"any": [{"field": "language", "op": "gt", "value": "en"}]},
            "rules.any[0]",
            "unknown operator",
        ),
        (
            {"all": [{"field": "rfm_recency", "op": "gte", "value": "4"}]},
            "rules.all[0]",
            "whole number",
        ),
        (
            {"all": [{"field": "rfm_recency", "op": "gte", "value": True}]},
            "rules.all[0]",
            "whole number",
        ),
        (
            {"all": [{"field": "created_at", "op": "before", "value": "1.1.2026"}]},
            "rules.all[0]",
            "YYYY-MM-DD",
        ),
        ({"all": [{"not": {"activity": "walk"}}]}, "rules.all[0].not", "unknown activity"),
        (
            {"all": [{"activity": "visit", "min": 2, "none_since": "2026-01-01"}]},
            "rules.all[0]",
            "either",
        ),
        (
            {"all": [{"consent": {"channel": "email", "purpose": "spam"}}]},
            "rules.all[0]",
            "purpose",
        ),
        ({"all": [{"tag": "a", "colour": "red"}]}, "rules.all[0]", "unknown key 'colour'"),
        ({"all": [{"tag": "a", "interest": "musik"}]}, "rules.all[0]", "has exactly one"),
        ({"all": [{"colour": "red"}]}, "rules.all[0]", "unknown rule"),
        ({"all": {"tag": "a"}}, "rules", "list of rules"),
        ({"all": ["vip"]}, "rules.all[0]", "JSON object"),
        ({"all": [{"interest": "ballett"}]}, "rules.all[0]", "unknown theme 'ballett'"),
        ({"all": [{"attended_theme": "ballett"}]}, "rules.all[0]", "unknown theme"),
        ({"all": [{"in_segment": 999999}]}, "rules.all[0]", "unknown segment 999999"),
    ],
)
def test_invalid_trees_are_refused_naming_the_path_of_the_bad_node(
    organisation: Organisation, rules: Any, path: str, words: str
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        seg.segment_create(organisation=organisation, name="Kaputt", rules=rules)
    assert path in caught.value.fields, caught.value.fields
    assert words in " ".join(caught.value.fields[path])
    assert path in caught.value.message
    assert not Segment.objects.filter(organisation=organisation).exists()


def test_a_tree_cannot_use_a_theme_or_segment_of_another_organisation(
    organisation: Organisation, other_organisation: Organisation
) -> None:
    Theme.objects.create(
        organisation=other_organisation, slug="oper", name_de="Oper", name_en="Opera"
    )
    theirs = seg.segment_create(organisation=other_organisation, name="Theirs", rules={"all": []})
    with pytest.raises(ValidationFailed) as caught:
        seg.segment_create(
            organisation=organisation,
            name="Borrowed",
            rules={"all": [{"interest": "oper"}, {"in_segment": theirs.pk}]},
        )
    assert caught.value.fields == {
        "rules.all[0]": ["unknown theme 'oper'"],
        "rules.all[1]": [f"unknown segment {theirs.pk}"],
    }


def test_segment_services_write_audit_entries_without_personal_data(
    organisation: Organisation, owner
) -> None:
    segment = seg.segment_create(
        organisation=organisation, name="Newsletter", rules={"tag": "vip"}, actor=owner
    )
    seg.segment_update(segment=segment, description="Für den Newsletter", actor=owner)
    seg.segment_delete(segment=segment, actor=owner)
    entries = AuditEntry.objects.filter(
        organisation=organisation, action__startswith="audience.segment"
    )
    assert sorted(e.action for e in entries) == [
        "audience.segment.created",
        "audience.segment.deleted",
        "audience.segment.updated",
    ]
    assert "vip" not in json.dumps([e.data for e in entries])


def test_names_are_unique_per_organisation(organisation: Organisation, other_organisation) -> None:
    seg.segment_create(organisation=organisation, name="Stammgäste", rules={"all": []})
    with pytest.raises(Conflict):
        seg.segment_create(organisation=organisation, name="stammgäste", rules={"all": []})
    seg.segment_create(organisation=other_organisation, name="Stammgäste", rules={"all": []})


# --- evaluation is SQL -------------------------------------------------------------------


FOUR_RULES = {
    "all": [
        {"field": "lifecycle_stage", "op": "in", "value": ["loyal", "regular", "new"]},
        {"consent": {"channel": "email", "purpose": "newsletter"}},
        {"activity": "visit", "min": 2, "months": 12},
        {"any": [{"interest": "fotografie"}, {"attended_theme": "musik", "months": 24}]},
    ]
}


@pytest.mark.parametrize("size", [4, 40])
def test_counting_a_segment_is_one_query_whatever_the_number_of_contacts(
    organisation: Organisation, size: int
) -> None:
    audience = build_audience(organisation, size=size, seed=11)
    segment = seg.segment_create(organisation=organisation, name="Vier Regeln", rules=FOUR_RULES)
    expected = audience.expect(
        lambda p: (
            p.stage in {"loyal", "regular", "new"}
            and ("email", "newsletter") in p.consents
            and p.count("visit", 365) >= 2
            and ("fotografie" in p.interests or p.attended("musik", 730))
        )
    )
    with CaptureQueriesContext(connection) as queries:
        count = seg.segment_count(segment=segment)
    assert count == len(expected)
    # One statement reads the audience (on PostgreSQL a planner setting comes before it).
    reads = [q["sql"] for q in queries if "audience_contact" in q["sql"]]
    assert len(reads) == 1
    assert reads[0].upper().startswith("SELECT COUNT(")


def test_a_segment_referring_to_another_costs_one_more_query_not_one_per_contact(
    organisation: Organisation,
) -> None:
    build_audience(organisation, size=20)
    inner = seg.segment_create(organisation=organisation, name="Inner", rules=FOUR_RULES)
    outer = seg.segment_create(
        organisation=organisation, name="Outer", rules={"not": {"in_segment": inner.pk}}
    )
    with CaptureQueriesContext(connection) as queries:
        outer_count = seg.segment_count(segment=outer)
    # The referred segment's rules, then the count.
    reads = [q["sql"] for q in queries if "audience_" in q["sql"]]
    assert len(reads) == 2
    total = Contact.objects.filter(organisation=organisation, erased_at__isnull=True).count()
    assert outer_count == total - seg.segment_count(segment=inner)


def test_the_segment_list_counts_every_segment_in_one_query(audience: Audience) -> None:
    org = audience.organisation
    segments = [
        seg.segment_create(organisation=org, name="VIP", rules={"tag": "vip"}),
        seg.segment_create(organisation=org, name="Alle", rules={"all": []}),
        seg.segment_create(organisation=org, name="Niemand", rules={"any": []}),
    ]
    with CaptureQueriesContext(connection) as queries:
        counts = seg.segment_counts(segments=segments)
    assert len([q for q in queries if "audience_contact" in q["sql"]]) == 1
    assert counts == {
        segments[0].pk: len(audience.expect(lambda p: "vip" in p.tags)),
        segments[1].pk: len(audience.people),
        segments[2].pk: 0,
    }


# --- staff pages ---------------------------------------------------------------------------


def english(client: Client) -> Client:
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def test_staff_pages_render_list_detail_and_form(audience: Audience, owner_client: Client) -> None:
    org = audience.organisation
    segment = seg.segment_create(
        organisation=org, name="Fotofreunde", rules={"interest": "fotografie"}, description="Foto"
    )
    expected = audience.expect(lambda p: "fotografie" in p.interests)
    client = english(owner_client)

    listing = client.get(f"/o/{org.slug}/segments/")
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "Fotofreunde" in page
    assert f'data-testid="segment-count">{len(expected)}</td>' in page

    detail = client.get(f"/o/{org.slug}/segments/{segment.pk}/")
    assert detail.status_code == 200
    assert detail.context["count"] == len(expected)
    assert {c.pk for c in detail.context["preview"]} == expected  # fewer than 50
    html = detail.content.decode()
    assert "is interested in Fotografie" in html
    assert f"/o/{org.slug}/segments/{segment.pk}/export/" in html

    form = client.get(f"/o/{org.slug}/segments/{segment.pk}/edit/")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'id="segment-catalogue"' in html
    assert "publikum/segment-editor.js" in html
    assert "fotografie" in html  # the rules in the JSON textarea


def test_preview_shows_the_first_fifty_by_name(organisation: Organisation, owner_client) -> None:
    for n in range(55):
        contact_create(organisation=organisation, last_name=f"Name{n:02d}", tags=["viele"])
    segment = seg.segment_create(organisation=organisation, name="Viele", rules={"tag": "viele"})
    detail = owner_client.get(f"/o/{organisation.slug}/segments/{segment.pk}/")
    assert detail.context["count"] == 55
    names = [c.last_name for c in detail.context["preview"]]
    assert names == [f"Name{n:02d}" for n in range(50)]


def test_creating_a_segment_through_the_form(audience: Audience, owner_client: Client) -> None:
    org = audience.organisation
    rules = {"all": [{"tag": "vip"}, {"activity": "visit"}]}
    response = owner_client.post(
        f"/o/{org.slug}/segments/new/",
        {"name": "VIP-Besucher", "description": "", "rules": json.dumps(rules), "action": "save"},
    )
    segment = Segment.objects.get(organisation=org, name="VIP-Besucher")
    assert response.status_code == 302
    assert response["Location"] == f"/o/{org.slug}/segments/{segment.pk}/"
    assert segment.rules == rules
    assert seg.segment_count(segment=segment) == len(
        audience.expect(lambda p: "vip" in p.tags and p.count("visit") > 0)
    )


def test_the_form_counts_without_javascript_and_shows_errors(
    audience: Audience, owner_client: Client
) -> None:
    org = audience.organisation
    counted = english(owner_client).post(
        f"/o/{org.slug}/segments/new/",
        {"name": "", "rules": json.dumps({"tag": "vip"}), "action": "count"},
    )
    assert counted.status_code == 200
    assert counted.context["count"] == len(audience.expect(lambda p: "vip" in p.tags))
    assert not counted.context["form"].errors  # a name is needed to save, not to count
    assert not Segment.objects.filter(organisation=org).exists()

    broken = english(owner_client).post(
        f"/o/{org.slug}/segments/new/",
        {"name": "Probe", "rules": '{"all": [{"field": "farbe"}]}', "action": "save"},
    )
    assert broken.status_code == 200
    assert "rules.all[0]: unknown field" in broken.content.decode()
    not_json = english(owner_client).post(
        f"/o/{org.slug}/segments/new/", {"name": "Probe", "rules": "{all: [", "action": "save"}
    )
    assert "not valid JSON" in not_json.content.decode()
    assert not Segment.objects.filter(organisation=org).exists()


def test_viewers_see_and_count_but_cannot_change_segments(audience: Audience) -> None:
    org = audience.organisation
    segment = seg.segment_create(organisation=org, name="VIP", rules={"tag": "vip"})
    viewer = Client(headers={"accept-language": "en"})
    viewer.force_login(make_member(org, Role.VIEWER))
    assert viewer.get(f"/o/{org.slug}/segments/").status_code == 200
    assert viewer.get(f"/o/{org.slug}/segments/{segment.pk}/").status_code == 200
    assert viewer.get(f"/o/{org.slug}/segments/{segment.pk}/export/").status_code == 200
    counted = viewer.post(
        f"/o/{org.slug}/segments/count/", {"rules": {"tag": "vip"}}, content_type="application/json"
    )
    assert counted.json() == {"count": len(audience.expect(lambda p: "vip" in p.tags))}
    assert viewer.get(f"/o/{org.slug}/segments/new/").status_code == 403
    assert (
        viewer.post(f"/o/{org.slug}/segments/{segment.pk}/edit/", {"name": "X"}).status_code == 403
    )
    assert viewer.post(f"/o/{org.slug}/segments/{segment.pk}/delete/").status_code == 403
    assert Segment.objects.get(pk=segment.pk).name == "VIP"


def test_deleting_a_segment_from_its_page(organisation: Organisation, owner_client) -> None:
    segment = seg.segment_create(organisation=organisation, name="Weg", rules={"all": []})
    confirm = owner_client.get(f"/o/{organisation.slug}/segments/{segment.pk}/delete/")
    assert confirm.status_code == 200
    deleted = owner_client.post(f"/o/{organisation.slug}/segments/{segment.pk}/delete/")
    assert deleted.status_code == 302
    assert not Segment.objects.filter(pk=segment.pk).exists()


def test_another_organisations_segment_is_404_on_every_page(
    organisation: Organisation, other_organisation: Organisation, owner_client
) -> None:
    theirs = seg.segment_create(organisation=other_organisation, name="Fremd", rules={"all": []})
    for suffix in ("", "edit/", "delete/", "export/"):
        url = f"/o/{organisation.slug}/segments/{theirs.pk}/{suffix}"
        assert owner_client.get(url).status_code == 404, url
    counted = owner_client.post(
        f"/o/{organisation.slug}/segments/count/",
        {"rules": {"in_segment": theirs.pk}},
        content_type="application/json",
    )
    assert counted.status_code == 422
    assert f"unknown segment {theirs.pk}" in counted.json()["fields"]["rules"][0]


# --- the live count ------------------------------------------------------------------------


def csrf_client(user, organisation: Organisation) -> tuple[Client, str]:
    client = Client(enforce_csrf_checks=True, headers={"accept-language": "en"})
    client.force_login(user)
    page = client.get(f"/o/{organisation.slug}/segments/new/")
    assert page.status_code == 200
    return client, client.cookies["csrftoken"].value


def test_live_count_answers_with_the_count_and_needs_the_csrf_token(
    audience: Audience, owner
) -> None:
    org = audience.organisation
    client, token = csrf_client(owner, org)
    url = f"/o/{org.slug}/segments/count/"
    rules = {"any": [{"tag": "vip"}, {"field": "language", "op": "eq", "value": "en"}]}
    body = json.dumps({"rules": rules, "segment_id": None})

    forged = client.post(url, body, content_type="application/json")
    assert forged.status_code == 403

    answer = client.post(url, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert answer.status_code == 200
    assert answer.json() == {
        "count": len(audience.expect(lambda p: "vip" in p.tags or p.language == "en"))
    }


def test_live_count_rejects_invalid_trees_with_a_message(audience: Audience, owner) -> None:
    org = audience.organisation
    client, token = csrf_client(owner, org)
    url = f"/o/{org.slug}/segments/count/"

    def post(body: str) -> Any:
        return client.post(
            url, body, content_type="application/json", headers={"X-CSRFToken": token}
        )

    bad = post(
        json.dumps(
            {"rules": {"all": [{"tag": "vip"}, {"field": "shoe_size", "op": "eq", "value": 42}]}}
        )
    )
    assert bad.status_code == 422
    assert "rules.all[1]" in bad.json()["error"]
    assert "unknown field" in bad.json()["fields"]["rules.all[1]"][0]
    assert "count" not in bad.json()

    deep = post(json.dumps({"rules": _nested(9)}))
    assert deep.status_code == 422
    assert "deeper than 6" in deep.json()["error"]

    garbage = post("{not json")
    assert garbage.status_code == 400
    assert garbage.json()["error"]

    assert client.get(url).status_code == 405


def test_live_count_detects_a_cycle_through_the_segment_being_edited(
    organisation: Organisation, owner
) -> None:
    a = seg.segment_create(organisation=organisation, name="A", rules={"all": []})
    b = seg.segment_create(organisation=organisation, name="B", rules={"in_segment": a.pk})
    client, token = csrf_client(owner, organisation)
    answer = client.post(
        f"/o/{organisation.slug}/segments/count/",
        json.dumps({"rules": {"in_segment": b.pk}, "segment_id": a.pk}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert answer.status_code == 422
    assert "circle" in answer.json()["fields"]["rules"][0]


# --- CSV export ----------------------------------------------------------------------------


def read_csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_lists_the_segments_contacts_with_their_fields(
    audience: Audience, owner_client: Client
) -> None:
    org = audience.organisation
    segment = seg.segment_create(
        organisation=org, name="Fotofreunde", rules={"interest": "fotografie"}
    )
    response = owner_client.get(f"/o/{org.slug}/segments/{segment.pk}/export/")
    assert "attachment;" in response["Content-Disposition"]
    assert "segment-fotofreunde-" in response["Content-Disposition"]
    rows = read_csv(response)
    people = {p.pk: p for p in audience.people}
    assert {int(r["id"]) for r in rows} == audience.expect(lambda p: "fotografie" in p.interests)
    for row in rows:
        person = people[int(row["id"])]
        assert row["email"] == person.email
        assert row["postcode"] == person.postcode
        assert row["lifecycle_stage"] == person.stage
        assert set(filter(None, row["interests"].split("; "))) == person.interests
        assert row["birthday"] == (person.birthday.isoformat() if person.birthday else "")
    assert (
        AuditEntry.objects.filter(organisation=org, action="audience.segment.exported").count() == 1
    )


def test_csv_export_defuses_spreadsheet_formulas(organisation: Organisation, owner_client) -> None:
    contact_create(
        organisation=organisation, first_name="=HYPERLINK(1)", last_name="Formel", tags=["f"]
    )
    segment = seg.segment_create(organisation=organisation, name="F", rules={"tag": "f"})
    rows = read_csv(owner_client.get(f"/o/{organisation.slug}/segments/{segment.pk}/export/"))
    assert rows[0]["first_name"] == "'=HYPERLINK(1)"


def test_a_segment_that_matches_nobody(audience: Audience, owner_client: Client) -> None:
    org = audience.organisation
    segment = seg.segment_create(
        organisation=org,
        name="Niemand",
        rules={"all": [{"tag": "vip"}, {"not": {"tag": "vip"}}]},
    )
    assert seg.segment_count(segment=segment) == 0
    assert seg.segment_preview(segment=segment) == []
    detail = owner_client.get(f"/o/{org.slug}/segments/{segment.pk}/")
    assert detail.context["count"] == 0
    assert detail.context["preview"] == []
    response = owner_client.get(f"/o/{org.slug}/segments/{segment.pk}/export/")
    text = b"".join(response.streaming_content).decode()
    assert text.splitlines() == [",".join(seg_columns())]


def seg_columns() -> tuple[str, ...]:
    from publikum.audience.views_segments import EXPORT_COLUMNS

    return EXPORT_COLUMNS


def test_months_are_calendar_months_in_the_organisations_time_zone(
    organisation: Organisation,
) -> None:
    contact = contact_create(organisation=organisation, email="m@example.org")
    # Berlin: 2026-03-31 10:00 local; six months before is 2025-09-30 (no 31 September).
    now = datetime(2026, 3, 31, 8, 0, tzinfo=UTC)
    inside = datetime(2025, 9, 30, 12, 0, tzinfo=UTC)
    interaction_record(contact=contact, kind="visit", occurred_at=inside)
    q = seg.rules_q(organisation=organisation, rules={"activity": "visit", "months": 6}, now=now)
    assert Contact.objects.filter(q).filter(pk=contact.pk).exists()
    q = seg.rules_q(organisation=organisation, rules={"activity": "visit", "months": 5}, now=now)
    assert not Contact.objects.filter(q).filter(pk=contact.pk).exists()


# --- the rule editor in a real browser ------------------------------------------------------

# Playwright runs in its own process: the web suite keeps one browser for its whole session
# in this process, and a second sync Playwright here would clash with its event loop.
EDITOR_SCRIPT = r"""
import json, os, sys
from playwright.sync_api import expect, sync_playwright

base, slug = os.environ["BASE"], os.environ["ORG"]
out = {}
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                args=["--no-sandbox", "--disable-gpu", "--no-first-run",
                                      "--disable-background-networking"])
    page = browser.new_context(locale="en-GB").new_page()
    page.set_default_timeout(10000)
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", os.environ["EMAIL"])
    page.fill("#id_password", os.environ["PASSWORD"])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(base + "/o/" + slug + "/")
    page.goto(base + "/o/" + slug + "/segments/new/")
    count = page.locator("#segment-count")
    expect(count).to_have_attribute("data-count", os.environ["EVERYONE"])
    out["json_hidden"] = not page.locator("#segment-json").evaluate("d => d.open")
    page.fill("#id_name", "English visitors")
    page.locator(".seg-add-rule").first.click()
    row = page.locator("li.seg-row").nth(0)
    row.locator("select.seg-field").select_option("language")
    row.locator("select.seg-op").select_option("eq")
    row.locator("select.seg-value").select_option("en")
    expect(count).to_have_attribute("data-count", os.environ["ENGLISH"])
    page.locator(".seg-add-group").first.click()
    inner = page.locator(".seg-group .seg-group").first
    inner.locator("select.seg-mode").select_option("any")
    inner_row = inner.locator("li.seg-row").first
    inner_row.locator("select.seg-field").select_option("activity:visit")
    inner_row.locator("select.seg-op").select_option("min")
    inner_row.locator("input[aria-label=times]").fill("2")
    inner.locator(".seg-add-rule").click()
    tag_row = inner.locator("li.seg-row").nth(1)
    tag_row.locator("select.seg-field").select_option("tag")
    tag_row.locator("input.seg-value").fill("vip")
    expect(count).to_have_attribute("data-count", os.environ["COMBINED"])
    out["tree"] = json.loads(page.locator("#id_rules").input_value())
    out["text"] = count.inner_text()
    if os.environ.get("SHOT"):
        page.screenshot(path=os.environ["SHOT"], full_page=True)
    # A rule the server refuses: the message names it, next to the row.
    tag_row.locator("input.seg-value").fill("")
    expect(tag_row.locator(".seg-error")).to_be_visible()
    out["row_error"] = tag_row.locator(".seg-error").inner_text()
    tag_row.locator("input.seg-value").fill("vip")
    expect(count).to_have_attribute("data-count", os.environ["COMBINED"])
    page.get_by_role("button", name="Save").click()
    page.wait_for_url("**/segments/*/")
    out["detail_count"] = page.get_by_test_id("segment-count").inner_text()
    if os.environ.get("SHOT"):
        page.screenshot(path=os.environ["SHOT"] + ".detail.png", full_page=True)
        page.goto(base + "/o/" + slug + "/segments/")
        page.screenshot(path=os.environ["SHOT"] + ".list.png", full_page=True)
    browser.close()
print(json.dumps(out))
"""


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_rule_editor_counts_live_while_rules_are_added(
    live_server: Any, organisation: Organisation, tmp_path: Any
) -> None:
    audience = build_audience(organisation, size=24)
    user = make_member(organisation, Role.EDITOR)
    english_ = audience.expect(lambda p: p.language == "en")
    combined = audience.expect(
        lambda p: p.language == "en" and (p.count("visit") >= 2 or "vip" in p.tags)
    )
    assert english_
    assert combined != english_
    env = os.environ | {
        "BASE": live_server.url,
        "ORG": organisation.slug,
        "EMAIL": user.email,
        "PASSWORD": "a-long-test-password",
        "EVERYONE": str(len(audience.people)),
        "ENGLISH": str(len(english_)),
        "COMBINED": str(len(combined)),
        "SHOT": os.environ.get("SEGMENT_EDITOR_SCREENSHOT", ""),
    }
    done = subprocess.run(
        [sys.executable, "-c", EDITOR_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["json_hidden"]
    assert out["tree"] == {
        "all": [
            {"field": "language", "op": "eq", "value": "en"},
            {"any": [{"activity": "visit", "min": 2}, {"tag": "vip"}]},
        ]
    }
    assert str(len(combined)) in out["text"]
    assert "tag" in out["row_error"]
    assert out["detail_count"] == str(len(combined))
    saved = Segment.objects.get(organisation=organisation, name="English visitors")
    assert saved.rules == out["tree"]
