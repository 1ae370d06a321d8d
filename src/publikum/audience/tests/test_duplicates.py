"""Duplicate contacts: candidates by e-mail and by similar name with the same postcode; merge."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from conftest import make_member
from publikum.audience import duplicates
from publikum.audience.duplicates import contact_merge, duplicate_candidates, fold
from publikum.audience.models import (
    Consent,
    Contact,
    Interaction,
    LifecycleChange,
    SubscriptionRequest,
)
from publikum.audience.services import consent_set, contact_create, interaction_record
from publikum.core.errors import NotFound, ValidationFailed
from publikum.core.models import AuditEntry, Role
from publikum.programme.models import Theme

pytestmark = pytest.mark.django_db


def person(organisation, first: str, last: str, postcode: str = "80331", **kw) -> Contact:
    return contact_create(
        organisation=organisation, first_name=first, last_name=last, postcode=postcode, **kw
    )


def pairs(organisation) -> set[tuple[int, int, str]]:
    return {
        (p.first_id, p.second_id, p.reason) for p in duplicate_candidates(organisation=organisation)
    }


# --- finding ----------------------------------------------------------------------------------


def test_folding_spells_out_umlauts_and_drops_accents() -> None:
    assert fold("Müller-Lüdenscheidt") == "mueller luedenscheidt"
    assert fold("  Strauß, René ") == "strauss rene"


def test_the_same_email_in_another_case_is_a_duplicate(organisation) -> None:
    anna = contact_create(organisation=organisation, email="anna@example.org", last_name="A")
    # The service refuses a second contact with the address; imports of old data may not.
    twin = Contact.objects.create(organisation=organisation, email="Anna@Example.ORG")

    found = duplicate_candidates(organisation=organisation)

    assert [(p.first_id, p.second_id, p.reason, p.score) for p in found] == [
        (anna.pk, twin.pk, "email", 100)
    ]


def test_similar_names_with_the_same_postcode_are_duplicates(organisation) -> None:
    mueller = person(organisation, "Jürgen", "Müller")
    mueller_ascii = person(organisation, "Juergen", "Mueller", postcode="80331")
    turned = person(organisation, "Mueller", "Jürgen ", postcode="80 331")  # names swapped
    typo = person(organisation, "Jürgen", "Müler")

    found = {(p.first_id, p.second_id): p for p in duplicate_candidates(organisation=organisation)}

    assert (mueller.pk, mueller_ascii.pk) in found
    assert found[(mueller.pk, mueller_ascii.pk)].score == 100
    assert found[(mueller.pk, mueller_ascii.pk)].reason == "name_postcode"
    assert (mueller.pk, typo.pk) in found
    assert 90 <= found[(mueller.pk, typo.pk)].score < 100
    # token_sort_ratio ignores the order of the names, but the block letter is the last
    # name's: "Jürgen" as a last name lands in another block.
    assert all(turned.pk not in key for key in found)


def test_different_people_are_not_duplicates(organisation) -> None:
    person(organisation, "Anna", "Müller")
    person(organisation, "Peter", "Müller")  # same family, same postcode
    person(organisation, "Jürgen", "Müller", postcode="10115")
    person(organisation, "Jürgen", "Müller", postcode="")  # no postcode: no block
    contact_create(organisation=organisation, email="a@example.org")
    contact_create(organisation=organisation, email="b@example.org")

    assert duplicate_candidates(organisation=organisation) == []


def test_contacts_of_another_organisation_are_never_candidates(
    organisation, other_organisation
) -> None:
    person(organisation, "Jürgen", "Müller", email="j@example.org")
    person(other_organisation, "Jürgen", "Müller", email="j@example.org")

    assert duplicate_candidates(organisation=organisation) == []


def test_names_are_compared_only_within_their_block_not_all_pairs(
    organisation, monkeypatch
) -> None:
    for postcode in ("10115", "20095", "50667", "80331"):
        person(organisation, "Anna", "Berger", postcode=postcode)
        person(organisation, "Anne", "Berger", postcode=postcode)
        person(organisation, "Karl", "Zander", postcode=postcode)
    compared: list[int] = []
    extract = duplicates.process.extract

    def counting(query, choices, **kwargs):
        compared.append(len(choices))
        return extract(query, choices, **kwargs)

    monkeypatch.setattr(duplicates.process, "extract", counting)

    found = duplicate_candidates(organisation=organisation)

    assert len(found) == 4  # Anna/Anne Berger in each postcode
    # 12 contacts would be 66 pairs; blocks by postcode and letter leave 4.
    assert sum(compared) == 4


# --- merging ----------------------------------------------------------------------------------


@pytest.fixture
def two(organisation) -> tuple[Contact, Contact]:
    keep = person(organisation, "Jürgen", "Müller", email="juergen@example.org", tags=["Abo"])
    merge = person(
        organisation, "Juergen", "Mueller", phone="089 123", birthday="1961-07-03", tags=["Presse"]
    )
    merge.email = "j.mueller@example.org"
    merge.save()
    return keep, merge


def at(month: int) -> datetime:
    return datetime(2025, month, 1, 12, tzinfo=UTC)


def test_merge_joins_timelines_and_keeps_the_latest_consent_per_channel_and_purpose(
    organisation, owner, two
) -> None:
    keep, merge = two
    interaction_record(contact=keep, kind="visit", occurred_at=at(1))
    interaction_record(contact=merge, kind="visit", occurred_at=at(2))
    interaction_record(contact=merge, kind="booking", occurred_at=at(3))
    consent_set(contact=keep, channel="email", purpose="newsletter", granted=True,
                source="Formular", at=at(1))  # fmt: skip
    consent_set(contact=merge, channel="email", purpose="newsletter", granted=False,
                source="Abmeldung", at=at(4))  # fmt: skip
    consent_set(contact=keep, channel="email", purpose="offers", granted=False,
                source="Abmeldung", at=at(5))  # fmt: skip
    consent_set(contact=merge, channel="email", purpose="offers", granted=True,
                source="Kasse", at=at(2))  # fmt: skip
    consent_set(contact=merge, channel="post", purpose="feedback", granted=True,
                source="Kasse", at=at(2))  # fmt: skip
    theme = Theme.objects.create(
        organisation=organisation, slug="musik", name_de="Musik", name_en="Music"
    )
    merge.interests.add(theme)
    SubscriptionRequest.objects.create(organisation=organisation, contact=merge, nonce="n-1")
    LifecycleChange.objects.create(
        organisation=organisation, contact=merge, from_stage="new", to_stage="regular",
        changed_at=at(3),
    )  # fmt: skip
    merged_id = merge.pk

    kept = contact_merge(keep=keep, merge=merge, actor=owner)

    assert not Contact.objects.filter(pk=merged_id).exists()
    assert list(
        Interaction.objects.filter(contact=kept).order_by("occurred_at").values_list("kind")
    ) == [("visit",), ("visit",), ("booking",)]
    consents = {
        (c.channel, c.purpose): (c.granted, c.source) for c in Consent.objects.filter(contact=kept)
    }
    assert consents == {
        ("email", "newsletter"): (False, "Abmeldung"),  # the later withdrawal wins
        ("email", "offers"): (False, "Abmeldung"),  # the kept later withdrawal stays
        ("post", "feedback"): (True, "Kasse"),  # moved over
    }
    assert [t.slug for t in kept.interests.all()] == ["musik"]
    assert kept.tags == ["Abo", "Presse"]
    assert kept.subscription_requests.count() == 1
    assert kept.stage_changes.count() == 1
    # Empty fields are filled, filled ones stay.
    assert (kept.first_name, kept.email, kept.phone) == ("Jürgen", "juergen@example.org", "089 123")
    assert kept.birthday.isoformat() == "1961-07-03"
    entry = AuditEntry.objects.get(action="audience.contact.merged")
    assert entry.data["kept_id"] == kept.pk
    assert entry.data["merged_id"] == merged_id
    assert not re.search(r"(?i)m(ü|ue)ller|example\.org|089", str(entry.data))


def test_a_merge_across_organisations_is_impossible(organisation, other_organisation) -> None:
    ours = person(organisation, "Jürgen", "Müller")
    theirs = person(other_organisation, "Jürgen", "Müller")
    interaction_record(contact=theirs, kind="visit")

    with pytest.raises(NotFound):
        contact_merge(keep=ours, merge=theirs)

    assert Contact.objects.filter(pk=theirs.pk).exists()
    assert theirs.interactions.count() == 1


def test_a_contact_cannot_be_merged_with_itself(organisation) -> None:
    ours = person(organisation, "Jürgen", "Müller")

    with pytest.raises(ValidationFailed, match="with itself"):
        contact_merge(keep=ours, merge=ours)
    assert Contact.objects.filter(pk=ours.pk).exists()


# --- staff pages ------------------------------------------------------------------------------


def page_text(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", response.content.decode()))


def test_staff_see_the_pairs_compare_and_merge(organisation, owner, two) -> None:
    keep, merge = two
    interaction_record(contact=merge, kind="visit")
    client = Client()
    client.force_login(owner)
    client.cookies["django_language"] = "en"
    base = f"/o/{organisation.slug}/contacts/duplicates/"

    listing = page_text(client.get(base))

    assert "1 candidate pair" in listing
    assert "similar name, same postcode" in listing
    merge_url = f"{base}{keep.pk}/{merge.pk}/"
    assert f'href="{merge_url}"' in listing
    compare = re.sub(r"<[^>]+>", " ", page_text(client.get(merge_url)))
    assert re.search(r"Phone\s+—\s+089 123\s+\(will be taken over\)", compare)

    response = client.post(merge_url)

    assert response.status_code == 302
    assert response["Location"] == f"/o/{organisation.slug}/contacts/{keep.pk}/"
    assert not Contact.objects.filter(pk=merge.pk).exists()
    assert keep.interactions.count() == 1
    assert "No duplicates found." in page_text(client.get(base))


def test_a_merge_page_with_a_contact_of_another_organisation_is_not_found(
    organisation, other_organisation, owner_client
) -> None:
    ours = person(organisation, "Jürgen", "Müller")
    theirs = person(other_organisation, "Jürgen", "Müller")

    for keep, merge in ((ours.pk, theirs.pk), (theirs.pk, ours.pk)):
        url = f"/o/{organisation.slug}/contacts/duplicates/{keep}/{merge}/"
        assert owner_client.get(url).status_code == 404
        assert owner_client.post(url).status_code == 404
    assert Contact.objects.filter(pk=theirs.pk).exists()
    assert Contact.objects.filter(pk=ours.pk).exists()


def test_viewers_cannot_merge(organisation, two) -> None:
    keep, merge = two
    client = Client()
    client.force_login(make_member(organisation, Role.VIEWER))

    response = client.post(f"/o/{organisation.slug}/contacts/duplicates/{keep.pk}/{merge.pk}/")

    assert response.status_code == 403
    assert Contact.objects.filter(pk=merge.pk).exists()
