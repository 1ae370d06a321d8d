"""Staff pages of the programme: the list, items with their prices and dates, date series.

Viewers read; editors and above change. Dates are entered and shown in the organisation's
time zone (`in_org_time`). Venues and themes have their pages in `views_vocabulary.py`.
"""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from publikum.core.errors import DomainError
from publikum.core.models import Role, role_at_least
from publikum.core.tenancy import StaffRequest, ViewFunc, staff_view
from publikum.programme import services, staff_selectors
from publikum.programme.forms import (
    DateForm,
    ItemFilterForm,
    ItemForm,
    PriceFormSet,
    SeriesForm,
    price_rows,
)
from publikum.programme.models import OccurrenceStatus, ProgrammeItem
from publikum.programme.services import zone_of

PAGE_SIZE = 50


def in_org_time(view: ViewFunc) -> ViewFunc:
    """Parse and show times in the organisation's time zone (inside `staff_view`)."""

    @functools.wraps(view)
    def wrapped(request: StaffRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with timezone.override(zone_of(request.organisation)):
            return view(request, *args, **kwargs)

    return wrapped


def language() -> str:
    return (get_language() or "de")[:2]


def can_edit(request: StaffRequest) -> bool:
    return role_at_least(request.membership.role, Role.EDITOR)


def add_errors(form: forms.Form, exc: DomainError, aliases: dict[str, str] | None = None) -> None:
    """Put the fields of a domain error on the form's fields; the rest above the form."""
    aliases = aliases or {}
    placed = False
    for field, errors in exc.fields.items():
        name = aliases.get(field, field)
        if name in form.fields:
            for error in errors:
                form.add_error(name, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def bookings_url(request: StaffRequest) -> str:
    """The bookings page of the organisation, when the bookings module serves it."""
    try:
        return reverse("bookings", kwargs={"org": request.organisation.slug})
    except NoReverseMatch:
        return ""


def _to_item(request: StaffRequest, item: ProgrammeItem) -> HttpResponse:
    return redirect("programme_item", org=request.organisation.slug, item_id=item.pk)


# --- the list ------------------------------------------------------------------------------


@staff_view(Role.VIEWER)
@in_org_time
def programme_list(request: StaffRequest) -> HttpResponse:
    form = ItemFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    items = staff_selectors.staff_item_list(
        organisation=request.organisation,
        query=filters.get("q", ""),
        kind=filters.get("kind", ""),
        when=filters.get("when", ""),
    )
    page = Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))
    next_dates = staff_selectors.next_dates(list(page.object_list))
    rows = [(item, next_dates.get(item.pk)) for item in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "programme/staff_list.html",
        {
            "page": page,
            "rows": rows,
            "form": form,
            "query": query.urlencode(),
            "can_edit": can_edit(request),
            "language": language(),
        },
    )


# --- items ---------------------------------------------------------------------------------


@staff_view(Role.VIEWER)
@in_org_time
def item_detail(request: StaffRequest, item_id: int) -> HttpResponse:
    item = staff_selectors.item_get(organisation=request.organisation, item_id=item_id)
    show_all_past = request.GET.get("past") == "all"
    dates = staff_selectors.split_dates(item, past_limit=None if show_all_past else 20)
    lang = language()
    return render(
        request,
        "programme/staff_item.html",
        {
            "item": item,
            **dates,
            "show_all_past": show_all_past,
            "themes": [t.name(lang) for t in item.themes.all()],
            "target_groups": _labels(item.target_groups, "target_groups"),
            "accessibility": _labels(item.accessibility, "accessibility"),
            "language": lang,
            "can_edit": can_edit(request),
            "bookings_url": bookings_url(request),
        },
    )


def _labels(codes: list[str], field: str) -> list[str]:
    choices = dict(ItemForm.base_fields[field].choices)  # type: ignore[attr-defined]
    return [str(choices.get(code, code)) for code in codes]


def _item_form_page(request: StaffRequest, item: ProgrammeItem | None) -> HttpResponse:
    lang = language()
    if item is None:
        initial: dict[str, Any] = {"kind": "tour", "bookable": True, "published": False}
        prices_initial: list[dict[str, Any]] = []
    else:
        initial = ItemForm.initial_of(item)
        prices_initial = [
            {"name_de": c.name_de, "name_en": c.name_en, "price_eur": c.price_eur}
            for c in item.price_categories.all()
        ]
    post = request.method == "POST"
    form = ItemForm(
        request.POST if post else None,
        request.FILES if post else None,
        organisation=request.organisation,
        language=lang,
        initial=initial,
    )
    prices = PriceFormSet(request.POST if post else None, initial=prices_initial, prefix="prices")
    if post and form.is_valid() and prices.is_valid():
        data = {**form.service_data(), "price_categories": price_rows(prices)}
        try:
            if item is None:
                item = services.item_create(
                    organisation=request.organisation, data=data, actor=request.user
                )
                messages.success(request, _("The programme item has been created."))
            else:
                item = services.item_update(item=item, data=data, actor=request.user)
                messages.success(request, _("The programme item has been saved."))
        except DomainError as exc:
            add_errors(form, exc)
        else:
            return _to_item(request, item)
    return render(
        request, "programme/staff_item_form.html", {"form": form, "prices": prices, "item": item}
    )


@staff_view(Role.EDITOR)
@in_org_time
def item_new(request: StaffRequest) -> HttpResponse:
    return _item_form_page(request, None)


@staff_view(Role.EDITOR)
@in_org_time
def item_edit(request: StaffRequest, item_id: int) -> HttpResponse:
    item = staff_selectors.item_get(organisation=request.organisation, item_id=item_id)
    return _item_form_page(request, item)


@staff_view(Role.EDITOR)
def item_duplicate(request: StaffRequest, item_id: int) -> HttpResponse:
    item = staff_selectors.item_get(organisation=request.organisation, item_id=item_id)
    if request.method == "POST":
        copy = services.item_duplicate(item=item, actor=request.user)
        messages.success(
            request,
            _("This is a copy of “%(title)s”: an unpublished draft without dates.")
            % {"title": item.title_de},
        )
        return redirect("programme_item_edit", org=request.organisation.slug, item_id=copy.pk)
    return render(request, "programme/staff_item_duplicate.html", {"item": item})


@staff_view(Role.EDITOR)
@in_org_time
def item_cancel(request: StaffRequest, item_id: int) -> HttpResponse:
    item = staff_selectors.item_get(organisation=request.organisation, item_id=item_id)
    if request.method == "POST":
        count = services.item_cancel(item=item, actor=request.user)
        if count:
            messages.success(
                request,
                ngettext(
                    "%(count)s date has been cancelled.",
                    "%(count)s dates have been cancelled.",
                    count,
                )
                % {"count": count},
            )
        else:
            messages.info(request, _("There were no upcoming dates to cancel."))
        return _to_item(request, item)
    upcoming = [
        o
        for o in staff_selectors.split_dates(item, past_limit=1)["upcoming"]
        if o.status != OccurrenceStatus.CANCELLED
    ]
    return render(
        request,
        "programme/staff_item_cancel.html",
        {
            "item": item,
            "dates": upcoming,
            "seats_sold": sum(o.seats_sold for o in upcoming),  # type: ignore[attr-defined]
        },
    )


# --- dates ---------------------------------------------------------------------------------


@staff_view(Role.EDITOR)
@in_org_time
def dates_add(request: StaffRequest, item_id: int) -> HttpResponse:
    """One page, two forms: a single date, and a series with a preview before saving."""
    item = staff_selectors.item_get(organisation=request.organisation, item_id=item_id)
    which = request.POST.get("form") if request.method == "POST" else None
    single = DateForm(request.POST if which == "single" else None, prefix="single")
    series = SeriesForm(request.POST if which == "series" else None, prefix="series")
    preview: list[tuple[Any, Any]] | None = None
    if which == "single" and single.is_valid():
        try:
            services.occurrence_create(
                item=item,
                starts_at=single.cleaned_data["starts_at"],
                ends_at=single.cleaned_data["ends_at"],
                capacity=single.cleaned_data["capacity"],
                actor=request.user,
            )
        except DomainError as exc:
            add_errors(single, exc)
        else:
            messages.success(request, _("The date has been added."))
            return _to_item(request, item)
    elif which == "series" and series.is_valid():
        action = request.POST.get("action", "preview")
        try:
            if action == "create":
                created = services.occurrences_create_recurring(
                    item=item,
                    first_start=series.first(),
                    duration=series.duration(),
                    rule=series.rule(),
                    capacity=series.cleaned_data["capacity"],
                    actor=request.user,
                )
                messages.success(
                    request,
                    ngettext(
                        "%(count)s date has been added.",
                        "%(count)s dates have been added.",
                        len(created),
                    )
                    % {"count": len(created)},
                )
                return _to_item(request, item)
            preview = services.recurrence_preview(
                organisation=request.organisation,
                first_start=series.first(),
                duration=series.duration(),
                rule=series.rule(),
            )
        except DomainError as exc:
            add_errors(series, exc, aliases={"duration": "duration_minutes"})
    return render(
        request,
        "programme/staff_dates_add.html",
        {"item": item, "single": single, "series": series, "preview": preview},
    )


@staff_view(Role.EDITOR)
@in_org_time
def date_edit(request: StaffRequest, occurrence_id: int) -> HttpResponse:
    occurrence = staff_selectors.occurrence_get(
        organisation=request.organisation, occurrence_id=occurrence_id
    )
    form = DateForm(
        request.POST or None,
        new=False,
        initial={
            "starts_at": timezone.localtime(occurrence.starts_at),
            "ends_at": timezone.localtime(occurrence.ends_at),
            "capacity": occurrence.capacity,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.occurrence_update(
                occurrence=occurrence,
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                capacity=form.cleaned_data["capacity"],
                actor=request.user,
            )
        except DomainError as exc:
            if "capacity" in exc.fields and exc.status == 409:
                taken = occurrence.seats_sold + occurrence.seats_held  # type: ignore[attr-defined]
                form.add_error(
                    "capacity",
                    ngettext(
                        "%(taken)s seat is already sold or held for the waiting list; "
                        "the capacity cannot be lower.",
                        "%(taken)s seats are already sold or held for the waiting list; "
                        "the capacity cannot be lower.",
                        taken,
                    )
                    % {"taken": taken},
                )
            else:
                add_errors(form, exc)
        else:
            messages.success(request, _("The date has been saved."))
            return _to_item(request, occurrence.item)
    return render(
        request,
        "programme/staff_date_edit.html",
        {
            "occurrence": occurrence,
            "item": occurrence.item,
            "form": form,
            "cancelled": occurrence.status == OccurrenceStatus.CANCELLED,
        },
    )


@staff_view(Role.EDITOR)
@in_org_time
def date_cancel(request: StaffRequest, occurrence_id: int) -> HttpResponse:
    occurrence = staff_selectors.occurrence_get(
        organisation=request.organisation, occurrence_id=occurrence_id
    )
    error = ""
    if request.method == "POST":
        try:
            services.occurrence_cancel(occurrence=occurrence, actor=request.user)
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(request, _("The date has been cancelled."))
            return _to_item(request, occurrence.item)
    return render(
        request,
        "programme/staff_date_cancel.html",
        {
            "occurrence": occurrence,
            "item": occurrence.item,
            "error": error,
            "cancelled": occurrence.status == OccurrenceStatus.CANCELLED,
            "bookings_url": bookings_url(request),
        },
    )
