"""What discovery keeps about a person: exported with the contact, erased with them, and
offers purged after OFFER_RETENTION_DAYS (discovery.privacy)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from publikum.audience.privacy import contact_erase, contact_export
from publikum.core.models import AuditEntry
from publikum.discovery import precompute
from publikum.discovery.models import OFFER_RETENTION_DAYS, Offer, OfferChannel, StoredList
from publikum.discovery.offers import OfferedItem, offers_record
from publikum.discovery.stored import entries_of
from publikum.discovery.tasks import offers_purge
from publikum.discovery.tests.house import House, build_house


@pytest.fixture
def house(organisation) -> House:
    return build_house(organisation)


def offer(house: House, name: str, slug: str, *, days_ago: float = 0, channel: str = "newsletter"):
    return offers_record(
        organisation=house.organisation,
        contact=house.contacts[name],
        items=[OfferedItem(item_id=house.upcoming[slug].pk, occurrence_id=None, rank=1)],
        channel=channel,
        horizon=0.3,
        at=timezone.now() - timedelta(days=days_ago),
    )


def test_the_export_names_the_offers_and_the_stored_list(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    offer(house, "Anna", "stadtgeschichte-zu-fuss", days_ago=3)
    offer(house, "Anna", "neue-fotografie", channel=OfferChannel.WEBSITE)
    offer(house, "Foto0", "jazznacht")

    data = contact_export(contact=house.contacts["Anna"])["other_modules"]["discovery"]

    json.dumps(data)  # JSON as it is, no custom encoder
    assert [
        (
            o["item"]["title_de"],
            o["item"]["title_en"],
            o["channel"],
            o["outside_usual"],
            o["new_kind"],
        )
        for o in data["offers"]
    ] == [
        # A city tour for a photography visitor: outside her themes, a new kind.
        ("Stadtgeschichte zu Fuß", "City History on Foot", "newsletter", True, True),
        ("Neue Fotografie aus Sachsen", "New Photography from Saxony", "website", False, False),
    ]
    assert all(o["offered_at"] for o in data["offers"])
    listed = data["stored_list"]
    row = StoredList.objects.get(contact=house.contacts["Anna"])
    assert listed["horizon"] == 0.3
    assert listed["basis"] == "history"
    assert [i["item"]["id"] for i in listed["items"]] == [e.item for e in entries_of(row.items)]
    assert listed["items"][0]["item"]["title_de"] == "Neue Fotografie aus Sachsen"
    assert listed["items"][0]["reasons"][0]["kind"] == "because_visited"


def test_the_export_of_someone_never_offered_anything_is_empty(house) -> None:
    data = contact_export(contact=house.contacts["Clara"])["other_modules"]["discovery"]

    assert data == {"offers": [], "stored_list": None}


def test_erasure_deletes_the_offers_and_the_stored_list(house) -> None:
    precompute.lists_precompute(organisation=house.organisation)
    offer(house, "Anna", "stadtgeschichte-zu-fuss")
    offer(house, "Foto0", "jazznacht")
    anna = house.contacts["Anna"]

    contact_erase(contact=anna)

    assert not Offer.objects.filter(contact=anna).exists()
    assert not StoredList.objects.filter(contact=anna).exists()
    # Nobody else's.
    assert Offer.objects.filter(contact=house.contacts["Foto0"]).count() == 1
    assert StoredList.objects.filter(contact=house.contacts["Foto0"]).exists()


def test_the_nightly_purge_deletes_offers_past_the_retention_only(
    house, other_organisation
) -> None:
    old = offer(house, "Anna", "stadtgeschichte-zu-fuss", days_ago=OFFER_RETENTION_DAYS + 1)
    kept = offer(house, "Anna", "neue-fotografie", days_ago=OFFER_RETENTION_DAYS - 1)

    assert offers_purge.call() == 1

    assert set(Offer.objects.values_list("pk", flat=True)) == {kept[0].pk}
    assert not Offer.objects.filter(pk=old[0].pk).exists()
    entry = AuditEntry.objects.get(action="discovery.offers.purged")
    assert entry.organisation == house.organisation
    assert entry.data["deleted"] == 1
    assert offers_purge.call() == 0  # safe to run twice
