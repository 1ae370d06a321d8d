"""Public booking pages under /<org>/: book a date, the booking's own page, the waiting list.

The booking form is rate-limited, CSRF-protected and has a honeypot; everything about one
booking or one waiting-list offer is reached only through a signed link (see links.py).
Every write goes through the bookings service; its errors are shown in the visitor's
language next to the form, with what was typed kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_http_methods

from publikum.audience.consent import consent_intro
from publikum.bookings import links, presentation
from publikum.bookings.explain import explain, field_errors
from publikum.bookings.forms import BookingForm, OfferForm, WaitlistForm
from publikum.bookings.models import (
    Booking,
    BookingSource,
    BookingStatus,
    WaitlistEntry,
    WaitlistStatus,
)
from publikum.bookings.selectors import booking_by_code, seats_of
from publikum.bookings.services import (
    SoldOut,
    booking_cancel,
    booking_create,
    check_bookable,
    waitlist_join,
    waitlist_withdraw,
)
from publikum.core.errors import DomainError
from publikum.core.models import Organisation
from publikum.core.ratelimit import limit
from publikum.programme.models import Occurrence, OccurrenceStatus

LANGUAGES = ("de", "en")


def _public_org(slug: str) -> Organisation:
    organisation = Organisation.objects.filter(slug=slug).first()
    if organisation is None:
        raise Http404("No such organisation.")
    return organisation


def _language() -> str:
    language = (get_language() or "de")[:2]
    return language if language in LANGUAGES else "de"


def _page(
    request: HttpRequest,
    organisation: Organisation,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    private: bool = False,
) -> HttpResponse:
    response = render(
        request,
        f"bookings/{template}",
        {"public_org": organisation, "language": _language(), **(context or {})},
        status=status,
    )
    if private:
        # Pages behind signed links stay out of shared caches, and their address out of the
        # Referer sent to other sites ("same-origin": the page's own forms still pass CSRF).
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "same-origin"
    return response


def _invalid_link(request: HttpRequest, organisation: Organisation) -> HttpResponse:
    return _page(request, organisation, "public_link_invalid.html", status=404, private=True)


def _date_of(organisation: Organisation, occurrence_id: int) -> Occurrence:
    occurrence = (
        Occurrence.objects.select_related("item", "item__venue")
        .filter(organisation=organisation, pk=occurrence_id, item__published=True)
        .first()
    )
    if occurrence is None:
        raise Http404("No such date.")
    return occurrence


def _date_context(occurrence: Occurrence, organisation: Organisation) -> dict[str, Any]:
    language = _language()
    item = occurrence.item
    venue = item.venue
    return {
        "occurrence": occurrence,
        "item": item,
        "title": item.title(language),
        "summary": item.summary(language),
        "when": presentation.when_text(occurrence, organisation),
        "venue_name": venue.name(language) if venue else "",
        "venue_address": presentation.venue_address(venue),
        "directions": venue.directions(language) if venue else "",
        "accessibility": presentation.accessibility_labels(list(item.accessibility or [])),
    }


def _unbookable_reason(occurrence: Occurrence) -> str:
    try:
        check_bookable(occurrence)
    except DomainError as exc:
        return explain(exc)
    return ""


def _show_errors(form: Any, exc: DomainError) -> None:
    for field, message in field_errors(exc).items():
        if field == "quantity" or (field and field not in form.fields):
            form.add_error(None, message)
        else:
            form.add_error(field or None, message)


# --- booking a date ----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What a POST on the booking page came to: a redirect, or the page again with a status."""

    redirect_to: str = ""
    status: int = 200
    too_few: bool = False


def _try_booking(request: HttpRequest, occurrence: Occurrence, form: BookingForm) -> Outcome:
    organisation = occurrence.organisation
    if form.is_robot:  # the same answer as for a person, so that a robot learns nothing
        return Outcome(redirect_to=request.path)
    if not form.is_valid():
        return Outcome(status=400)
    data = form.cleaned_data
    try:
        booking = booking_create(
            organisation=organisation,
            occurrence_id=occurrence.pk,
            name=data["name"],
            email=data["email"],
            language=data["language"],
            consents=list(data["consents"]),
            source=BookingSource.WEB,
            link_base=request.build_absolute_uri("/"),
            **form.booking_quantities(),
        )
    except DomainError as exc:
        _show_errors(form, exc)
        return Outcome(status=exc.status, too_few=isinstance(exc, SoldOut))
    return Outcome(redirect_to=links.booking_confirmed_path(booking))


def _try_waitlist(request: HttpRequest, occurrence: Occurrence, form: WaitlistForm) -> Outcome:
    organisation = occurrence.organisation
    if form.is_robot:
        return Outcome(redirect_to=request.path)
    if not form.is_valid():
        return Outcome(status=400)
    data = form.cleaned_data
    try:
        waitlist_join(
            organisation=organisation,
            occurrence_id=occurrence.pk,
            name=data["name"],
            email=data["email"],
            language=data["language"],
            quantity=data["quantity"],
        )
    except DomainError as exc:
        _show_errors(form, exc)
        return Outcome(status=exc.status)
    return Outcome(
        redirect_to=reverse(
            "public_waitlist_joined",
            kwargs={"org": organisation.slug, "occurrence_id": occurrence.pk},
        )
    )


@limit("book", rate="10/m", methods=("POST",))
@require_http_methods(["GET", "POST"])
def book(request: HttpRequest, org: str, occurrence_id: int) -> HttpResponse:
    """The booking page of one date; on a sold-out date, its waiting list."""
    organisation = _public_org(org)
    occurrence = _date_of(organisation, occurrence_id)
    language = _language()
    reason = _unbookable_reason(occurrence)
    action = request.POST.get("action", "book") if request.method == "POST" else ""
    form = BookingForm(
        request.POST if action == "book" else None,
        categories=list(occurrence.item.price_categories.all()),
        language=language,
        # The service answers "only n seats left" with the waiting list; the inputs' own
        # maximum (free seats) guides the visitor before that.
        max_tickets=settings.BOOKINGS_MAX_TICKETS,
        initial={"language": language},
    )
    waitlist_form = WaitlistForm(
        request.POST if action == "waitlist" else None,
        initial={"language": language, "quantity": 1},
    )
    outcome = Outcome()
    if action and reason:
        outcome.status = 409  # the date cannot be booked (any more)
    elif action == "book":
        outcome = _try_booking(request, occurrence, form)
    elif action == "waitlist":
        outcome = _try_waitlist(request, occurrence, waitlist_form)
    if outcome.redirect_to:
        return redirect(outcome.redirect_to)
    seats = seats_of(occurrence)
    return _page(
        request,
        organisation,
        "public_book.html",
        {
            **_date_context(occurrence, organisation),
            "seats": seats,
            "reason": reason,
            "sold_out": not reason and seats.free == 0,
            "offer_waitlist": not reason
            and (seats.free == 0 or outcome.too_few or action == "waitlist"),
            "form": form,
            "waitlist_form": waitlist_form,
            "intro": consent_intro(organisation),
            "max_tickets": settings.BOOKINGS_MAX_TICKETS,
            "input_max": max(1, min(settings.BOOKINGS_MAX_TICKETS, seats.free)),
        },
        status=outcome.status,
    )


@require_GET
def waitlist_joined(request: HttpRequest, org: str, occurrence_id: int) -> HttpResponse:
    organisation = _public_org(org)
    occurrence = _date_of(organisation, occurrence_id)
    return _page(
        request,
        organisation,
        "public_waitlist_joined.html",
        {
            **_date_context(occurrence, organisation),
            "hours": settings.BOOKINGS_WAITLIST_OFFER_HOURS,
        },
    )


# --- one booking, through its signed link --------------------------------------------------


def _booking_from_link(organisation: Organisation, code: str, token: str) -> Booking | None:
    """The booking of a genuine link; None for a forged, foreign or erased one."""
    if not links.booking_token_valid(organisation=organisation, code=code, token=token):
        return None
    booking = booking_by_code(organisation=organisation, code=code)
    if booking is None or booking.code != code or not booking.email:
        return None
    return booking


def _booking_context(booking: Booking, organisation: Organisation) -> dict[str, Any]:
    language = _language()
    return {
        **_date_context(booking.occurrence, organisation),
        "booking": booking,
        "lines": presentation.ticket_lines(booking, language),
        "total": presentation.money(booking.total_eur),
        "paid": booking.total_eur > 0 and booking.status == BookingStatus.CONFIRMED,
        "qr": presentation.qr_svg(booking.code),
        "booking_url": links.booking_path(booking),
        "cancel_url": links.booking_cancel_path(booking),
        "cancellable": _cancellable(booking),
    }


def _cancellable(booking: Booking) -> bool:
    return (
        booking.status == BookingStatus.CONFIRMED
        and booking.checked_in_at is None
        and booking.occurrence.ends_at > timezone.now()
    )


@require_GET
def booking_confirmed(request: HttpRequest, org: str, code: str, token: str) -> HttpResponse:
    """Right after booking: the code, big, with its QR code."""
    organisation = _public_org(org)
    booking = _booking_from_link(organisation, code, token)
    if booking is None:
        return _invalid_link(request, organisation)
    return _page(
        request,
        organisation,
        "public_booking_confirmed.html",
        _booking_context(booking, organisation),
        private=True,
    )


@require_GET
def booking_page(request: HttpRequest, org: str, code: str, token: str) -> HttpResponse:
    organisation = _public_org(org)
    booking = _booking_from_link(organisation, code, token)
    if booking is None:
        return _invalid_link(request, organisation)
    return _page(
        request,
        organisation,
        "public_booking.html",
        {
            **_booking_context(booking, organisation),
            "just_cancelled": request.GET.get("cancelled") == "1",
        },
        private=True,
    )


@limit("booking-cancel", rate="10/m", methods=("POST",))
@require_http_methods(["GET", "POST"])
def booking_cancel_page(request: HttpRequest, org: str, code: str, token: str) -> HttpResponse:
    """GET asks (a link scanner may open the mail's link); POST cancels."""
    organisation = _public_org(org)
    booking = _booking_from_link(organisation, code, token)
    if booking is None:
        return _invalid_link(request, organisation)
    error = ""
    status = 200
    if request.method == "POST":
        try:
            booking_cancel(organisation=organisation, code=booking.code, via="visitor")
        except DomainError as exc:
            error, status = explain(exc), exc.status
        else:
            return redirect(links.booking_path(booking) + "?cancelled=1")
    return _page(
        request,
        organisation,
        "public_booking_cancel.html",
        {**_booking_context(booking, organisation), "error": error},
        status=status,
        private=True,
    )


# --- a waiting-list offer ----------------------------------------------------------------------


def _offer_state(entry: WaitlistEntry) -> str:
    """ "open", or why the offer cannot be used: booked, expired, withdrawn, gone."""
    if entry.status == WaitlistStatus.BOOKED:
        return "booked"
    if entry.status == WaitlistStatus.WITHDRAWN:
        return "withdrawn"
    if entry.status == WaitlistStatus.EXPIRED or (
        entry.status == WaitlistStatus.OFFERED
        and entry.offer_expires_at is not None
        and entry.offer_expires_at <= timezone.now()
    ):
        return "expired"
    if entry.status != WaitlistStatus.OFFERED:
        return "gone"
    occurrence = entry.occurrence
    if occurrence.status == OccurrenceStatus.CANCELLED or occurrence.starts_at <= timezone.now():
        return "gone"
    return "open"


@limit("waitlist-offer", rate="10/m", methods=("POST",))
@require_http_methods(["GET", "POST"])
def waitlist_offer(request: HttpRequest, org: str, entry_id: int, token: str) -> HttpResponse:
    organisation = _public_org(org)
    entry = (
        WaitlistEntry.objects.select_related(
            "occurrence", "occurrence__item", "occurrence__item__venue"
        )
        .filter(organisation=organisation, pk=entry_id)
        .exclude(email="")
        .first()
    )
    if entry is None or not links.offer_token_valid(entry=entry, token=token):
        return _invalid_link(request, organisation)
    occurrence = entry.occurrence
    language = _language()
    categories = list(occurrence.item.price_categories.all())
    form = OfferForm(
        request.POST if request.POST.get("action") == "book" else None,
        categories=categories,
        language=language,
        offered=entry.quantity,
    )
    status = 200
    state = _offer_state(entry)
    if request.method == "POST" and state == "open":
        if request.POST.get("action") == "release":
            waitlist_withdraw(organisation=organisation, entry_id=entry.pk)
            return redirect(request.path)
        if form.is_valid():
            try:
                booking = booking_create(
                    organisation=organisation,
                    occurrence_id=occurrence.pk,
                    name=entry.name,
                    email=entry.email,
                    language=entry.language,
                    source=BookingSource.WAITLIST,
                    waitlist_entry_id=entry.pk,
                    link_base=request.build_absolute_uri("/"),
                    **form.booking_quantities(),
                )
            except DomainError as exc:
                _show_errors(form, exc)
                status = exc.status
                entry.refresh_from_db()
                state = _offer_state(entry)
            else:
                return redirect(links.booking_confirmed_path(booking))
        else:
            status = 400
    elif request.method == "POST":
        status = 410 if state == "expired" else 409
    return _page(
        request,
        organisation,
        "public_waitlist_offer.html",
        {
            **_date_context(occurrence, organisation),
            "entry": entry,
            "state": state,
            "form": form,
            "held_until": (
                presentation.time_text(entry.offer_expires_at, organisation)
                if entry.offer_expires_at
                else ""
            ),
        },
        status=status,
        private=True,
    )
