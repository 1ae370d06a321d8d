"""Retention: contacts without consent and without contact for N months are deleted."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from publikum.audience import privacy
from publikum.audience.models import AudienceSettings, Contact, Interaction, SubscriptionRequest
from publikum.audience.services import consent_set, contact_create, interaction_record
from publikum.audience.tasks import retention_all, retention_of_organisation
from publikum.core import jobs
from publikum.core.models import AuditEntry, Organisation, Role

MONTH = timedelta(days=31)


def person(organisation: Organisation, name: str, *, created_ago: timedelta) -> Contact:
    contact = contact_create(
        organisation=organisation, first_name=name, email=f"{name.lower()}@example.org"
    )
    Contact.objects.filter(pk=contact.pk).update(created_at=timezone.now() - created_ago)
    return contact


def visit(contact: Contact, ago: timedelta) -> None:
    interaction_record(contact=contact, kind="visit", occurred_at=timezone.now() - ago)


def audience(organisation: Organisation, other: Organisation) -> dict[str, set[int]]:
    """People of every kind the rule must tell apart; returns who goes and who stays."""
    old = 30 * MONTH
    goes = {
        person(organisation, "Stumm", created_ago=old).pk,
        person(organisation, "Alt", created_ago=old).pk,
        person(organisation, "Widerrufen", created_ago=old).pk,
    }
    alt = Contact.objects.get(first_name="Alt")
    visit(alt, 26 * MONTH)
    widerrufen = Contact.objects.get(first_name="Widerrufen")
    consent_set(
        contact=widerrufen, channel="email", purpose="newsletter", granted=False, source="x"
    )

    einverstanden = person(organisation, "Einverstanden", created_ago=old)
    consent_set(contact=einverstanden, channel="post", purpose="offers", granted=True, source="x")
    kuerzlich = person(organisation, "Kuerzlich", created_ago=old)
    visit(kuerzlich, 2 * MONTH)
    neu = person(organisation, "Neu", created_ago=timedelta(days=10))
    wartet = person(organisation, "Wartet", created_ago=old)
    SubscriptionRequest.objects.create(
        organisation=organisation, contact=wartet, purposes=["newsletter"], nonce="n-wartet"
    )
    geloescht = person(organisation, "Geloescht", created_ago=old)
    privacy.contact_erase(contact=geloescht)
    fremd = person(other, "Fremd", created_ago=old)
    stays = {einverstanden.pk, kuerzlich.pk, neu.pk, wartet.pk, geloescht.pk, fremd.pk}
    return {"goes": goes, "stays": stays}


def remaining() -> set[int]:
    return set(Contact.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_dry_run_counts_exactly_the_contacts_that_apply_deletes(
    organisation, other_organisation
) -> None:
    people = audience(organisation, other_organisation)
    visits_of_kept = Interaction.objects.filter(contact_id__in=people["stays"]).count()
    assert privacy.retention_dry_run(organisation=organisation, months=24) == 3
    candidates = privacy.retention_candidates(organisation=organisation, months=24)
    assert set(candidates.values_list("pk", flat=True)) == people["goes"]
    # Saved rule off: nothing happens.
    assert privacy.retention_apply(organisation=organisation) == 0
    assert remaining() == people["goes"] | people["stays"]

    privacy.retention_set(organisation=organisation, months=24)
    assert privacy.retention_dry_run(organisation=organisation) == 3
    assert remaining() == people["goes"] | people["stays"], "a dry run deleted something"

    assert privacy.retention_apply(organisation=organisation, batch_size=2) == 3
    assert remaining() == people["stays"]
    assert not Interaction.objects.exclude(contact_id__in=people["stays"]).exists()
    assert Interaction.objects.count() == visits_of_kept
    # Safe to run twice.
    assert privacy.retention_apply(organisation=organisation) == 0
    [entry] = AuditEntry.objects.filter(action="audience.retention.applied")
    assert entry.data == {"months": 24, "deleted": 3, "skipped": 0}


@pytest.mark.django_db
def test_a_shorter_rule_reaches_more_people(organisation, other_organisation) -> None:
    people = audience(organisation, other_organisation)
    # With one month, the visit two months ago no longer protects "Kuerzlich".
    assert privacy.retention_dry_run(organisation=organisation, months=1) == 4
    assert privacy.retention_dry_run(organisation=organisation, months=0) == 0
    assert len(people["goes"]) == 3


@pytest.mark.django_db
def test_months_are_calendar_months() -> None:
    march_31 = datetime(2026, 3, 31, 12, 0, tzinfo=timezone.get_current_timezone())
    assert privacy.months_before(march_31, 1).date().isoformat() == "2026-02-28"
    assert privacy.months_before(march_31, 24).date().isoformat() == "2024-03-31"
    assert privacy.months_before(march_31, 3).date().isoformat() == "2025-12-31"


@pytest.mark.django_db
def test_staff_set_the_rule_see_the_dry_run_and_apply_it(
    organisation, other_organisation, member_factory
) -> None:
    people = audience(organisation, other_organisation)
    manager = Client(headers={"accept-language": "en"})
    manager.force_login(member_factory(organisation, Role.MANAGER))
    url = f"/o/{organisation.slug}/privacy/retention/"
    assert "The rule is off." in manager.get(url).content.decode()

    dry = manager.post(url, {"retention_months": "24", "action": "dry_run"}).content.decode()
    assert "With 24 months, 3 contacts would be deleted now" in dry
    assert "Stumm" in dry
    assert remaining() == people["goes"] | people["stays"]
    assert retention_months(organisation) == 0, "a dry run saved the rule"

    saved = manager.post(url, {"retention_months": "24", "action": "save"}, follow=True)
    assert "The rule is on: 24 months." in saved.content.decode()
    assert retention_months(organisation) == 24
    [changed] = AuditEntry.objects.filter(action="audience.retention.changed")
    assert changed.data == {"from_months": 0, "to_months": 24}

    bad = manager.post(url, {"retention_months": "-3", "action": "save"})
    assert bad.status_code == 200
    assert retention_months(organisation) == 24

    applied = manager.post(url, {"action": "apply"}, follow=True).content.decode()
    assert "3 contacts deleted" in applied
    assert remaining() == people["stays"]
    [entry] = AuditEntry.objects.filter(action="audience.retention.applied")
    assert entry.data == {"months": 24, "deleted": 3, "skipped": 0}

    editor = Client()
    editor.force_login(member_factory(organisation, Role.EDITOR))
    assert editor.get(url).status_code == 403
    assert editor.post(url, {"action": "apply"}).status_code == 403


def retention_months(organisation: Organisation) -> int:
    return privacy.retention_months_of(organisation=organisation)


@pytest.mark.django_db
def test_the_api_reports_sets_and_applies_the_rule(
    api, token_factory, organisation, other_organisation
) -> None:
    people = audience(organisation, other_organisation)
    client = api(token_factory(organisation, Role.MANAGER))
    assert client.get("/retention").json() == {"retention_months": 0, "would_delete": 0}
    put = client.request("PUT", "/retention", json={"retention_months": 24})
    assert put.json() == {"retention_months": 24, "would_delete": 3}
    bad = client.request("PUT", "/retention", json={"retention_months": 9999})
    assert bad.status_code == 422
    assert client.post("/retention/apply").json() == {"retention_months": 24, "deleted": 3}
    assert remaining() == people["stays"]
    editor = api(token_factory(organisation, Role.EDITOR))
    assert editor.post("/retention/apply").status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_worker_applies_every_organisations_rule_once_a_day(
    organisation, other_organisation, keep_signal_handlers: Any
) -> None:
    people = audience(organisation, other_organisation)
    privacy.retention_set(organisation=organisation, months=24)
    AudienceSettings.objects.get_or_create(organisation=other_organisation)

    assert "audience.retention" in {pj.name for pj in jobs.periodic_jobs()}
    assert "audience.retention" in jobs.tick()
    assert "audience.retention" not in jobs.tick(), "enqueued twice within a day"
    call_command("worker", "--burst", stdout=io.StringIO())

    assert remaining() == people["stays"]
    # The other house has no rule: its old contact is still there.
    assert Contact.objects.filter(organisation=other_organisation).count() == 1
    assert retention_all.call() == 1
    assert retention_of_organisation.call(organisation_id=organisation.pk) == 0
