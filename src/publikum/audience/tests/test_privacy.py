"""Personal-data rights: export everything about one person, erase one person."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from publikum.audience import privacy, selectors
from publikum.audience.models import (
    Consent,
    Contact,
    Interaction,
    LifecycleChange,
    SubscriptionRequest,
)
from publikum.audience.services import consent_set, contact_create, interaction_record
from publikum.core.models import AuditEntry, Organisation, ReceivedMail, Role
from publikum.programme.models import Theme

pytestmark = pytest.mark.django_db

SECRETS = ["Fanny", "Hensel", "fanny.hensel@example.org", "+49 30 123456", "10117", "Notiz F."]


def make_person(organisation: Organisation) -> Contact:
    theme = Theme.objects.create(
        organisation=organisation, slug="musik", name_de="Musik", name_en="Music"
    )
    contact = contact_create(
        organisation=organisation,
        first_name="Fanny",
        last_name="Hensel",
        email="fanny.hensel@example.org",
        phone="+49 30 123456",
        postcode="10117",
        birthday=date(1805, 11, 14),
        notes="Notiz F.",
        tags=["stammgast", "chor"],
        interests=["musik"],
    )
    assert theme in contact.interests.all()
    consent_set(
        contact=contact,
        channel="email",
        purpose="newsletter",
        granted=True,
        source="double opt-in 2026-03-01",
        wording="Ja, schickt mir den Newsletter.",
    )
    consent_set(contact=contact, channel="post", purpose="offers", granted=False, source="staff")
    for days in (400, 200, 20):
        interaction_record(
            contact=contact,
            kind="visit",
            occurred_at=timezone.now() - timedelta(days=days),
            summary="Besuch mit Fanny Hensel",
            data={"note": "Fanny kam mit dem Chor"},
        )
    SubscriptionRequest.objects.create(
        organisation=organisation,
        contact=contact,
        purposes=["newsletter"],
        wording="[newsletter] Newsletter",
        nonce="nonce-fanny",
        confirmed_at=timezone.now(),
    )
    LifecycleChange.objects.create(
        organisation=organisation,
        contact=contact,
        from_stage="regular",
        to_stage="loyal",
        changed_at=timezone.now(),
    )
    return contact


@pytest.fixture
def person(organisation: Organisation) -> Contact:
    return make_person(organisation)


@pytest.fixture
def neighbour(organisation: Organisation) -> Contact:
    contact = contact_create(
        organisation=organisation,
        first_name="Felix",
        last_name="Nachbar",
        email="felix@example.org",
    )
    interaction_record(contact=contact, kind="visit", summary="Felix war da")
    consent_set(contact=contact, channel="email", purpose="offers", granted=True, source="x")
    return contact


# --- export --------------------------------------------------------------------------------


def test_export_holds_every_part_and_nothing_of_another_person(
    api, token_factory, organisation, person, neighbour
) -> None:
    client = api(token_factory(organisation, Role.MANAGER))
    response = client.get(f"/contacts/{person.pk}/export")
    assert response.status_code == 200, response.text
    data = response.json()

    assert data["format"] == "publikum.contact-export/1"
    profile = data["profile"]
    assert profile["email"] == "fanny.hensel@example.org"
    assert (profile["first_name"], profile["last_name"]) == ("Fanny", "Hensel")
    assert profile["birthday"] == "1805-11-14"
    assert profile["phone"] == "+49 30 123456"
    assert profile["notes"] == "Notiz F."
    assert data["interests"] == [{"slug": "musik", "name_de": "Musik", "name_en": "Music"}]
    assert data["tags"] == ["chor", "stammgast"]
    consents = {(c["channel"], c["purpose"]): c for c in data["consents"]}
    assert consents["email", "newsletter"]["granted"] is True
    assert consents["email", "newsletter"]["source"] == "double opt-in 2026-03-01"
    assert consents["email", "newsletter"]["wording"] == "Ja, schickt mir den Newsletter."
    assert consents["email", "newsletter"]["granted_at"]
    assert consents["post", "offers"]["granted"] is False
    assert [i["kind"] for i in data["timeline"]] == ["visit"] * 3
    assert data["timeline"][0]["summary"] == "Besuch mit Fanny Hensel"
    assert data["timeline"][0]["data"] == {"note": "Fanny kam mit dem Chor"}
    assert data["subscription_requests"][0]["purposes"] == ["newsletter"]
    assert "nonce" not in json.dumps(data["subscription_requests"])
    assert data["lifecycle_history"][0]["to_stage"] == "loyal"

    for marker in ("Felix", "Nachbar", "felix@example.org", "Felix war da"):
        assert marker not in response.text

    [entry] = AuditEntry.objects.filter(action="audience.contact.exported")
    assert entry.data == {"contact_id": person.pk}


def test_export_needs_a_manager_and_stays_in_the_house(
    api, token_factory, organisation, other_organisation, person
) -> None:
    for role in (Role.EDITOR, Role.VIEWER):
        response = api(token_factory(organisation, role)).get(f"/contacts/{person.pk}/export")
        assert response.status_code == 403
        assert "Fanny" not in response.text
    foreign = api(token_factory(other_organisation, Role.OWNER)).get(
        f"/contacts/{person.pk}/export"
    )
    assert foreign.status_code == 404
    assert "Fanny" not in foreign.text
    assert not AuditEntry.objects.filter(action="audience.contact.exported").exists()


def test_staff_download_the_export_from_the_contact_page(
    organisation, person, member_factory
) -> None:
    manager = Client()
    manager.force_login(member_factory(organisation, Role.MANAGER))
    response = manager.get(f"/o/{organisation.slug}/contacts/{person.pk}/export/")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.content)
    assert data["profile"]["last_name"] == "Hensel"

    editor = Client()
    editor.force_login(member_factory(organisation, Role.EDITOR))
    assert editor.get(f"/o/{organisation.slug}/contacts/{person.pk}/export/").status_code == 403


def test_other_modules_can_add_their_data_to_export_and_erasure(
    organisation, person, monkeypatch
) -> None:
    erased: list[int] = []
    monkeypatch.setattr(privacy, "_HANDLERS", {})
    privacy.register_personal_data(
        "bookings", export=lambda c: [{"code": f"T-{c.pk}"}], erase=lambda c: erased.append(c.pk)
    )
    assert privacy.contact_export(contact=person)["other_modules"] == {
        "bookings": [{"code": f"T-{person.pk}"}]
    }
    privacy.contact_erase(contact=person)
    assert erased == [person.pk]


# --- erasure -------------------------------------------------------------------------------


def test_erasure_removes_personal_data_from_every_table_and_keeps_aggregates(
    api, token_factory, organisation, person, neighbour
) -> None:
    since = timezone.now() - timedelta(days=365 * 3)
    visits_before = selectors.interaction_count(
        organisation=organisation, kind="visit", since=since
    )
    ReceivedMail.objects.create(
        organisation=organisation,
        mail_from="noreply@example.org",
        recipients=["Fanny.Hensel@example.org"],
        subject="Bitte bestätigen",
        raw="To: fanny.hensel@example.org\n\nHallo Fanny",
    )
    ReceivedMail.objects.create(
        organisation=organisation,
        mail_from="noreply@example.org",
        recipients=["felix@example.org"],
        subject="Hallo Felix",
        raw="To: felix@example.org\n\nHallo Felix",
    )

    response = api(token_factory(organisation, Role.MANAGER)).post(f"/contacts/{person.pk}/erase")
    assert response.status_code == 200, response.text
    assert response.json()["id"] == person.pk

    person.refresh_from_db()
    assert person.erased_at is not None
    for field in ("first_name", "last_name", "organisation_name", "email", "phone", "postcode"):
        assert getattr(person, field) == "", field
    assert person.birthday is None
    assert person.notes == ""
    assert person.tags == []
    assert not person.interests.exists()
    assert not Consent.objects.filter(contact=person).exists()
    assert not SubscriptionRequest.objects.filter(contact=person).exists()
    kept = Interaction.objects.filter(contact=person)
    assert kept.count() == 3
    assert set(kept.values_list("summary", flat=True)) == {""}
    assert [i.data for i in kept] == [{}, {}, {}]
    assert list(ReceivedMail.objects.values_list("subject", flat=True)) == ["Hallo Felix"]
    assert LifecycleChange.objects.filter(contact=person).count() == 1

    # Aggregates stay right; the neighbour is untouched.
    assert (
        selectors.interaction_count(organisation=organisation, kind="visit", since=since)
        == visits_before
    )
    neighbour.refresh_from_db()
    assert neighbour.email == "felix@example.org"
    assert Consent.objects.filter(contact=neighbour, granted=True).count() == 1

    # Staff search never finds the person again, neither page nor API.
    for q in ("Fanny", "Hensel", "fanny.hensel", "10117"):
        assert not selectors.contact_list(organisation=organisation, filters={"q": q}).exists()
    listed = api(token_factory(organisation, Role.OWNER)).get("/contacts", params={"q": "Hensel"})
    assert listed.json()["items"] == []

    # The audit log keeps the erasure, with no personal data anywhere in it.
    [entry] = AuditEntry.objects.filter(action="audience.contact.erased")
    assert entry.data == {"contact_id": person.pk}
    everything = json.dumps([e.data for e in AuditEntry.objects.all()], ensure_ascii=False)
    for marker in SECRETS:
        assert marker not in everything
    assert "fanny" not in " ".join(AuditEntry.objects.values_list("actor_label", flat=True))


def test_erasing_twice_is_a_conflict(api, token_factory, organisation, person) -> None:
    client = api(token_factory(organisation, Role.OWNER))
    assert client.post(f"/contacts/{person.pk}/erase").status_code == 200
    again = client.post(f"/contacts/{person.pk}/erase")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"
    # An erased contact cannot be edited back into a person.
    patched = client.patch(f"/contacts/{person.pk}", json={"first_name": "Fanny"})
    assert patched.status_code == 409


def test_erasure_needs_a_manager_and_stays_in_the_house(
    api, token_factory, organisation, other_organisation, person
) -> None:
    editor = api(token_factory(organisation, Role.EDITOR)).post(f"/contacts/{person.pk}/erase")
    assert editor.status_code == 403
    foreign = api(token_factory(other_organisation, Role.OWNER)).post(
        f"/contacts/{person.pk}/erase"
    )
    assert foreign.status_code == 404
    person.refresh_from_db()
    assert person.erased_at is None
    assert person.email == "fanny.hensel@example.org"


def test_staff_erase_from_the_contact_page_with_a_confirmation_step(
    organisation, person, member_factory
) -> None:
    manager = Client(headers={"accept-language": "en"})
    manager.force_login(member_factory(organisation, Role.MANAGER))
    url = f"/o/{organisation.slug}/contacts/{person.pk}/erase/"

    step = manager.get(url)
    assert step.status_code == 200
    assert "Kept without details: 3 timeline entries" in step.content.decode()

    unconfirmed = manager.post(url, {})
    assert unconfirmed.status_code == 400
    assert "Please tick the box to confirm." in unconfirmed.content.decode()
    person.refresh_from_db()
    assert person.erased_at is None

    done = manager.post(url, {"confirm": "on"}, follow=True)
    assert done.redirect_chain[-1][0] == f"/o/{organisation.slug}/contacts/"
    assert "Fanny" not in done.content.decode()
    person.refresh_from_db()
    assert person.erased_at is not None
    assert "erased on" in manager.get(url).content.decode()
    search = manager.get(f"/o/{organisation.slug}/contacts/", {"q": "Hensel"}).content.decode()
    table = search[search.index('data-testid="contacts"') :]
    assert "No contacts match." in table
    assert "Hensel" not in table

    editor = Client()
    editor.force_login(member_factory(organisation, Role.EDITOR))
    assert editor.post(url, {"confirm": "on"}).status_code == 403
