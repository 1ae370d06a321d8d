"""The service's errors in the visitor's or staff member's language.

The services raise English messages: the API answers in English whatever the client's
language. The web pages show the same facts through Django's translations; a message that
is not listed here is shown as the service wrote it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.utils.translation import gettext, gettext_noop, ngettext

from publikum.core.errors import DomainError

Translate = Callable[[re.Match[str]], str]


def _fixed(text: str) -> Translate:
    return lambda _match: gettext(text)


def _only_left(match: re.Match[str]) -> str:
    free, wanted = int(match.group("free")), int(match.group("wanted"))
    return ngettext(
        "Only %(free)d seat is left; you asked for %(wanted)d.",
        "Only %(free)d seats are left; you asked for %(wanted)d.",
        free,
    ) % {"free": free, "wanted": wanted}


def _at_most(match: re.Match[str]) -> str:
    return gettext("At most %(limit)s tickets per booking; for groups, please contact us.") % {
        "limit": match.group("limit")
    }


def _offer_for(match: re.Match[str]) -> str:
    n = int(match.group("n"))
    return ngettext("The offer is for %(n)d ticket.", "The offer is for %(n)d tickets.", n) % {
        "n": n
    }


def _between(match: re.Match[str]) -> str:
    return gettext("Between 1 and %(limit)s tickets, please.") % {"limit": match.group("limit")}


def _no_code(match: re.Match[str]) -> str:
    return gettext("There is no booking with the code %(code)s.") % {"code": match.group("code")}


def _was_cancelled(match: re.Match[str]) -> str:
    return gettext("Booking %(code)s was cancelled.") % {"code": match.group("code")}


def _date_cancelled(match: re.Match[str]) -> str:
    return gettext("The date of booking %(code)s was cancelled.") % {"code": match.group("code")}


def _other_day(match: re.Match[str]) -> str:
    return gettext("Booking %(code)s is for %(day)s, not for today.") % {
        "code": match.group("code"),
        "day": match.group("day"),
    }


_KNOWN: list[tuple[re.Pattern[str], Translate]] = [
    (re.compile(pattern), translate)
    for pattern, translate in (
        (
            r"^This date has been cancelled\.$",
            _fixed(gettext_noop("This date has been cancelled.")),
        ),
        (
            r"^This date cannot be booked here\.$",
            _fixed(gettext_noop("This date cannot be booked here.")),
        ),
        (
            r"^This date has already begun or is over\.$",
            _fixed(gettext_noop("This date has already begun or is over.")),
        ),
        (
            r"^This date is sold out\. You can join the waiting list\.$",
            _fixed(gettext_noop("This date is sold out. You can join the waiting list.")),
        ),
        (r"^Only (?P<free>\d+) seats? left; (?P<wanted>\d+) were requested\.$", _only_left),
        (
            r"^Please book at least one ticket\.$",
            _fixed(gettext_noop("Please book at least one ticket.")),
        ),
        (r"^At most (?P<limit>\d+) tickets per booking", _at_most),
        (
            r"^Price category \S+ does not belong",
            _fixed(gettext_noop("Please choose from the prices shown.")),
        ),
        (r"^The offer is for (?P<n>\d+) ticket", _offer_for),
        (r"^Between 1 and (?P<limit>\d+) tickets", _between),
        (r"^There is no such date\.$", _fixed(gettext_noop("There is no such date."))),
        (
            r"^There is no booking with this code\.$",
            _fixed(gettext_noop("There is no booking with this code.")),
        ),
        (r"^There is no booking with the code (?P<code>\w+)\.$", _no_code),
        (
            r"^There is no such waiting-list (offer|entry)\.$",
            _fixed(gettext_noop("There is no such waiting-list offer.")),
        ),
        (
            r"^There are enough free seats",
            _fixed(gettext_noop("There are enough free seats: please book directly.")),
        ),
        (
            r"^This booking is already cancelled\.$",
            _fixed(gettext_noop("This booking is already cancelled.")),
        ),
        (
            r"^This date is over; the booking can no longer be cancelled\.$",
            _fixed(gettext_noop("This date is over; the booking can no longer be cancelled.")),
        ),
        (
            r"^This booking has been checked in",
            _fixed(
                gettext_noop("This booking has been checked in; it can no longer be cancelled.")
            ),
        ),
        (r"^Booking (?P<code>\w+) was cancelled\.$", _was_cancelled),
        (r"^The date of booking (?P<code>\w+) was cancelled\.$", _date_cancelled),
        (r"^Booking (?P<code>\w+) is for (?P<day>[\d.]+), not for today\.$", _other_day),
        (
            r"^This offer has already been used",
            _fixed(gettext_noop("This offer has already been used for a booking.")),
        ),
        (
            r"^This offer is no longer valid\.$",
            _fixed(gettext_noop("This offer is no longer valid.")),
        ),
        (
            r"^This offer has expired",
            _fixed(
                gettext_noop("This offer has expired. The seats went to the next person waiting.")
            ),
        ),
        (
            r"^Many people are booking this date right now",
            _fixed(
                gettext_noop(
                    "Many people are booking this date right now. Please try again in a moment."
                )
            ),
        ),
        (
            r"^Could not allocate a booking code",
            _fixed(gettext_noop("Something went wrong on our side. Please try again.")),
        ),
        (r"^Please enter a booking code\.$", _fixed(gettext_noop("Please enter a booking code."))),
    )
]


def explain(exc: DomainError) -> str:
    """The message of `exc` in the active language."""
    for pattern, translate in _KNOWN:
        match = pattern.search(exc.message)
        if match is not None:
            return translate(match)
    return exc.message


def field_errors(exc: DomainError) -> dict[str, str]:
    """Which form field the error belongs to (`""` for the whole form), with the message."""
    fields = [f for f in exc.fields if f in {"name", "email", "language", "quantity"}]
    if len(fields) == 1 and fields[0] != "quantity":
        return {fields[0]: explain(exc)}
    if fields == ["quantity"]:
        return {"quantity": explain(exc)}
    return {"": explain(exc)}
