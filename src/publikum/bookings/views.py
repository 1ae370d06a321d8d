"""Staff pages of bookings under /o/<org>/bookings/: the list of a date with its waiting
list and door list, one booking, and the check-in at the front desk."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any, cast

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from publikum.bookings import door_list as doors
from publikum.bookings import presentation
from publikum.bookings.explain import explain
from publikum.bookings.forms import BookingFilterForm, CheckInForm
from publikum.bookings.models import Booking, BookingStatus
from publikum.bookings.selectors import (
    booking_by_code,
    booking_list,
    normalise_code,
    seats_of,
    waitlist_of,
)
from publikum.bookings.services import booking_cancel, booking_check_in, waitlist_withdraw
from publikum.core.errors import DomainError, NotFound
from publikum.core.models import AuditEntry, Organisation, Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.programme.models import Occurrence

PAGE_SIZE = 50
# How far back the date filter reaches: the dates staff still deal with.
FILTER_DAYS_BACK = 14


def _language() -> str:
    return (get_language() or "de")[:2]


def _today_bounds(organisation: Organisation) -> tuple[datetime, datetime]:
    zone = presentation.zone_of(organisation)
    today = timezone.localtime(timezone.now(), zone).date()
    start = datetime.combine(today, time.min, tzinfo=zone)
    return start, datetime.combine(today + timedelta(days=1), time.min, tzinfo=zone)


def _date_label(occurrence: Occurrence, organisation: Organisation, language: str) -> str:
    starts = presentation.local(occurrence.starts_at, organisation)
    return f"{starts:%d.%m.%Y %H:%M} · {occurrence.item.title(language)}"


def _occurrence_param(request: StaffRequest) -> int | None:
    value = request.GET.get("occurrence", "")
    return int(value) if value.isdigit() else None


def _date_choices(
    organisation: Organisation, selected: Occurrence | None, language: str
) -> list[tuple[int, str]]:
    start, _end = _today_bounds(organisation)
    dates = list(
        Occurrence.objects.filter(
            organisation=organisation,
            item__bookable=True,
            starts_at__gte=start - timedelta(days=FILTER_DAYS_BACK),
        )
        .select_related("item")
        .order_by("starts_at", "pk")[:500]
    )
    if selected is not None and selected not in dates:
        dates.insert(0, selected)
    return [(d.pk, _date_label(d, organisation, language)) for d in dates]


@staff_view(Role.VIEWER)
def booking_list_page(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    language = _language()
    form = BookingFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    occurrence_id = _occurrence_param(request)
    occurrence = None
    if occurrence_id is not None:
        occurrence = (
            Occurrence.objects.select_related("item", "item__venue")
            .filter(organisation=organisation, pk=occurrence_id)
            .first()
        )
    bookings = booking_list(
        organisation=organisation,
        occurrence_id=occurrence.pk if occurrence else None,
        query=filters.get("q", ""),
    )
    if filters.get("status"):
        bookings = bookings.filter(status=filters["status"])
    page = Paginator(bookings.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    context: dict[str, Any] = {
        "page": page,
        "form": form,
        "query": query.urlencode(),
        "dates": _date_choices(organisation, occurrence, language),
        "occurrence": occurrence,
        "can_edit": role_at_least(request.membership.role, Role.EDITOR),
    }
    if occurrence is not None:
        seats = seats_of(occurrence)
        context.update(
            {
                "date_label": _date_label(occurrence, organisation, language),
                "when": presentation.when_text(occurrence, organisation),
                "seats": seats,
                "checked_in": Booking.objects.filter(
                    occurrence=occurrence,
                    status=BookingStatus.CONFIRMED,
                    checked_in_at__isnull=False,
                ).aggregate(n=Coalesce(Sum("quantity"), 0))["n"],
                "waitlist": list(waitlist_of(occurrence)),
            }
        )
    return render(request, "bookings/booking_list.html", context)


@staff_view(Role.VIEWER)
def door_list_export(request: StaffRequest) -> HttpResponse:
    """The door list of one date as CSV (`?occurrence=<id>`)."""
    organisation = request.organisation
    occurrence_id = _occurrence_param(request)
    occurrence = (
        Occurrence.objects.filter(organisation=organisation, pk=occurrence_id).first()
        if occurrence_id is not None
        else None
    )
    if occurrence is None:
        messages.error(request, _("Choose a date first: the door list is per date."))
        return redirect("bookings", org=organisation.slug)
    bookings = doors.door_list(occurrence=occurrence)
    doors.door_list_exported(occurrence=occurrence, actor=request.user, count=bookings.count())
    starts = presentation.local(occurrence.starts_at, organisation)
    filename = f"door-list-{starts:%Y-%m-%d-%H%M}-{occurrence.pk}.csv"
    response = StreamingHttpResponse(
        doors.door_list_rows(bookings.iterator(chunk_size=500), organisation),
        content_type="text/csv; charset=utf-8",
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return cast(HttpResponse, response)


def _history(booking: Booking) -> QuerySet[AuditEntry]:
    return AuditEntry.objects.filter(
        organisation_id=booking.organisation_id,
        object_type="bookings.booking",
        object_id=str(booking.pk),
    ).order_by("created_at", "id")


def _booking_or_404(request: StaffRequest, code: str) -> Booking:
    booking = booking_by_code(organisation=request.organisation, code=code)
    if booking is None:
        raise Http404("No such booking.")
    return booking


@staff_view(Role.VIEWER)
def booking_detail(request: StaffRequest, code: str) -> HttpResponse:
    booking = _booking_or_404(request, code)
    organisation = request.organisation
    language = _language()
    role = request.membership.role
    start, end = _today_bounds(organisation)
    contact = booking.contact if booking.contact and booking.contact.erased_at is None else None
    return render(
        request,
        "bookings/booking_detail.html",
        {
            "booking": booking,
            "contact": contact,
            "title": booking.occurrence.item.title(language),
            "when": presentation.when_text(booking.occurrence, organisation),
            "lines": presentation.ticket_lines(booking, language),
            "total": presentation.money(booking.total_eur),
            "qr": presentation.qr_svg(booking.code),
            "history": _history(booking),
            "can_cancel": role_at_least(role, Role.EDITOR)
            and booking.status == BookingStatus.CONFIRMED
            and booking.checked_in_at is None
            and booking.occurrence.ends_at > timezone.now(),
            "can_check_in": role_at_least(role, Role.FRONT_DESK)
            and booking.status == BookingStatus.CONFIRMED
            and booking.checked_in_at is None
            and start <= booking.occurrence.starts_at < end,
        },
    )


@staff_view(Role.EDITOR)
def booking_cancel_view(request: StaffRequest, code: str) -> HttpResponse:
    """GET asks for confirmation; POST cancels and mails the booker."""
    booking = _booking_or_404(request, code)
    organisation = request.organisation
    if request.method == "POST":
        try:
            booking_cancel(
                organisation=organisation, code=booking.code, via="staff", actor=request.user
            )
        except DomainError as exc:
            messages.error(request, explain(exc))
        else:
            messages.success(
                request,
                _("Booking %(code)s has been cancelled; the booker gets an e-mail.")
                % {"code": booking.code},
            )
        return redirect("booking_detail", org=organisation.slug, code=booking.code)
    return render(
        request,
        "bookings/booking_cancel.html",
        {
            "booking": booking,
            "title": booking.occurrence.item.title(_language()),
            "when": presentation.when_text(booking.occurrence, organisation),
        },
    )


@staff_view(Role.EDITOR)
@require_POST
def waitlist_withdraw_view(request: StaffRequest, entry_id: int) -> HttpResponse:
    organisation = request.organisation
    try:
        entry = waitlist_withdraw(organisation=organisation, entry_id=entry_id, actor=request.user)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, _("The entry has been taken off the waiting list."))
    url = reverse("bookings", kwargs={"org": organisation.slug})
    return redirect(f"{url}?occurrence={entry.occurrence_id}")


# --- check-in ------------------------------------------------------------------------------


def _todays_dates(organisation: Organisation, language: str) -> list[dict[str, Any]]:
    start, end = _today_bounds(organisation)
    confirmed = Q(bookings__status=BookingStatus.CONFIRMED)
    dates = (
        Occurrence.objects.filter(
            organisation=organisation, starts_at__gte=start, starts_at__lt=end
        )
        .select_related("item")
        .annotate(
            expected=Coalesce(Sum("bookings__quantity", filter=confirmed), 0),
            arrived=Coalesce(
                Sum(
                    "bookings__quantity",
                    filter=confirmed & Q(bookings__checked_in_at__isnull=False),
                ),
                0,
            ),
        )
        .order_by("starts_at", "pk")
    )
    return [
        {
            "occurrence": d,
            "title": d.item.title(language),
            "starts": presentation.local(d.starts_at, organisation),
            "expected": d.expected,
            "arrived": d.arrived,
        }
        for d in dates
        if d.expected or d.item.bookable
    ]


def _check_in_result(request: StaffRequest, code: str) -> dict[str, Any]:
    organisation = request.organisation
    language = _language()
    normalised = normalise_code(code)
    try:
        result = booking_check_in(organisation=organisation, code=code, actor=request.user)
    except NotFound:
        return {
            "ok": False,
            "code": normalised,
            "reason": _("Unknown code %(code)s: there is no such booking.")
            % {"code": normalised or code[:20]},
        }
    except DomainError as exc:
        booking = booking_by_code(organisation=organisation, code=code)
        return {
            "ok": False,
            "code": normalised,
            "reason": explain(exc),
            "booking": booking,
            "title": booking.occurrence.item.title(language) if booking else "",
            "starts": presentation.local(booking.occurrence.starts_at, organisation)
            if booking
            else None,
        }
    booking = result.booking
    starts = presentation.local(booking.occurrence.starts_at, organisation)
    if result.already:
        at = presentation.local(booking.checked_in_at, organisation)  # type: ignore[arg-type]
        return {
            "ok": False,
            "already": True,
            "code": booking.code,
            "booking": booking,
            "title": booking.occurrence.item.title(language),
            "starts": starts,
            "reason": _("Already checked in at %(time)s.") % {"time": f"{at:%H:%M}"},
        }
    return {
        "ok": True,
        "code": booking.code,
        "booking": booking,
        "title": booking.occurrence.item.title(language),
        "starts": starts,
    }


@staff_view(Role.FRONT_DESK)
def check_in(request: StaffRequest) -> HttpResponse:
    """One input for typed and scanned codes; the answer in green or red, big."""
    organisation = request.organisation
    form = CheckInForm(request.POST or None)
    result = None
    if request.method == "POST" and form.is_valid():
        result = _check_in_result(request, form.cleaned_data["code"])
    elif request.method == "POST":
        result = {"ok": False, "code": "", "reason": _("Please enter a booking code.")}
    return render(
        request,
        "bookings/check_in.html",
        {
            "result": result,
            "today": _todays_dates(organisation, _language()),
            "today_label": presentation.day_text(timezone.now(), organisation),
        },
    )
