"""Writing what the programme import read: through the programme services, one item with
its dates per transaction, finding items again by their external key and dates by their
start time. `run_outcome` runs a writer for real or as a dry run (rolled back)."""

from __future__ import annotations

import codecs
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.audience.importing import UnreadableFile
from publikum.core.demo import ascii_slug
from publikum.core.errors import Conflict, DomainError, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.programme import import_csv, import_ics
from publikum.programme.checks import MAX_CAPACITY, zone_of
from publikum.programme.import_records import (
    DateRecord,
    ItemRecord,
    ParsedFile,
    VenueRecord,
    when,
)
from publikum.programme.models import (
    ItemKind,
    Occurrence,
    OccurrenceStatus,
    ProgrammeItem,
    Theme,
    Venue,
)
from publikum.programme.services import (
    item_create,
    item_update,
    occurrence_cancel,
    occurrence_create,
    occurrence_update,
    theme_create,
    venue_create,
)

FORMATS = ("ics", "csv")
ICS_EXTENSIONS = (".ics", ".ical", ".icalendar", ".ifb", ".vcs")
# Fields of an item an import may change again; the others (published, bookable, the
# image) are the staff's once the item exists.
UPDATED_TEXT_FIELDS = (
    "title_de",
    "title_en",
    "summary_de",
    "summary_en",
    "description_de",
    "description_en",
)


# --- options ---------------------------------------------------------------------------------


@dataclass
class Options:
    """What the staff choose for a run besides the file."""

    format: str
    default_kind: str
    capacity: int
    preset: str = ""
    language: str = ""
    # Check first: the run waits on its review page with the report of a dry run.
    dry_run: bool = False


def check_options(*, file_format: str, default_kind: str, capacity: Any) -> Options:
    errors: dict[str, list[str]] = {}
    if file_format not in FORMATS:
        errors["format"] = [_("ics or csv")]
    if default_kind not in ItemKind.values:
        errors["default_kind"] = [_("one of %(kinds)s") % {"kinds": ", ".join(ItemKind.values)}]
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        errors["capacity"] = [_("a whole number")]
    elif not 0 <= capacity <= MAX_CAPACITY:
        errors["capacity"] = [_("from 0 to %(max)d") % {"max": MAX_CAPACITY}]
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(
            _("The import options are not valid (%(summary)s).") % {"summary": summary},
            fields=errors,
        )
    return Options(format=file_format, default_kind=default_kind, capacity=capacity)


def detect_format(path: Path, filename: str = "") -> str:
    """ "ics" when the file begins like an iCalendar file or is named like one, else "csv"."""
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head.decode("utf-16", errors="ignore")
    else:
        text = head.decode("utf-8", errors="ignore")
    if text.lstrip("\ufeff \r\n\t").upper().startswith("BEGIN:VCALENDAR"):
        return "ics"
    name = (filename or path.name).lower()
    return "ics" if name.endswith(ICS_EXTENSIONS) else "csv"


# --- the outcome -----------------------------------------------------------------------------


@dataclass
class Outcome:
    """What an import did (or, in a dry run, would do)."""

    items_created: int = 0
    items_updated: int = 0
    items_unchanged: int = 0
    dates_created: int = 0
    dates_updated: int = 0
    dates_unchanged: int = 0
    dates_cancelled: int = 0
    skipped_past: int = 0
    venues_created: int = 0
    themes_created: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    file_notes: list[str] = field(default_factory=list)

    def add(self, other: Outcome) -> None:
        for name in (
            "items_created", "items_updated", "items_unchanged", "dates_created",
            "dates_updated", "dates_unchanged", "dates_cancelled", "venues_created",
            "themes_created",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)
        self.notes.extend(other.notes)

    def figures(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("rejected", "notes", "file_notes"):
            data.pop(name)
        return data


def _entry(ref: int, label: str, *messages: str) -> dict[str, Any]:
    return {"row": ref, "label": label, "errors": list(messages)}


# --- writing -----------------------------------------------------------------------------------


@dataclass
class Writer:
    """Writes records through the programme services, one item per transaction."""

    organisation: Organisation
    options: Options
    actor: User | None = None
    token: ApiToken | None = None
    # Venues and themes by the name the file uses, as committed so far: an item that is
    # rolled back takes the venues it created with it, so they are only kept afterwards.
    venues: dict[str, Venue] = field(default_factory=dict)
    themes: dict[str, Theme] = field(default_factory=dict)
    _new_venues: dict[str, Venue] = field(default_factory=dict)
    _new_themes: dict[str, Theme] = field(default_factory=dict)

    def write(self, parsed: ParsedFile) -> Outcome:
        outcome = Outcome(skipped_past=parsed.skipped_past, file_notes=list(parsed.file_notes))
        outcome.rejected = [p.as_dict() for p in parsed.rejected]
        outcome.notes = [p.as_dict() for p in parsed.notes]
        for record in parsed.items:
            part = Outcome()
            self._new_venues, self._new_themes = {}, {}
            try:
                with transaction.atomic():
                    self._item(record, part)
            except DomainError as exc:
                # The item's key was free when this run looked and taken when it wrote:
                # another import created the same item at the same moment.
                message = (
                    _("another import wrote this item at the same time; import again.")
                    if "external_id" in exc.fields
                    else exc.message
                )
                outcome.rejected.append(_entry(record.ref, record.label, message))
                continue
            except IntegrityError:  # the same race, caught by the unique constraint
                outcome.rejected.append(
                    _entry(
                        record.ref,
                        record.label,
                        _("another import wrote this item at the same time; import again."),
                    )
                )
                continue
            self.venues |= self._new_venues
            self.themes |= self._new_themes
            outcome.add(part)
        outcome.rejected.sort(key=lambda e: e["row"])
        outcome.notes.sort(key=lambda e: e["row"])
        return outcome

    # items

    def _item(self, record: ItemRecord, part: Outcome) -> None:
        organisation = self.organisation
        item = ProgrammeItem.objects.filter(
            organisation=organisation, external_id=record.key
        ).first()
        venue = self._venue(record.venue, part) if record.venue else None
        themes = [self._theme(name, part) for name in record.themes]
        if item is None:
            kind = record.data.get("kind") or self.options.default_kind
            data: dict[str, Any] = {
                **{k: v for k, v in record.data.items() if v not in ("", [], None)},
                "kind": kind,
                "bookable": kind != ItemKind.EXHIBITION,
                "themes": [t.slug for t in themes],
                "venue_id": venue.pk if venue else None,
                "external_id": record.key,
            }
            if record.prices:
                data["price_categories"] = record.prices
            item = item_create(
                organisation=organisation, data=data, actor=self.actor, token=self.token
            )
            part.items_created += 1
        else:
            changes = self._item_changes(item, record, venue, themes)
            if changes:
                item = item_update(item=item, data=changes, actor=self.actor, token=self.token)
                part.items_updated += 1
            else:
                part.items_unchanged += 1
        existing = (
            {o.starts_at: o for o in item.occurrences.all()} if part.items_created == 0 else {}
        )
        for date in record.dates:
            try:
                with transaction.atomic():
                    self._date(item, record, date, existing.get(date.starts_at), part)
            except DomainError as exc:
                part.rejected.append(
                    _entry(
                        date.ref,
                        record.label,
                        _("the date %(when)s: %(error)s")
                        % {
                            "when": when(timezone.localtime(date.starts_at, self._zone)),
                            "error": exc.message,
                        },
                    )
                )

    @property
    def _zone(self) -> Any:
        return zone_of(self.organisation)

    def _item_changes(
        self, item: ProgrammeItem, record: ItemRecord, venue: Venue | None, themes: list[Theme]
    ) -> dict[str, Any]:
        """What the file says differently; empty values in the file change nothing."""
        data = record.data
        changes: dict[str, Any] = {}
        for name in UPDATED_TEXT_FIELDS:
            value = data.get(name) or ""
            if value and value != getattr(item, name):
                changes[name] = value
        if data.get("kind") and data["kind"] != item.kind:
            changes["kind"] = data["kind"]
        for name in ("target_groups", "accessibility"):
            merged = list(dict.fromkeys([*getattr(item, name), *data.get(name, [])]))
            if merged != list(getattr(item, name)):
                changes[name] = merged
        if venue is not None and venue.pk != item.venue_id:
            changes["venue_id"] = venue.pk
        current = {t.slug for t in item.themes.all()}
        if {t.slug for t in themes} - current:
            changes["themes"] = sorted(current | {t.slug for t in themes})
        prices = self._prices(item, record.prices)
        if prices is not None:
            changes["price_categories"] = prices
        return changes

    @staticmethod
    def _prices(item: ProgrammeItem, wanted: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The price list with the file's prices added or changed; None when all match.
        Categories the file does not name stay: bookings may point to them."""
        if not wanted:
            return None
        existing: list[dict[str, Any]] = [
            {"name_de": c.name_de, "name_en": c.name_en, "price_eur": c.price_eur}
            for c in item.price_categories.all()
        ]
        by_name = {row["name_de"].casefold(): row for row in existing}
        changed = False
        for row in wanted:
            current = by_name.get(row["name_de"].casefold())
            if current is None:
                existing.append(dict(row))
                changed = True
            elif current["price_eur"] != row["price_eur"]:
                current["price_eur"] = row["price_eur"]
                changed = True
        return existing if changed else None

    def _venue(self, record: VenueRecord, part: Outcome) -> Venue:
        key = record.aliases[0] if record.aliases else record.name
        if key in self.venues:
            return self.venues[key]
        venues = Venue.objects.filter(organisation=self.organisation)
        for name in (record.name, *record.aliases):
            found = venues.filter(Q(name_de__iexact=name) | Q(name_en__iexact=name)).first()
            if found is not None:
                self._new_venues[key] = found
                return found
        data = {
            k: v
            for k, v in (
                ("name_de", record.name),
                ("street", record.street),
                ("postcode", record.postcode),
                ("city", record.city),
                ("latitude", record.latitude),
                ("longitude", record.longitude),
            )
            if v
        }
        try:
            venue = venue_create(organisation=self.organisation, data=data, actor=self.actor)
        except (Conflict, IntegrityError):
            # Another import created it a moment ago: use that one.
            venue = venues.filter(name_de__iexact=record.name).first()  # type: ignore[assignment]
            if venue is None:
                raise
        else:
            part.venues_created += 1
        self._new_venues[key] = venue
        return venue

    def _theme(self, name: str, part: Outcome) -> Theme:
        if name in self.themes:
            return self.themes[name]
        themes = Theme.objects.filter(organisation=self.organisation)
        slug = ascii_slug(name, max_length=60)
        found = themes.filter(
            Q(slug=slug) | Q(name_de__iexact=name) | Q(name_en__iexact=name)
        ).first()
        if found is None:
            try:
                found = theme_create(
                    organisation=self.organisation, name_de=name[:100], actor=self.actor
                )
            except (Conflict, IntegrityError):
                # Another import created it a moment ago: use that one.
                found = themes.filter(Q(slug=slug) | Q(name_de__iexact=name)).first()
                if found is None:
                    raise
            else:
                part.themes_created += 1
        self._new_themes[name] = found
        return found

    # dates

    def _date(
        self,
        item: ProgrammeItem,
        record: ItemRecord,
        date: DateRecord,
        existing: Occurrence | None,
        part: Outcome,
    ) -> None:
        """Create the date, or change the one that starts at the same time."""
        capacity = date.capacity if date.capacity is not None else self.options.capacity
        actor, token = self.actor, self.token
        if existing is None:
            occurrence = occurrence_create(
                item=item,
                starts_at=date.starts_at,
                ends_at=date.ends_at,
                capacity=capacity,
                actor=actor,
                token=token,
            )
            part.dates_created += 1
            if date.cancelled:
                occurrence_cancel(occurrence=occurrence, actor=actor, token=token)
                part.dates_cancelled += 1
            return
        if existing.status == OccurrenceStatus.CANCELLED:
            if not date.cancelled:
                part.notes.append(
                    _entry(
                        date.ref,
                        record.label,
                        _("the date %(when)s was cancelled in Publikum and stays cancelled.")
                        % {"when": when(timezone.localtime(existing.starts_at, self._zone))},
                    )
                )
            part.dates_unchanged += 1
            return
        changes: dict[str, Any] = {}
        if date.ends_at != existing.ends_at:
            changes["ends_at"] = date.ends_at
        # Only a capacity the file states changes a date; the default is for new dates.
        if date.capacity is not None and date.capacity != existing.capacity:
            changes["capacity"] = date.capacity
        if changes:
            existing = occurrence_update(occurrence=existing, actor=actor, token=token, **changes)
        if date.cancelled:
            occurrence_cancel(occurrence=existing, actor=actor, token=token)
            part.dates_cancelled += 1
        if changes or date.cancelled:
            part.dates_updated += 1
        else:
            part.dates_unchanged += 1


# --- reading a file --------------------------------------------------------------------------


def read_file(
    organisation: Organisation,
    path: Path,
    *,
    options: Options,
    mapping: dict[str, str] | None = None,
    now: datetime | None = None,
) -> ParsedFile:
    """Read a stored or local file; raise UnreadableFile when none of it can be read."""
    now = now or timezone.now()
    zone = zone_of(organisation)
    if options.format == "ics":
        try:
            return import_ics.read_ics(
                path.read_bytes(),
                zone=zone,
                language=organisation.language,
                now=now,
            )
        except import_ics.IcsUnreadable as exc:
            raise UnreadableFile(str(exc), fields={"file": [str(exc)]}) from exc
    info = import_csv.inspect_csv(path)
    columns = import_csv.resolve_mapping(
        info.header, preset=options.preset or None, explicit=mapping
    )
    return import_csv.read_csv(path, info=info, mapping=columns, zone=zone, now=now)


def run_outcome(
    organisation: Organisation,
    parsed: ParsedFile,
    *,
    options: Options,
    actor: User | None = None,
    token: ApiToken | None = None,
    dry_run: bool = False,
) -> Outcome:
    """Write the records; in a dry run everything is rolled back at the end."""
    writer = Writer(organisation, options, actor, token)
    if not dry_run:
        return writer.write(parsed)
    with transaction.atomic():
        outcome = writer.write(parsed)
        transaction.set_rollback(True)
    return outcome
