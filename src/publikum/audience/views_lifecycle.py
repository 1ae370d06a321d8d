"""Staff pages of the audience: the loyalty page and the lifecycle thresholds."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from publikum.audience import lifecycle
from publikum.core.errors import DomainError
from publikum.core.models import Role, role_at_least
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.web.charts import bar_chart

PAGE_SIZE = 50
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _parse_month(value: str) -> tuple[int, int] | None:
    match = _MONTH.match(value.strip())
    if not match:
        return None
    year, month = int(match.group(1)), int(match.group(2))
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return year, month


def _shift(month: tuple[int, int], by: int) -> tuple[int, int]:
    total = month[0] * 12 + month[1] - 1 + by
    return total // 12, total % 12 + 1


def _month_text(month: tuple[int, int]) -> str:
    return f"{month[0]:04d}-{month[1]:02d}"


@staff_view(Role.VIEWER)
@require_GET
def lifecycle_overview(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    zone = lifecycle.organisation_zone(organisation)
    local_now = timezone.now().astimezone(zone)
    current = (local_now.year, local_now.month)
    asked = request.GET.get("month", "")
    month = _parse_month(asked) if asked else current
    month_error = ""
    if month is None:
        month_error = _("Enter a month as YYYY-MM, e.g. %(example)s.") % {
            "example": _month_text(current)
        }
        month = current
    start, end = lifecycle.month_bounds(month, zone)
    counts = lifecycle.stage_counts(organisation=organisation)
    total = sum(n for _stage, _label, n in counts)
    rows = [
        {
            "stage": stage,
            "label": label,
            "count": n,
            "share": round(100 * n / total) if total else 0,
        }
        for stage, label, n in counts
    ]
    chart = bar_chart([(label, n) for _stage, label, n in counts], title=_("People per stage"))
    losing = Paginator(
        lifecycle.losing_list(organisation=organisation, start=start, end=end), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    context: dict[str, Any] = {
        "stage_rows": rows,
        "total": total,
        "chart": chart,
        "losing": losing,
        "moves": lifecycle.moves_summary(organisation=organisation, start=start, end=end),
        "month": _month_text(month),
        "month_start": start,
        "month_error": month_error,
        "is_current_month": month == current,
        "previous_month": _month_text(_shift(month, -1)),
        "next_month": _month_text(_shift(month, 1)) if month < current else "",
        "last_recompute": lifecycle.last_recompute(organisation=organisation),
        "can_manage": role_at_least(request.membership.role, Role.MANAGER),
    }
    return render(
        request, "audience/lifecycle_overview.html", context, status=400 if month_error else 200
    )


class ThresholdsForm(forms.Form):
    new_days = forms.IntegerField(
        label=gettext_lazy("New for this many days after the first visit"),
        min_value=1,
        max_value=lifecycle.MAX_DAYS,
    )
    regular_min_visits = forms.IntegerField(
        label=gettext_lazy("Regular from this many visits in 12 months"),
        min_value=1,
        max_value=lifecycle.MAX_VISITS,
    )
    loyal_min_visits = forms.IntegerField(
        label=gettext_lazy("Loyal from this many visits in 12 months"),
        min_value=1,
        max_value=lifecycle.MAX_VISITS,
    )
    lapsing_after_days = forms.IntegerField(
        label=gettext_lazy("Lapsing after this many days without a visit"),
        min_value=1,
        max_value=lifecycle.MAX_DAYS,
    )
    lapsed_after_days = forms.IntegerField(
        label=gettext_lazy("Lapsed after this many days without a visit"),
        min_value=1,
        max_value=lifecycle.MAX_DAYS,
    )


@staff_view(Role.MANAGER)
@require_http_methods(["GET", "POST"])
def lifecycle_settings(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    saved = lifecycle.lifecycle_settings_get(organisation=organisation)
    if request.method == "POST" and request.POST.get("action") == "recompute":
        lifecycle.lifecycle_recompute_request(organisation=organisation, actor=request.user)
        messages.success(
            request,
            _(
                "The recompute has been queued: the worker updates stages and scores in the "
                "background, usually within a few minutes. Reload the loyalty page to see the "
                "result."
            ),
        )
        return redirect("lifecycle_settings", org=organisation.slug)
    initial = {name: getattr(saved, name) for name in lifecycle.THRESHOLDS}
    form = ThresholdsForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            lifecycle.lifecycle_settings_update(
                organisation=organisation, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            for name, errors in exc.fields.items():
                for error in errors:
                    form.add_error(name if name in form.fields else None, error)
        else:
            messages.success(
                request,
                _(
                    "The thresholds have been saved. Stages follow them at the next daily "
                    "recompute, or at once with “Recompute now”."
                ),
            )
            return redirect("lifecycle_settings", org=organisation.slug)
    for name in form.errors:
        if name in form.fields:
            # Screen readers announce the message with the field it belongs to.
            form.fields[name].widget.attrs["aria-describedby"] = f"id_{name}_error"
    return render(
        request,
        "audience/lifecycle_settings.html",
        {
            "form": form,
            "saved": saved,
            "last_recompute": lifecycle.last_recompute(organisation=organisation),
        },
        status=400 if form.is_bound and form.errors else 200,
    )


urlpatterns: list[URLPattern] = [
    path("loyalty/", lifecycle_overview, name="lifecycle"),
    path("loyalty/settings/", lifecycle_settings, name="lifecycle_settings"),
]
