"""How a booking reads for people: dates in the house's time zone, tickets, venue, QR code.

Shared by the public pages, the staff pages and the mails, so that all three say the same.
Call the text helpers inside the language they are for (`translation.override`).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import segno
from django.conf import settings
from django.utils import formats, timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from publikum.bookings.models import Booking
from publikum.core.models import Organisation
from publikum.programme.models import AccessibilityFeature, Occurrence, Venue


def zone_of(organisation: Organisation) -> ZoneInfo:
    return ZoneInfo(organisation.timezone or settings.TIME_ZONE)


def local(moment: datetime, organisation: Organisation) -> datetime:
    return timezone.localtime(moment, zone_of(organisation))


def _german() -> bool:
    return (get_language() or "de").startswith("de")


def day_text(moment: datetime, organisation: Organisation) -> str:
    """ "Freitag, 27. November 2026" or "Friday, 27 November 2026"."""
    return formats.date_format(
        local(moment, organisation), "l, j. F Y" if _german() else "l, j F Y"
    )


def when_text(occurrence: Occurrence, organisation: Organisation) -> str:
    """ "Friday, 27 November 2026, 20:00–22:00" in the active language and the house's zone."""
    starts = local(occurrence.starts_at, organisation)
    ends = local(occurrence.ends_at, organisation)
    day = day_text(occurrence.starts_at, organisation)
    start_time = formats.time_format(starts, "H:i")
    if ends.date() == starts.date() and ends > starts:
        return f"{day}, {start_time}–{formats.time_format(ends, 'H:i')}"
    return f"{day}, {start_time}"


def time_text(moment: datetime, organisation: Organisation) -> str:
    """ "27. November 2026, 20:00": for deadlines such as the end of a waiting-list offer."""
    moment = local(moment, organisation)
    day = formats.date_format(moment, "j. F Y" if _german() else "j F Y")
    return f"{day}, {formats.time_format(moment, 'H:i')}"


def money(amount: Decimal | int) -> str:
    return formats.number_format(Decimal(amount), decimal_pos=2, use_l10n=True) + " €"


@dataclass(frozen=True)
class TicketLine:
    quantity: int
    name: str
    unit_price: str
    subtotal: str


def ticket_lines(booking: Booking, language: str) -> list[TicketLine]:
    return [
        TicketLine(
            quantity=line.quantity,
            name=line.name(language),
            unit_price=money(line.unit_price_eur),
            subtotal=money(line.unit_price_eur * line.quantity),
        )
        for line in booking.lines.all()
    ]


def venue_address(venue: Venue | None) -> str:
    if venue is None:
        return ""
    town = " ".join(p for p in (venue.postcode, venue.city) if p)
    return ", ".join(p for p in (venue.street, town) if p)


def accessibility_labels(codes: list[str]) -> list[str]:
    labels = dict(AccessibilityFeature.choices)
    return [str(labels[c]) for c in codes if c in labels]


# --- the QR code: the booking code itself, which a scanner types at the front desk --------


def _qr(code: str) -> segno.QRCode:
    # A full QR code, never a Micro QR (which segno picks for short data): scanners and the
    # browsers' BarcodeDetector read only full ones.
    return segno.make_qr(code, error="m")


def qr_svg(code: str) -> SafeString:
    """An inline SVG; the code is letters and digits only, so the markup is safe."""
    # A viewBox without a fixed size: the stylesheet decides how big it is shown.
    svg = _qr(code).svg_inline(
        scale=1, border=4, dark="#000", light="#fff", omitsize=True, svgclass="qr"
    )
    return mark_safe(svg)  # noqa: S308 (segno's own markup of an alphanumeric code)


def qr_png(code: str) -> bytes:
    buffer = io.BytesIO()
    _qr(code).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()
