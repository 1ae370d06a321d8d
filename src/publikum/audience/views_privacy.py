"""Staff pages of the audience: export and erasure of one person, retention rules."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from publikum.audience import privacy, selectors
from publikum.core.errors import DomainError
from publikum.core.models import Role
from publikum.core.tenancy import StaffRequest, staff_view

RETENTION_PREVIEW = 10


@staff_view(Role.MANAGER)
def contact_export(request: StaffRequest, contact_id: int) -> HttpResponse:
    # The lookup comes first: another house's id is a 404 whatever the method.
    contact = selectors.contact_get(organisation=request.organisation, contact_id=contact_id)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET"])
    data = privacy.contact_export(contact=contact, actor=request.user)
    response = HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False, indent=2),
        content_type="application/json; charset=utf-8",
    )
    response["Content-Disposition"] = (
        f'attachment; filename="{request.organisation.slug}-contact-{contact.pk}.json"'
    )
    response["Cache-Control"] = "no-store"
    return response


class EraseForm(forms.Form):
    confirm = forms.BooleanField(
        label=gettext_lazy("I understand that this cannot be undone."),
        error_messages={"required": gettext_lazy("Please tick the box to confirm.")},
    )


@staff_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def contact_erase(request: StaffRequest, contact_id: int) -> HttpResponse:
    contact = selectors.contact_get(organisation=request.organisation, contact_id=contact_id)
    form = EraseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            privacy.contact_erase(contact=contact, actor=request.user)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("The person's data has been erased. Aggregate figures were kept."),
            )
            return redirect("contacts", org=request.organisation.slug)
    return render(
        request,
        "audience/privacy_erase.html",
        {
            "contact": contact,
            "form": form,
            "timeline_count": selectors.timeline(contact=contact).count(),
            "consent_count": selectors.consents_of(contact=contact).count(),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


class RetentionForm(forms.Form):
    retention_months = forms.IntegerField(
        label=gettext_lazy("Delete contacts after this many months without consent or contact"),
        min_value=0,
        max_value=privacy.MAX_RETENTION_MONTHS,
        help_text=gettext_lazy("0 switches the rule off."),
        widget=forms.NumberInput(attrs={"aria-describedby": "id_retention_months_helptext"}),
    )


@staff_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def retention(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    saved = privacy.retention_months_of(organisation=organisation)
    form = RetentionForm(request.POST or None, initial={"retention_months": saved})
    action = request.POST.get("action", "")
    context: dict[str, Any] = {"saved_months": saved}
    if request.method == "POST" and action == "apply":
        deleted = privacy.retention_apply(organisation=organisation, actor=request.user)
        if saved:
            messages.success(
                request,
                _("The retention rule was applied: %(n)d contacts deleted.") % {"n": deleted},
            )
        else:
            messages.warning(request, _("The retention rule is off: nothing was deleted."))
        return redirect("retention", org=organisation.slug)
    if request.method == "POST" and form.is_valid():
        months = form.cleaned_data["retention_months"]
        if action == "save":
            try:
                privacy.retention_set(organisation=organisation, months=months, actor=request.user)
            except DomainError as exc:
                form.add_error("retention_months", exc.message)
            else:
                messages.success(request, _("The retention rule has been saved."))
                return redirect("retention", org=organisation.slug)
        else:
            context["dry_run_months"] = months
    months_shown = context.get("dry_run_months", saved)
    if months_shown:
        candidates = privacy.retention_candidates(organisation=organisation, months=months_shown)
        context["would_delete"] = candidates.count()
        context["preview"] = list(
            candidates.order_by("created_at", "pk").only(
                "pk", "kind", "first_name", "last_name", "organisation_name", "email", "created_at"
            )[:RETENTION_PREVIEW]
        )
        context["cutoff"] = privacy.months_before(timezone.now(), months_shown)
    context["months_shown"] = months_shown
    context["form"] = form
    return render(request, "audience/privacy_retention.html", context)


urlpatterns: list[URLPattern] = [
    path("contacts/<int:contact_id>/export/", contact_export, name="contact_export"),
    path("contacts/<int:contact_id>/erase/", contact_erase, name="contact_erase"),
    path("privacy/retention/", retention, name="retention"),
]
