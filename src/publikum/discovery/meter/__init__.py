"""The filter-bubble meter: selectors that read `Offer` rows and the contacts' history.

Formulas, windows and the indexes each query rests on: docs/discovery-meter.md.
"""

from publikum.discovery.meter.common import CONVERSION_DAYS, LOOKAHEAD_DAYS, PERIOD_DAYS, gini
from publikum.discovery.meter.contact import (
    ContactMeter,
    MeterSection,
    contact_meter,
    contact_meter_section,
)
from publikum.discovery.meter.dashboard import (
    DASHBOARD_CACHE_SECONDS,
    Dashboard,
    house_dashboard,
    house_dashboard_forget,
)
from publikum.discovery.meter.house import (
    ChannelFigures,
    Figures,
    Month,
    OfferedItem,
    has_offers,
    house_meter,
    house_meter_by_month,
    most_offered_items,
)

__all__ = [
    "CONVERSION_DAYS",
    "DASHBOARD_CACHE_SECONDS",
    "LOOKAHEAD_DAYS",
    "PERIOD_DAYS",
    "ChannelFigures",
    "ContactMeter",
    "Dashboard",
    "Figures",
    "MeterSection",
    "Month",
    "OfferedItem",
    "contact_meter",
    "contact_meter_section",
    "gini",
    "has_offers",
    "house_dashboard",
    "house_dashboard_forget",
    "house_meter",
    "house_meter_by_month",
    "most_offered_items",
]
