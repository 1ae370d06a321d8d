"""The door list of a date: its confirmed bookings as CSV, for the entrance or a spreadsheet."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from publikum.bookings.models import Booking, BookingStatus
from publikum.bookings.presentation import local
from publikum.core.models import Organisation, User
from publikum.core.services import audit_log
from publikum.programme.models import Occurrence

COLUMNS = (
    "code",
    "name",
    "email",
    "quantity",
    "tickets",
    "total_eur",
    "checked_in_at",
    "source",
    "booked_at",
)
# Cells a spreadsheet would run as a formula: exported with a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def door_list(*, occurrence: Occurrence) -> QuerySet[Booking]:
    """Confirmed bookings of a date, by name, as the person at the door reads them."""
    return (
        Booking.objects.filter(occurrence=occurrence, status=BookingStatus.CONFIRMED)
        .prefetch_related("lines")
        .order_by("name", "code")
    )


def door_list_rows(bookings: Iterable[Booking], organisation: Organisation) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(COLUMNS)
    for b in bookings:
        tickets = "; ".join(f"{line.quantity} x {line.name_de}" for line in b.lines.all())
        yield writer.writerow(
            [
                b.code,
                _cell(b.name),
                _cell(b.email),
                b.quantity,
                _cell(tickets),
                f"{b.total_eur:.2f}",
                local(b.checked_in_at, organisation).strftime("%Y-%m-%d %H:%M")
                if b.checked_in_at
                else "",
                b.source,
                local(b.created_at, organisation).strftime("%Y-%m-%d %H:%M"),
            ]
        )


@transaction.atomic
def door_list_exported(*, occurrence: Occurrence, actor: User, count: int) -> None:
    """Personal data left the system: the audit log says who took which list."""
    audit_log(
        occurrence.organisation,
        "bookings.door_list.exported",
        actor=actor,
        obj=occurrence,
        data={"occurrence_id": occurrence.pk, "bookings": count},
    )
