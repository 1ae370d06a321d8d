"""The contacts API over real HTTP: create, read, change, delete, timeline, consents."""

from __future__ import annotations

from publikum.audience.models import Contact
from publikum.audience.services import contact_create, interaction_record
from publikum.core.models import AuditEntry, Role
from publikum.programme.models import Theme


def test_an_integration_manages_a_contact_through_the_api(api, organisation, token_factory):
    Theme.objects.create(
        organisation=organisation, slug="fotografie", name_de="Fotografie", name_en="Photography"
    )
    client = api(token_factory(organisation, Role.MANAGER))

    created = client.post(
        "/contacts",
        json={
            "first_name": "Ada",
            "last_name": "Lovelace",
            "email": "Ada@Example.ORG",
            "language": "en",
            "interests": ["fotografie"],
            "tags": ["Presse", "Presse"],
        },
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["email"] == "Ada@example.org"
    assert body["interests"] == ["fotografie"]
    assert body["tags"] == ["Presse"]
    contact_id = body["id"]

    changed = client.patch(f"/contacts/{contact_id}", json={"postcode": "10115"})
    assert changed.status_code == 200
    assert changed.json()["postcode"] == "10115"
    assert client.get(f"/contacts/{contact_id}").json()["last_name"] == "Lovelace"

    listed = client.get("/contacts", params={"q": "lovelace"}).json()
    assert listed["count"] == 1
    assert listed["items"][0]["id"] == contact_id

    granted = client.post(
        f"/contacts/{contact_id}/consents",
        json={
            "channel": "email",
            "purpose": "newsletter",
            "granted": True,
            "source": "Anmeldung an der Kasse",
            "wording": "Ja, Newsletter",
        },
    )
    assert granted.status_code == 200
    consents = client.get(f"/contacts/{contact_id}/consents").json()
    assert [(c["purpose"], c["granted"], c["source"]) for c in consents] == [
        ("newsletter", True, "Anmeldung an der Kasse")
    ]

    interaction_record(contact=Contact.objects.get(pk=contact_id), kind="visit", summary="Besuch")
    timeline = client.get(f"/contacts/{contact_id}/timeline").json()
    assert [i["kind"] for i in timeline["items"]] == ["visit"]

    assert client.delete(f"/contacts/{contact_id}").status_code == 204
    assert client.get(f"/contacts/{contact_id}").status_code == 404
    assert not Contact.objects.filter(pk=contact_id).exists()
    actions = set(
        AuditEntry.objects.filter(organisation=organisation).values_list("action", flat=True)
    )
    assert {
        "audience.contact.created",
        "audience.contact.updated",
        "audience.consent.granted",
        "audience.contact.deleted",
    } <= actions


def test_bad_contact_input_gets_clear_errors_and_writes_nothing(api, organisation, token_factory):
    client = api(token_factory(organisation, Role.EDITOR))
    bad_email = client.post("/contacts", json={"first_name": "X", "email": "no-at-sign"})
    assert bad_email.status_code == 422
    assert "email" in bad_email.json()["error"]["fields"]

    unknown_interest = client.post(
        "/contacts", json={"first_name": "X", "interests": ["gibtsnicht"]}
    )
    assert unknown_interest.status_code == 422
    assert "gibtsnicht" in unknown_interest.json()["error"]["message"]

    empty = client.post("/contacts", json={})
    assert empty.status_code == 422

    contact = contact_create(organisation=organisation, first_name="Y", email="y@example.org")
    duplicate = client.post("/contacts", json={"first_name": "Z", "email": "Y@example.org"})
    assert duplicate.status_code == 409
    assert str(contact.pk) in duplicate.json()["error"]["message"]

    unknown_purpose = client.post(
        f"/contacts/{contact.pk}/consents",
        json={
            "channel": "email",
            "purpose": "lottery",
            "granted": True,
            "source": "x",
        },
    )
    assert unknown_purpose.status_code == 422
    assert "purpose" in unknown_purpose.json()["error"]["fields"]

    no_source = client.post(
        f"/contacts/{contact.pk}/consents",
        json={
            "channel": "email",
            "purpose": "newsletter",
            "granted": True,
            "source": " ",
        },
    )
    assert no_source.status_code == 422
    assert Contact.objects.filter(organisation=organisation).count() == 1
    assert not contact.consents.exists()


def test_viewers_read_but_cannot_write_contacts(api, organisation, token_factory):
    contact = contact_create(organisation=organisation, first_name="V", email="v@example.org")
    client = api(token_factory(organisation, Role.VIEWER))
    assert client.get(f"/contacts/{contact.pk}").status_code == 200
    assert client.post("/contacts", json={"first_name": "W"}).status_code == 403
    assert client.patch(f"/contacts/{contact.pk}", json={"notes": "x"}).status_code == 403
    assert client.delete(f"/contacts/{contact.pk}").status_code == 403
    contact.refresh_from_db()
    assert contact.notes == ""


def test_the_tag_filter_finds_tags_with_umlauts(api, organisation, token_factory):
    member = contact_create(organisation=organisation, first_name="F", tags=["Förderverein"])
    contact_create(organisation=organisation, first_name="P", tags=["Presse"])
    client = api(token_factory(organisation, Role.VIEWER))
    listed = client.get("/contacts", params={"tag": "Förderverein"}).json()
    assert [c["id"] for c in listed["items"]] == [member.pk]
