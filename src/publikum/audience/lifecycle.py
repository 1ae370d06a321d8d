"""Lifecycle stages and RFM scores: who is new, regular, loyal, lapsing or lapsed.

The rules are written down in docs/lifecycle.md; `STAGE_SQL` below is their only
implementation, so the documentation and this module must change together.

How the recompute stays fast and bounded on large audiences:

1. One SQL statement aggregates the interactions of the organisation per contact (GROUP BY),
   derives the stage and ranks the RFM quintiles with window functions, and stores the
   result in a temporary table ("scratch"), one narrow row per contact. Nothing of that
   passes through Python, so memory does not grow with the audience; the database sorts
   and hashes within its own memory limit (`work_mem`) and spills beyond it.
2. The result is written back in id-ordered chunks (`CHUNK_SIZE` contacts, one transaction
   each): one INSERT ... SELECT records the stage changes, one UPDATE ... FROM copies the
   figures, and only for contacts whose figures changed. Chunks keep write locks short (on
   SQLite the whole database is locked while a transaction writes) and transactions small.

Raw SQL is used here and nowhere else in the module because the ORM can express neither the
UPDATE ... FROM nor the window over an aggregate. The statements are plain SQL that both
PostgreSQL and SQLite (3.33 or newer, for UPDATE ... FROM) understand; where the two
differ (the shape of the aggregate, null-safe comparison, planner settings, advisory locks)
`_Dialect` says so. docs/lifecycle.md has the measured figures.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.db import DatabaseError, connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import Count, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from publikum.audience.models import (
    AudienceSettings,
    Contact,
    Interaction,
    InteractionKind,
    LifecycleChange,
    LifecycleStage,
)
from publikum.core import selectors as core_selectors
from publikum.core.errors import ValidationFailed
from publikum.core.models import ApiToken, AuditEntry, Organisation, User
from publikum.core.services import audit_log

# Contacts per write-back transaction. 20,000 rows keep an SQLite write lock well under a
# second and a PostgreSQL transaction small; fewer chunks would not be noticeably faster.
CHUNK_SIZE = 20_000
YEAR = timedelta(days=365)
# Stages in the order of a person's way with the house, for the funnel and the settings page.
FUNNEL = (
    LifecycleStage.NONE,
    LifecycleStage.NEW,
    LifecycleStage.REGULAR,
    LifecycleStage.LOYAL,
    LifecycleStage.LAPSING,
    LifecycleStage.LAPSED,
)
# The moves that mean "about to lose this person".
LOSING_FROM = (LifecycleStage.LOYAL, LifecycleStage.REGULAR)
THRESHOLDS = (
    "new_days",
    "regular_min_visits",
    "loyal_min_visits",
    "lapsing_after_days",
    "lapsed_after_days",
)
MAX_DAYS = 3650
MAX_VISITS = 1000
SCRATCH = "publikum_lifecycle_scratch"
# Key space of the PostgreSQL advisory lock that serialises two recomputes of one house.
_LOCK_BASE = 0x4C494645 << 24  # "LIFE"


# --- settings -------------------------------------------------------------------------------


def lifecycle_settings_get(*, organisation: Organisation) -> AudienceSettings:
    """The organisation's thresholds; creates the defaults on first use."""
    settings_row, _created = AudienceSettings.objects.get_or_create(organisation=organisation)
    return settings_row


def check_thresholds(values: dict[str, int]) -> None:
    """Raise `ValidationFailed` naming every field whose value breaks the rules."""
    errors: dict[str, list[str]] = {}
    for name in THRESHOLDS:
        value = values.get(name)
        upper = MAX_VISITS if name.endswith("_visits") else MAX_DAYS
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= upper:
            errors[name] = [_("Enter a whole number from 1 to %(max)d.") % {"max": upper}]
    if not errors:
        if values["loyal_min_visits"] <= values["regular_min_visits"]:
            errors["loyal_min_visits"] = [
                _("Loyal needs more visits than regular (more than %(n)d).")
                % {"n": values["regular_min_visits"]}
            ]
        if values["lapsed_after_days"] <= values["lapsing_after_days"]:
            errors["lapsed_after_days"] = [
                _("Lapsed must come after lapsing: more than %(n)d days.")
                % {"n": values["lapsing_after_days"]}
            ]
        if values["new_days"] >= values["lapsing_after_days"]:
            errors["new_days"] = [
                _(
                    "A newcomer must stay new for less time than it takes to be lapsing "
                    "(fewer than %(n)d days)."
                )
                % {"n": values["lapsing_after_days"]}
            ]
    if errors:
        message = " ".join(m for ms in errors.values() for m in ms)
        raise ValidationFailed(
            _("The thresholds do not fit together: %(problems)s") % {"problems": message},
            fields=errors,
        )


@transaction.atomic
def lifecycle_settings_update(
    *,
    organisation: Organisation,
    new_days: int,
    regular_min_visits: int,
    loyal_min_visits: int,
    lapsing_after_days: int,
    lapsed_after_days: int,
    actor: User | None = None,
    token: ApiToken | None = None,
) -> AudienceSettings:
    """Save the thresholds. Stages follow them at the next recompute."""
    values = {
        "new_days": new_days,
        "regular_min_visits": regular_min_visits,
        "loyal_min_visits": loyal_min_visits,
        "lapsing_after_days": lapsing_after_days,
        "lapsed_after_days": lapsed_after_days,
    }
    check_thresholds(values)
    AudienceSettings.objects.get_or_create(organisation=organisation)
    settings_row = AudienceSettings.objects.select_for_update().get(organisation=organisation)
    before = {name: getattr(settings_row, name) for name in THRESHOLDS}
    changed = {name: value for name, value in values.items() if before[name] != value}
    if changed:
        for name, value in changed.items():
            setattr(settings_row, name, value)
        settings_row.save(update_fields=sorted(changed))
        audit_log(
            organisation,
            "audience.lifecycle.settings_changed",
            actor=actor,
            token=token,
            obj=settings_row,
            data={"from": {n: before[n] for n in changed}, "to": changed},
        )
    return settings_row


def lifecycle_recompute_request(
    *, organisation: Organisation, actor: User | None = None, token: ApiToken | None = None
) -> None:
    """Have the worker recompute the organisation soon (after the current transaction)."""
    from publikum.audience.tasks import lifecycle_of_organisation
    from publikum.core.jobs import on_commit_enqueue

    with transaction.atomic():
        audit_log(organisation, "audience.lifecycle.recompute_requested", actor=actor, token=token)
        on_commit_enqueue(lifecycle_of_organisation, organisation_id=organisation.pk)


# --- the recompute --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeResult:
    as_of: datetime
    contacts: int  # contacts evaluated (erased ones are left alone)
    updated: int  # contacts whose stored figures changed
    changed: int  # contacts whose stage changed; one LifecycleChange row each
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # Seconds per phase: "aggregate" (the scratch table), "changes" (recording stage
    # changes), "update" (copying figures to contacts, with the chunks' commits).
    phases: dict[str, float] = field(default_factory=dict)


# The stage of one contact, first matching rule wins (docs/lifecycle.md explains each line).
# Columns come from the aggregate below; parameters are instants computed from `now`.
STAGE_SQL = """
    CASE
        WHEN b.last_visit IS NULL THEN 'none'
        WHEN b.last_visit <= %(lapsed_before)s THEN 'lapsed'
        WHEN b.last_visit <= %(lapsing_before)s THEN 'lapsing'
        WHEN b.first_visit > %(new_after)s THEN 'new'
        WHEN b.visits_12m >= %(loyal_min)s THEN 'loyal'
        WHEN b.visits_12m >= %(regular_min)s THEN 'regular'
        WHEN b.visits_prior_12m >= %(regular_min)s THEN 'lapsing'
        ELSE 'new'
    END
"""

# A score from 1 (lowest fifth) to 5 (highest fifth) of `order`, among the contacts with at
# least one visit (or, for money, any spend) in the last 24 months; 0 for the others.
# RANK rather than NTILE: contacts with equal figures get the same score (NTILE would split
# a tie, e.g. the many people with exactly one visit, across scores by id). For distinct
# figures both give quintiles of equal size.
_QUINTILE_SQL = """
    CASE WHEN {has} THEN
        1 + 5 * (RANK() OVER (PARTITION BY {has} ORDER BY {order}) - 1)
            / COUNT(*) OVER (PARTITION BY {has})
    ELSE 0 END
"""

# The figures of one contact from its visits and bookings up to `now` (later rows are
# ignored, which makes a recompute "as of" a past day possible). Money is summed in whole
# cents: integer sums are exact on SQLite (which has no decimal type) and much cheaper on
# PostgreSQL than numeric ones. FILTER needs PostgreSQL 9.4 or SQLite 3.30.
AGGREGATES = """
        MIN(i.occurred_at) FILTER (WHERE i.kind = %(visit)s) AS first_visit,
        MAX(i.occurred_at) FILTER (WHERE i.kind = %(visit)s) AS last_visit,
        COUNT(*) FILTER (WHERE i.kind = %(visit)s AND i.occurred_at > %(since_12m)s)
            AS visits_12m,
        COUNT(*) FILTER (WHERE i.kind = %(visit)s AND i.occurred_at <= %(since_12m)s
            AND i.occurred_at > %(since_24m)s) AS visits_prior_12m,
        COUNT(*) FILTER (WHERE i.kind = %(booking)s AND i.occurred_at > %(since_12m)s)
            AS bookings_12m,
        SUM(CAST(ROUND(i.amount_eur * 100) AS BIGINT))
            FILTER (WHERE i.kind = %(booking)s AND i.occurred_at > %(since_12m)s)
            AS spend_12m_cents,
        SUM(CAST(ROUND(i.amount_eur * 100) AS BIGINT))
            FILTER (WHERE i.kind = %(booking)s AND i.occurred_at > %(since_24m)s)
            AS spend_24m_cents
"""

# One row per non-erased contact of the organisation with the raw aggregates (NULL where a
# contact has none). Two shapes of the same query, because the planners differ:
#
# PostgreSQL aggregates the interactions first (a parallel hash aggregate over a sequential
# scan), then joins the result to the contacts. Joining first and grouping by contact was
# five times slower there (1,000,000 contacts, 20,000,000 interactions).
BASE_POSTGRES = f"""
    SELECT c.id AS id, a.first_visit, a.last_visit, a.visits_12m, a.visits_prior_12m,
        a.bookings_12m, a.spend_12m_cents, a.spend_24m_cents
    FROM {{contact}} c
    LEFT JOIN (
        SELECT i.contact_id AS contact_id, {AGGREGATES}
        FROM {{interaction}} i
        WHERE i.organisation_id = %(org)s
          AND i.kind IN (%(visit)s, %(booking)s)
          AND i.occurred_at <= %(now)s
        GROUP BY i.contact_id
    ) a ON a.contact_id = c.id
    WHERE c.organisation_id = %(org)s AND c.erased_at IS NULL
"""  # noqa: S608 (formats in constants and quoted table names only; values are parameters)

# SQLite walks the organisation's contacts in id order and reads each one's rows from the
# (contact, kind, occurred_at) index: no sort for the GROUP BY, twice as fast as the shape
# above, which makes SQLite sort all the organisation's interactions. An interaction
# belongs to its contact's organisation, so the organisation is checked on the contact.
BASE_SQLITE = f"""
    SELECT c.id AS id, {AGGREGATES}
    FROM {{contact}} c
    LEFT JOIN {{interaction}} i
        ON i.contact_id = c.id
        AND i.kind IN (%(visit)s, %(booking)s)
        AND i.occurred_at <= %(now)s
    WHERE c.organisation_id = %(org)s AND c.erased_at IS NULL
    GROUP BY c.id
"""  # noqa: S608 (formats in constants and quoted table names only; values are parameters)

# Figures, stage and RFM scores per contact: the rows of the scratch table, stored in id
# order so that each chunk of the write-back reads adjacent rows.
SCRATCH_SELECT = f"""
SELECT
    b.id AS id,
    b.first_visit AS first_visit,
    b.last_visit AS last_visit,
    b.visits_12m AS visits_12m,
    b.bookings_12m AS bookings_12m,
    CAST(b.spend_12m_cents / 100.0 AS DECIMAL(14, 2)) AS spend_12m,
    {STAGE_SQL} AS stage,
    {_QUINTILE_SQL.format(has="b.visits_24m > 0", order="b.last_visit")} AS rfm_recency,
    {_QUINTILE_SQL.format(has="b.visits_24m > 0", order="b.visits_24m")} AS rfm_frequency,
    {_QUINTILE_SQL.format(has="b.spend_24m_cents > 0", order="b.spend_24m_cents")}
        AS rfm_monetary
FROM (
    SELECT
        r.id AS id,
        r.first_visit AS first_visit,
        r.last_visit AS last_visit,
        COALESCE(r.visits_12m, 0) AS visits_12m,
        COALESCE(r.visits_prior_12m, 0) AS visits_prior_12m,
        COALESCE(r.visits_12m, 0) + COALESCE(r.visits_prior_12m, 0) AS visits_24m,
        COALESCE(r.bookings_12m, 0) AS bookings_12m,
        COALESCE(r.spend_12m_cents, 0) AS spend_12m_cents,
        COALESCE(r.spend_24m_cents, 0) AS spend_24m_cents
    FROM ({{base}}) r
) b
ORDER BY b.id
"""  # noqa: S608 (formats in constants and quoted table names only; values are parameters)

# Upper id of each chunk of CHUNK_SIZE scratch rows, in id order.
CHUNK_BOUNDS_SQL = """
SELECT MAX(id) FROM (
    SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / %(chunk)s AS part FROM {scratch}
) t GROUP BY part ORDER BY 1
"""

# Both sides of each join carry the id range: PostgreSQL does not carry a range over an
# equality, and without it would scan all contacts for every chunk.
RECORD_CHANGES_SQL = """
INSERT INTO {change} (organisation_id, contact_id, from_stage, to_stage, changed_at)
SELECT %(org)s, c.id, c.lifecycle_stage, s.stage, %(now)s
FROM {scratch} s JOIN {contact} c ON c.id = s.id
WHERE s.id > %(lo)s AND s.id <= %(hi)s AND c.id > %(lo)s AND c.id <= %(hi)s
  AND c.erased_at IS NULL AND c.lifecycle_stage <> s.stage
"""

STAGE_COUNTS_SQL = "SELECT stage, COUNT(*) FROM {scratch} GROUP BY stage"

# Columns copied from scratch to the contact, as (contact column, scratch column).
COPIED = (
    ("lifecycle_stage", "stage"),
    ("first_visit_at", "first_visit"),
    ("last_visit_at", "last_visit"),
    ("visits_12m", "visits_12m"),
    ("bookings_12m", "bookings_12m"),
    ("spend_12m", "spend_12m"),
    ("rfm_recency", "rfm_recency"),
    ("rfm_frequency", "rfm_frequency"),
    ("rfm_monetary", "rfm_monetary"),
)

# In SET, a column of {contact} still holds the old value, so the CASE sees the old stage.
WRITE_BACK_SQL = """
UPDATE {contact} SET
    stage_changed_at = CASE WHEN {contact}.lifecycle_stage <> s.stage
        THEN %(now)s ELSE {contact}.stage_changed_at END,
    {assignments}
FROM {scratch} s
WHERE {contact}.id = s.id AND s.id > %(lo)s AND s.id <= %(hi)s
  AND {contact}.id > %(lo)s AND {contact}.id <= %(hi)s
  AND {contact}.erased_at IS NULL
  AND ({differs})
"""


@dataclass(frozen=True)
class _Dialect:
    """The few places where PostgreSQL and SQLite need different SQL."""

    connection: BaseDatabaseWrapper

    @property
    def postgres(self) -> bool:
        return self.connection.vendor == "postgresql"

    def differs(self, left: str, right: str) -> str:
        # Null-safe "not equal"; SQLite has IS DISTINCT FROM only since 3.39.
        op = "IS DISTINCT FROM" if self.postgres else "IS NOT"
        return f"{left} {op} {right}"

    def scratch(self) -> str:
        """The scratch table, qualified with the temporary schema.

        Qualified so that no statement can reach a regular table of the same name, which
        an unqualified DROP would remove when the temporary table does not exist.
        """
        schema = "pg_temp" if self.postgres else "temp"
        return f"{schema}.{self.connection.ops.quote_name(SCRATCH)}"

    def index_scratch(self) -> str:
        quote = self.connection.ops.quote_name
        if self.postgres:
            return f"CREATE UNIQUE INDEX {quote(SCRATCH + '_id')} ON {self.scratch()} (id)"
        # SQLite names the schema on the index, never on the table.
        return f"CREATE UNIQUE INDEX temp.{quote(SCRATCH + '_id')} ON {quote(SCRATCH)} (id)"

    def moment(self, value: datetime) -> Any:
        """A datetime in the form the database stores (naive UTC text on SQLite)."""
        return self.connection.ops.adapt_datetimefield_value(value)

    def check(self) -> None:
        if self.connection.vendor == "sqlite":
            import sqlite3

            if sqlite3.sqlite_version_info < (3, 33):
                raise RuntimeError(
                    "The lifecycle recompute needs SQLite 3.33 or newer (UPDATE ... FROM); "
                    f"this Python has {sqlite3.sqlite_version}."
                )
        elif not self.postgres:
            raise RuntimeError(
                f"The lifecycle recompute supports PostgreSQL and SQLite only, "
                f"not {self.connection.vendor}."
            )

    def scratch_select(self, tables: dict[str, str]) -> str:
        base = (BASE_POSTGRES if self.postgres else BASE_SQLITE).format(**tables)
        return SCRATCH_SELECT.format(base=base)

    def aggregating(self, cursor: CursorWrapper) -> contextlib.AbstractContextManager[Any]:
        """The transaction around the big aggregate, with PostgreSQL tuned for it.

        PostgreSQL: JIT compilation costs seconds here and gains nothing, and 64 MB per
        sort or hash keep most of the work of a large audience in memory (the defaults
        spill to disk). Both only for this transaction. SQLite runs the statement outside a
        transaction: it only reads the main database, and a transaction would take the
        database's write lock for as long.
        """
        if not self.postgres:
            return contextlib.nullcontext()
        atomic = transaction.atomic(using=self.connection.alias)

        @contextlib.contextmanager
        def tuned() -> Iterator[None]:
            with atomic:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
                yield

        return tuned()

    def lock(self, cursor: CursorWrapper, organisation_id: int) -> None:
        """Serialise write-back chunks of concurrent recomputes of one organisation.

        With the lock the second recompute sees the stages the first one committed, so a
        change is recorded once. SQLite serialises writing transactions by itself.
        """
        if self.postgres:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_BASE + organisation_id])


def _parameters(
    organisation: Organisation, settings_row: AudienceSettings, now: datetime, dialect: _Dialect
) -> dict[str, Any]:
    days = timedelta(days=1)
    return {
        "org": organisation.pk,
        "visit": InteractionKind.VISIT.value,
        "booking": InteractionKind.BOOKING.value,
        "now": dialect.moment(now),
        "since_12m": dialect.moment(now - YEAR),
        "since_24m": dialect.moment(now - 2 * YEAR),
        "new_after": dialect.moment(now - settings_row.new_days * days),
        "lapsing_before": dialect.moment(now - settings_row.lapsing_after_days * days),
        "lapsed_before": dialect.moment(now - settings_row.lapsed_after_days * days),
        "regular_min": settings_row.regular_min_visits,
        "loyal_min": settings_row.loyal_min_visits,
    }


def lifecycle_recompute(
    *, organisation: Organisation, now: datetime | None = None, chunk_size: int = CHUNK_SIZE
) -> RecomputeResult:
    """Recompute stage, figures and RFM scores of every non-erased contact, as of `now`.

    Records a `LifecycleChange` for each contact whose stage changed and sets its
    `stage_changed_at`. Idempotent: a second run with the same `now` changes nothing.
    Each chunk is its own transaction (see the module docstring); do not call this inside
    a long transaction on SQLite unless holding the write lock that long is acceptable.
    """
    started = time.monotonic()
    now = now or timezone.now()
    settings_row = lifecycle_settings_get(organisation=organisation)
    alias = router.db_for_write(Contact)
    connection = connections[alias]
    dialect = _Dialect(connection)
    dialect.check()
    quote = connection.ops.quote_name
    tables = {
        "contact": quote(Contact._meta.db_table),
        "interaction": quote(Interaction._meta.db_table),
        "change": quote(LifecycleChange._meta.db_table),
        "scratch": dialect.scratch(),
    }
    params = _parameters(organisation, settings_row, now, dialect)
    contacts = updated = changed = 0
    stages: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {tables['scratch']}")
        # A temporary table: private to this connection, not logged, gone on disconnect.
        # CREATE TABLE AS lets PostgreSQL aggregate with parallel workers.
        with dialect.aggregating(cursor):
            cursor.execute(
                f"CREATE TEMPORARY TABLE {tables['scratch']} AS " + dialect.scratch_select(tables),
                params,
            )
        phases = {"aggregate": round(time.monotonic() - started, 2)}
        try:
            cursor.execute(dialect.index_scratch())
            if dialect.postgres:
                cursor.execute(f"ANALYZE {tables['scratch']}")
            cursor.execute(CHUNK_BOUNDS_SQL.format(**tables), {"chunk": max(1, int(chunk_size))})
            bounds = [int(row[0]) for row in cursor.fetchall()]
            write_back = WRITE_BACK_SQL.format(
                assignments=",\n    ".join(f"{quote(col)} = s.{src}" for col, src in COPIED),
                differs=" OR ".join(
                    dialect.differs(f"{tables['contact']}.{quote(col)}", f"s.{src}")
                    for col, src in COPIED
                ),
                **tables,
            )
            record = RECORD_CHANGES_SQL.format(**tables)
            lower = 0
            recording = 0.0
            for upper in bounds:
                chunk = {"org": organisation.pk, "now": params["now"], "lo": lower, "hi": upper}
                with transaction.atomic(using=alias):
                    dialect.lock(cursor, organisation.pk)
                    mark = time.monotonic()
                    cursor.execute(record, chunk)
                    changed += max(cursor.rowcount, 0)
                    recording += time.monotonic() - mark
                    cursor.execute(write_back, chunk)
                    updated += max(cursor.rowcount, 0)
                lower = upper
            phases["changes"] = round(recording, 2)
            phases["update"] = round(
                time.monotonic() - started - phases["aggregate"] - recording, 2
            )
            cursor.execute(STAGE_COUNTS_SQL.format(**tables))
            stages = {str(stage): int(n) for stage, n in cursor.fetchall()}
            contacts = sum(stages.values())
        finally:
            # Inside a failed outer transaction the drop fails too; the rollback removes
            # the table then, and the next run drops any leftover before it starts.
            with contextlib.suppress(DatabaseError):
                cursor.execute(f"DROP TABLE IF EXISTS {tables['scratch']}")
    seconds = round(time.monotonic() - started, 2)
    audit_log(
        organisation,
        "audience.lifecycle.recomputed",
        data={
            "as_of": now.isoformat(),
            "contacts": contacts,
            "updated": updated,
            "changed": changed,
            "seconds": seconds,
        },
    )
    return RecomputeResult(
        as_of=now,
        contacts=contacts,
        updated=updated,
        changed=changed,
        stages=stages,
        seconds=seconds,
        phases=phases,
    )


# --- reads for the loyalty page ---------------------------------------------------------------


def stage_counts(*, organisation: Organisation) -> list[tuple[str, str, int]]:
    """(stage, label, number of contacts) in funnel order, erased contacts left out."""
    counts = dict(
        Contact.objects.filter(organisation=organisation, erased_at__isnull=True)
        .values_list("lifecycle_stage")
        .annotate(n=Count("id"))
        .values_list("lifecycle_stage", "n")
    )
    return [(stage.value, str(stage.label), int(counts.get(stage.value, 0))) for stage in FUNNEL]


def month_bounds(month: tuple[int, int], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """First instant of the month and of the next one, in the organisation's time zone."""
    year, number = month
    start = datetime(year, number, 1, tzinfo=tz)
    end = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=tz)
    return start, end


def organisation_zone(organisation: Organisation) -> ZoneInfo:
    try:
        return ZoneInfo(organisation.timezone)
    except (ValueError, KeyError):
        return ZoneInfo("UTC")


def losing_list(
    *, organisation: Organisation, start: datetime, end: datetime
) -> QuerySet[LifecycleChange]:
    """Moves from loyal or regular to lapsing between `start` and `end`, newest first."""
    return (
        LifecycleChange.objects.filter(
            organisation=organisation,
            from_stage__in=LOSING_FROM,
            to_stage=LifecycleStage.LAPSING,
            changed_at__gte=start,
            changed_at__lt=end,
            contact__erased_at__isnull=True,
        )
        .select_related("contact")
        .order_by("-changed_at", "-id")
    )


def moves_summary(
    *, organisation: Organisation, start: datetime, end: datetime
) -> list[tuple[str, str, int]]:
    """(from label, to label, number of moves) between `start` and `end`, most first."""
    labels = dict(LifecycleStage.choices)
    rows = (
        LifecycleChange.objects.filter(
            organisation=organisation, changed_at__gte=start, changed_at__lt=end
        )
        .values_list("from_stage", "to_stage")
        .annotate(n=Count("id"))
        .order_by("-n", "from_stage", "to_stage")
    )
    return [(str(labels.get(a, a)), str(labels.get(b, b)), int(n)) for a, b, n in rows]


def last_recompute(*, organisation: Organisation) -> AuditEntry | None:
    return (
        core_selectors.audit_list(organisation=organisation)
        .filter(action="audience.lifecycle.recomputed")
        .first()
    )


# --- the demo ---------------------------------------------------------------------------------

DEMO_EARLIER = timedelta(days=35)


def populate(
    *,
    organisation: Organisation,
    rng: random.Random,
    now: datetime,
    contacts: int,
    stdout: IO[str] | Any | None,
) -> None:
    """Recompute as of five weeks ago, then as of now: the demo shows who moved since."""
    from publikum.core.demo import progress

    for as_of in (now - DEMO_EARLIER, now):
        result = lifecycle_recompute(organisation=organisation, now=as_of)
        progress(
            stdout,
            f"  lifecycle as of {as_of:%Y-%m-%d}: {result.contacts} contacts, "
            f"{result.changed} stage changes ({result.seconds:.1f} s)",
        )
