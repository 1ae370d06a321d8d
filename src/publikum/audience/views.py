"""Staff pages of the audience: the contact list and the contact page with its timeline."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from publikum.audience import selectors, services
from publikum.audience.forms import ContactFilterForm, ContactForm
from publikum.core.errors import DomainError
from publikum.core.models import Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.discovery.meter import contact_meter_section
from publikum.discovery.services import contact_page_section


@staff_view(Role.VIEWER)
def contact_list(request: StaffRequest) -> HttpResponse:
    """The contacts in name order, 50 a page; "previous" and "next" carry the id of the
    contact the page starts after (ends before), so a deep page costs what the first does."""
    form = ContactFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    page = selectors.contact_page(
        organisation=request.organisation,
        filters={name: data.get(name) for name in ContactFilterForm.FILTERS},
        after=data.get("after"),
        before=data.get("before"),
    )
    query = request.GET.copy()
    for name in ("after", "before", "page"):
        query.pop(name, None)
    return render(
        request,
        "audience/contact_list.html",
        {"page": page, "form": form, "query": query.urlencode()},
    )


@staff_view(Role.VIEWER)
def contact_detail(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(organisation=request.organisation, contact_id=contact_id)
    timeline = Paginator(selectors.timeline(contact=contact), 30).get_page(request.GET.get("page"))
    language = (get_language() or "de")[:2]
    return render(
        request,
        "audience/contact_detail.html",
        {
            "contact": contact,
            "timeline": timeline,
            "consents": selectors.consents_of(contact=contact),
            "interests": [t.name(language) for t in contact.interests.all()],
            "language": language,
            "can_edit": role_at_least(request.membership.role, Role.EDITOR),
            "can_manage": role_at_least(request.membership.role, Role.MANAGER),
            "for_you": contact_page_section(
                organisation=request.organisation, contact=contact, language=language
            ),
            "bubble": contact_meter_section(
                organisation=request.organisation, contact=contact, language=language
            ),
        },
    )


@staff_view(Role.EDITOR)
def contact_create(request: StaffRequest) -> HttpResponse:
    language = (get_language() or "de")[:2]
    form = ContactForm(
        request.POST or None,
        organisation=request.organisation,
        language=language,
        initial={"language": "de"},
    )
    if request.method == "POST" and form.is_valid():
        try:
            contact = services.contact_create(
                organisation=request.organisation, actor=request.user, **form.service_data()
            )
        except DomainError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The contact has been created."))
            return redirect("contact_detail", org=request.organisation.slug, contact_id=contact.pk)
    return render(request, "audience/contact_form.html", {"form": form, "contact": None})


@staff_view(Role.EDITOR)
def contact_edit(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(organisation=request.organisation, contact_id=contact_id)
    language = (get_language() or "de")[:2]
    initial = {
        "kind": contact.kind,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "organisation_name": contact.organisation_name,
        "email": contact.email,
        "phone": contact.phone,
        "language": contact.language,
        "postcode": contact.postcode,
        "birthday": contact.birthday,
        "interests": [t.slug for t in contact.interests.all()],
        "tags": ", ".join(contact.tags),
        "notes": contact.notes,
    }
    form = ContactForm(
        request.POST or None, organisation=request.organisation, language=language, initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(contact=contact, actor=request.user, **form.service_data())
        except DomainError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("The contact has been saved."))
            return redirect("contact_detail", org=request.organisation.slug, contact_id=contact.pk)
    return render(request, "audience/contact_form.html", {"form": form, "contact": contact})


def _add_errors(form: ContactForm, exc: DomainError) -> None:
    placed = False
    for field, errors in exc.fields.items():
        if field in form.fields:
            for error in errors:
                form.add_error(field, error)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
