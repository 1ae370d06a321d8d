"""Reading a house's own interaction and item CSV files for the offline evaluation.

Items: `item_id,title,themes[,kind,starts_at,description,language,target_groups,accessibility]`
with themes (and target groups, accessibility) separated by `|`. Interactions:
`user_id,item_id,timestamp[,weight]`. Timestamps and `starts_at` are ISO 8601 (a date, or a
date and time, with or without offset; without one it is read as UTC) or Unix seconds.
Comma, semicolon or tab separated, UTF-8 (with or without BOM).

Every problem is a `DatasetError` whose message names the file, the row (the line number a
spreadsheet shows, header = 1) and the column, in one line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path

from publikum.core.errors import ValidationFailed
from publikum.discovery.data import Interaction, Item

ITEM_COLUMNS = ("item_id", "title", "themes")
ITEM_OPTIONAL = (
    "kind",
    "starts_at",
    "description",
    "language",
    "target_groups",
    "accessibility",
)
INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
INTERACTION_OPTIONAL = ("weight",)
# How many further bad rows an error mentions by count after the first one it names.
MAX_LISTED = 1


class DatasetError(ValidationFailed):
    """A CSV file the evaluation cannot use; the message is one line for people."""


def _where(path: Path, row: int | None = None, column: str | None = None) -> str:
    text = str(path)
    if row is not None:
        text += f", row {row}"
    if column is not None:
        text += f", column {column}"
    return text


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: no such file.") from None
    except IsADirectoryError:
        raise DatasetError(f"{path}: is a directory, not a CSV file.") from None
    except OSError as exc:
        raise DatasetError(f"{path}: cannot be read ({exc.strerror}).") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DatasetError(
            f"{_where(path, line)}: not UTF-8 text (byte 0x{raw[exc.start]:02X}); "
            "save the file as UTF-8."
        ) from None


def _rows(
    path: Path, required: tuple[str, ...], optional: tuple[str, ...]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: value}) for each data row, after checking the header."""
    text = _read_text(path)
    if not text.strip():
        raise DatasetError(f"{path}: the file is empty.")
    first = text.lstrip().splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except csv.Error as exc:
        raise DatasetError(f"{_where(path, 1)}: {exc}.") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(
            f"{path}: missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
            f"(found: {', '.join(h for h in header if h) or 'none'})."
        )
    wanted = set(required) | set(optional)
    seen_rows = 0
    try:
        for fields in reader:
            row = reader.line_num
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise DatasetError(
                    f"{_where(path, row)}: {len(fields)} fields where the header has {len(header)}."
                )
            seen_rows += 1
            yield row, {h: f.strip() for h, f in zip(header, fields, strict=True) if h in wanted}
    except csv.Error as exc:
        raise DatasetError(f"{_where(path, reader.line_num)}: {exc}.") from None
    if not seen_rows:
        raise DatasetError(f"{path}: a header but no rows.")


def _split(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.strip() for part in value.split("|") if part.strip()))


def parse_moment(value: str) -> datetime:
    """ISO 8601 (naive = UTC) or Unix seconds; ValueError otherwise."""
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except (ValueError, OverflowError, OSError):
        pass
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_items(path: Path) -> list[Item]:
    """The items of `path`; DatasetError on the first problem."""
    items: dict[str, Item] = {}
    for row, values in _rows(path, ITEM_COLUMNS, ITEM_OPTIONAL):
        item_id = values["item_id"]
        if not item_id:
            raise DatasetError(f"{_where(path, row, 'item_id')}: empty.")
        if item_id in items:
            raise DatasetError(f"{_where(path, row, 'item_id')}: {item_id!r} appears twice.")
        starts_at = None
        if values.get("starts_at"):
            try:
                starts_at = parse_moment(values["starts_at"])
            except ValueError:
                raise DatasetError(
                    f"{_where(path, row, 'starts_at')}: {values['starts_at']!r} is not a date "
                    "(ISO 8601 such as 2026-03-14T19:30 or Unix seconds)."
                ) from None
        items[item_id] = Item(
            id=item_id,
            title=values["title"] or item_id,
            themes=_split(values["themes"]),
            kind=values.get("kind", ""),
            starts_at=starts_at,
            description=values.get("description", ""),
            language=values.get("language", "").lower(),
            target_groups=_split(values.get("target_groups", "")),
            accessibility=_split(values.get("accessibility", "")),
        )
    return list(items.values())


def read_interactions(path: Path, items: Mapping[str, Item], items_path: Path) -> list[Interaction]:
    """The interactions of `path`; every item id must be one of `items` (from `items_path`)."""
    out: list[Interaction] = []
    unknown: list[tuple[int, str]] = []
    for row, values in _rows(path, INTERACTION_COLUMNS, INTERACTION_OPTIONAL):
        user, item = values["user_id"], values["item_id"]
        if not user:
            raise DatasetError(f"{_where(path, row, 'user_id')}: empty.")
        if not item:
            raise DatasetError(f"{_where(path, row, 'item_id')}: empty.")
        if item not in items:
            unknown.append((row, item))
            continue
        stamp = values["timestamp"]
        try:
            moment = parse_moment(stamp).timestamp()
        except ValueError:
            raise DatasetError(
                f"{_where(path, row, 'timestamp')}: {stamp!r} is not a date "
                "(ISO 8601 such as 2026-03-14T19:30 or Unix seconds)."
            ) from None
        weight = 1.0
        if values.get("weight"):
            try:
                weight = float(values["weight"])
            except ValueError:
                weight = float("nan")
            if not weight >= 0 or weight == float("inf"):
                raise DatasetError(
                    f"{_where(path, row, 'weight')}: {values['weight']!r} is not a number >= 0."
                )
        out.append(Interaction(user=user, item=item, timestamp=moment, weight=weight))
    if unknown:
        row, item = unknown[0]
        more = f" (and {len(unknown) - 1} more rows)" if len(unknown) > 1 else ""
        raise DatasetError(
            f"{_where(path, row, 'item_id')}: unknown item {item!r}, not in {items_path}{more}."
        )
    return out
