"""Run evaluation cases against an organisation, each in a transaction that is rolled back.

Every case starts a fresh conversation through `assistant.services.message_post`, as the
public API does, and is checked against what came back and what was written (the Booking
row of a dialogue). Then its transaction is rolled back: evaluating the demo organisation
leaves no conversations, contacts or bookings behind, and sends no mail (the mails of a
booking are sent after commit, which never comes; the command also switches to the
in-memory mail backend).
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from publikum.assistant.evaluation import dates
from publikum.assistant.evaluation.cases import Case, CaseError, DialogueCase, QuestionCase
from publikum.core.models import Organisation

MONTHS_DE = (
    "Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
    "Oktober", "November", "Dezember",
)  # fmt: skip
MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
WEEKDAYS_DE = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
WEEKDAYS_EN = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class Turn:
    text: str
    reply: str
    intent: str
    confidence: float
    sources: list[dict[str, Any]]
    handoff: bool
    booking: dict[str, Any] | None
    seconds: float


@dataclass
class CaseResult:
    case: Case
    passed: bool = False
    skipped: bool = False
    why: str = ""  # why it failed or was skipped
    error: str = ""  # an exception while running (counts as failed)
    turns: list[Turn] = field(default_factory=list)
    handoff_reason: str = ""

    @property
    def got_handoff(self) -> bool:
        return any(t.handoff for t in self.turns)

    @property
    def latencies(self) -> list[float]:
        return [t.seconds for t in self.turns]


@dataclass
class Run:
    organisation: str
    started: datetime
    threshold: float | None
    results: list[CaseResult]
    invalid: list[CaseError]


class _Skip(Exception):
    pass


@contextmanager
def rolled_back() -> Iterator[None]:
    """A transaction that is always rolled back. Marked like the one of a Django TestCase,
    so that the durable transaction of `bookings.services.booking_create` nests in it as a
    savepoint instead of refusing to run."""
    block = transaction.atomic()
    block._from_testcase = True  # type: ignore[attr-defined]
    with block:
        try:
            yield
        finally:
            transaction.set_rollback(True)


class Runner:
    def __init__(
        self,
        organisation: Organisation,
        *,
        now: datetime | None = None,
        threshold: float | None = None,
    ) -> None:
        self.organisation = organisation
        self.now = now or timezone.now()
        self.tz = ZoneInfo(organisation.timezone or "Europe/Berlin")
        self.today = timezone.localtime(self.now, self.tz).date()
        self.threshold = threshold
        from publikum.assistant.models import KnowledgeEntry

        self.knowledge = dict(
            KnowledgeEntry.objects.filter(organisation=organisation)
            .exclude(key="")
            .values_list("key", "pk")
        )

    # --- the run ---------------------------------------------------------------------------

    def run(
        self,
        cases: list[Case],
        invalid: list[CaseError] | None = None,
        *,
        progress: Callable[[int, int], None] | None = None,
    ) -> Run:
        invalid = list(invalid or [])
        results: list[CaseResult] = []
        if cases:
            self.warm_up()
        for n, case in enumerate(cases, start=1):
            problem = self.problem(case)
            if problem:
                invalid.append(CaseError(case.position, case.id, problem))
                continue
            results.append(self.run_case(case))
            if progress is not None:
                progress(n, len(cases))
        return Run(
            organisation=self.organisation.slug,
            started=self.now,
            threshold=self.threshold,
            results=results,
            invalid=invalid,
        )

    def warm_up(self) -> None:
        """One untimed message first (rolled back): the classifier is trained and the
        search index built at first use, which is not the latency of a message."""
        with rolled_back():
            self._post(["Hallo"], CaseResult(case=Case("warm-up", "de", "", 0)))

    def problem(self, case: Case) -> str:
        """What makes a valid case unusable with this organisation (an unknown entry key)."""
        if isinstance(case, QuestionCase) and "knowledge" in case.expect:
            key = case.expect["knowledge"]
            if key not in self.knowledge:
                return f"the organisation has no knowledge entry with the key {key!r}"
        return ""

    def run_case(self, case: Case) -> CaseResult:
        result = CaseResult(case=case)
        try:
            with rolled_back():
                self._set_threshold()
                if isinstance(case, QuestionCase):
                    self._question(case, result)
                else:
                    assert isinstance(case, DialogueCase)
                    self._dialogue(case, result)
        except _Skip as exc:
            result.skipped, result.why = True, str(exc)
        except Exception as exc:  # the case fails, the run goes on
            result.passed = False
            result.error = f"{type(exc).__name__}: {exc}"
            result.why = (
                "error: " + "".join(traceback.format_exception_only(type(exc), exc)).strip()
            )
        return result

    def _set_threshold(self) -> None:
        if self.threshold is None:
            return
        from publikum.assistant.models import AssistantSettings

        AssistantSettings.objects.update_or_create(
            organisation=self.organisation, defaults={"threshold": self.threshold}
        )

    def _post(self, texts: list[str], result: CaseResult) -> Any:
        from publikum.assistant.services import message_post

        # A fresh organisation object per case: nothing cached on it from an earlier case
        # (its settings may have been changed inside the rolled-back transaction).
        organisation = Organisation.objects.get(pk=self.organisation.pk)
        conversation_id: str | None = None
        conversation = None
        for text in texts:
            started = time.perf_counter()
            conversation, reply = message_post(
                organisation=organisation,
                conversation_id=conversation_id,
                text=text,
                now=self.now,
            )
            seconds = time.perf_counter() - started
            conversation_id = conversation.public_id
            result.turns.append(
                Turn(
                    text=text,
                    reply=reply.text,
                    intent=reply.intent,
                    confidence=float(reply.confidence or 0.0),
                    sources=list(reply.sources or []),
                    handoff=bool(reply.handoff),
                    booking=reply.booking,
                    seconds=seconds,
                )
            )
        assert conversation is not None
        conversation.refresh_from_db()
        result.handoff_reason = conversation.handoff_reason or ""
        return conversation

    # --- question cases -----------------------------------------------------------------------

    def _question(self, case: QuestionCase, result: CaseResult) -> None:
        self._post([*case.before, case.text], result)
        last = result.turns[-1]
        expect = case.expect
        why = ""
        if "handoff" in expect:
            if not last.handoff:
                why = "no hand-over"
            elif expect.get("reason") and result.handoff_reason != expect["reason"]:
                why = f"hand-over reason {result.handoff_reason or '-'}, not {expect['reason']}"
        elif last.handoff and expect.get("intent") != "unknown":
            why = f"handed over ({result.handoff_reason or 'no reason'})"
        elif "knowledge" in expect:
            wanted = self.knowledge[expect["knowledge"]]
            got = [s.get("id") for s in last.sources if s.get("type") == "knowledge"]
            if wanted not in got:
                names = {pk: key for key, pk in self.knowledge.items()}
                found = (
                    ", ".join(str(names.get(i, i)) if isinstance(i, int) else str(i) for i in got)
                    or "no entry"
                )
                why = f"expected entry {expect['knowledge']}, got {found}"
        elif "intent" in expect:
            why = self._check_intent(expect, last, result)
        else:
            why = self._check_events(expect["events"], last)
        result.passed, result.why = not why, why

    def _check_intent(self, expect: dict[str, Any], last: Turn, result: CaseResult) -> str:
        intent = expect["intent"]
        if intent == "unknown":
            # Not understood: a reply that says so, or a hand-over for low confidence.
            if last.intent == "unknown" or (last.handoff and result.handoff_reason):
                return ""
            return f"understood as {last.intent} ({last.confidence:.2f}), expected unknown"
        if last.intent != intent:
            return f"intent {last.intent} ({last.confidence:.2f}), expected {intent}"
        if "day" in expect:
            first, end = dates.resolve(expect["day"], self.today)
            span = range((end - first).days + 1)
            wanted = {(first + timedelta(days=n)).isoformat() for n in span}
            days = {str(s.get("id")) for s in last.sources if s.get("type") == "opening_hours"}
            if not wanted <= days:
                return (
                    f"answered for {', '.join(sorted(days)) or 'no day'}, "
                    f"expected {', '.join(sorted(wanted))}"
                )
        return ""

    def _event_dates(self, sources: list[dict[str, Any]]) -> list[Any]:
        """The dates (Occurrence) an answer named: its sources of type date (an occurrence
        id); an answer that names only items (type event, an item id) stands for all their
        upcoming dates."""
        from publikum.programme.models import Occurrence

        def ids(kind: str) -> list[int]:
            return [
                int(s["id"])
                for s in sources
                if s.get("type") == kind and str(s.get("id", "")).isdigit()
            ]

        rows = Occurrence.objects.filter(organisation=self.organisation)
        occurrence_ids, item_ids = ids("date"), ids("event")
        if occurrence_ids:
            rows = rows.filter(pk__in=occurrence_ids)
        elif item_ids:
            rows = rows.filter(item_id__in=item_ids, ends_at__gte=self.now)
        else:
            return []
        return list(rows.select_related("item").prefetch_related("item__themes"))

    def _check_events(self, wanted: dict[str, Any], last: Turn) -> str:
        """At least one named date, every one matching, when the programme has such dates;
        a programme answer (saying there is none, perhaps suggesting others) when it has
        none. `none: true` says the case expects the programme to have none: a programme
        that does is reported."""
        found = self._event_dates(last.sources)
        filters = {k: v for k, v in wanted.items() if k != "none"}
        matching = self.upcoming(filters)
        if not matching:
            # Nothing fits: the answer must be a programme answer (that says so; it may
            # suggest other dates instead).
            if last.intent != "programme":
                return f"intent {last.intent}, expected programme (nothing matches)"
            return ""
        if wanted.get("none"):
            return (
                f"case wrong? it expects nothing, the programme has {len(matching)} matching "
                f"dates (first: {matching[0].item.title_de} {matching[0].starts_at:%Y-%m-%d})"
            )
        if not found:
            return (
                f"no event in the answer (intent {last.intent}); the programme has "
                f"{len(matching)} matching dates"
            )
        bad = [o for o in found if not self.matches(o, filters)]
        if bad:
            first = bad[0]
            return (
                f"{len(bad)} of {len(found)} named dates do not match {filters}, e.g. "
                f"{first.item.kind} {first.item.title_de!r} "
                f"{timezone.localtime(first.starts_at, self.tz):%a %Y-%m-%d %H:%M}"
            )
        return ""

    # --- the programme --------------------------------------------------------------------------

    def matches(self, occurrence: Any, wanted: dict[str, Any]) -> bool:  # noqa: PLR0911
        item = occurrence.item
        # A date spans its days (an exhibition runs for months): it fits a day it covers.
        first_day = timezone.localtime(occurrence.starts_at, self.tz).date()
        last_day = timezone.localtime(occurrence.ends_at or occurrence.starts_at, self.tz).date()
        last_day = max(first_day, last_day)
        if "kind" in wanted and item.kind not in wanted["kind"]:
            return False
        groups = set(item.target_groups or [])
        if "target_group" in wanted and not groups.intersection(wanted["target_group"]):
            return False
        features = set(item.accessibility or [])
        if "accessibility" in wanted and not features.intersection(wanted["accessibility"]):
            return False
        if "theme" in wanted and wanted["theme"] not in {t.slug for t in item.themes.all()}:
            return False
        if "weekday" in wanted:
            weekday = dates.WEEKDAYS.index(wanted["weekday"])
            span = min((last_day - first_day).days, 6)
            days = {(first_day + timedelta(days=n)).weekday() for n in range(span + 1)}
            if weekday not in days:
                return False
        if "when" in wanted:
            first, last = dates.resolve(wanted["when"], self.today)
            if first_day > last or last_day < first:
                return False
        if "title_contains" in wanted:
            needle = wanted["title_contains"].lower()
            if needle not in item.title_de.lower() and needle not in item.title_en.lower():
                return False
        return True

    def upcoming(
        self, wanted: dict[str, Any], *, after: timedelta = timedelta(), sold_out: bool = True
    ) -> list[Any]:
        """Upcoming dates of published items that fit `wanted` (sold-out dates too, unless
        `sold_out` is false: they are in the programme, they cannot be booked)."""
        from publikum.programme.models import Occurrence, OccurrenceStatus

        statuses = [OccurrenceStatus.SCHEDULED] + ([OccurrenceStatus.SOLD_OUT] if sold_out else [])
        rows = (
            Occurrence.objects.filter(
                organisation=self.organisation,
                ends_at__gte=self.now + after,
                status__in=statuses,
                item__published=True,
            )
            .select_related("item")
            .prefetch_related("item__themes", "item__price_categories")
            .order_by("starts_at", "pk")
        )
        return [o for o in rows if self.matches(o, wanted)]

    def pick(self, case: DialogueCase) -> Any:
        """The first upcoming bookable date that fits the case's `pick`, has the seats the
        case books, and is the only date of its title on its day (so that "{title} am
        {date_de}" names one date)."""
        from publikum.bookings.selectors import seats_of

        assert case.pick is not None
        wanted = case.expect_booking["quantity"] if case.expect_booking else 1
        candidates = [
            o
            for o in self.upcoming(case.pick, after=timedelta(hours=3), sold_out=False)
            if o.item.bookable
            and o.item.kind != "exhibition"
            and o.starts_at >= self.now + timedelta(hours=3)
        ]
        # Turns that name the title need it to be the only date of that title on the day;
        # turns that do not ("das Konzert am Freitag") need it to be the only fitting date.
        titled = any("{title}" in t for t in case.turns)
        categories = {
            name.lower() for name in ((case.expect_booking or {}).get("categories") or {})
        }

        def key(o: Any) -> tuple[str, date]:
            title = self.title(o, case.language) if titled else ""
            return title, timezone.localtime(o.starts_at, self.tz).date()

        per_day: dict[tuple[str, date], int] = {}
        for o in candidates:
            per_day[key(o)] = per_day.get(key(o), 0) + 1
        for o in candidates:
            names = {
                n.lower()
                for c in o.item.price_categories.all()
                for n in (c.name_de, c.name_en)
                if n
            }
            if per_day[key(o)] == 1 and categories <= names and seats_of(o).free >= wanted + 2:
                return o
        raise _Skip(f"the programme has no bookable date for pick {case.pick}")

    @staticmethod
    def title(occurrence: Any, language: str) -> str:
        item = occurrence.item
        return str(item.title_en if language == "en" and item.title_en else item.title_de)

    def placeholders(self, occurrence: Any, language: str) -> dict[str, str]:
        local = timezone.localtime(occurrence.starts_at, self.tz)
        minute = f":{local.minute:02d}" if local.minute else ""
        hour12 = local.hour % 12 or 12
        categories = list(occurrence.item.price_categories.all())
        category = ""
        if categories:
            first = categories[0]
            category = first.name_en if language == "en" and first.name_en else first.name_de
        return {
            "title": self.title(occurrence, language),
            "date_de": f"{WEEKDAYS_DE[local.weekday()]}, {local.day}. {MONTHS_DE[local.month - 1]}",
            "date_en": f"{WEEKDAYS_EN[local.weekday()]} {local.day} {MONTHS_EN[local.month - 1]}",
            "time_de": f"{local.hour}{minute} Uhr",
            "time_en": f"{hour12}{minute} {'am' if local.hour < 12 else 'pm'}",
            "day": f"{local.day}.{local.month}.",
            "category": category,
        }

    # --- dialogue cases ---------------------------------------------------------------------------

    def _dialogue(self, case: DialogueCase, result: CaseResult) -> None:
        from publikum.bookings.models import Booking

        picked = self.pick(case) if case.pick is not None else None
        texts = case.turns
        if picked is not None:
            values = self.placeholders(picked, case.language)
            texts = [t.format(**values) for t in texts]
        before = Booking.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        conversation = self._post(texts, result)
        made = list(
            Booking.objects.filter(organisation=self.organisation, pk__gt=before)
            .select_related("occurrence__item")
            .prefetch_related("lines")
        )
        last = result.turns[-1]
        expected = case.expect_booking
        why = ""
        if expected is None:
            if made:
                why = f"expected no booking (cancelled), but {made[0].code} was made"
            elif last.booking:
                why = f"expected no booking, the reply shows {last.booking}"
        elif not made:
            why = "no booking was made" + (
                f" (hand-over: {conversation.handoff_reason})" if result.got_handoff else ""
            )
        elif len(made) > 1:
            why = f"{len(made)} bookings were made"
        else:
            why = self._check_booking(made[0], expected, picked, last)
        result.passed, result.why = not why, why

    def _check_booking(  # noqa: PLR0912
        self, booking: Any, expected: dict[str, Any], picked: Any, last: Turn
    ) -> str:
        problems: list[str] = []
        code = (last.booking or {}).get("code")
        if code != booking.code:
            problems.append(f"the last reply shows booking {code or 'none'}, made {booking.code}")
        if booking.status != "confirmed":
            problems.append(f"status {booking.status}")
        if booking.quantity != expected["quantity"]:
            problems.append(f"{booking.quantity} tickets, expected {expected['quantity']}")
        if booking.email.lower() != expected["email"]:
            problems.append(f"e-mail {booking.email}, expected {expected['email']}")
        if "name" in expected and booking.name.strip().lower() != expected["name"].lower():
            problems.append(f"name {booking.name!r}, expected {expected['name']!r}")
        occurrence = booking.occurrence
        item = occurrence.item
        local = timezone.localtime(occurrence.starts_at, self.tz)
        described = f"{item.title_de!r} {local:%a %Y-%m-%d %H:%M}"
        wants_picked = expected.get("item") == "picked" or expected.get("date") == "picked"
        if wants_picked and picked is not None and occurrence.pk != picked.pk:
            p_local = timezone.localtime(picked.starts_at, self.tz)
            problems.append(
                f"booked {described}, expected {picked.item.title_de!r} {p_local:%a %Y-%m-%d %H:%M}"
            )
        if "kind" in expected and item.kind != expected["kind"]:
            problems.append(f"booked a {item.kind}, expected a {expected['kind']}")
        if expected.get("item") not in {None, "picked"}:
            needle = expected["item"].lower()
            if needle not in item.title_de.lower() and needle not in item.title_en.lower():
                problems.append(f"booked {described}, expected an item with {expected['item']!r}")
        if expected.get("date") not in {None, "picked"}:
            first, end = dates.resolve(expected["date"], self.today)
            if not first <= local.date() <= end:
                problems.append(f"booked {described}, expected {expected['date']} ({first})")
        if "weekday" in expected and local.weekday() != dates.WEEKDAYS.index(expected["weekday"]):
            problems.append(f"booked {described}, expected a {expected['weekday']}")
        if "categories" in expected:
            got: dict[str, int] = {}
            for line in booking.lines.all():
                got[line.name_de.lower()] = got.get(line.name_de.lower(), 0) + line.quantity
                if line.name_en:
                    got[line.name_en.lower()] = got.get(line.name_en.lower(), 0) + line.quantity
            for name, count in expected["categories"].items():
                if got.get(name.lower(), 0) != count:
                    lines = ", ".join(f"{x.quantity} {x.name_de}" for x in booking.lines.all())
                    problems.append(
                        f"{got.get(name.lower(), 0)} × {name}, expected {count} (lines: {lines})"
                    )
        return "; ".join(problems)
