"""The demo institution: what a person trying Publikum would look at first."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import Count, Max, Min, Q
from django.utils import timezone

from publikum.audience.models import Consent, Contact, Interaction, InteractionKind, Purpose
from publikum.core import demo as demo_module
from publikum.core.demo import DEMO_LOGIN, DEMO_SLUG, build_demo
from publikum.core.models import AuditEntry, Membership, Organisation, Role, User
from publikum.programme.models import ItemKind, Occurrence, ProgrammeItem

SMALL = 500


@pytest.fixture
def demo() -> Organisation:
    return build_demo(contacts=SMALL)


@pytest.mark.django_db
def test_demo_has_the_museum_and_one_member_per_role(demo):
    assert demo.slug == DEMO_SLUG
    assert demo.name == "Stadtmuseum Beispielstadt"
    assert demo.city == "Beispielstadt"
    assert demo.description_de
    assert demo.description_en
    roles = dict(Membership.objects.filter(organisation=demo).values_list("user__email", "role"))
    assert sorted(roles.values()) == sorted(Role.values)
    email, password = DEMO_LOGIN
    assert roles[email] == Role.OWNER
    owner = User.objects.get(email=email)
    assert owner.name == "Anna Becker"
    assert all(u.check_password(password) for u in User.objects.filter(email__in=roles))
    assert AuditEntry.objects.filter(organisation=demo, action="core.demo.created").count() == 1


@pytest.mark.django_db
def test_demo_programme_has_two_years_behind_and_months_ahead(demo):
    now = timezone.now()
    items = ProgrammeItem.objects.filter(organisation=demo).annotate(
        first=Min("occurrences__starts_at"),
        last=Max("occurrences__starts_at"),
        theme_count=Count("themes", distinct=True),
    )
    past = [i for i in items if i.last < now]
    upcoming = [i for i in items if i.first >= now]
    assert len(past) >= 150
    assert len(upcoming) >= 40
    assert {i.kind for i in past} == set(ItemKind.values)
    assert {i.kind for i in upcoming} >= set(ItemKind.values) - {ItemKind.EXHIBITION}
    assert min(i.first for i in past) < now - timedelta(days=600)
    assert max(i.first for i in upcoming) > now + timedelta(days=60)
    for item in items:
        assert item.title_de
        assert item.title_en
        assert item.summary_de
        assert item.description_en
        assert 1 <= item.theme_count <= 3
        prices = [c.price_eur for c in item.price_categories.all()]
        assert prices, f"{item} has no price category"
        assert all(0 <= p <= 25 for p in prices)
        assert item.venue is not None
    capacities = Occurrence.objects.filter(organisation=demo).values_list("capacity", flat=True)
    assert all(15 <= c <= 400 for c in capacities)
    assert len({i.slug for i in items}) == len(items)


@pytest.mark.django_db
def test_demo_audience_has_a_history_for_lifecycle_analysis(demo):
    now = timezone.now()
    contacts = Contact.objects.filter(organisation=demo)
    emails = list(contacts.values_list("email", flat=True))
    assert len(emails) == SMALL
    assert all(emails)
    assert len(set(emails)) == SMALL

    visits = Interaction.objects.filter(organisation=demo, kind=InteractionKind.VISIT)
    # Months as 30-day windows back from now, as a rolling chart shows them.
    for month in range(24):
        window = (now - timedelta(days=30 * (month + 1)), now - timedelta(days=30 * month))
        assert visits.filter(occurred_at__range=window).exists(), f"no visits {month} months ago"

    half_a_year_ago = now - timedelta(days=183)
    per_contact = contacts.annotate(
        old=Count(
            "interactions",
            filter=Q(
                interactions__kind=InteractionKind.VISIT,
                interactions__occurred_at__lt=half_a_year_ago,
            ),
        ),
        recent=Count(
            "interactions",
            filter=Q(
                interactions__kind=InteractionKind.VISIT,
                interactions__occurred_at__gte=half_a_year_ago,
            ),
        ),
        first=Min("interactions__occurred_at", filter=Q(interactions__kind=InteractionKind.VISIT)),
    )
    assert per_contact.filter(old__gt=2, recent=0).exists(), "nobody has lapsed"
    assert per_contact.filter(old__gte=6, recent__gte=3).exists(), "no loyal regulars"
    assert per_contact.filter(first__gte=now - timedelta(days=90)).exists(), "nobody is new"
    assert not visits.filter(occurred_at__gt=now).exists()

    subscribed = Consent.objects.filter(
        contact__organisation=demo, purpose=Purpose.NEWSLETTER, channel="email"
    )
    share = subscribed.filter(granted=True).count() / SMALL
    assert 0.4 < share < 0.7
    assert subscribed.filter(granted=False, withdrawn_at__isnull=False).exists()
    assert Interaction.objects.filter(
        organisation=demo, kind=InteractionKind.EMAIL_CLICKED, item__isnull=False
    ).exists()


@pytest.mark.django_db
def test_visits_follow_the_interests_of_each_contact(demo):
    # A recommender can only learn if people keep choosing their themes: the visits of a
    # contact match its stated interests far more often than the programme as a whole does.
    item_themes: dict[int, set[int]] = {}
    for item_id, theme_id in ProgrammeItem.themes.through.objects.filter(
        programmeitem__organisation=demo
    ).values_list("programmeitem_id", "theme_id"):
        item_themes.setdefault(item_id, set()).add(theme_id)
    interests: dict[int, set[int]] = {}
    for contact_id, theme_id in Contact.interests.through.objects.filter(
        contact__organisation=demo
    ).values_list("contact_id", "theme_id"):
        interests.setdefault(contact_id, set()).add(theme_id)
    visits = list(
        Interaction.objects.filter(organisation=demo, kind=InteractionKind.VISIT).values_list(
            "contact_id", "item_id"
        )
    )
    own, baseline = [], []
    for contact_id, themes in interests.items():
        mine = [item for c, item in visits if c == contact_id]
        if len(mine) < 5:
            continue
        own.append(sum(bool(item_themes[i] & themes) for i in mine) / len(mine))
        baseline.append(sum(bool(item_themes[i] & themes) for _, i in visits) / len(visits))
    assert len(own) >= 20
    assert sum(own) / len(own) > sum(baseline) / len(baseline) + 0.25


@pytest.mark.django_db
def test_building_the_demo_twice_creates_nothing_new(demo):
    def counts() -> tuple[int, ...]:
        return (
            Organisation.objects.count(),
            User.objects.count(),
            Contact.objects.count(),
            Interaction.objects.count(),
            ProgrammeItem.objects.count(),
            AuditEntry.objects.count(),
        )

    before = counts()
    again = build_demo(contacts=SMALL)
    assert again.pk == demo.pk
    assert counts() == before


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_demo(monkeypatch):
    def snapshot(org: Organisation) -> tuple[list[str], list[str], int]:
        emails = list(
            Contact.objects.filter(organisation=org).order_by("pk").values_list("email", flat=True)
        )
        titles = list(
            ProgrammeItem.objects.filter(organisation=org)
            .order_by("pk")
            .values_list("title_de", flat=True)
        )
        return emails[:20], titles, Interaction.objects.filter(organisation=org).count()

    def rebuild(seed: int) -> tuple[list[str], list[str], int]:
        Organisation.objects.filter(slug=DEMO_SLUG).delete()
        return snapshot(build_demo(seed=seed, contacts=200))

    first = rebuild(7)
    assert rebuild(7) == first

    # On another day the dates move with the calendar; who the contacts are and what the
    # programme offers stay the same.
    later = demo_module.reference_now() + timedelta(days=3, hours=5)
    monkeypatch.setattr(demo_module, "reference_now", lambda: later)
    emails, titles, _ = rebuild(7)
    assert (emails, titles) == first[:2]

    assert rebuild(8)[0] != first[0]
