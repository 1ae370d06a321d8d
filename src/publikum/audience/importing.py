"""CSV import of contacts and interactions: detect, map, validate row by row, write in batches.

The flow: an upload is stored under DATA_DIR/imports/<org-id>/ (`import_upload`), staff
confirm the column mapping (`import_start`), and the background job `import_run_job` reads
the file row by row and writes batches of `BATCH_SIZE` rows with `bulk_create` /
`bulk_update`, each batch in its own transaction so that the web server keeps writing
meanwhile. The command line runs the same code inline (`import_file`).

Every rejected row is named in `ImportRun.rejected` with its number as in the file (the
header is row 1) and the reasons; the valid rows are kept. Consent columns are imported only
when the run has a consent source.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import unicodedata
import uuid
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import Model, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.http import Http404
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from publikum.audience import activity
from publikum.audience.models import (
    Channel,
    Consent,
    Contact,
    ContactKind,
    ImportRun,
    ImportStatus,
    Interaction,
    InteractionKind,
    Purpose,
)
from publikum.core.errors import DomainError, ValidationFailed
from publikum.core.jobs import job, on_commit_enqueue
from publikum.core.models import ApiToken, AuditEntry, Organisation, User
from publikum.core.services import audit_log
from publikum.programme.models import ProgrammeItem, Theme

KINDS = ("contacts", "interactions")
BATCH_SIZE = 5000
PREVIEW_ROWS = 5
DEFAULT_IMPORT_MAX_BYTES = 50 * 1024 * 1024
# The report lists rejected rows up to this many; the count stays exact beyond it.
MAX_LISTED_REJECTIONS = 50_000
# Uploads whose mapping was never confirmed are removed after this long.
STALE_UPLOAD_AGE = timedelta(hours=24)
SNIFF_CHARS = 64 * 1024
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class UploadTooLarge(DomainError):
    code = "payload_too_large"
    status = 413


class UnreadableFile(DomainError):
    """The file cannot be read as CSV: encoding, delimiter, header or missing file."""

    code = "unreadable_file"
    status = 422


# --- limits ---------------------------------------------------------------------------------


def import_max_bytes() -> int:
    """The size limit of an import file: IMPORT_MAX_BYTES (50 MB), never above the upload limit."""
    configured = int(getattr(settings, "IMPORT_MAX_BYTES", DEFAULT_IMPORT_MAX_BYTES))
    return min(configured, int(settings.MAX_UPLOAD_BYTES))


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def check_size(size: int | None) -> None:
    limit = import_max_bytes()
    if size is not None and size > limit:
        raise UploadTooLarge(
            f"The file has {size} bytes ({_megabytes(size)}); imports are limited to {limit} "
            f"bytes ({_megabytes(limit)}). Split the file into smaller parts.",
            fields={"file": [f"at most {limit} bytes"]},
        )


# --- encoding and delimiter -------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Non-ASCII letters of Western European text: how plausible a single-byte decoding looks.
_PLAUSIBLE = set("äöüÄÖÜßéèêëáàâçñíìîïóòôúùûÉÈÁÀÇÑÓÚœŒæÆøØåÅ€°§«»„“”‘’–—…·´")
_ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16 (BOM)",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1252": "Windows-1252",
}


def encoding_label(encoding: str) -> str:
    return _ENCODING_LABELS.get(encoding, encoding)


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly, read in chunks (bounded memory)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _plausibility(sample: bytes, encoding: str) -> float:
    text = sample.decode(encoding, errors="replace")
    high = [c for c in text if ord(c) > 127]
    if not high:
        return 1.0
    return sum(c in _PLAUSIBLE for c in high) / len(high)


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM), UTF-16 (BOM), else a single-byte code page, usually cp1252.

    BOMs and strict UTF-8 are checked first; charset-normalizer is the fallback and is
    overruled by Windows-1252 when both read the text equally well (it tends to say cp1250
    for German text, which decodes umlauts identically but would confuse people).
    """
    with path.open("rb") as fh:
        sample = fh.read(256 * 1024)
    if not sample.strip():
        raise UnreadableFile("The file is empty.")
    for bom, encoding in _BOMS:
        if sample.startswith(bom):
            if _decodes(path, encoding):
                return encoding
            raise UnreadableFile(
                f"The file starts with a {encoding_label(encoding)} byte order mark but is not "
                "valid in that encoding. Save it again as UTF-8."
            )
    if sample.startswith(b"PK\x03\x04"):
        raise UnreadableFile(
            "This is a spreadsheet or zip file, not CSV. Save it as CSV (UTF-8) first."
        )
    if _decodes(path, "utf-8"):
        if "\x00" in sample.decode("utf-8", errors="replace"):
            raise UnreadableFile("The file contains NUL bytes: it is not a CSV text file.")
        return "utf-8"
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    guess = best.encoding.replace("_", "-") if best is not None else ""
    if guess.startswith("utf-16") and _decodes(path, guess):
        return guess
    if b"\x00" in sample:
        raise UnreadableFile(
            "The file contains NUL bytes but no UTF-16 byte order mark: it is not a CSV text "
            "file, or a UTF-16 file without BOM that could not be recognised. Save it as UTF-8."
        )
    candidates = ["cp1252"]
    if guess and guess not in candidates:
        candidates.append(guess)
    readable = [c for c in candidates if _decodes(path, c)]
    if not readable:
        raise UnreadableFile(
            "The file's encoding could not be recognised (it is not UTF-8, UTF-16 or "
            "Windows-1252). Save it as UTF-8 and upload it again."
        )
    # Stable sort: cp1252 wins ties.
    return max(readable, key=lambda c: _plausibility(sample, c))


def _records(lines: Iterable[str], delimiter: str) -> Iterator[list[str]]:
    return csv.reader(lines, delimiter=delimiter)


def _other_delimiter(line: str) -> str:
    counts = {c: line.count(c) for c in "|:^#/~"}
    best = max(counts, key=lambda c: counts[c])
    if counts[best]:
        return best
    return " " if " " in line.strip() else ""


def sniff_delimiter(sample: str) -> str:
    """The delimiter (comma, semicolon or tab) that splits the first lines most consistently."""
    lines = sample.splitlines(keepends=True)
    if len(sample) >= SNIFF_CHARS and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    best, best_score = ",", (False, -1.0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in _records(lines[:50], delimiter) if any(c.strip() for c in r)]
        except csv.Error:
            continue
        rows = rows[1:] if rows and _is_sep_line(rows[0]) else rows
        if not rows:
            continue
        width = len(rows[0])
        rest = rows[1:]
        consistency = sum(len(r) == width for r in rest) / len(rest) if rest else 1.0
        score = (width > 1, consistency, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _is_sep_line(row: list[str]) -> bool:
    # Excel writes "sep=;" as a first line to announce the delimiter.
    return len(row) <= 2 and bool(row) and row[0].strip().lower().startswith("sep=")


def unique_header(raw: list[str]) -> list[str]:
    """Header cells as column labels: trimmed, empty ones named, repeated ones numbered."""
    labels: list[str] = []
    seen: dict[str, int] = {}
    for index, cell in enumerate(raw):
        label = cell.replace("\ufeff", "").strip() or f"Column {index + 1}"
        seen[label] = seen.get(label, 0) + 1
        if seen[label] > 1:
            label = f"{label} ({seen[label]})"
        labels.append(label)
    return labels


@dataclass
class FileInfo:
    encoding: str
    delimiter: str
    header: list[str]
    preview: list[list[str]]
    header_row: int = 1


def _open_text(path: Path, encoding: str) -> IO[str]:
    return path.open(encoding=encoding, newline="", errors="strict")


def _read_header(reader: Iterator[list[str]]) -> tuple[int, list[str]]:
    """The first non-blank record (after an Excel "sep=" line) and its row number."""
    for number, row in enumerate(reader, start=1):
        if not any(c.strip() for c in row):
            continue
        if _is_sep_line(row):
            continue
        return number, row
    raise UnreadableFile("The file has no header row.")


def inspect_file(path: Path, *, kind: str = "contacts") -> FileInfo:
    """Encoding, delimiter, header and the first rows; errors say what is wrong."""
    if not path.is_file():
        raise UnreadableFile(f"There is no file {path.name}.")
    encoding = detect_encoding(path)
    with _open_text(path, encoding) as fh:
        sample = fh.read(SNIFF_CHARS)
    delimiter = _sniff_from_sample(sample)
    with _open_text(path, encoding) as fh:
        reader = _records(fh, delimiter)
        try:
            header_row, raw = _read_header(reader)
            preview = []
            for row in reader:
                if any(c.strip() for c in row):
                    preview.append([c.strip() for c in row])
                if len(preview) >= PREVIEW_ROWS:
                    break
        except csv.Error as exc:
            raise UnreadableFile(f"The file is not valid CSV: {exc}.") from exc
    _check_structure(path, encoding, delimiter)
    header = unique_header(raw)
    if len(header) == 1 and not guess_mapping(header, kind=kind).get(header[0]):
        other = _other_delimiter(raw[0])
        found = f" The header seems to use {other!r} instead." if other else ""
        raise UnreadableFile(
            f"The header has only one column: {raw[0][:120]!r}. Columns must be separated "
            f"by a comma, a semicolon or a tab.{found} Save the file again as CSV with one "
            "of these delimiters.",
            fields={"file": ["wrong delimiter"]},
        )
    return FileInfo(encoding, delimiter, header, preview, header_row)


def _check_structure(path: Path, encoding: str, delimiter: str) -> None:
    """Read the whole file once as CSV, so that a broken file fails before anything is
    written (the csv module reads some MB a second; nothing is kept)."""
    number = 0
    try:
        with _open_text(path, encoding) as fh:
            for number, _row in enumerate(_records(fh, delimiter), start=1):  # noqa: B007
                pass
    except csv.Error as exc:
        raise UnreadableFile(
            f"Row {number + 1} is not valid CSV ({exc}); nothing was imported. A quote that "
            "is opened but never closed is the usual cause."
        ) from exc


def _sniff_from_sample(sample: str) -> str:
    lines = sample.splitlines()
    first = next((ln for ln in lines if ln.strip()), "")
    if first.strip().lower().startswith("sep=") and len(first.strip()) >= 5:
        announced = first.strip()[4]
        if announced in DELIMITERS:
            return announced
    return sniff_delimiter(sample)


# --- fields, presets, mapping -----------------------------------------------------------------


@dataclass(frozen=True)
class ImportField:
    name: str
    label: str | Promise
    kinds: tuple[str, ...]
    # Header names (normalised: lower case, letters and digits only) that mean this field.
    synonyms: tuple[str, ...] = ()


def _field(name: str, label: str | Promise, kinds: str, synonyms: str) -> ImportField:
    """`kinds`: "c" contacts, "i" interactions; `synonyms` separated by spaces."""
    chosen = tuple(k for k in KINDS if k[0] in kinds)
    return ImportField(name, label, chosen, tuple(synonyms.split()))


FIELDS: tuple[ImportField, ...] = (
    _field("email", _("E-mail address"), "ci",
           "email emailadresse emailaddress mail mailadresse epost targetemail"),
    _field("first_name", _("First name"), "ci", "firstname vorname givenname forename"),
    _field("last_name", _("Last name"), "ci", "lastname nachname familienname surname"),
    _field("name", _("Full name (split into first and last name)"), "ci",
           "name fullname vollername kunde kundenname customername attendeename"),
    _field("organisation_name", _("Organisation name"), "c",
           "company firma organisation organization organisationname organizationname "
           "institution schule school"),
    _field("phone", _("Phone"), "c",
           "phone phonenumber telefon telefonnummer tel mobil mobile handy"),
    _field("language", _("Language"), "c",
           "language sprache preferredlanguage locale korrespondenzsprache"),
    _field("postcode", _("Postcode"), "c", "postcode postalcode zip zipcode plz postleitzahl"),
    _field("birthday", _("Birthday"), "c",
           "birthday birthdate dateofbirth geburtsdatum geburtstag"),
    _field("interests", _("Interests (theme slugs)"), "c", "interests interessen themes themen"),
    _field("tags", _("Tags"), "c", "tags tag schlagworte labels"),
    _field("notes", _("Notes"), "c",
           "notes note notiz notizen bemerkung bemerkungen kommentar comment"),
    _field("kind", _("Kind (person or organisation)"), "c",
           "kind contacttype kontakttyp kontaktart"),
    _field("consent_newsletter", _("Consent: newsletter by e-mail"), "c",
           "newsletter consentnewsletter newsletteroptin einwilligungnewsletter newsletterabo"),
    _field("consent_offers", _("Consent: personal offers by e-mail"), "c",
           "consentoffers angebote werbung marketing werbeeinwilligung"),
    _field("consent_feedback", _("Consent: feedback requests by e-mail"), "c",
           "consentfeedback feedback umfragen"),
    _field("consent_date", _("Consent: date given"), "c",
           "consentdate optindate optindatum einwilligungsdatum einwilligungam"),
    _field("date", _("Date (and time)"), "i",
           "date datum orderdate bestelldatum buchungsdatum besuchsdatum visitdate "
           "activitydate veranstaltungsdatum eventdate zeitpunkt"),
    _field("interaction_kind", _("Kind (visit or booking)"), "i",
           "kind type art activitytype interactionkind"),
    _field("item", _("Programme item (slug)"), "i",
           "item itemslug eventslug event programmeitem veranstaltung"),
    _field("quantity", _("Quantity"), "i", "quantity qty anzahl menge tickets karten positions"),
    _field("amount", _("Amount (EUR)"), "i",
           "amount total ordertotal betrag summe preis price gesamtbetrag"),
    _field("reference", _("Reference (order code)"), "i",
           "reference ordercode bestellnummer buchungsnummer auftragsnummer ticketcode orderid"),
    _field("summary", _("Summary"), "i", "summary beschreibung description"),
)  # fmt: skip
FIELDS_BY_NAME = {f.name: f for f in FIELDS}
CONSENT_FIELDS = {
    "consent_newsletter": Purpose.NEWSLETTER,
    "consent_offers": Purpose.OFFERS,
    "consent_feedback": Purpose.FEEDBACK,
}
IDENTIFYING_FIELDS = ("email", "first_name", "last_name", "name", "organisation_name", "phone")
CONTACT_MODEL_FIELDS = {
    "email", "first_name", "last_name", "organisation_name", "phone", "language", "postcode",
    "birthday", "notes", "kind",
}  # fmt: skip
TEXT_LIMITS = {
    "first_name": 100,
    "last_name": 100,
    "organisation_name": 200,
    "phone": 40,
    "postcode": 10,
    "notes": 10_000,
    "reference": 100,
    "summary": 300,
}


def fields_for(kind: str) -> list[ImportField]:
    return [f for f in FIELDS if kind in f.kinds]


def normalise_header(label: str) -> str:
    return re.sub(r"[^0-9a-zäöüß]+", "", label.replace("\ufeff", "").strip().lower())


@dataclass(frozen=True)
class Preset:
    name: str
    label: str | Promise
    # normalised header → field
    columns: dict[str, str]
    interaction_kind: str = InteractionKind.VISIT


def _preset(name: str, label: str | Promise, columns: str, **kwargs: Any) -> Preset:
    """`columns` as "header=field" pairs separated by spaces (headers normalised)."""
    pairs = dict(pair.split("=") for pair in columns.split())
    return Preset(name, label, pairs, **kwargs)


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        _preset(
            "generic",
            _("Generic (columns named like the fields: email, first_name, ...)"),
            " ".join(f"{normalise_header(f.name)}={f.name}" for f in FIELDS),
        ),
        # pretix: Orders → Export → "Order data" (CSV); column names in English.
        _preset(
            "pretix",
            _("pretix order export"),
            "ordercode=reference email=email name=name invoiceaddressname=name "
            "company=organisation_name phonenumber=phone phone=phone date=date orderdate=date "
            "ordertotal=amount total=amount eventslug=item event=item positions=quantity "
            "quantity=quantity zipcode=postcode postcode=postcode locale=language "
            "language=language",
            interaction_kind=InteractionKind.BOOKING,
        ),
        # Eventim / Reservix customer and booking lists with German column names.
        _preset(
            "eventim",
            _("Eventim / Reservix export (German columns)"),
            "vorname=first_name nachname=last_name email=email emailadresse=email "
            "plz=postcode postleitzahl=postcode geburtsdatum=birthday telefon=phone "
            "telefonnummer=phone firma=organisation_name sprache=language "
            "newsletter=consent_newsletter newslettereinwilligung=consent_newsletter "
            "werbeeinwilligung=consent_offers einwilligungsdatum=consent_date "
            "veranstaltung=item veranstaltungsdatum=date datum=date buchungsdatum=date "
            "anzahl=quantity anzahltickets=quantity betrag=amount preis=amount summe=amount "
            "buchungsnummer=reference auftragsnummer=reference bestellnummer=reference",
            interaction_kind=InteractionKind.BOOKING,
        ),
        # CiviCRM: Contacts → Export, and Activities for interactions.
        _preset(
            "civicrm",
            _("CiviCRM export"),
            "contacttype=kind firstname=first_name lastname=last_name email=email phone=phone "
            "postalcode=postcode birthdate=birthday organizationname=organisation_name "
            "currentemployer=organisation_name preferredlanguage=language tags=tags "
            "note=notes notes=notes activitydate=date activitytype=interaction_kind "
            "targetemail=email subject=summary",
        ),
    )
}


def guess_mapping(header: list[str], *, kind: str, preset: str | None = None) -> dict[str, str]:
    """Column label → field name ("" = ignored): the preset's names first, then synonyms."""
    allowed = {f.name for f in fields_for(kind)}
    synonyms = {s: f.name for f in fields_for(kind) for s in f.synonyms}
    chosen = PRESETS[preset].columns if preset in PRESETS else {}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for label in header:
        key = normalise_header(re.sub(r" \(\d+\)$", "", label))
        name = chosen.get(key) or synonyms.get(key) or ""
        if kind == "interactions" and name == "kind":
            name = "interaction_kind"
        if name not in allowed or name in used:
            name = ""
        if name:
            used.add(name)
        mapping[label] = name
    return mapping


def parse_map_options(values: Iterable[str]) -> dict[str, str]:
    """`COLUMN=FIELD` strings (the CLI's --map) as a dict."""
    mapping: dict[str, str] = {}
    for value in values:
        column, sep, name = value.rpartition("=")
        if not sep or not column.strip():
            raise ValidationFailed(
                f"'{value}' is not COLUMN=FIELD (e.g. \"E-Mail=email\").",
                fields={"map": ["COLUMN=FIELD"]},
            )
        mapping[column.strip()] = name.strip()
    return mapping


def resolve_mapping(
    header: list[str], *, kind: str, preset: str | None = None, explicit: dict[str, str] | None
) -> dict[str, str]:
    """The guess, overridden by an explicit mapping; the result is checked."""
    if preset and preset not in PRESETS:
        raise ValidationFailed(
            f"Unknown preset '{preset}'; one of {', '.join(PRESETS)}.",
            fields={"preset": ["unknown preset"]},
        )
    mapping = guess_mapping(header, kind=kind, preset=preset)
    if explicit:
        by_key = {normalise_header(h): h for h in header}
        for column, name in explicit.items():
            label = column if column in mapping else by_key.get(normalise_header(column))
            if label is None:
                raise ValidationFailed(
                    f"The file has no column '{column}' (its columns: {', '.join(header)}).",
                    fields={"mapping": [f"unknown column '{column}'"]},
                )
            chosen = "" if name in ("", "-", "ignore") else name
            if chosen:
                # An explicit choice wins over a guessed use of the same field.
                for other, guessed in mapping.items():
                    if guessed == chosen and other != label and other not in explicit:
                        mapping[other] = ""
            mapping[label] = chosen
    check_mapping(header, kind=kind, mapping=mapping)
    return mapping


def check_mapping(header: list[str], *, kind: str, mapping: dict[str, str]) -> None:
    if kind not in KINDS:
        raise ValidationFailed(
            f"Unknown import kind '{kind}'; 'contacts' or 'interactions'.",
            fields={"kind": ["contacts or interactions"]},
        )
    allowed = {f.name for f in fields_for(kind)}
    errors: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for column, name in mapping.items():
        if column not in header:
            errors.setdefault("mapping", []).append(f"unknown column '{column}'")
        elif name and name not in allowed:
            errors.setdefault("mapping", []).append(
                f"'{name}' is not a field of {kind} (fields: {', '.join(sorted(allowed))})"
            )
        elif name and name in seen:
            errors.setdefault("mapping", []).append(
                f"'{name}' is assigned to both '{seen[name]}' and '{column}'"
            )
        elif name:
            seen[name] = column
    if not errors:
        used = set(seen)
        if kind == "contacts" and not used & set(IDENTIFYING_FIELDS):
            errors["mapping"] = [
                "no usable column: none is assigned to an e-mail address, a name or a phone "
                f"number (the file's columns: {', '.join(header)})"
            ]
        elif kind == "interactions" and not {"email", "date"} <= used:
            missing = sorted({"email", "date"} - used)
            errors["mapping"] = [
                f"no usable column for {', '.join(missing)}: interactions need the contact's "
                f"e-mail address and a date (the file's columns: {', '.join(header)})"
            ]
    if errors:
        raise ValidationFailed(
            "The column mapping cannot be used: " + "; ".join(errors["mapping"]) + ".",
            fields=errors,
        )


# --- values -------------------------------------------------------------------------------------

_DATE_DE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")
YES = {"1", "yes", "y", "ja", "j", "true", "wahr", "x", "ok", "opt-in", "optin"}
NO = {"0", "no", "n", "nein", "false", "falsch", "-", "opt-out", "optout"}


def parse_date(value: str) -> date:
    """DD.MM.YYYY or YYYY-MM-DD."""
    value = value.strip()
    if m := _DATE_DE.match(value):
        day, month, year = int(m[1]), int(m[2]), int(m[3])
    elif m := _DATE_ISO.match(value):
        year, month, day = int(m[1]), int(m[2]), int(m[3])
    else:
        raise ValueError(f"'{value}' is not a date as DD.MM.YYYY or YYYY-MM-DD")
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError(f"'{value}' is not a valid date") from None


def parse_datetime(value: str, tz: zoneinfo.ZoneInfo) -> datetime:
    """A date, optionally followed by a time (HH:MM[:SS]); a date alone is taken at noon."""
    value = value.strip()
    date_part, _sep, time_part = value.replace("T", " ", 1).partition(" ")
    day = parse_date(date_part)
    at = time(12, 0)
    if time_part.strip():
        m = _TIME.match(time_part.strip()[:8])
        if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3] or 0) > 59:
            raise ValueError(f"'{value}' has no valid time (HH:MM)")
        at = time(int(m[1]), int(m[2]), int(m[3] or 0))
    return datetime.combine(day, at, tzinfo=tz)


def parse_amount(value: str) -> Decimal:
    text = re.sub(r"(?i)eur|€|\s", "", value)
    if "," in text and "." in text:
        decimal_sep = "," if text.rfind(",") > text.rfind(".") else "."
        thousands = "." if decimal_sep == "," else ","
        text = text.replace(thousands, "").replace(decimal_sep, ".")
    else:
        text = text.replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not an amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"'{value}' is not an amount of 0 or more")
    if amount >= Decimal("100000000"):
        raise ValueError(f"'{value}' is too large")
    return amount.quantize(Decimal("0.01"))


def parse_language(value: str) -> str:
    text = value.strip().lower()
    names = {"deutsch": "de", "german": "de", "englisch": "en", "english": "en"}
    code = names.get(text) or text[:2]
    if code not in ("de", "en") or (len(text) > 2 and text not in names and text[2] not in "-_"):
        raise ValueError(f"'{value}' is not a supported language (de or en)")
    return code


def parse_contact_kind(value: str) -> str:
    text = value.strip().lower()
    if text in {"person", "individual", "privat", "privatperson", "household", "haushalt"}:
        return ContactKind.PERSON
    if text in {"organisation", "organization", "firma", "company", "schule", "school"}:
        return ContactKind.ORGANISATION
    raise ValueError(f"'{value}' is neither person nor organisation")


def parse_interaction_kind(value: str) -> str:
    text = value.strip().lower()
    if text in {"visit", "besuch", "eintritt", "attendance", "attended", "check-in", "checkin"}:
        return InteractionKind.VISIT
    if text in {"booking", "buchung", "bestellung", "order", "reservation", "reservierung"}:
        return InteractionKind.BOOKING
    raise ValueError(f"'{value}' is neither visit nor booking")


def parse_yes_no(value: str) -> bool:
    text = value.strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(f"'{value}' is neither yes nor no")


def _split_list(value: str) -> list[str]:
    return [p.strip() for p in re.split(r"[,;|]", value) if p.strip()]


def split_name(value: str) -> tuple[str, str]:
    """ "Anna Müller" and "Müller, Anna" → ("Anna", "Müller"); one word is a last name."""
    value = " ".join(value.split())
    if "," in value:
        last, _sep, first = value.partition(",")
        return first.strip(), last.strip()
    first, _sep, last = value.rpartition(" ")
    return first, last


def parse_quantity(value: str) -> int:
    if not value.isdigit() or int(value) > 100_000:
        raise ValueError(f"'{value[:20]}' is not a whole number from 0 to 100000")
    return int(value)


def _limited(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return check


def email_key(value: str) -> str:
    return value.strip().lower()


def clean_email(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except ValidationError:
        raise ValueError(f"'{value[:100]}' is not a valid e-mail address") from None
    local, _sep, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


# --- rows ---------------------------------------------------------------------------------------


@dataclass
class ContactRow:
    row: int
    values: dict[str, Any]
    interests: list[int] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    consents: dict[str, bool] = field(default_factory=dict)
    consent_at: datetime | None = None


@dataclass
class InteractionRow:
    row: int
    email: str
    kind: str
    occurred_at: datetime
    item_id: int | None
    quantity: int
    amount: Decimal
    reference: str
    summary: str

    def key(self) -> str:
        raw = "|".join(
            str(p)
            for p in (
                self.kind,
                self.occurred_at.isoformat(),
                self.item_id,
                self.quantity,
                self.amount,
                self.reference,
            )
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:20]


class RowParser:
    """Turns the cells of one row into checked values, or a list of reasons to reject it."""

    def __init__(
        self,
        *,
        organisation: Organisation,
        kind: str,
        header: list[str],
        mapping: dict[str, str],
        consent_source: str,
        interaction_kind: str,
    ) -> None:
        self.kind = kind
        self.width = len(header)
        self.columns = [
            (index, mapping[label]) for index, label in enumerate(header) if mapping.get(label)
        ]
        self.use_consent = bool(consent_source)
        self.interaction_kind = interaction_kind
        self.tz = zoneinfo.ZoneInfo(organisation.timezone or settings.TIME_ZONE)
        self.today = timezone.localdate()
        names = {name for _i, name in self.columns}
        self.themes: dict[str, int] = {}
        self.items: dict[str, int] = {}
        if "interests" in names:
            self.themes = dict(
                Theme.objects.filter(organisation=organisation).values_list("slug", "id")
            )
        if "item" in names:
            self.items = dict(
                ProgrammeItem.objects.filter(organisation=organisation).values_list("slug", "id")
            )
        self.convert: dict[str, Callable[[str], Any]] = {
            name: _limited(limit) for name, limit in TEXT_LIMITS.items()
        } | {
            "email": clean_email,
            "name": split_name,
            "birthday": self._birthday,
            "language": parse_language,
            "kind": parse_contact_kind,
            "interests": self._interests,
            "tags": self._tags,
            "consent_date": self._datetime,
            **dict.fromkeys(CONSENT_FIELDS, parse_yes_no),
            "date": self._datetime,
            "interaction_kind": parse_interaction_kind,
            "item": self._item,
            "quantity": parse_quantity,
            "amount": parse_amount,
        }

    def parse(
        self, number: int, row: list[str]
    ) -> tuple[ContactRow | InteractionRow | None, list[str]]:
        if len(row) != self.width:
            return None, [f"the row has {len(row)} cells; the header has {self.width} columns"]
        errors: list[str] = []
        values: dict[str, Any] = {}
        for index, name in self.columns:
            raw = row[index].strip()
            if not raw:
                continue
            try:
                values[name] = self.convert.get(name, str)(raw)
            except ValueError as exc:
                errors.append(f"{name}: {exc}")
        if self.kind == "contacts":
            return self._contact(number, values, errors)
        return self._interaction(number, values, errors)

    def _contact(
        self, number: int, values: dict[str, Any], errors: list[str]
    ) -> tuple[ContactRow | None, list[str]]:
        fields = {k: v for k, v in values.items() if k in CONTACT_MODEL_FIELDS}
        if "name" in values:
            first, last = values["name"]
            fields.setdefault("first_name", first)
            fields.setdefault("last_name", last)
            if max(len(first), len(last)) > TEXT_LIMITS["first_name"]:
                errors.append(f"name: longer than {TEXT_LIMITS['first_name']} characters")
        if not errors and not any(fields.get(f) for f in IDENTIFYING_FIELDS):
            errors.append("the row has no e-mail address, name or phone number")
        if errors:
            return None, errors
        result = ContactRow(
            number, fields, interests=values.get("interests", []), tags=values.get("tags", [])
        )
        if self.use_consent:
            result.consents = {p: values[n] for n, p in CONSENT_FIELDS.items() if n in values}
            result.consent_at = values.get("consent_date")
        return result, []

    def _interaction(
        self, number: int, values: dict[str, Any], errors: list[str]
    ) -> tuple[InteractionRow | None, list[str]]:
        for name in ("email", "date"):
            if name not in values and not any(e.startswith(f"{name}:") for e in errors):
                errors.append(f"{name}: missing")
        if errors:
            return None, errors
        return InteractionRow(
            row=number,
            email=email_key(values["email"]),
            kind=values.get("interaction_kind", self.interaction_kind),
            occurred_at=values["date"],
            item_id=values.get("item"),
            quantity=values.get("quantity", 1),
            amount=values.get("amount", Decimal("0.00")),
            reference=values.get("reference", ""),
            summary=values.get("summary", ""),
        ), []

    def _datetime(self, raw: str) -> datetime:
        return parse_datetime(raw, self.tz)

    def _birthday(self, raw: str) -> date:
        day = parse_date(raw)
        if day > self.today or day.year < 1900:
            raise ValueError(f"'{raw}' is not a plausible birthday")
        return day

    def _interests(self, raw: str) -> list[int]:
        slugs = _split_list(raw)
        unknown = [s for s in slugs if s not in self.themes]
        if unknown:
            raise ValueError("unknown theme " + ", ".join(f"'{s[:60]}'" for s in unknown))
        return sorted({self.themes[s] for s in slugs})

    def _item(self, raw: str) -> int:
        if raw not in self.items:
            raise ValueError(f"unknown programme item '{raw[:100]}'")
        return self.items[raw]

    @staticmethod
    def _tags(raw: str) -> list[str]:
        tags = sorted(set(_split_list(raw)))
        if len(tags) > 50:
            raise ValueError("more than 50 tags")
        if any(len(t) > 50 for t in tags):
            raise ValueError("a tag is longer than 50 characters")
        return tags


# --- writing batches ----------------------------------------------------------------------------


@dataclass
class Counts:
    total: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    consents_granted: int = 0
    consents_kept_withdrawn: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)

    def reject(self, row: int, errors: list[str]) -> None:
        self.rejected += 1
        if len(self.rejections) < MAX_LISTED_REJECTIONS:
            self.rejections.append({"row": row, "errors": errors})


# Field types whose Python values the database drivers take as they are.
_PLAIN_TYPES = {
    "CharField", "TextField", "EmailField", "SlugField", "BooleanField", "IntegerField",
    "PositiveIntegerField", "PositiveSmallIntegerField", "ForeignKey", "BigIntegerField",
}  # fmt: skip


def _preparer(field: Any, connection: Any) -> Callable[[Any], Any]:
    if field.get_internal_type() in _PLAIN_TYPES:
        return lambda value: value
    return lambda value: field.get_db_prep_save(value, connection)


def _insert(
    model: type[Model], rows: list[dict[str, Any]], *, ids: bool = False
) -> list[int] | None:
    """INSERT rows (attname → value); unset fields get their defaults. PostgreSQL loads them
    with COPY, SQLite with one executemany. With `ids`, PostgreSQL returns the new rows'
    ids in the order of `rows` (taken from the table's sequence first); SQLite returns None.

    Django's bulk_create prepares every field of every object in Python, which took most of
    an import's time; here only the values a row sets are prepared, the defaults once.
    COPY sends the rows as one stream instead of binding every parameter of every row
    (psycopg's query building was most of the Python time of an import into PostgreSQL).
    """
    if not rows:
        return []
    # The connection itself, not the thread-local proxy: every lookup through it costs.
    connection = connections[DEFAULT_DB_ALIAS]
    postgres = connection.vendor == "postgresql"
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    if ids and postgres:
        fields = [model._meta.pk, *fields]
    now = timezone.now()
    template = []
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            default = now
        else:
            default = f.get_default()  # "" for text fields without a default, else None
        template.append(f.get_db_prep_save(default, connection))
    index = {f.attname: i for i, f in enumerate(fields)}
    prepare = [_preparer(f, connection) for f in fields]
    qn = connection.ops.quote_name
    # Names come from the model, values are parameters.
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608
        qn(model._meta.db_table),
        ", ".join(qn(f.column) for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    params = []
    for row in rows:
        values = list(template)
        for name, value in row.items():
            i = index[name]
            values[i] = prepare[i](value)
        params.append(values)
    with connection.cursor() as cursor:
        if not postgres:
            cursor.executemany(sql, params)
            return None
        new_ids: list[int] = []
        if ids:
            # Ids from the sequence the column default draws from, so that nothing has to
            # be read back (COPY returns no rows).
            table = model._meta.db_table
            cursor.execute(
                "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                [qn(table), model._meta.pk.column, len(params)],
            )
            new_ids = [int(row[0]) for row in cursor.fetchall()]
            for values, new_id in zip(params, new_ids, strict=True):
                values[0] = new_id
        copy = "COPY {} ({}) FROM STDIN".format(
            qn(model._meta.db_table), ", ".join(qn(f.column) for f in fields)
        )
        # Through Django's execute wrappers, so that query logging and measurements see
        # the COPY like any other statement.
        cursor._execute_with_wrappers(copy, params, many=True, executor=_copy_rows)
        return new_ids if ids else None


def _copy_rows(sql: str, rows: list[list[Any]], many: bool, context: dict[str, Any]) -> None:
    with context["cursor"].cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _update(model: type[Model], changes: dict[int, dict[str, Any]]) -> None:
    """UPDATE rows by primary key, one executemany per set of changed fields."""
    connection = connections[DEFAULT_DB_ALIAS]
    fields = {f.attname: f for f in model._meta.concrete_fields}
    prepare = {name: _preparer(f, connection) for name, f in fields.items()}
    groups: dict[tuple[str, ...], list[list[Any]]] = {}
    now = timezone.now()
    for pk, change in changes.items():
        values = {**change, "updated_at": now} if "updated_at" in fields else dict(change)
        names = tuple(sorted(values))
        groups.setdefault(names, []).append([prepare[n](values[n]) for n in names] + [pk])
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        for names, params in groups.items():
            assignments = ", ".join(f"{qn(fields[n].column)} = %s" for n in names)
            sql = f"UPDATE {qn(model._meta.db_table)} SET {assignments} WHERE id = %s"  # noqa: S608
            cursor.executemany(sql, params)


class EmailIndex:
    """Finds an organisation's contacts by e-mail address, ignoring case, through the index
    on (organisation, UPPER(email)); the database folds the case on both sides."""

    def __init__(self, organisation: Organisation) -> None:
        self.organisation = organisation
        self.contacts = Contact.objects.filter(organisation=organisation, erased_at__isnull=True)

    def find(self, keys: set[str]) -> dict[str, int]:
        """e-mail key (lower case) → id of the oldest contact with that address."""
        found: dict[str, int] = {}
        if not keys:
            return found
        # Written out: the ORM would compile an expression per address (most of an
        # import's Python time). No ORDER BY: sorting by id makes SQLite scan the
        # organisation instead of the index.
        connection = connections[DEFAULT_DB_ALIAS]
        table = connection.ops.quote_name(Contact._meta.db_table)
        marks = ", ".join(["UPPER(%s)"] * len(keys))
        sql = (
            f"SELECT email, id FROM {table} WHERE organisation_id = %s "  # noqa: S608
            f"AND erased_at IS NULL AND UPPER(email) IN ({marks})"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.organisation.pk, *sorted(keys)])
            for email, pk in cursor.fetchall():
                key = email_key(email)
                found[key] = min(found.get(key, pk), pk)
        return found


def _write_contacts(
    organisation: Organisation,
    run: ImportRun,
    rows: list[ContactRow],
    counts: Counts,
    emails: EmailIndex,
) -> None:
    """Create or update (matched by e-mail) the contacts of a batch, their interests and
    consent. A second row for the same address updates what the first one wrote."""
    matched = emails.find({email_key(r.values["email"]) for r in rows if r.values.get("email")})
    tags_of: dict[int, list[str]] = {}
    if any(r.tags for r in rows) and matched:
        tags_of = {
            pk: list(tags or [])
            for pk, tags in Contact.objects.filter(pk__in=matched.values())
            .order_by()
            .values_list("pk", "tags")
        }
    existing = {key: (pk, tags_of.get(pk, [])) for key, pk in matched.items()}
    new: dict[str, dict[str, Any]] = {}  # e-mail key → values of a contact to create
    anonymous: list[dict[str, Any]] = []  # contacts to create without an e-mail address
    changes: dict[int, dict[str, Any]] = {}  # id → changed values of an existing contact
    owners: list[tuple[str, Any, ContactRow]] = []
    for row in rows:
        key = email_key(row.values.get("email", ""))
        # A matched address keeps its spelling; filled cells overwrite, empty ones don't.
        update = {k: v for k, v in row.values.items() if k != "email"}
        if key in existing:
            pk, tags = existing[key]
            change = changes.setdefault(pk, {})
            change.update(update)
            if row.tags:
                change["tags"] = sorted(set(change.get("tags", tags)) | set(row.tags))
            counts.updated += 1
            owners.append(("pk", pk, row))
        elif key in new:
            new[key].update(update)
            new[key]["tags"] = sorted(set(new[key]["tags"]) | set(row.tags))
            counts.updated += 1
            owners.append(("key", key, row))
        else:
            values = {**row.values, "tags": row.tags, "organisation_id": organisation.pk}
            counts.created += 1
            if key:
                new[key] = values
                owners.append(("key", key, row))
            else:
                anonymous.append(values)
                owners.append(("anonymous", len(anonymous) - 1, row))
    new_ids = _insert(Contact, list(new.values()), ids=True)
    created = dict(zip(new, new_ids, strict=True)) if new_ids is not None else emails.find(set(new))
    anonymous_ids = [
        c.pk for c in Contact.objects.bulk_create([Contact(**values) for values in anonymous])
    ]
    _update(Contact, changes)

    def contact_id(how: str, ref: Any) -> int:
        if how == "pk":
            return int(ref)
        return created[ref] if how == "key" else anonymous_ids[ref]

    resolved = [(contact_id(how, ref), row) for how, ref, row in owners]
    known = {pk for pk, _tags in existing.values()}
    through: Any = Contact.interests.through
    links = {(contact_id, theme_id) for contact_id, row in resolved for theme_id in row.interests}
    through.objects.bulk_create(
        [through(contact_id=c, theme_id=t) for c, t in sorted(links)], ignore_conflicts=True
    )
    if run.consent_source:
        _write_consents(organisation, run, resolved, counts, known)


def _write_consents(
    organisation: Organisation,
    run: ImportRun,
    owners: list[tuple[int, ContactRow]],
    counts: Counts,
    known: set[int],
) -> None:
    """Grant the consents the rows give; `known` are the contacts that existed before the
    batch (only they can have consents already)."""
    now = timezone.now()
    wanted: dict[tuple[int, str], datetime] = {}
    for contact_id, row in owners:
        for purpose, granted in row.consents.items():
            if granted:
                wanted[(contact_id, purpose)] = row.consent_at or now
    if not wanted:
        return
    existing: dict[tuple[int, str], Consent] = {}
    if asked := {pk for pk, _p in wanted} & known:
        existing = {
            (c.contact_id, c.purpose): c
            for c in Consent.objects.filter(
                contact_id__in=asked,
                channel=Channel.EMAIL,
                purpose__in={p for _pk, p in wanted},
            )
        }
    source = run.consent_source[:200]
    to_create: list[dict[str, Any]] = []
    to_update: list[Consent] = []
    for (contact_id, purpose), at in wanted.items():
        consent = existing.get((contact_id, purpose))
        if consent is None:
            to_create.append(
                {
                    "organisation_id": organisation.pk,
                    "contact_id": contact_id,
                    "channel": Channel.EMAIL.value,
                    "purpose": purpose,
                    "granted": True,
                    "source": source,
                    "granted_at": at,
                }
            )
        elif consent.granted:
            continue
        elif consent.withdrawn_at is not None and consent.withdrawn_at >= at:
            # A withdrawal later than the consent in the file stands.
            counts.consents_kept_withdrawn += 1
        else:
            consent.granted = True
            consent.source = source
            consent.granted_at = at
            consent.withdrawn_at = None
            consent.updated_at = now
            to_update.append(consent)
    _insert(Consent, to_create)
    Consent.objects.bulk_update(
        to_update, ["granted", "source", "granted_at", "withdrawn_at", "updated_at"]
    )
    counts.consents_granted += len(to_create) + len(to_update)


def _write_interactions(
    organisation: Organisation,
    run: ImportRun,
    rows: list[InteractionRow],
    counts: Counts,
    emails: EmailIndex,
) -> None:
    contacts = emails.find({r.email for r in rows})
    known: list[tuple[int, InteractionRow, str]] = []
    for row in rows:
        contact_id = contacts.get(row.email)
        if contact_id is None:
            counts.reject(
                row.row, ["email: no contact has this e-mail address (import the contacts first)"]
            )
        else:
            known.append((contact_id, row, row.key()))
    # Scoped by the contacts (all of this organisation): a filter on the organisation too
    # makes SQLite walk the organisation's whole timeline instead of the contact index.
    # The key as text: read as JSON, a hex digest like "3e0282..." would come back a float.
    seen = set(
        Interaction.objects.filter(contact_id__in={c for c, _r, _k in known})
        .annotate(import_key=Cast(KeyTextTransform("import_key", "data"), TextField()))
        .filter(import_key__in={k for _c, _r, k in known})
        .order_by()
        .values_list("contact_id", "import_key")
    )
    to_create = []
    entries = []
    for contact_id, row, key in known:
        if (contact_id, key) in seen:
            counts.updated += 1  # the same row was imported before
            continue
        seen.add((contact_id, key))
        entries.append(
            activity.Entry(
                organisation_id=organisation.pk,
                contact_id=contact_id,
                kind=row.kind,
                occurred_at=row.occurred_at,
                item_id=row.item_id,
            )
        )
        data: dict[str, Any] = {"import_key": key, "import_id": run.pk}
        if row.reference:
            data["reference"] = row.reference
        to_create.append(
            {
                "organisation_id": organisation.pk,
                "contact_id": contact_id,
                "kind": row.kind,
                "occurred_at": row.occurred_at,
                "item_id": row.item_id,
                "quantity": row.quantity,
                "amount_eur": row.amount,
                "summary": row.summary,
                "data": data,
            }
        )
    _insert(Interaction, to_create)
    # Visits and bookings count in the figures segments read, as through interaction_record.
    activity.count_entries(entries)
    counts.created += len(to_create)


def _flush(
    organisation: Organisation,
    run: ImportRun,
    batch: list[Any],
    counts: Counts,
    emails: EmailIndex,
) -> None:
    if not batch:
        return
    with transaction.atomic():
        if run.kind == "contacts":
            _write_contacts(organisation, run, batch, counts, emails)
        else:
            _write_interactions(organisation, run, batch, counts, emails)
        if run.pk is not None:
            ImportRun.objects.filter(pk=run.pk).update(
                total_rows=counts.total,
                created_count=counts.created,
                updated_count=counts.updated,
                rejected_count=counts.rejected,
                updated_at=timezone.now(),
            )
    batch.clear()


def _process(run: ImportRun, path: Path) -> Counts:
    organisation = run.organisation
    columns = run_columns(run)
    counts = Counts()
    with _open_text(path, run.encoding) as fh:
        reader = _records(fh, run.delimiter)
        numbered = enumerate(reader, start=1)
        try:
            raw = next(
                (row for _n, row in numbered if any(c.strip() for c in row)
                 and not _is_sep_line(row)),
                None,
            )  # fmt: skip
            if raw is None:
                raise UnreadableFile("The file has no header row.")
            header = unique_header(raw)
            check_mapping(header, kind=run.kind, mapping=columns)
            parser = RowParser(
                organisation=organisation,
                kind=run.kind,
                header=header,
                mapping=columns,
                consent_source=run.consent_source,
                interaction_kind=run_options(run).get("interaction_kind", InteractionKind.VISIT),
            )
            batch: list[Any] = []
            emails = EmailIndex(organisation)
            for number, row in numbered:
                if not any(c.strip() for c in row):
                    continue
                counts.total += 1
                parsed, errors = parser.parse(number, row)
                if parsed is None:
                    counts.reject(number, errors)
                    continue
                batch.append(parsed)
                if len(batch) >= BATCH_SIZE:
                    _flush(organisation, run, batch, counts, emails)
        except csv.Error as exc:
            raise UnreadableFile(
                f"Row {counts.total + 2}: the file is not valid CSV ({exc})."
            ) from exc
        except UnicodeDecodeError as exc:
            raise UnreadableFile(f"The file is not valid {encoding_label(run.encoding)}.") from exc
        _flush(organisation, run, batch, counts, emails)
    counts.rejections.sort(key=lambda r: r["row"])
    return counts


# --- runs: stored shape -------------------------------------------------------------------------


def run_columns(run: ImportRun) -> dict[str, str]:
    """The column → field part of the stored mapping."""
    columns = (run.mapping or {}).get("columns", {})
    return {str(k): str(v) for k, v in columns.items()}


def run_options(run: ImportRun) -> dict[str, str]:
    return dict((run.mapping or {}).get("options", {}))


def _store_mapping(
    run: ImportRun, columns: dict[str, str], *, preset: str | None, interaction_kind: str
) -> None:
    options = {"interaction_kind": interaction_kind}
    if preset:
        options["preset"] = preset
    run.mapping = {"columns": columns, "options": options}


def report_notes(run: ImportRun) -> list[str]:
    """What the report says beside the counts: ignored columns, ignored consent."""
    notes = []
    columns = run_columns(run)
    consent_columns = [c for c, f in columns.items() if f in CONSENT_FIELDS or f == "consent_date"]
    if consent_columns and not run.consent_source:
        notes.append(
            gettext(
                "Consent columns were ignored because no consent source was given: %(columns)s."
            )
            % {"columns": ", ".join(consent_columns)}
        )
    ignored = [c for c, f in columns.items() if not f]
    if ignored:
        notes.append(
            gettext("Columns not imported: %(columns)s.") % {"columns": ", ".join(ignored)}
        )
    if run.kind == "interactions" and run.updated_count:
        notes.append(
            gettext("%(n)d rows had been imported before and were skipped.")
            % {"n": run.updated_count}
        )
    if run.rejected_count > len(run.rejected or []):
        notes.append(
            gettext("The list shows the first %(n)d rejected rows.") % {"n": len(run.rejected)}
        )
    return notes


def finished_figures(run: ImportRun) -> dict[str, Any]:
    """The counts the audit entry of a finished run holds (consents among them)."""
    entry = (
        AuditEntry.objects.filter(
            organisation_id=run.organisation_id,
            action="audience.import.finished",
            object_type="audience.importrun",
            object_id=str(run.pk),
        )
        .order_by("-id")
        .first()
    )
    return dict(entry.data) if entry is not None else {}


# --- storage ------------------------------------------------------------------------------------


def imports_dir(organisation_id: int) -> Path:
    return Path(settings.DATA_DIR) / "imports" / str(organisation_id)


def stored_path(run: ImportRun) -> Path | None:
    """The uploaded file of a run, only ever inside DATA_DIR/imports/<org-id>/."""
    if not run.stored_file:
        return None
    base = imports_dir(run.organisation_id).resolve()
    path = (Path(settings.DATA_DIR) / run.stored_file).resolve()
    return path if path.parent == base else None


def remove_stored(run: ImportRun) -> None:
    """Delete the uploaded file of a run (the caller saves the run)."""
    path = stored_path(run)
    if path is not None:
        path.unlink(missing_ok=True)
    run.stored_file = ""


def save_upload(organisation: Organisation, upload: UploadedFile, suffix: str = ".csv") -> Path:
    """Stream an upload to the organisation's import folder; FileTooLarge past the limit,
    leaving nothing behind."""
    folder = imports_dir(organisation.pk)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}{suffix}"
    written = 0
    limit = import_max_bytes()
    with path.open("wb") as out:
        for chunk in upload.chunks():
            written += len(chunk)
            if written > limit:
                out.close()
                path.unlink(missing_ok=True)
                check_size(written)
            out.write(chunk)
    return path


def _discard_stale_uploads(organisation: Organisation) -> None:
    cutoff = timezone.now() - STALE_UPLOAD_AGE
    for run in ImportRun.objects.filter(
        organisation=organisation, status=ImportStatus.PENDING, created_at__lt=cutoff
    ):
        remove_stored(run)
        run.status = ImportStatus.FAILED
        run.error = "The column mapping was not confirmed within 24 hours; the file was removed."
        run.save(update_fields=["stored_file", "status", "error", "updated_at"])


# --- services -----------------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValidationFailed(
            f"Unknown import kind '{kind}'; 'contacts' or 'interactions'.",
            fields={"kind": ["contacts or interactions"]},
        )


def _check_interaction_kind(value: str) -> str:
    if value not in (InteractionKind.VISIT, InteractionKind.BOOKING):
        raise ValidationFailed(
            f"Unknown interaction kind '{value}'; 'visit' or 'booking'.",
            fields={"interaction_kind": ["visit or booking"]},
        )
    return value


def _safe_filename(name: str) -> str:
    base = Path(name or "import.csv").name
    return unicodedata.normalize("NFC", base)[:255] or "import.csv"


def import_upload(
    *,
    organisation: Organisation,
    upload: UploadedFile,
    kind: str,
    preset: str | None = None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ImportRun:
    """Store an uploaded CSV for the mapping step; the run waits with the guessed mapping.

    The size is checked before anything is read; encoding, delimiter and header are checked
    on the stored file, and a file that fails is removed again.
    """
    _check_kind(kind)
    check_size(upload.size)
    if preset and preset not in PRESETS:
        raise ValidationFailed(
            f"Unknown preset '{preset}'; one of {', '.join(PRESETS)}.",
            fields={"preset": ["unknown preset"]},
        )
    _discard_stale_uploads(organisation)
    # The file work happens outside the transaction: on SQLite it holds the write lock.
    path = save_upload(organisation, upload)
    try:
        info = inspect_file(path, kind=kind)
    except DomainError:
        path.unlink(missing_ok=True)
        raise
    run = ImportRun(
        organisation=organisation,
        kind=kind,
        filename=_safe_filename(upload.name or ""),
        encoding=info.encoding,
        delimiter=info.delimiter,
        stored_file=str(path.relative_to(Path(settings.DATA_DIR))),
        created_by=actor,
    )
    default_kind = PRESETS[preset].interaction_kind if preset else InteractionKind.VISIT
    _store_mapping(
        run,
        guess_mapping(info.header, kind=kind, preset=preset),
        preset=preset,
        interaction_kind=default_kind,
    )
    with transaction.atomic():
        run.save()
        audit_log(
            organisation,
            "audience.import.uploaded",
            actor=actor,
            token=token,
            obj=run,
            data={"kind": kind, "encoding": info.encoding, "columns": len(info.header)},
        )
    return run


def run_file_info(run: ImportRun) -> FileInfo:
    """Header and first rows of a waiting run's stored file."""
    path = stored_path(run)
    if path is None or not path.is_file():
        raise UnreadableFile("The uploaded file is no longer there; upload it again.")
    return inspect_file(path, kind=run.kind)


def import_start(
    *,
    run: ImportRun,
    mapping: dict[str, str] | None = None,
    consent_source: str = "",
    interaction_kind: str | None = None,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> ImportRun:
    """Confirm the mapping of a waiting run and hand it to the background job.

    `mapping` (column → field, "" to ignore) overrides the guess stored at upload. Consent
    columns are imported only with a `consent_source`.
    """
    if run.status != ImportStatus.PENDING:
        raise ValidationFailed(
            "This import is not waiting for its column mapping (it has started already).",
            fields={"status": [run.status]},
        )
    info = run_file_info(run)
    options = run_options(run)
    preset = options.get("preset") or None
    columns = resolve_mapping(info.header, kind=run.kind, preset=preset, explicit=mapping)
    consent_source = (consent_source or "").strip()
    if len(consent_source) > 200:
        raise ValidationFailed(
            "The consent source has more than 200 characters.",
            fields={"consent_source": ["at most 200 characters"]},
        )
    chosen_kind = _check_interaction_kind(
        interaction_kind or options.get("interaction_kind") or InteractionKind.VISIT
    )
    with transaction.atomic():
        locked = ImportRun.objects.select_for_update().get(pk=run.pk)
        if locked.status != ImportStatus.PENDING:
            raise ValidationFailed(
                "This import is not waiting for its column mapping (it has started already).",
                fields={"status": [locked.status]},
            )
        _store_mapping(locked, columns, preset=preset, interaction_kind=chosen_kind)
        locked.consent_source = consent_source if locked.kind == "contacts" else ""
        locked.status = ImportStatus.RUNNING
        locked.save()
        audit_log(
            locked.organisation,
            "audience.import.started",
            actor=actor,
            token=token,
            obj=locked,
            data={"kind": locked.kind, "consent": bool(locked.consent_source)},
        )
        on_commit_enqueue(import_run_job, locked.pk, organisation_id=locked.organisation_id)
    return locked


@transaction.atomic
def import_cancel(*, run: ImportRun, actor: User | None = None) -> ImportRun:
    """Drop a run that waits for its mapping, with its stored file."""
    run = ImportRun.objects.select_for_update().get(pk=run.pk)
    if run.status != ImportStatus.PENDING:
        raise ValidationFailed("Only an import that waits for its mapping can be cancelled.")
    remove_stored(run)
    run.status = ImportStatus.FAILED
    run.error = "Cancelled before the import started."
    run.finished_at = timezone.now()
    run.save()
    audit_log(run.organisation, "audience.import.cancelled", actor=actor, obj=run)
    return run


def _finish(run: ImportRun, counts: Counts, actor: User | None, token: ApiToken | None) -> None:
    run.status = ImportStatus.DONE
    run.total_rows = counts.total
    run.created_count = counts.created
    run.updated_count = counts.updated
    run.rejected_count = counts.rejected
    run.rejected = counts.rejections
    run.error = ""
    run.finished_at = timezone.now()
    run.save()
    audit_log(
        run.organisation,
        "audience.import.finished",
        actor=actor,
        token=token,
        label="" if actor or token else "import",
        obj=run,
        data={
            "kind": run.kind,
            "rows": counts.total,
            "created": counts.created,
            "updated": counts.updated,
            "rejected": counts.rejected,
            "consents_granted": counts.consents_granted,
            "consents_kept_withdrawn": counts.consents_kept_withdrawn,
        },
    )


def _fail(run: ImportRun, message: str) -> None:
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportStatus.FAILED,
        error=message[:2000],
        finished_at=timezone.now(),
        stored_file="",
        updated_at=timezone.now(),
    )
    audit_log(run.organisation, "audience.import.failed", label="import", obj=run)


def import_execute(*, run: ImportRun, path: Path | None = None) -> ImportRun:
    """Read the run's file and write its rows; the run ends done (with its report) or failed.

    Call for a run in status "running". Batches commit one by one, so the web server keeps
    writing in between; a run that fails midway keeps the batches written before and says
    where it stopped. An uploaded file is removed afterwards either way.
    """
    path = path or stored_path(run)
    try:
        if path is None or not path.is_file():
            raise UnreadableFile("The file to import is no longer there; upload it again.")
        counts = _process(run, path)
    except DomainError as exc:
        remove_stored(run)
        _fail(run, exc.message)
        run.refresh_from_db()
        return run
    except Exception as exc:
        remove_stored(run)
        _fail(run, f"The import stopped with an internal error ({type(exc).__name__}).")
        raise
    with transaction.atomic():
        remove_stored(run)
        _finish(run, counts, run.created_by, None)
    return run


def import_file(
    *,
    organisation: Organisation,
    path: Path,
    kind: str,
    preset: str | None = None,
    mapping: dict[str, str] | None = None,
    consent_source: str = "",
    interaction_kind: str | None = None,
    dry_run: bool = False,
) -> ImportRun:
    """Import a file from the local disk at once (the command line); it is left in place.

    With `dry_run` every row is checked and counted as it would be, and nothing is kept.
    """
    _check_kind(kind)
    if not path.is_file():
        raise UnreadableFile(f"There is no file {path}.")
    check_size(path.stat().st_size)
    info = inspect_file(path, kind=kind)
    columns = resolve_mapping(info.header, kind=kind, preset=preset, explicit=mapping)
    consent_source = (consent_source or "").strip()[:200]
    default_kind = PRESETS[preset].interaction_kind if preset else InteractionKind.VISIT
    run = ImportRun(
        organisation=organisation,
        kind=kind,
        filename=_safe_filename(path.name),
        encoding=info.encoding,
        delimiter=info.delimiter,
        consent_source=consent_source if kind == "contacts" else "",
        status=ImportStatus.RUNNING,
    )
    _store_mapping(
        run,
        columns,
        preset=preset,
        interaction_kind=_check_interaction_kind(interaction_kind or default_kind),
    )
    if not dry_run:
        run.save()
        return import_execute(run=run, path=path)
    with transaction.atomic():
        run.save()
        counts = _process(run, path)
        _finish(run, counts, None, None)
        transaction.set_rollback(True)
    run.pk = None
    return run


# --- reads --------------------------------------------------------------------------------------


def import_list(*, organisation: Organisation) -> QuerySet[ImportRun]:
    return ImportRun.objects.filter(organisation=organisation).order_by("-created_at", "-id")


def import_get(*, organisation: Organisation, import_id: int) -> ImportRun:
    run = ImportRun.objects.filter(organisation=organisation, pk=import_id).first()
    if run is None:
        raise Http404("No import with this id.")
    return run


# --- the background job ---------------------------------------------------------------------------


@job(max_attempts=1)
def import_run_job(import_id: int, *, organisation_id: int) -> str:
    """Run a confirmed import. Safe to run twice: only a run still "running" is processed."""
    run = (
        ImportRun.objects.select_related("organisation", "created_by")
        .filter(pk=import_id, organisation_id=organisation_id)
        .first()
    )
    if run is None or run.status != ImportStatus.RUNNING or run.finished_at is not None:
        return "skipped"
    import_execute(run=run)
    return str(run.status)


def report_text(run: ImportRun) -> str:
    """The report as plain text, for the command line."""
    out = io.StringIO()
    label = "Dry run, nothing was saved" if run.pk is None else f"Import {run.pk}"
    out.write(f"{label}: {run.kind} from {run.filename}\n")
    out.write(
        f"Encoding: {encoding_label(run.encoding)}; delimiter: "
        f"{DELIMITER_NAMES.get(run.delimiter, run.delimiter)}\n"
    )
    columns = run_columns(run)
    mapped = ", ".join(f"{c} → {f}" for c, f in columns.items() if f)
    out.write(f"Columns: {mapped}\n")
    if run.status == ImportStatus.FAILED:
        out.write(f"Failed: {run.error}\n")
    updated = "skipped (imported before)" if run.kind == "interactions" else "updated"
    out.write(
        f"Rows: {run.total_rows}; created: {run.created_count}; {updated}: "
        f"{run.updated_count}; rejected: {run.rejected_count}\n"
    )
    for note in report_notes(run):
        out.write(f"Note: {note}\n")
    for item in run.rejected or []:
        out.write(f"Row {item['row']}: {'; '.join(item['errors'])}\n")
    return out.getvalue()


def report_dict(run: ImportRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "kind": run.kind,
        "filename": run.filename,
        "status": run.status,
        "encoding": run.encoding,
        "delimiter": run.delimiter,
        "mapping": run_columns(run),
        "consent_source": run.consent_source,
        "total_rows": run.total_rows,
        "created": run.created_count,
        "updated": run.updated_count,
        "rejected_count": run.rejected_count,
        "rejected": run.rejected,
        "notes": report_notes(run),
        "error": run.error,
        "dry_run": run.pk is None,
    }
