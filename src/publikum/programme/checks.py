"""Checks of programme input, before any write: every bad field is named in one error.

`services.py` calls these first and writes afterwards ("check, then do"); nothing here
writes to the database.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Q, QuerySet

from publikum.core.demo import ascii_slug
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.models import Organisation
from publikum.programme.images import image_check
from publikum.programme.models import (
    AccessibilityFeature,
    ItemKind,
    ProgrammeItem,
    TargetGroup,
    Theme,
    Venue,
)

DEFAULT_KIND = ItemKind.PERFORMANCE
MAX_CAPACITY = 100_000
MAX_PRICE = Decimal("999999.99")
MAX_PRICE_CATEGORIES = 20
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")

ITEM_TEXT_LIMITS = {
    "title_de": 200,
    "title_en": 200,
    "summary_de": 2000,
    "summary_en": 2000,
    "description_de": 50_000,
    "description_en": 50_000,
    "image_alt_de": 300,
    "image_alt_en": 300,
}
VENUE_TEXT_LIMITS = {
    "name_de": 200,
    "name_en": 200,
    "street": 200,
    "postcode": 10,
    "city": 100,
    "directions_de": 5000,
    "directions_en": 5000,
}


class FieldError(Exception):
    """One bad field; the message says what a good value looks like."""


def zone_of(organisation: Organisation) -> ZoneInfo:
    return ZoneInfo(organisation.timezone or settings.TIME_ZONE)


def raise_errors(what: str, errors: dict[str, list[str]]) -> None:
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(f"{what} ({summary}).", fields=errors)


# --- small values ------------------------------------------------------------------------------


def unique_slug(
    queryset: QuerySet[Any], base: str, *, max_length: int, exclude_pk: int | None = None
) -> str:
    """A slug made from `base` that no row of `queryset` has: "name", "name-2", ..."""
    base = ascii_slug(base, max_length=max_length - 4) or "x"
    taken = set(
        queryset.filter(Q(slug=base) | Q(slug__startswith=f"{base}-"))
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def check_slug(value: Any, max_length: int) -> str:
    slug = str(value or "").strip()
    if not _SLUG.match(slug) or len(slug) > max_length:
        raise FieldError(f"lower-case letters, digits and hyphens, at most {max_length}")
    return slug


def _text(value: Any, limit: int) -> str:
    text = str(value or "").strip()
    if len(text) > limit:
        raise FieldError(f"at most {limit} characters")
    return text


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise FieldError("true or false")
    return value


def _codes(value: Any, allowed: Iterable[str], what: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise FieldError("a list of codes")
    allowed = list(allowed)
    unknown = [str(v) for v in value if v not in allowed]
    if unknown:
        raise FieldError(f"unknown {what} {', '.join(unknown)}; known: {', '.join(allowed)}")
    return list(dict.fromkeys(str(v) for v in value))


def price_of(value: Any) -> Decimal:
    """An amount in euros, at least 0, at most two decimals ("12,50" is read as 12.50)."""
    text = str(value).strip().replace(",", ".") if value is not None else ""
    try:
        price = Decimal(text)
    except InvalidOperation as exc:
        raise FieldError("price_eur must be an amount in euros") from exc
    if not price.is_finite():
        raise FieldError("price_eur must be an amount in euros")
    if price < 0:
        raise FieldError("price_eur cannot be negative")
    if price > MAX_PRICE:
        raise FieldError(f"price_eur at most {MAX_PRICE}")
    if price != price.quantize(Decimal("0.01")):
        raise FieldError("price_eur has at most two decimal places")
    return price.quantize(Decimal("0.01"))


def price_rows(value: Any) -> list[dict[str, Any]]:
    """The price list of an item: names unique (ignoring case), prices not negative."""
    if not isinstance(value, (list, tuple)):
        raise FieldError("a list of {name_de, name_en, price_eur}")
    if len(value) > MAX_PRICE_CATEGORIES:
        raise FieldError(f"at most {MAX_PRICE_CATEGORIES} price categories")
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for n, row in enumerate(value, start=1):
        if not isinstance(row, dict):
            raise FieldError(f"entry {n} is not an object")
        unknown = set(row) - {"name_de", "name_en", "price_eur"}
        if unknown:
            raise FieldError(f"entry {n}: unknown field {', '.join(sorted(unknown))}")
        name_de = " ".join(str(row.get("name_de") or "").split())
        name_en = " ".join(str(row.get("name_en") or "").split())
        if not name_de:
            raise FieldError(f"entry {n}: name_de is required")
        if len(name_de) > 100 or len(name_en) > 100:
            raise FieldError(f"entry {n}: names at most 100 characters")
        if name_de.casefold() in seen:
            raise FieldError(f"the name '{name_de}' appears twice")
        seen.add(name_de.casefold())
        try:
            price = price_of(row.get("price_eur", 0))
        except FieldError as exc:
            raise FieldError(f"entry {n}: {exc}") from exc
        cleaned.append({"name_de": name_de, "name_en": name_en, "price_eur": price})
    return cleaned


# --- items ---------------------------------------------------------------------------------------


@dataclass
class ItemChanges:
    """Checked item input. `image`: None unchanged, False removed, else the new file."""

    fields: dict[str, Any] = field(default_factory=dict)
    themes: list[Theme] | None = None
    prices: list[dict[str, Any]] | None = None
    image: Any = None
    image_ext: str = ""


def _item_kind(org: Organisation, value: Any, out: ItemChanges) -> None:
    if value not in ItemKind.values:
        raise FieldError(f"unknown kind; one of {', '.join(ItemKind.values)}")
    out.fields["kind"] = str(value)


def _item_slug(org: Organisation, value: Any, out: ItemChanges) -> None:
    if value not in (None, ""):  # empty: generated from the title
        out.fields["slug"] = check_slug(value, 120)


def _item_themes(org: Organisation, value: Any, out: ItemChanges) -> None:
    if not isinstance(value, (list, tuple)):
        raise FieldError("a list of theme slugs")
    wanted = list(dict.fromkeys(str(v) for v in value))
    themes = list(Theme.objects.filter(organisation=org, slug__in=wanted))
    missing = [s for s in wanted if s not in {t.slug for t in themes}]
    if missing:
        raise FieldError(f"unknown theme {', '.join(missing)}")
    out.themes = themes


def _item_target_groups(org: Organisation, value: Any, out: ItemChanges) -> None:
    out.fields["target_groups"] = _codes(value, TargetGroup.values, "target group")


def _item_accessibility(org: Organisation, value: Any, out: ItemChanges) -> None:
    out.fields["accessibility"] = _codes(value, AccessibilityFeature.values, "feature")


def _item_venue(org: Organisation, value: Any, out: ItemChanges) -> None:
    if value in (None, ""):
        out.fields["venue"] = None
        return
    venue = (
        Venue.objects.filter(organisation=org, pk=value).first() if str(value).isdigit() else None
    )
    if venue is None:
        raise FieldError(f"unknown venue {value}")
    out.fields["venue"] = venue


def _item_flag(name: str) -> Callable[[Organisation, Any, ItemChanges], None]:
    def clean(org: Organisation, value: Any, out: ItemChanges) -> None:
        out.fields[name] = _bool(value)

    return clean


def _item_image(org: Organisation, value: Any, out: ItemChanges) -> None:
    if value in (None, False, ""):
        out.image = False
        return
    try:
        out.image_ext = image_check(value)
    except ValidationFailed as exc:
        raise FieldError(exc.fields.get("image", [exc.message])[0]) from exc
    out.image = value


def _item_external_id(org: Organisation, value: Any, out: ItemChanges) -> None:
    out.fields["external_id"] = _text(value, 255)


def _item_prices(org: Organisation, value: Any, out: ItemChanges) -> None:
    out.prices = price_rows(value)


def _item_text(name: str) -> Callable[[Organisation, Any, ItemChanges], None]:
    def clean(org: Organisation, value: Any, out: ItemChanges) -> None:
        out.fields[name] = _text(value, ITEM_TEXT_LIMITS[name])

    return clean


ITEM_CLEANERS: dict[str, Callable[[Organisation, Any, ItemChanges], None]] = {
    **{name: _item_text(name) for name in ITEM_TEXT_LIMITS},
    "kind": _item_kind,
    "slug": _item_slug,
    "themes": _item_themes,
    "target_groups": _item_target_groups,
    "accessibility": _item_accessibility,
    "venue_id": _item_venue,
    "bookable": _item_flag("bookable"),
    "published": _item_flag("published"),
    "image": _item_image,
    "price_categories": _item_prices,
    # The key in the system an item was imported from (the import sets it).
    "external_id": _item_external_id,
}
ITEM_FIELDS = tuple(ITEM_CLEANERS)


def item_changes(
    organisation: Organisation, data: dict[str, Any], item: ProgrammeItem | None
) -> ItemChanges:
    """Check every key of `data` (see ITEM_FIELDS) against the organisation's vocabulary;
    raise one ValidationFailed naming every bad field."""
    errors: dict[str, list[str]] = {}
    out = ItemChanges()
    for name, value in data.items():
        cleaner = ITEM_CLEANERS.get(name)
        try:
            if cleaner is None:
                raise FieldError("unknown field")
            cleaner(organisation, value, out)
        except FieldError as exc:
            errors[name] = [str(exc)]
    title = out.fields.get("title_de", item.title_de if item else "")
    if not title and "title_de" not in errors:
        errors["title_de"] = ["required"]
    has_image = bool(out.image) if out.image is not None else bool(item and item.image)
    if has_image and "image" not in errors:
        for alt in ("image_alt_de", "image_alt_en"):
            current = out.fields.get(alt, getattr(item, alt, "") if item else "")
            if not current and alt not in errors:
                errors[alt] = ["required with an image: describe it for people who cannot see it"]
    for unique in ("slug", "external_id"):
        if out.fields.get(unique) and unique not in errors:
            clash = ProgrammeItem.objects.filter(
                organisation=organisation, **{unique: out.fields[unique]}
            )
            if item is not None:
                clash = clash.exclude(pk=item.pk)
            if clash.exists():
                errors[unique] = ["already used by another programme item"]
    raise_errors("The programme item could not be saved", errors)
    return out


# --- dates ---------------------------------------------------------------------------------------


def aware(value: Any, zone: ZoneInfo, name: str, errors: dict[str, list[str]]) -> datetime | None:
    """A datetime in `zone`; naive values and ISO text are read as the organisation's
    local time. A bad value is noted in `errors` under `name`."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            errors[name] = ["a date and time as YYYY-MM-DDTHH:MM"]
            return None
    if not isinstance(value, datetime):
        errors[name] = ["required"]
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(zone)


def capacity_of(value: Any, errors: dict[str, list[str]]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors["capacity"] = ["a whole number"]
        return None
    if value < 0:
        errors["capacity"] = ["cannot be negative"]
        return None
    if value > MAX_CAPACITY:
        errors["capacity"] = [f"at most {MAX_CAPACITY}"]
        return None
    return value


def check_new_times(
    starts_at: datetime | None,
    ends_at: datetime | None,
    errors: dict[str, list[str]],
    *,
    now: datetime,
) -> None:
    # A date that is over cannot be added; one that is running (an exhibition that opened
    # last month) can, so that a house can enter what is on when it starts with Publikum.
    if ends_at is not None and ends_at <= now and "ends_at" not in errors:
        errors["ends_at"] = ["in the past: a new date must not be over already"]
    if starts_at is not None and ends_at is not None and ends_at < starts_at:
        errors["ends_at"] = ["before the start"]


# --- venues ----------------------------------------------------------------------------------


def _coordinate(value: Any, limit: int) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except InvalidOperation as exc:
        raise FieldError("a number in degrees") from exc
    if not number.is_finite() or abs(number) > limit:
        raise FieldError(f"between -{limit} and {limit}")
    return number.quantize(Decimal("0.000001"))


def _country(value: Any) -> str:
    code = str(value or "").strip().upper()
    if not re.fullmatch(r"[A-Z]{2}", code):
        raise FieldError("a two-letter country code such as DE")
    return code


def _venue_text(name: str) -> Callable[[Any], str]:
    return lambda value: _text(value, VENUE_TEXT_LIMITS[name])


VENUE_CLEANERS: dict[str, Callable[[Any], Any]] = {
    **{name: _venue_text(name) for name in VENUE_TEXT_LIMITS},
    "country": _country,
    "latitude": lambda value: _coordinate(value, 90),
    "longitude": lambda value: _coordinate(value, 180),
    "is_main": _bool,
}
VENUE_FIELDS = tuple(VENUE_CLEANERS)


def venue_changes(
    organisation: Organisation, data: dict[str, Any], venue: Venue | None
) -> dict[str, Any]:
    """Check the keys of `data` (see VENUE_FIELDS); the German name is required and unique."""
    errors: dict[str, list[str]] = {}
    fields: dict[str, Any] = {}
    for name, value in data.items():
        cleaner = VENUE_CLEANERS.get(name)
        try:
            if cleaner is None:
                raise FieldError("unknown field")
            fields[name] = cleaner(value)
        except FieldError as exc:
            errors[name] = [str(exc)]
    name_de = fields.get("name_de", venue.name_de if venue else "")
    if not name_de and "name_de" not in errors:
        errors["name_de"] = ["required"]
    raise_errors("The venue could not be saved", errors)
    if "name_de" in fields:
        clash = Venue.objects.filter(organisation=organisation, name_de__iexact=fields["name_de"])
        if venue is not None:
            clash = clash.exclude(pk=venue.pk)
        if clash.exists():
            raise Conflict(
                f"There is already a venue called '{fields['name_de']}'.",
                fields={"name_de": ["already used by another venue"]},
            )
    return fields
