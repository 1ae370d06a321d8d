"""The bookings API over real HTTP: availability, book, list, get, cancel, idempotency."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from publikum.audience.models import Contact, Interaction
from publikum.bookings.models import Booking, BookingRequestKey
from publikum.core.models import AuditEntry, Organisation, Role
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    PriceCategory,
    ProgrammeItem,
    Venue,
)


def make_date(
    organisation: Organisation,
    *,
    capacity: int = 10,
    starts_in: timedelta = timedelta(days=5),
    prices: tuple[tuple[str, str, str], ...] = (
        ("Regulär", "Regular", "12.00"),
        ("Ermäßigt", "Reduced", "8.00"),
    ),
    **item_fields: object,
) -> Occurrence:
    n = ProgrammeItem.objects.filter(organisation=organisation).count() + 1
    venue = Venue.objects.create(organisation=organisation, name_de=f"Saal {n}")
    item = ProgrammeItem.objects.create(
        organisation=organisation,
        slug=f"fuehrung-{n}",
        kind=ItemKind.TOUR,
        title_de=f"Führung {n}",
        venue=venue,
        **item_fields,
    )
    for position, (name_de, name_en, price) in enumerate(prices):
        PriceCategory.objects.create(
            organisation=organisation,
            item=item,
            name_de=name_de,
            name_en=name_en,
            price_eur=Decimal(price),
            position=position,
        )
    starts = timezone.now() + starts_in
    return Occurrence.objects.create(
        organisation=organisation,
        item=item,
        starts_at=starts,
        ends_at=starts + timedelta(hours=2),
        capacity=capacity,
    )


def booking_body(occurrence: Occurrence, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "occurrence_id": occurrence.pk,
        "quantity": 1,
        "contact": {"email": "ada@example.org", "name": "Ada Lovelace", "language": "en"},
    }
    body.update(overrides)
    return body


def confirmed_seats(occurrence: Occurrence) -> int:
    return sum(
        Booking.objects.filter(occurrence=occurrence, status="confirmed").values_list(
            "quantity", flat=True
        )
    )


def test_the_box_office_books_two_seats_and_sees_the_booking_everywhere(
    api, organisation, token_factory
):
    date = make_date(organisation, capacity=10)
    client = api(token_factory(organisation, Role.FRONT_DESK))

    before = client.get(f"/occurrences/{date.pk}/availability")
    assert before.status_code == 200
    assert before.json() | {"starts_at": None, "ends_at": None} == {
        "occurrence_id": date.pk,
        "item_id": date.item_id,
        "starts_at": None,
        "ends_at": None,
        "status": "scheduled",
        "capacity": 10,
        "sold": 0,
        "held": 0,
        "free": 10,
        "bookable": True,
        "reason": None,
        "price_categories": [
            {"id": c.pk, "name_de": c.name_de, "name_en": c.name_en, "price_eur": str(c.price_eur)}
            for c in date.item.price_categories.all()
        ],
    }

    created = client.post("/bookings", json=booking_body(date, quantity=2))
    assert created.status_code == 201, created.text
    booking = created.json()
    assert booking["status"] == "confirmed"
    assert booking["occurrence_id"] == date.pk
    assert booking["quantity"] == 2
    assert Decimal(booking["total_eur"]) == Decimal("24.00")
    assert [(line["name_de"], line["quantity"]) for line in booking["lines"]] == [("Regulär", 2)]
    assert booking["source"] == "api"
    assert booking["language"] == "en"
    assert len(booking["code"]) == 8

    got = client.get(f"/bookings/{booking['code'].lower()}")
    assert got.status_code == 200
    assert got.json() == booking
    listed = client.get("/bookings", params={"occurrence_id": date.pk}).json()
    assert listed["count"] == 1
    assert listed["items"][0]["code"] == booking["code"]

    after = client.get(f"/occurrences/{date.pk}/availability").json()
    assert (after["sold"], after["free"]) == (2, 8)

    contact = Contact.objects.get(organisation=organisation, email="ada@example.org")
    assert booking["contact_id"] == contact.pk
    assert (contact.first_name, contact.last_name) == ("Ada", "Lovelace")
    timeline = client.get(f"/contacts/{contact.pk}/timeline").json()["items"]
    assert [(i["kind"], i["occurrence_id"], i["quantity"], i["summary"]) for i in timeline] == [
        ("booking", date.pk, 2, booking["code"])
    ]
    audit = AuditEntry.objects.get(organisation=organisation, action="bookings.booking.created")
    assert audit.actor_token.role == Role.FRONT_DESK
    assert audit.data == {"occurrence_id": date.pk, "quantity": 2, "source": "api"}


def test_seats_per_price_category_are_priced_per_category(api, organisation, token_factory):
    date = make_date(organisation)
    regular, reduced = date.item.price_categories.all()
    client = api(token_factory(organisation, Role.MANAGER))

    created = client.post(
        "/bookings",
        json=booking_body(
            date,
            quantity=None,
            per_category={str(regular.pk): 2, str(reduced.pk): 1},
            consents=["newsletter"],
        ),
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["quantity"] == 3
    assert Decimal(body["total_eur"]) == Decimal("32.00")
    assert [
        (
            line["price_category_id"],
            line["name_en"],
            Decimal(line["unit_price_eur"]),
            line["quantity"],
        )
        for line in body["lines"]
    ] == [(regular.pk, "Regular", Decimal("12.00"), 2), (reduced.pk, "Reduced", Decimal("8.00"), 1)]


def test_the_language_of_the_mails_defaults_to_the_organisations(api, organisation, token_factory):
    organisation.language = "en"
    organisation.save(update_fields=["language"])
    date = make_date(organisation)
    client = api(token_factory(organisation, Role.FRONT_DESK))
    body = booking_body(date, contact={"email": "grace@example.org", "name": "Grace Hopper"})

    created = client.post("/bookings", json=body)

    assert created.status_code == 201, created.text
    assert created.json()["language"] == "en"


def test_a_request_for_more_seats_than_are_left_says_how_many_are_left(
    api, organisation, token_factory
):
    date = make_date(organisation, capacity=5)
    client = api(token_factory(organisation, Role.FRONT_DESK))
    assert client.post("/bookings", json=booking_body(date, quantity=3)).status_code == 201

    too_many = client.post(
        "/bookings",
        json=booking_body(date, quantity=3, contact={"email": "b@example.org", "name": "B"}),
    )

    assert too_many.status_code == 409
    assert too_many.json() == {
        "error": {
            "code": "sold_out",
            "message": "Only 2 seats left; 3 were requested.",
            "fields": {},
        }
    }
    last_two = client.post(
        "/bookings",
        json=booking_body(date, quantity=2, contact={"email": "c@example.org", "name": "C"}),
    )
    assert last_two.status_code == 201
    sold_out = client.post(
        "/bookings",
        json=booking_body(date, quantity=1, contact={"email": "d@example.org", "name": "D"}),
    )
    assert sold_out.status_code == 409
    assert sold_out.json()["error"]["code"] == "sold_out"
    assert "sold out" in sold_out.json()["error"]["message"]
    availability = client.get(f"/occurrences/{date.pk}/availability").json()
    assert availability["status"] == "sold_out"
    assert (availability["free"], availability["bookable"]) == (0, False)
    assert availability["reason"] == "This date is sold out."
    assert confirmed_seats(date) == 5
    assert not Contact.objects.filter(email__in=["b@example.org", "d@example.org"]).exists()


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"quantity": 0}, (422, "quantity", "at least one ticket")),
        ({"quantity": -2}, (422, "quantity", "cannot be negative")),
        ({"quantity": "2"}, (422, "quantity", "valid integer")),
        ({"quantity": 2.5}, (422, "quantity", "valid integer")),
        ({"quantity": True}, (422, "quantity", "valid integer")),
        ({"quantity": 21}, (422, "quantity", "At most 20 tickets")),
        ({"quantity": None}, (422, "quantity", "either a quantity or")),
        ({"per_category": {"999999": 1}}, (422, "quantity", "either a quantity or")),
        ({"quantity": None, "per_category": {"999999": 1}}, (422, "per_category", "999999")),
        ({"quantity": None, "per_category": {"abc": 1}}, (422, "per_category.abc.[key]", "valid")),
        ({"quantity": None, "per_category": {}}, (422, "quantity", "at least one ticket")),
        ({"contact": {"email": "no-at-sign", "name": "X"}}, (422, "contact.email", "e-mail")),
        ({"contact": {"email": "", "name": "X"}}, (422, "contact.email", "email (required)")),
        ({"contact": {"email": "x@example.org", "name": "  "}}, (422, "contact.name", "name")),
        ({"contact": {"email": "x@example.org"}}, (422, "contact.name", "Field required")),
        (
            {"contact": {"email": "x@example.org", "name": "X", "language": "fr"}},
            (422, "contact.language", "'de' or 'en'"),
        ),
        (
            {"contact": {"email": "x@example.org", "name": "X", "phone": "0221"}},
            (422, "contact.phone", "unknown field"),
        ),
        ({"seats": 2}, (422, "seats", "unknown field")),
        ({"consents": ["lottery"]}, (422, "consents", "lottery")),
        ({"occurrence_id": "neun"}, (422, "occurrence_id", "valid integer")),
        ({"occurrence_id": 999999}, (404, None, "no such date")),
    ],
)
def test_bad_input_gets_a_clear_error_and_books_nothing(
    api, organisation, token_factory, change, expected
):
    status, field, message = expected
    date = make_date(organisation)
    client = api(token_factory(organisation, Role.FRONT_DESK))

    answer = client.post("/bookings", json=booking_body(date, **change))

    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert message.lower() in error["message"].lower() + str(error["fields"]).lower()
    if field:
        assert field in error["fields"], error
    assert not Booking.objects.exists()
    assert not Contact.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="bookings.").exists()


def test_a_price_category_of_another_item_is_refused(api, organisation, token_factory):
    date = make_date(organisation)
    other = make_date(organisation)
    foreign = other.item.price_categories.first()
    client = api(token_factory(organisation, Role.FRONT_DESK))

    answer = client.post(
        "/bookings", json=booking_body(date, quantity=None, per_category={str(foreign.pk): 1})
    )

    assert answer.status_code == 422
    assert answer.json()["error"]["message"] == (
        f"Price category {foreign.pk} does not belong to this date."
    )
    assert not Booking.objects.exists()


def test_past_cancelled_and_unbookable_dates_cannot_be_booked(api, organisation, token_factory):
    past = make_date(organisation, starts_in=timedelta(hours=-1))
    cancelled = make_date(organisation)
    Occurrence.objects.filter(pk=cancelled.pk).update(status=OccurrenceStatus.CANCELLED)
    exhibition = make_date(organisation, bookable=False)
    draft = make_date(organisation, published=False)
    client = api(token_factory(organisation, Role.OWNER))

    reasons = {}
    for date in (past, cancelled, exhibition, draft):
        answer = client.post("/bookings", json=booking_body(date))
        assert answer.status_code == 409, answer.text
        assert answer.json()["error"]["code"] == "not_bookable"
        availability = client.get(f"/occurrences/{date.pk}/availability").json()
        assert availability["bookable"] is False
        assert availability["reason"] == answer.json()["error"]["message"]
        reasons[date.pk] = availability["reason"]

    assert reasons[past.pk] == "This date has already begun or is over."
    assert reasons[cancelled.pk] == "This date has been cancelled."
    assert reasons[exhibition.pk] == "This date cannot be booked here."
    assert reasons[draft.pk] == "This date cannot be booked here."
    assert not Booking.objects.exists()


def test_cancelling_frees_the_seats_and_a_second_cancel_is_a_conflict(
    api, organisation, token_factory
):
    date = make_date(organisation, capacity=2)
    client = api(token_factory(organisation, Role.FRONT_DESK))
    code = client.post("/bookings", json=booking_body(date, quantity=2)).json()["code"]
    assert client.get(f"/occurrences/{date.pk}/availability").json()["status"] == "sold_out"

    cancelled = client.post(f"/bookings/{code}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["code"], body["status"]) == (code, "cancelled")
    assert body["cancelled_at"] is not None
    availability = client.get(f"/occurrences/{date.pk}/availability").json()
    assert (availability["status"], availability["free"]) == ("scheduled", 2)
    again = client.post(f"/bookings/{code}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["message"] == "This booking is already cancelled."
    contact_id = body["contact_id"]
    kinds = [i["kind"] for i in client.get(f"/contacts/{contact_id}/timeline").json()["items"]]
    assert kinds == ["booking_cancelled", "booking"]
    entry = AuditEntry.objects.get(action="bookings.booking.cancelled")
    assert entry.data["via"] == "api"
    assert entry.actor_token is not None
    listed = client.get("/bookings", params={"status": "cancelled"}).json()
    assert [b["code"] for b in listed["items"]] == [code]
    assert client.get("/bookings", params={"status": "confirmed"}).json()["count"] == 0


def test_a_viewer_reads_but_neither_books_nor_cancels(api, organisation, token_factory):
    date = make_date(organisation)
    code = (
        api(token_factory(organisation, Role.FRONT_DESK))
        .post("/bookings", json=booking_body(date))
        .json()["code"]
    )
    viewer = api(token_factory(organisation, Role.VIEWER))

    assert viewer.get(f"/occurrences/{date.pk}/availability").status_code == 200
    assert viewer.get(f"/bookings/{code}").status_code == 200
    assert viewer.get("/bookings").json()["count"] == 1
    booked = viewer.post(
        "/bookings", json=booking_body(date, contact={"email": "v@example.org", "name": "V"})
    )
    assert booked.status_code == 403
    assert "front_desk" in booked.json()["error"]["message"]
    assert viewer.post(f"/bookings/{code}/cancel").status_code == 403
    assert Booking.objects.get(code=code).status == "confirmed"
    assert Booking.objects.count() == 1


def test_another_organisations_dates_and_codes_are_not_found(
    api, organisation, other_organisation, token_factory
):
    theirs = make_date(other_organisation)
    their_code = (
        api(token_factory(other_organisation, Role.OWNER))
        .post("/bookings", json=booking_body(theirs))
        .json()["code"]
    )
    ours = api(token_factory(organisation, Role.OWNER))

    assert ours.get(f"/occurrences/{theirs.pk}/availability").status_code == 404
    booked = ours.post(
        "/bookings", json=booking_body(theirs, contact={"email": "o@example.org", "name": "O"})
    )
    assert booked.status_code == 404
    assert booked.json()["error"]["message"] == "There is no such date."
    assert ours.get(f"/bookings/{their_code}").status_code == 404
    assert ours.post(f"/bookings/{their_code}/cancel").status_code == 404
    assert ours.get("/bookings/UNKNOWN1").status_code == 404
    assert ours.get("/bookings").json()["count"] == 0
    assert ours.get("/bookings", params={"occurrence_id": theirs.pk}).json()["count"] == 0
    assert Booking.objects.get(code=their_code).status == "confirmed"
    assert not Contact.objects.filter(organisation=organisation).exists()


def test_a_retry_with_the_same_idempotency_key_gets_the_first_booking(
    api, organisation, token_factory
):
    date = make_date(organisation, capacity=2)
    client = api(token_factory(organisation, Role.FRONT_DESK))
    key = {"Idempotency-Key": "4f7c8a52-1d43-4c55-9a3e-0b6f3c1d2e7f"}
    body = booking_body(date, quantity=2)

    first = client.post("/bookings", json=body, headers=key)
    retry = client.post("/bookings", json=body, headers=key)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    # The date is sold out now, and the retry still gets its booking, not "sold out".
    assert Booking.objects.count() == 1
    assert AuditEntry.objects.filter(action="bookings.booking.created").count() == 1
    assert Interaction.objects.filter(kind="booking").count() == 1

    other_body = client.post("/bookings", json=booking_body(date, quantity=1), headers=key)
    assert other_body.status_code == 422
    assert "different request" in other_body.json()["error"]["message"]
    assert "Idempotency-Key" in other_body.json()["error"]["fields"]

    new_key = client.post("/bookings", json=body, headers={"Idempotency-Key": "another-request"})
    assert new_key.status_code == 409
    assert new_key.json()["error"]["code"] == "sold_out"
    assert Booking.objects.count() == 1


def test_keys_belong_to_one_organisation_and_a_failed_request_uses_up_no_key(
    api, organisation, other_organisation, token_factory
):
    ours = make_date(organisation, capacity=1)
    theirs = make_date(other_organisation, capacity=5)
    key = "order-42"
    us = api(token_factory(organisation, Role.FRONT_DESK))
    them = api(token_factory(other_organisation, Role.FRONT_DESK))

    too_many = us.post(
        "/bookings", json=booking_body(ours, quantity=2), headers={"Idempotency-Key": key}
    )
    assert too_many.status_code == 409
    assert not BookingRequestKey.objects.exists()
    booked = us.post(
        "/bookings", json=booking_body(ours, quantity=1), headers={"Idempotency-Key": key}
    )
    assert booked.status_code == 201
    theirs_booked = them.post(
        "/bookings", json=booking_body(theirs), headers={"Idempotency-Key": key}
    )
    assert theirs_booked.status_code == 201, theirs_booked.text
    assert theirs_booked.json()["code"] != booked.json()["code"]
    assert BookingRequestKey.objects.count() == 2


@pytest.mark.parametrize("key", ["", "x" * 201, "zwei wörter"])
def test_an_unusable_idempotency_key_is_refused(api, organisation, token_factory, key):
    date = make_date(organisation)
    client = api(token_factory(organisation, Role.FRONT_DESK))

    answer = client.post(
        "/bookings", json=booking_body(date), headers={"Idempotency-Key": key.encode()}
    )

    assert answer.status_code == 422
    assert answer.json()["error"]["fields"] == {"Idempotency-Key": ["invalid"]}
    assert not Booking.objects.exists()


def test_the_booking_list_pages_and_filters(api, organisation, token_factory):
    first = make_date(organisation, capacity=20)
    second = make_date(organisation, capacity=20)
    client = api(token_factory(organisation, Role.FRONT_DESK))
    codes = []
    for n in range(5):
        date = first if n % 2 == 0 else second
        contact = {"email": f"p{n}@example.org", "name": f"Person {n}"}
        codes.append(
            client.post("/bookings", json=booking_body(date, contact=contact)).json()["code"]
        )

    page = client.get("/bookings", params={"limit": 2, "offset": 1}).json()
    assert page["count"] == 5
    assert [b["code"] for b in page["items"]] == [codes[3], codes[2]]
    of_first = client.get("/bookings", params={"occurrence_id": first.pk}).json()
    assert [b["code"] for b in of_first["items"]] == [codes[4], codes[2], codes[0]]
    bad = client.get("/bookings", params={"status": "maybe"})
    assert bad.status_code == 422
    assert "status" in bad.json()["error"]["fields"]
    huge = client.get("/bookings", params={"occurrence_id": 10**30})
    assert huge.status_code == 422
    assert "occurrence_id" in huge.json()["error"]["fields"]
    assert client.get(f"/occurrences/{10**30}/availability").status_code == 404
