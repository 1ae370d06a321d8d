"""Staff pages of the programme's vocabulary: venues and themes."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from publikum.core.errors import DomainError
from publikum.core.models import Role
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.programme import services, staff_selectors
from publikum.programme.forms import ThemeForm, VenueForm
from publikum.programme.models import Venue
from publikum.programme.views import add_errors, can_edit, language


@staff_view(Role.VIEWER)
def venue_list(request: StaffRequest) -> HttpResponse:
    return render(
        request,
        "programme/staff_venues.html",
        {
            "venues": staff_selectors.venue_list(organisation=request.organisation),
            "can_edit": can_edit(request),
            "language": language(),
        },
    )


def _venue_form_page(request: StaffRequest, venue: Venue | None) -> HttpResponse:
    initial = VenueForm.initial_of(venue) if venue else {"country": "DE"}
    form = VenueForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            if venue is None:
                services.venue_create(
                    organisation=request.organisation, data=data, actor=request.user
                )
                messages.success(request, _("The venue has been created."))
            else:
                services.venue_update(venue=venue, data=data, actor=request.user)
                messages.success(request, _("The venue has been saved."))
        except DomainError as exc:
            if "name_de" in exc.fields and exc.status == 409:
                form.add_error("name_de", _("There is already a venue with this name."))
            else:
                add_errors(form, exc)
        else:
            return redirect("venues", org=request.organisation.slug)
    return render(request, "programme/staff_venue_form.html", {"form": form, "venue": venue})


@staff_view(Role.EDITOR)
def venue_new(request: StaffRequest) -> HttpResponse:
    return _venue_form_page(request, None)


@staff_view(Role.EDITOR)
def venue_edit(request: StaffRequest, venue_id: int) -> HttpResponse:
    venue = staff_selectors.venue_get(organisation=request.organisation, venue_id=venue_id)
    return _venue_form_page(request, venue)


@staff_view(Role.VIEWER)
def theme_list(request: StaffRequest) -> HttpResponse:
    """The themes, and for editors a form to add one."""
    editor = can_edit(request)
    form = ThemeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not editor:
            raise PermissionDenied("Your role does not allow this.")
        if form.is_valid():
            try:
                theme = services.theme_create(
                    organisation=request.organisation, actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                if exc.status == 409:
                    field = "slug" if "slug" in exc.fields else "name_de"
                    form.add_error(field, _("There is already a theme with this name or slug."))
                else:
                    add_errors(form, exc)
            else:
                messages.success(
                    request, _("The theme “%(name)s” has been added.") % {"name": theme.name_de}
                )
                return redirect("themes", org=request.organisation.slug)
    return render(
        request,
        "programme/staff_themes.html",
        {
            "themes": staff_selectors.theme_list(organisation=request.organisation),
            "form": form,
            "can_edit": editor,
        },
    )
