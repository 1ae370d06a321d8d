"""Duplicate contacts: find candidate pairs and merge two contacts into one.

Candidates are (a) contacts with the same e-mail address (case-insensitive), found by the
database, and (b) contacts with the same postcode whose names are alike (rapidfuzz
`token_sort_ratio` >= 90 on names folded to ASCII, so "Müller" meets "Mueller"). (b) never
compares all pairs: contacts are streamed ordered by postcode and compared only within a
block of the same postcode and the same first letter of the folded last name.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.db.models.functions import Lower
from rapidfuzz import fuzz, process

from publikum.audience import activity
from publikum.audience.models import (
    Consent,
    Contact,
    ContactSearch,
    ContactThemeActivity,
    EmailStatus,
)
from publikum.core.errors import Conflict, NotFound, ValidationFailed
from publikum.core.models import ApiToken, Organisation, User
from publikum.core.services import audit_log

FUZZY_THRESHOLD = 90
REASON_EMAIL = "email"
REASON_NAME = "name_postcode"
# Fields of the kept contact that are filled from the merged one when empty.
FILLABLE = (
    "first_name",
    "last_name",
    "organisation_name",
    "email",
    "phone",
    "postcode",
    "birthday",
    "notes",
)
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "ø": "oe"})


@dataclass(frozen=True)
class DuplicatePair:
    """Two contacts that may be one person; `first_id` is the older (lower id) one."""

    first_id: int
    second_id: int
    reason: str
    score: int


def fold(text: str) -> str:
    """Lower case, umlauts spelled out, accents dropped, punctuation as spaces."""
    text = text.lower().translate(_FOLD)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c if c.isalnum() else " " for c in text if not unicodedata.combining(c))
    return " ".join(text.split())


def _name_of(kind: str, first: str, last: str, organisation_name: str) -> tuple[str, str]:
    """(folded full name, block letter) of a contact."""
    if kind == "organisation" and organisation_name:
        name = fold(organisation_name)
        return name, name[:1]
    folded_last = fold(last)
    return fold(f"{first} {last}"), folded_last[:1]


def _email_pairs(organisation: Organisation) -> list[DuplicatePair]:
    base = Contact.objects.filter(organisation=organisation, erased_at__isnull=True).exclude(
        email=""
    )
    keys = list(
        base.annotate(key=Lower("email"))
        .values("key")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("key", flat=True)
    )
    pairs: list[DuplicatePair] = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        groups: dict[str, list[int]] = {}
        rows = (
            base.annotate(key=Lower("email"))
            .filter(key__in=chunk)
            .order_by("key", "pk")
            .values_list("key", "pk")
        )
        for key, pk in rows:
            groups.setdefault(key, []).append(pk)
        for ids in groups.values():
            pairs.extend(DuplicatePair(ids[0], other, REASON_EMAIL, 100) for other in ids[1:])
    return pairs


def _blocks(organisation: Organisation) -> Iterator[list[tuple[int, str]]]:
    """Lists of (id, folded name) sharing postcode and block letter, streamed by postcode."""
    rows = (
        Contact.objects.filter(organisation=organisation, erased_at__isnull=True)
        .exclude(postcode="")
        .order_by("postcode", "pk")
        .values_list("pk", "kind", "first_name", "last_name", "organisation_name", "postcode")
    )
    current = None
    groups: dict[str, list[tuple[int, str]]] = {}
    for pk, kind, first, last, org_name, postcode in rows.iterator(chunk_size=2000):
        code = postcode.replace(" ", "").upper()
        if code != current:
            yield from (g for g in groups.values() if len(g) > 1)
            current, groups = code, {}
        name, letter = _name_of(kind, first, last, org_name)
        if name and letter:
            groups.setdefault(letter, []).append((pk, name))
    yield from (g for g in groups.values() if len(g) > 1)


def _fuzzy_pairs(organisation: Organisation, known: set[tuple[int, int]]) -> list[DuplicatePair]:
    pairs = []
    for block in _blocks(organisation):
        names = [name for _pk, name in block]
        for i, (pk, name) in enumerate(block[:-1]):
            matches = process.extract(
                name,
                names[i + 1 :],
                scorer=fuzz.token_sort_ratio,
                score_cutoff=FUZZY_THRESHOLD,
                limit=None,
            )
            for _match, score, offset in matches:
                other = block[i + 1 + offset][0]
                key = (min(pk, other), max(pk, other))
                if key not in known:
                    known.add(key)
                    pairs.append(DuplicatePair(key[0], key[1], REASON_NAME, round(score)))
    return pairs


def duplicate_candidates(*, organisation: Organisation) -> list[DuplicatePair]:
    """Candidate pairs of the organisation: same e-mail first, then by falling similarity."""
    by_email = _email_pairs(organisation)
    known = {(p.first_id, p.second_id) for p in by_email}
    fuzzy = _fuzzy_pairs(organisation, known)
    fuzzy.sort(key=lambda p: (-p.score, p.first_id, p.second_id))
    return by_email + fuzzy


# --- merge ------------------------------------------------------------------------------------


def _last_event(consent: Consent) -> datetime:
    moments = [m for m in (consent.granted_at, consent.withdrawn_at) if m is not None]
    return max(moments) if moments else consent.created_at


def _merge_consents(keep: Contact, merge: Contact) -> int:
    """Move consents; where both have one for a channel and purpose, the latest event wins."""
    mine = {(c.channel, c.purpose): c for c in Consent.objects.filter(contact=keep)}
    changed = 0
    for theirs in Consent.objects.filter(contact=merge):
        ours = mine.get((theirs.channel, theirs.purpose))
        if ours is None:
            theirs.contact = keep
            theirs.save(update_fields=["contact", "updated_at"])
            changed += 1
        elif _last_event(theirs) > _last_event(ours):
            for name in ("granted", "source", "wording", "granted_at", "withdrawn_at"):
                setattr(ours, name, getattr(theirs, name))
            ours.save()
            theirs.delete()
            changed += 1
        else:
            theirs.delete()
    return changed


def _move_related(keep: Contact, merge: Contact) -> dict[str, int]:
    """Point every row of any module that refers to the merged contact at the kept one.

    A row that cannot move because the kept contact has its equivalent already (a unique
    constraint says so) stays behind and goes with the merged contact.
    """
    moved: dict[str, int] = {}
    for rel in Contact._meta.related_objects:
        model: Any = rel.related_model
        # Consents and the theme summary are merged row by row; the search entry belongs
        # to each contact itself (the triggers keep it).
        if model in (Consent, ContactThemeActivity, ContactSearch) or rel.field is None:
            continue
        name = rel.field.name
        label = model._meta.label_lower
        if rel.many_to_many:
            for obj in model._default_manager.filter(**{name: merge}):
                getattr(obj, name).add(keep)
                moved[label] = moved.get(label, 0) + 1
            continue
        rows = model._default_manager.filter(**{name: merge})
        try:
            with transaction.atomic():
                count = rows.update(**{name: keep})
        except IntegrityError:
            count = 0
            for pk in rows.values_list("pk", flat=True):
                try:
                    with transaction.atomic():
                        count += model._default_manager.filter(pk=pk).update(**{name: keep})
                except IntegrityError:
                    continue
        if count:
            moved[label] = moved.get(label, 0) + count
    return moved


def _fill(keep: Contact, merge: Contact) -> None:
    for name in FILLABLE:
        if not getattr(keep, name) and getattr(merge, name):
            setattr(keep, name, getattr(merge, name))
            if name == "email":
                keep.email_status = merge.email_status
    if merge.email_status != EmailStatus.OK and keep.email.lower() == merge.email.lower():
        keep.email_status = merge.email_status
    keep.tags = sorted(set(keep.tags or []) | set(merge.tags or []))
    # Until the nightly recompute, the figures of both timelines together.
    firsts = [d for d in (keep.first_visit_at, merge.first_visit_at) if d is not None]
    lasts = [d for d in (keep.last_visit_at, merge.last_visit_at) if d is not None]
    keep.first_visit_at = min(firsts) if firsts else None
    keep.last_visit_at = max(lasts) if lasts else None
    keep.visits_12m += merge.visits_12m
    keep.bookings_12m += merge.bookings_12m
    keep.spend_12m += merge.spend_12m


@transaction.atomic
def contact_merge(
    *,
    keep: Contact,
    merge: Contact,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> Contact:
    """Merge `merge` into `keep` and delete it: timeline, consents, interests, tags,
    subscription requests, lifecycle changes and rows of other modules move over; empty
    fields of `keep` are filled. Both must belong to the same organisation.
    """
    if keep.organisation_id != merge.organisation_id:
        raise NotFound("No such contact.")
    if keep.pk == merge.pk:
        raise ValidationFailed(
            "A contact cannot be merged with itself.", fields={"merge": ["same contact"]}
        )
    locked = {
        c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[keep.pk, merge.pk])
    }
    if len(locked) != 2:
        raise NotFound("No such contact.")
    keep, merge = locked[keep.pk], locked[merge.pk]
    if keep.erased_at is not None or merge.erased_at is not None:
        raise Conflict("An erased contact cannot be merged.")
    consents = _merge_consents(keep, merge)
    activity.merge_theme_activity(keep=keep, merge=merge)
    keep.interests.add(*merge.interests.all())
    moved = _move_related(keep, merge)
    _fill(keep, merge)
    merged_id = merge.pk
    merge.delete()
    keep.save()
    audit_log(
        keep.organisation,
        "audience.contact.merged",
        actor=actor,
        token=token,
        obj=keep,
        data={
            "kept_id": keep.pk,
            "merged_id": merged_id,
            "consents_moved": consents,
            "moved": moved,
        },
    )
    return keep
