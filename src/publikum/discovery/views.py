"""The discovery dashboard (under /o/<org>/discovery/): the house's filter-bubble meter for
the last quarter and the last twelve months, the most offered items, the state of the
precomputed lists and the house's dial. Every member may look; managers and owners may
turn the dial."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.formats import date_format, number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from publikum.core.errors import DomainError
from publikum.core.models import Role, role_at_least
from publikum.core.services import audit_log
from publikum.core.tenancy import StaffRequest, staff_view
from publikum.discovery import meter
from publikum.discovery.forms import HorizonForm
from publikum.discovery.meter.common import share
from publikum.discovery.models import DiscoverySettings, OfferChannel
from publikum.discovery.services import discovery_settings_update, house_horizon
from publikum.web.charts import LineChart, line_chart

# Who may turn the dial: it changes what every list, mail block and API answer offers.
DIAL_ROLE = Role.MANAGER


def _percent(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _charts(months: list[meter.Month]) -> dict[str, LineChart]:
    labels = [date_format(m.month, "M y") for m in months]
    channels = sorted({c for m in months for c in m.by_channel})
    names = dict(OfferChannel.choices)
    return {
        "reach": line_chart(
            labels,
            [
                (
                    _("Contacts offered something outside their usual themes"),
                    [_percent(m.outside_share) for m in months],
                ),
                (
                    _("Offers outside the usual themes"),
                    [_percent(share(m.outside_offers, m.offers)) for m in months],
                ),
                (_("The dial (0 to 100)"), [_percent(m.dial) for m in months]),
            ],
            title=_("Reach beyond the usual themes, per month (%)"),
            unit=" %",
            decimals=0,
            max_value=100,
        ),
        "conversions": line_chart(
            labels,
            [(_("Horizon conversions"), [_percent(m.conversion_share) for m in months])],
            title=_("Bookings that were horizon conversions, per month (%)"),
            unit=" %",
        ),
        "breadth": line_chart(
            labels,
            [
                (_("Themes offered per person"), [m.breadth_offered for m in months]),
                (_("Themes attended per person"), [m.breadth_attended for m in months]),
            ],
            title=_("Breadth: distinct themes per person, per month"),
        ),
        "gini": line_chart(
            labels,
            [(_("Concentration (Gini)"), [m.gini for m in months])],
            title=_("Concentration of offers over items (Gini), per month"),
            decimals=2,
            max_value=1,
        ),
        "channels": line_chart(
            labels,
            [
                (str(names.get(c, c)), [float(m.by_channel.get(c, 0)) for m in months])
                for c in channels
            ],
            title=_("Offers per month by channel"),
            decimals=0,
        ),
    }


def _dial(request: StaffRequest, form: HorizonForm) -> HttpResponse | None:
    """Apply a posted dial; returns the redirect, or None when the form has errors."""
    if not form.is_valid():
        return None
    old = house_horizon(organisation=request.organisation)
    try:
        found = discovery_settings_update(
            organisation=request.organisation, horizon=form.cleaned_data["horizon"]
        )
    except DomainError as exc:
        form.add_error("horizon", exc.message)
        return None
    audit_log(
        request.organisation,
        "discovery.horizon.changed",
        actor=request.user,
        data={"from": old, "to": found.horizon},
    )
    messages.success(
        request,
        _("The dial is now at %(value)s. The precomputed lists follow within minutes.")
        % {"value": number_format(found.horizon, decimal_pos=2)},
    )
    return redirect("discovery", org=request.organisation.slug)


@staff_view(Role.VIEWER)
def discovery_dashboard(request: StaffRequest) -> HttpResponse:
    organisation = request.organisation
    can_dial = role_at_least(request.membership.role, DIAL_ROLE)
    horizon = house_horizon(organisation=organisation)
    if request.method == "POST":
        if not can_dial:
            raise PermissionDenied(_("Only managers and owners can change the dial."))
        form = HorizonForm(request.POST)
        done = _dial(request, form)
        if done is not None:
            return done
    else:
        form = HorizonForm(initial={"horizon": horizon})
    language = (get_language() or "de")[:2]
    dashboard = meter.house_dashboard(organisation=organisation)
    context: dict[str, Any] = {
        "dashboard": dashboard,
        "period": dashboard.period,
        "shares": {
            "outside": _percent(dashboard.period.outside_share),
            "conversions": _percent(dashboard.period.conversion_share),
        },
        "charts": _charts(dashboard.months),
        "top": [(item, item.title(language)) for item in dashboard.top],
        "form": form,
        "can_dial": can_dial,
        "horizon": horizon,
        "settings": DiscoverySettings.objects.filter(organisation=organisation).first(),
        "conversion_days": meter.CONVERSION_DAYS,
        "period_days": meter.PERIOD_DAYS,
        "lookahead_days": meter.LOOKAHEAD_DAYS,
    }
    return render(request, "discovery/dashboard.html", context)
