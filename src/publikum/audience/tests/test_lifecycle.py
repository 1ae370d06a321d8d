"""Lifecycle stages and RFM scores: the rules of docs/lifecycle.md, the loyalty pages, the job."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone, translation
from django_tasks_db.models import DBTaskResult

from conftest import TIMEOUT_MS, make_member, make_user, run_worker_burst
from publikum.audience import lifecycle
from publikum.audience.lifecycle import lifecycle_recompute, lifecycle_settings_update
from publikum.audience.models import AudienceSettings, Contact, LifecycleChange
from publikum.audience.privacy import contact_erase
from publikum.audience.services import contact_create, interaction_record
from publikum.audience.tasks import (
    lifecycle_all,
    lifecycle_of_organisation,
    theme_summary_of_organisation,
)
from publikum.core import jobs
from publikum.core.errors import ValidationFailed
from publikum.core.models import AuditEntry, Organisation, Role
from publikum.core.services import membership_set

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
DEFAULTS = {
    "new_days": 90,
    "regular_min_visits": 2,
    "loyal_min_visits": 5,
    "lapsing_after_days": 180,
    "lapsed_after_days": 365,
}


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    # Messages are checked in English; the site's default language is German.
    with translation.override("en"):
        yield


def staff_client(organisation: Organisation, role: str) -> Client:
    client = Client()
    client.force_login(make_member(organisation, role))
    client.cookies["django_language"] = "en"
    return client


def person(
    organisation: Organisation,
    name: str,
    visits: tuple[float, ...] = (),
    bookings: tuple[tuple[float, str], ...] = (),
    *,
    now: datetime = NOW,
) -> Contact:
    """A contact with visits and bookings `days` before `now` (negative: after it)."""
    contact = contact_create(
        organisation=organisation,
        first_name=name,
        last_name="Muster",
        email=f"{name.lower()}.{organisation.slug}@example.org",
    )
    for days in visits:
        interaction_record(contact=contact, kind="visit", occurred_at=now - timedelta(days=days))
    for days, amount in bookings:
        interaction_record(
            contact=contact,
            kind="booking",
            occurred_at=now - timedelta(days=days),
            amount_eur=Decimal(amount),
        )
    return contact


def stages_of(*contacts: Contact) -> dict[str, str]:
    found = dict(
        Contact.objects.filter(pk__in=[c.pk for c in contacts]).values_list(
            "first_name", "lifecycle_stage"
        )
    )
    return {c.first_name: found[c.first_name] for c in contacts}


def rfm_of(contact: Contact) -> tuple[int, int, int]:
    contact.refresh_from_db()
    return (contact.rfm_recency, contact.rfm_frequency, contact.rfm_monetary)


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_history_gets_the_stage_the_documented_rules_give(organisation):
    # Expected stages worked out by hand from docs/lifecycle.md with the default thresholds
    # (new 90 days, regular 2 and loyal 5 visits in 12 months, lapsing 180, lapsed 365 days).
    expected = {
        # Booked a date but never came: bookings are not visits.
        person(organisation, "Nie", bookings=((10, "25.00"),)): "none",
        person(organisation, "Neu", visits=(10,)): "new",
        # Five visits, but the first one 80 days ago: new comes before loyal.
        person(organisation, "Eifrig", visits=(5, 20, 40, 60, 80)): "new",
        person(organisation, "Treu", visits=(10, 50, 100, 150, 200, 300, 500)): "loyal",
        person(organisation, "Stamm", visits=(30, 200, 400)): "regular",
        # One visit 120 days ago: no longer new by days, not regular, not lapsing yet.
        person(organisation, "Einmal", visits=(120,)): "new",
        # One-off visitors who did not come back.
        person(organisation, "Selten", visits=(200,)): "lapsing",
        person(organisation, "Grenze", visits=(180,)): "lapsing",
        person(organisation, "Weg", visits=(400,)): "lapsed",
        # A loyal visitor who stopped coming half a year ago, and one who stopped long ago.
        person(organisation, "Abgewandert", visits=(190, 220, 250, 280, 300)): "lapsing",
        person(organisation, "Verloren", visits=(370, 400, 450)): "lapsed",
        # Came three times in the year before, once in this one: lapsing by frequency.
        person(organisation, "Nachlassend", visits=(40, 400, 450, 500)): "lapsing",
        # Came back after two years away: counts as new again.
        person(organisation, "Rueckkehr", visits=(40, 800, 900)): "new",
    }
    result = lifecycle_recompute(organisation=organisation, now=NOW)

    assert stages_of(*expected) == {c.first_name: stage for c, stage in expected.items()}
    assert result.contacts == len(expected)
    assert result.stages == {
        "none": 1,
        "new": 4,
        "loyal": 1,
        "regular": 1,
        "lapsing": 4,
        "lapsed": 2,
    }


@pytest.mark.django_db
def test_figures_count_visits_bookings_and_spend_up_to_now_only(organisation):
    contact = person(
        organisation,
        "Zahl",
        visits=(10, 100, 400, 800, -1),  # -1: a visit after `now` is ignored
        bookings=((5, "20.50"), (200, "10.00"), (500, "99.00"), (-2, "7.00")),
    )
    lifecycle_recompute(organisation=organisation, now=NOW)

    contact.refresh_from_db()
    assert contact.first_visit_at == NOW - timedelta(days=800)
    assert contact.last_visit_at == NOW - timedelta(days=10)
    assert contact.visits_12m == 2
    assert contact.bookings_12m == 2
    assert contact.spend_12m == Decimal("30.50")
    assert contact.lifecycle_stage == "regular"
    assert contact.stage_changed_at == NOW


@pytest.mark.django_db
def test_changed_thresholds_move_people_at_the_next_recompute(organisation, owner):
    treu = person(organisation, "Treu", visits=(10, 50, 100, 150, 200, 300))
    einmal = person(organisation, "Einmal", visits=(120,))
    lifecycle_recompute(organisation=organisation, now=NOW)
    assert stages_of(treu, einmal) == {"Treu": "loyal", "Einmal": "new"}

    lifecycle_settings_update(
        organisation=organisation,
        **{**DEFAULTS, "loyal_min_visits": 7, "lapsing_after_days": 100},
        actor=owner,
    )
    assert stages_of(treu, einmal) == {"Treu": "loyal", "Einmal": "new"}  # not before
    later = NOW + timedelta(hours=1)
    result = lifecycle_recompute(organisation=organisation, now=later)

    assert stages_of(treu, einmal) == {"Treu": "regular", "Einmal": "lapsing"}
    assert result.changed == 2
    moves = set(
        LifecycleChange.objects.filter(changed_at=later).values_list(
            "contact__first_name", "from_stage", "to_stage"
        )
    )
    assert moves == {("Treu", "loyal", "regular"), ("Einmal", "new", "lapsing")}
    entry = AuditEntry.objects.get(action="audience.lifecycle.settings_changed")
    assert entry.actor_user == owner
    assert entry.data == {
        "from": {"loyal_min_visits": 5, "lapsing_after_days": 180},
        "to": {"loyal_min_visits": 7, "lapsing_after_days": 100},
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"lapsed_after_days": 180}, "lapsed_after_days", "Lapsed must come after lapsing"),
        ({"loyal_min_visits": 2}, "loyal_min_visits", "Loyal needs more visits than regular"),
        ({"regular_min_visits": 0}, "regular_min_visits", "from 1 to 1000"),
        ({"new_days": 200}, "new_days", "fewer than 180 days"),
    ],
)
def test_inconsistent_thresholds_are_refused_and_nothing_is_saved(
    organisation, change, field, message
):
    with pytest.raises(ValidationFailed) as caught:
        lifecycle_settings_update(organisation=organisation, **{**DEFAULTS, **change})

    assert list(caught.value.fields) == [field]
    assert message in caught.value.message
    saved = lifecycle.lifecycle_settings_get(organisation=organisation)
    assert {name: getattr(saved, name) for name in DEFAULTS} == DEFAULTS
    assert not AuditEntry.objects.filter(action="audience.lifecycle.settings_changed").exists()


@pytest.mark.django_db
def test_missing_settings_are_created_with_the_defaults(organisation):
    assert not AudienceSettings.objects.filter(organisation=organisation).exists()
    person(organisation, "Treu", visits=(10, 50, 100, 150, 200))

    lifecycle_recompute(organisation=organisation, now=NOW)

    saved = AudienceSettings.objects.get(organisation=organisation)
    assert {name: getattr(saved, name) for name in DEFAULTS} == DEFAULTS
    assert Contact.objects.get(first_name="Treu").lifecycle_stage == "loyal"


# --- RFM ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_rfm_scores_are_quintiles_within_the_organisation(organisation):
    # Contact k: k + 1 visits, the last one 100 - 10k days ago, spend 10 (k + 1) euros.
    # Higher k is better in all three, so contact k scores 1 + k // 2 everywhere.
    ten = []
    for k in range(10):
        last = 100 - 10 * k
        ten.append(
            person(
                organisation,
                f"Rang{k}",
                visits=tuple(last + 30 * j for j in range(k + 1)),
                bookings=((last + 1, f"{10 * (k + 1)}.00"),),
            )
        )
    nobody = person(organisation, "Ohne")
    long_ago = person(
        organisation,
        "Frueher",
        visits=(800,),
        bookings=((800.5, "50.00"),),
    )

    lifecycle_recompute(organisation=organisation, now=NOW)

    assert [rfm_of(c) for c in ten] == [(1 + k // 2,) * 3 for k in range(10)]
    assert rfm_of(nobody) == (0, 0, 0)
    assert rfm_of(long_ago) == (0, 0, 0)  # history older than 24 months does not count


@pytest.mark.django_db
def test_equal_histories_get_equal_scores_and_free_visits_no_monetary_score(organisation):
    twins = [person(organisation, name, visits=(20, 60)) for name in ("Zwilling", "Zwilling2")]
    once = person(organisation, "Einmal", visits=(30,), bookings=((31, "12.00"),))
    often = person(organisation, "Oft", visits=(5, 15, 25, 35), bookings=((6, "40.00"),))

    lifecycle_recompute(organisation=organisation, now=NOW)

    # Four people with visits: scores 1 + 5 (rank - 1) // 4, the twins share rank 2; two
    # with spend: 1 and 1 + 5 // 2. (With fewer than five people the top score is lower.)
    assert rfm_of(twins[0]) == rfm_of(twins[1]) == (2, 2, 0)  # free visits: no spend
    assert rfm_of(once) == (1, 1, 1)
    assert rfm_of(often) == (4, 4, 3)


# --- changes, idempotence, erasure, isolation ----------------------------------------------


@pytest.mark.django_db
def test_stage_changes_are_recorded_once_and_a_second_run_changes_nothing(organisation):
    stamm = person(organisation, "Stamm", visits=(30, 200, 400))
    nie = person(organisation, "Nie")
    first = lifecycle_recompute(organisation=organisation, now=NOW)
    stamm.refresh_from_db()
    snapshot = list(Contact.objects.order_by("pk").values())

    again = lifecycle_recompute(organisation=organisation, now=NOW + timedelta(minutes=5))

    assert (first.changed, first.updated) == (1, 1)
    assert (again.changed, again.updated) == (0, 0)
    assert list(Contact.objects.order_by("pk").values()) == snapshot
    assert list(LifecycleChange.objects.values_list("contact", "from_stage", "to_stage")) == [
        (stamm.pk, "none", "regular")
    ]
    assert stamm.stage_changed_at == NOW

    half_year_later = NOW + timedelta(days=160)  # last visit 190 days ago then
    lifecycle_recompute(organisation=organisation, now=half_year_later)

    stamm.refresh_from_db()
    assert stamm.lifecycle_stage == "lapsing"
    assert stamm.stage_changed_at == half_year_later
    assert list(
        LifecycleChange.objects.order_by("changed_at").values_list(
            "contact", "from_stage", "to_stage", "changed_at"
        )
    ) == [
        (stamm.pk, "none", "regular", NOW),
        (stamm.pk, "regular", "lapsing", half_year_later),
    ]
    assert Contact.objects.get(pk=nie.pk).stage_changed_at is None


@pytest.mark.django_db
def test_erased_contacts_are_left_as_they_are(organisation):
    erased = person(organisation, "Geloescht", visits=(10, 50, 100, 150, 200))
    kept = person(organisation, "Bleibt", visits=(10, 50, 100, 150, 200))
    lifecycle_recompute(organisation=organisation, now=NOW)
    contact_erase(contact=erased)
    frozen = Contact.objects.filter(pk=erased.pk).values().get()

    result = lifecycle_recompute(organisation=organisation, now=NOW + timedelta(days=400))

    assert Contact.objects.filter(pk=erased.pk).values().get() == frozen
    assert frozen["lifecycle_stage"] == "loyal"
    assert LifecycleChange.objects.filter(contact=erased).count() == 1  # only the first run's
    assert Contact.objects.get(pk=kept.pk).lifecycle_stage == "lapsed"
    assert result.contacts == 1


@pytest.mark.django_db
def test_recompute_of_one_organisation_leaves_another_alone(organisation, other_organisation):
    ours = person(organisation, "Unser", visits=(10, 50, 100, 150, 200))
    theirs = person(other_organisation, "Fremd", visits=(10, 50, 100, 150, 200))
    before = Contact.objects.filter(pk=theirs.pk).values().get()

    result = lifecycle_recompute(organisation=organisation, now=NOW)

    assert result.contacts == 1
    assert stages_of(ours, theirs) == {"Unser": "loyal", "Fremd": "none"}
    assert Contact.objects.filter(pk=theirs.pk).values().get() == before
    assert (before["last_visit_at"], before["rfm_recency"]) == (None, 0)
    assert not LifecycleChange.objects.filter(organisation=other_organisation).exists()

    lifecycle_recompute(organisation=other_organisation, now=NOW)
    assert stages_of(ours, theirs) == {"Unser": "loyal", "Fremd": "loyal"}


@pytest.mark.django_db
def test_recompute_leaves_an_audit_entry_without_personal_data(organisation):
    person(organisation, "Vertraulich", visits=(10,))

    lifecycle_recompute(organisation=organisation, now=NOW)

    entry = AuditEntry.objects.get(action="audience.lifecycle.recomputed")
    assert entry.organisation == organisation
    assert entry.data["contacts"] == 1
    assert entry.data["changed"] == 1
    assert entry.data["as_of"] == NOW.isoformat()
    text = json.dumps(entry.data)
    assert "Vertraulich" not in text
    assert "example.org" not in text


@pytest.mark.django_db
def test_small_chunks_give_the_same_result_as_one_chunk(organisation, other_organisation):
    histories = [(10,), (30, 200, 400), (200,), (400,), (), (10, 50, 100, 150, 200)]
    for n, visits in enumerate(histories * 3):
        person(organisation, f"A{n}", visits=visits, bookings=((n + 1, f"{n}.50"),))
        person(other_organisation, f"B{n}", visits=visits, bookings=((n + 1, f"{n}.50"),))

    one = lifecycle_recompute(organisation=organisation, now=NOW)
    many = lifecycle_recompute(organisation=other_organisation, now=NOW, chunk_size=4)

    def figures(org: Organisation) -> list[tuple[object, ...]]:
        return list(
            Contact.objects.filter(organisation=org)
            .order_by("pk")
            .values_list(
                "lifecycle_stage", "visits_12m", "spend_12m", "rfm_recency", "rfm_monetary"
            )
        )

    assert figures(organisation) == figures(other_organisation)
    assert (one.changed, one.stages) == (many.changed, many.stages)


# --- the job --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_daily_job_recomputes_every_organisation_through_the_worker(
    keep_signal_handlers, organisation, other_organisation
):
    now = timezone.now()
    ours = person(organisation, "Unser", visits=(10, 50, 100, 150, 200), now=now)
    theirs = person(other_organisation, "Fremd", visits=(200,), now=now)
    Organisation.objects.create(slug="ohne-publikum", name="Ohne Publikum")

    assert "audience.lifecycle" in jobs.tick(now=now)
    run_worker_burst()  # the daily job fans out, one job per organisation with contacts
    fanned_out = DBTaskResult.objects.filter(task_path=lifecycle_of_organisation.module_path)
    assert sorted(r.args_kwargs["kwargs"]["organisation_id"] for r in fanned_out) == sorted(
        [organisation.pk, other_organisation.pk]
    )
    # ... and one check of the theme summary per organisation, as a job of its own.
    themes = DBTaskResult.objects.filter(task_path=theme_summary_of_organisation.module_path)
    assert sorted(r.args_kwargs["kwargs"]["organisation_id"] for r in themes) == sorted(
        [organisation.pk, other_organisation.pk]
    )
    run_worker_burst()

    assert stages_of(ours, theirs) == {"Unser": "loyal", "Fremd": "lapsing"}
    assert set(fanned_out.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert set(themes.values_list("status", flat=True)) == {"SUCCESSFUL"}
    assert "audience.lifecycle" not in jobs.tick(now=now + timedelta(hours=23))  # daily


@pytest.mark.django_db
def test_the_job_functions_return_what_they_did(organisation):
    person(organisation, "Unser", visits=(10,), now=timezone.now())

    assert lifecycle_all.call() == 1
    assert lifecycle_of_organisation.call(organisation_id=organisation.pk) == 1
    assert lifecycle_of_organisation.call(organisation_id=organisation.pk) == 0
    assert lifecycle_of_organisation.call(organisation_id=987654) == 0
    assert theme_summary_of_organisation.call(organisation_id=organisation.pk) == 0
    assert theme_summary_of_organisation.call(organisation_id=987654) == 0


# --- the staff pages ------------------------------------------------------------------------


def count_in_row(html: str, stage: str) -> int:
    match = re.search(rf'<tr data-stage="{stage}">.*?<td class="num">(\d+)</td>', html, re.S)
    assert match, f"no row for {stage}"
    return int(match.group(1))


@pytest.mark.django_db
def test_loyalty_page_shows_the_stages_and_who_the_house_is_about_to_lose(organisation):
    owner_client = staff_client(organisation, Role.OWNER)
    now = timezone.now()
    # Anna: loyal until her last visit is 180 days ago, which happens between the last
    # two runs. Bruno: the same, six weeks earlier. Carla: a one-off visitor who lapses.
    anna = person(organisation, "Anna", visits=(185, 200, 230, 260, 300), now=now)
    bruno = person(organisation, "Bruno", visits=(225, 240, 270, 300, 400), now=now)
    carla = person(organisation, "Carla", visits=(182,), now=now)
    person(organisation, "Dora", now=now)
    for days in (60, 40, 10, 0):
        lifecycle_recompute(organisation=organisation, now=now - timedelta(days=days))

    page = owner_client.get(f"/o/{organisation.slug}/loyalty/")

    assert page.status_code == 200
    html = page.content.decode()
    assert count_in_row(html, "lapsing") == 3
    assert count_in_row(html, "none") == 1
    assert count_in_row(html, "loyal") == 0
    assert f"/o/{organisation.slug}/contacts/{anna.pk}/" in html
    assert f"/o/{organisation.slug}/contacts/{bruno.pk}/" not in html  # moved last month
    assert f"/o/{organisation.slug}/contacts/{carla.pk}/" not in html  # was never regular
    assert "1 person moved to lapsing" in html
    assert "<svg" in html

    earlier = timezone.localtime(
        now - timedelta(days=40), lifecycle.organisation_zone(organisation)
    )
    month = f"{earlier:%Y-%m}"
    page = owner_client.get(f"/o/{organisation.slug}/loyalty/", {"month": month})

    html = page.content.decode()
    assert f"/o/{organisation.slug}/contacts/{bruno.pk}/" in html
    assert f"/o/{organisation.slug}/contacts/{anna.pk}/" not in html
    assert f'value="{month}"' in html


@pytest.mark.django_db
def test_loyalty_page_explains_a_month_it_cannot_read(organisation):
    owner_client = staff_client(organisation, Role.OWNER)
    page = owner_client.get(f"/o/{organisation.slug}/loyalty/", {"month": "2026-13"})

    assert page.status_code == 400
    assert "Enter a month as YYYY-MM" in page.content.decode()


@pytest.mark.django_db
def test_viewer_sees_the_loyalty_page_but_not_the_thresholds(organisation):
    client = staff_client(organisation, Role.VIEWER)

    page = client.get(f"/o/{organisation.slug}/loyalty/")
    assert page.status_code == 200
    assert "/loyalty/settings/" not in page.content.decode()
    assert client.get(f"/o/{organisation.slug}/loyalty/settings/").status_code == 403
    assert client.post(f"/o/{organisation.slug}/loyalty/settings/", DEFAULTS).status_code == 403


@pytest.mark.django_db
def test_manager_saves_thresholds_and_inconsistent_ones_are_refused_with_a_message(organisation):
    client = staff_client(organisation, Role.MANAGER)
    url = f"/o/{organisation.slug}/loyalty/settings/"
    assert client.get(url).status_code == 200

    refused = client.post(url, {**DEFAULTS, "lapsing_after_days": 400, "action": "save"})
    assert refused.status_code == 400
    assert "Lapsed must come after lapsing: more than 400 days." in refused.content.decode()
    assert lifecycle.lifecycle_settings_get(organisation=organisation).lapsing_after_days == 180

    refused = client.post(url, {**DEFAULTS, "loyal_min_visits": 1, "action": "save"})
    assert refused.status_code == 400
    assert "Loyal needs more visits than regular" in refused.content.decode()

    saved = client.post(url, {**DEFAULTS, "loyal_min_visits": 8, "action": "save"}, follow=True)
    assert saved.status_code == 200
    assert "The thresholds have been saved." in saved.content.decode()
    assert lifecycle.lifecycle_settings_get(organisation=organisation).loyal_min_visits == 8
    assert "Loyal: 8 visits or more" in saved.content.decode()


@pytest.mark.django_db
def test_recompute_now_queues_the_job_and_says_so(organisation, django_capture_on_commit_callbacks):
    client = staff_client(organisation, Role.MANAGER)

    with django_capture_on_commit_callbacks(execute=True):
        page = client.post(
            f"/o/{organisation.slug}/loyalty/settings/", {"action": "recompute"}, follow=True
        )

    assert "The recompute has been queued" in page.content.decode()
    queued = DBTaskResult.objects.get(task_path=lifecycle_of_organisation.module_path)
    assert queued.args_kwargs["kwargs"] == {"organisation_id": organisation.pk}
    assert queued.status == "READY"
    assert AuditEntry.objects.filter(
        organisation=organisation, action="audience.lifecycle.recompute_requested"
    ).exists()


# --- the demo -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_demo_audience_shows_lifecycle_movement(monkeypatch):
    from publikum.core import demo

    monkeypatch.setattr(
        demo, "POPULATORS", [*demo.POPULATORS, "publikum.audience.lifecycle.populate"]
    )
    org = demo.build_demo(contacts=400)

    changes = LifecycleChange.objects.filter(organisation=org)
    earlier, now = sorted(set(changes.values_list("changed_at", flat=True)))
    assert now - earlier == lifecycle.DEMO_EARLIER
    assert changes.filter(changed_at=earlier).count() > 100
    recent = changes.filter(changed_at=now)
    assert recent.filter(from_stage__in=["loyal", "regular"], to_stage="lapsing").exists()
    assert recent.exclude(to_stage="lapsing").exists()
    stages = set(Contact.objects.filter(organisation=org).values_list("lifecycle_stage", flat=True))
    assert stages == {"none", "new", "regular", "loyal", "lapsing", "lapsed"}


# --- in Chromium ----------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_manager_follows_a_lapsing_person_and_fixes_thresholds_in_chromium(
    browser: Any, live_server: Any, organisation: Organisation, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    now = timezone.now()
    anna = person(organisation, "Anna", visits=(185, 200, 230, 260, 300), now=now)
    for days in (10, 0):
        lifecycle_recompute(organisation=organisation, now=now - timedelta(days=days))
    manager = make_user("manager.browser@example.org")
    membership_set(organisation=organisation, user=manager, role=Role.MANAGER)
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    base = f"{live_server.url}/o/{organisation.slug}"
    try:
        page.goto(f"{live_server.url}/accounts/login/?next=/o/{organisation.slug}/")
        page.locator("#id_username").fill("manager.browser@example.org")
        page.locator("#id_password").fill("a-long-test-password")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation", name="Main navigation").get_by_role(
            "link", name="Loyalty"
        ).click()

        expect(page.locator("h1")).to_have_text("Loyalty")
        expect(page.locator("[data-testid=losing-count]")).to_contain_text("1 person moved")
        page.screenshot(path=str(tmp_path / "loyalty.png"), full_page=True)
        page.get_by_role("link", name="Anna Muster").click()
        expect(page).to_have_url(f"{base}/contacts/{anna.pk}/")
        expect(page.locator("[data-testid=stage]")).to_have_text("Lapsing")

        page.goto(f"{base}/loyalty/settings/")
        page.get_by_label("Lapsed after this many days without a visit").fill("100")
        page.get_by_role("button", name="Save thresholds").click()
        expect(page.locator("#id_lapsed_after_days_error")).to_contain_text(
            "Lapsed must come after lapsing: more than 180 days."
        )
        page.get_by_label("Lapsed after this many days without a visit").fill("400")
        page.get_by_role("button", name="Save thresholds").click()
        expect(page.locator(".msg")).to_contain_text("The thresholds have been saved.")
        page.get_by_role("button", name="Recompute now").click()
        expect(page.locator(".msg")).to_contain_text("The recompute has been queued")
    finally:
        context.close()
    assert lifecycle.lifecycle_settings_get(organisation=organisation).lapsed_after_days == 400
    assert DBTaskResult.objects.filter(task_path=lifecycle_of_organisation.module_path).exists()
