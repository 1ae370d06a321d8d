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

3. A job of its own (`theme_summary_correct`) checks the contact × theme summary that the
   segment rule "attended a theme" reads (`ContactThemeActivity`): one statement aggregates
   the visits per contact and theme beside the stored rows and keeps the differences in a
   second scratch table; each chunk then deletes, corrects and inserts only those rows.
   New visits are counted into the summary as they come, so the check only corrects what
   changed behind the counting (an item's themes edited, an import of old visits); it is
   apart from the lifecycle so that the recompute of stages and scores stays well under a
   minute for a million contacts (docs/benchmarks/audience.md).
4. Between two runs, `audience.activity` counts new visits and bookings into the stored
   figures. The write-back keeps what was counted while the run was under way: both
   aggregates read the stored figures in the same statement as the timeline (one
   snapshot), and a chunk writes "recomputed + (stored now - stored then)". Runs of one
   organisation take turns (an advisory lock on PostgreSQL), so only such counting
   changes the figures meanwhile.

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

from publikum.audience.activity import YEAR
from publikum.audience.models import (
    AudienceSettings,
    Contact,
    ContactThemeActivity,
    Interaction,
    InteractionKind,
    LifecycleChange,
    LifecycleStage,
)
from publikum.core import selectors as core_selectors
from publikum.core.errors import ValidationFailed
from publikum.core.models import ApiToken, AuditEntry, Organisation, User
from publikum.core.services import audit_log
from publikum.programme.models import ProgrammeItem, Theme

# Contacts per write-back transaction. 20,000 rows keep an SQLite write lock well under a
# second and a PostgreSQL transaction small; fewer chunks would not be noticeably faster.
CHUNK_SIZE = 20_000
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
THEME_SCRATCH = "publikum_theme_scratch"
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
    from publikum.audience.tasks import lifecycle_of_organisation, theme_summary_of_organisation
    from publikum.core.jobs import on_commit_enqueue

    with transaction.atomic():
        audit_log(organisation, "audience.lifecycle.recompute_requested", actor=actor, token=token)
        on_commit_enqueue(lifecycle_of_organisation, organisation_id=organisation.pk)
        on_commit_enqueue(theme_summary_of_organisation, organisation_id=organisation.pk)


# --- the recompute --------------------------------------------------------------------------


@dataclass(frozen=True)
class RecomputeResult:
    as_of: datetime
    contacts: int  # contacts evaluated (erased ones are left alone)
    updated: int  # contacts whose stored figures changed
    changed: int  # contacts whose stage changed; one LifecycleChange row each
    stages: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    # Seconds per phase: "aggregate" (the scratch table of the contacts), "changes"
    # (recording stage changes), "update" (copying figures to contacts, with the chunks'
    # commits).
    phases: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ThemeSummaryResult:
    # Rows of the contact × theme summary deleted, corrected or added (0 on a quiet day:
    # new visits were counted as they came).
    corrected: int
    seconds: float = 0.0
    # Seconds per phase: "themes" (the scratch table of the rows that differ) and
    # "theme_update" (deleting, correcting and adding them, with the chunks' commits).
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
    SELECT c.id AS id, c.visits_12m AS stored_visits_12m, c.bookings_12m AS stored_bookings_12m,
        a.first_visit, a.last_visit, a.visits_12m, a.visits_prior_12m,
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
    SELECT c.id AS id, c.visits_12m AS stored_visits_12m, c.bookings_12m AS stored_bookings_12m,
        {AGGREGATES}
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
    b.stored_visits_12m AS stored_visits_12m,
    b.stored_bookings_12m AS stored_bookings_12m,
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
        r.stored_visits_12m AS stored_visits_12m,
        r.stored_bookings_12m AS stored_bookings_12m,
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

# Upper contact id of each chunk of CHUNK_SIZE scratch rows, in id order. In the theme
# scratch one contact's rows may fall into two parts: the second range is then empty.
CHUNK_BOUNDS_SQL = """
SELECT MAX({key}) FROM (
    SELECT {key}, (ROW_NUMBER() OVER (ORDER BY {key}) - 1) / %(chunk)s AS part FROM {table}
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

# Columns written from scratch to the contact, as (contact column, value). The counts keep
# what `audience.activity` added since the aggregate read them ({contact} is the row now).
COPIED = (
    ("lifecycle_stage", "s.stage"),
    ("first_visit_at", "s.first_visit"),
    ("last_visit_at", "s.last_visit"),
    ("visits_12m", "s.visits_12m + {contact}.visits_12m - s.stored_visits_12m"),
    ("bookings_12m", "s.bookings_12m + {contact}.bookings_12m - s.stored_bookings_12m"),
    ("spend_12m", "s.spend_12m"),
    ("rfm_recency", "s.rfm_recency"),
    ("rfm_frequency", "s.rfm_frequency"),
    ("rfm_monetary", "s.rfm_monetary"),
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


# The contact × theme summary as the timeline has it (visits of non-erased contacts up to
# any time: the rule "attended in the last N months" has no upper bound either), beside the
# stored rows, in one statement and so one snapshot; only rows that differ are kept.
# `visits` 0 means the stored row has no visit behind it any more, `old_last` NULL that
# there is no stored row yet.
THEME_SCRATCH_SELECT = """
SELECT u.contact_id AS contact_id, u.theme_id AS theme_id,
    MAX(u.last_attended) AS last_attended, SUM(u.visits) AS visits,
    MAX(u.old_last) AS old_last, MAX(u.old_visits) AS old_visits
FROM (
    SELECT i.contact_id AS contact_id, t.theme_id AS theme_id, i.occurred_at AS last_attended,
        1 AS visits, NULL AS old_last, NULL AS old_visits
    FROM {interaction} i
    JOIN {item_themes} t ON t.programmeitem_id = i.item_id
    JOIN {contact} c ON c.id = i.contact_id
    WHERE i.organisation_id = %(org)s AND i.kind = %(visit)s AND c.erased_at IS NULL
    UNION ALL
    SELECT a.contact_id, a.theme_id, NULL, 0, a.last_attended_at, a.visits
    FROM {activity} a
    WHERE a.organisation_id = %(org)s
) u
GROUP BY u.contact_id, u.theme_id
HAVING {last_differs} OR SUM(u.visits) <> COALESCE(MAX(u.old_visits), 0)
"""

# Per chunk, three statements. A stored row that changed since the snapshot had visits
# counted meanwhile: it keeps them (visits add up, the later visit wins).
THEME_DELETE_SQL = """
DELETE FROM {activity} WHERE {activity}.contact_id > %(lo)s AND {activity}.contact_id <= %(hi)s
AND EXISTS (
    SELECT 1 FROM {theme_scratch} s
    WHERE s.contact_id = {activity}.contact_id AND s.theme_id = {activity}.theme_id
      AND s.visits = 0 AND s.old_visits = {activity}.visits
      AND s.old_last = {activity}.last_attended_at
)
"""

THEME_UPDATE_SQL = """
UPDATE {activity} SET
    visits = s.visits + {activity}.visits - s.old_visits,
    last_attended_at = CASE
        WHEN {activity}.last_attended_at = s.old_last
            THEN COALESCE(s.last_attended, {activity}.last_attended_at)
        WHEN s.last_attended > {activity}.last_attended_at THEN s.last_attended
        ELSE {activity}.last_attended_at END
FROM {theme_scratch} s
WHERE {activity}.contact_id = s.contact_id AND {activity}.theme_id = s.theme_id
  AND s.old_last IS NOT NULL
  AND s.contact_id > %(lo)s AND s.contact_id <= %(hi)s
  AND {activity}.contact_id > %(lo)s AND {activity}.contact_id <= %(hi)s
"""

# Not for contacts erased or themes deleted since the snapshot. A row that appeared since
# (a visit counted meanwhile) is added to.
THEME_INSERT_SQL = """
INSERT INTO {activity} (organisation_id, contact_id, theme_id, last_attended_at, visits)
SELECT %(org)s, s.contact_id, s.theme_id, s.last_attended, s.visits
FROM {theme_scratch} s
WHERE s.old_last IS NULL AND s.visits > 0
  AND s.contact_id > %(lo)s AND s.contact_id <= %(hi)s
  AND EXISTS (SELECT 1 FROM {contact} c WHERE c.id = s.contact_id AND c.erased_at IS NULL)
  AND EXISTS (SELECT 1 FROM {theme} th WHERE th.id = s.theme_id)
ON CONFLICT (contact_id, theme_id) DO UPDATE SET
    visits = {activity}.visits + excluded.visits,
    last_attended_at = CASE WHEN excluded.last_attended_at > {activity}.last_attended_at
        THEN excluded.last_attended_at ELSE {activity}.last_attended_at END
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

    def scratch(self, name: str = SCRATCH) -> str:
        """A scratch table, qualified with the temporary schema.

        Qualified so that no statement can reach a regular table of the same name, which
        an unqualified DROP would remove when the temporary table does not exist.
        """
        schema = "pg_temp" if self.postgres else "temp"
        return f"{schema}.{self.connection.ops.quote_name(name)}"

    def index_scratch(self, name: str = SCRATCH, columns: str = "id") -> str:
        quote = self.connection.ops.quote_name
        if self.postgres:
            return f"CREATE UNIQUE INDEX {quote(name + '_key')} ON {self.scratch(name)} ({columns})"
        # SQLite names the schema on the index, never on the table.
        return f"CREATE UNIQUE INDEX temp.{quote(name + '_key')} ON {quote(name)} ({columns})"

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

    def aggregating(
        self, cursor: CursorWrapper, work_mem: str = "64MB"
    ) -> contextlib.AbstractContextManager[Any]:
        """The transaction around the big aggregate, with PostgreSQL tuned for it.

        PostgreSQL: JIT compilation costs seconds here and gains nothing, and `work_mem` per
        sort or hash (64 MB, more for the theme summary) keeps most of the work of a large
        audience in memory (the defaults spill to disk). Both only for this transaction.
        SQLite runs the statement outside a transaction: it only reads the main database,
        and a transaction would take the database's write lock for as long.
        """
        if not self.postgres:
            return contextlib.nullcontext()
        atomic = transaction.atomic(using=self.connection.alias)

        @contextlib.contextmanager
        def tuned() -> Iterator[None]:
            with atomic:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SELECT set_config('work_mem', %s, true)", [work_mem])
                yield

        return tuned()

    @contextlib.contextmanager
    def one_at_a_time(self, cursor: CursorWrapper, organisation_id: int) -> Iterator[None]:
        """Let recomputes of one organisation take turns (a session lock on PostgreSQL).

        A second run waits for the first and then reads what it wrote: a stage change is
        recorded once, and the write-back may take every change of the stored figures
        since its snapshot for counting (see the module docstring). SQLite runs the jobs
        in one worker process, one after the other.
        """
        if not self.postgres:
            yield
            return
        cursor.execute("SELECT pg_advisory_lock(%s)", [_LOCK_BASE + organisation_id])
        try:
            yield
        finally:
            # Inside a failed transaction the unlock fails too; closing the connection
            # (Django does after an error) releases the lock then.
            with contextlib.suppress(DatabaseError):
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_LOCK_BASE + organisation_id])


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
    run = _Run.prepare(organisation=organisation, now=now, chunk_size=chunk_size, parts=CONTACTS)
    run.execute()
    seconds = round(time.monotonic() - started, 2)
    contacts = sum(run.stages.values())
    audit_log(
        organisation,
        "audience.lifecycle.recomputed",
        data={
            "as_of": now.isoformat(),
            "contacts": contacts,
            "updated": run.updated,
            "changed": run.changed,
            "seconds": seconds,
        },
    )
    return RecomputeResult(
        as_of=now,
        contacts=contacts,
        updated=run.updated,
        changed=run.changed,
        stages=run.stages,
        seconds=seconds,
        phases=run.phases,
    )


def theme_summary_correct(
    *, organisation: Organisation, chunk_size: int = CHUNK_SIZE
) -> ThemeSummaryResult:
    """Check the contact × theme summary of the segments against the timeline and correct
    the rows that differ (an item's themes changed, visits imported or removed).

    Idempotent; runs take turns with the lifecycle recompute of the same organisation.
    """
    started = time.monotonic()
    run = _Run.prepare(
        organisation=organisation, now=timezone.now(), chunk_size=chunk_size, parts=THEMES
    )
    run.execute()
    seconds = round(time.monotonic() - started, 2)
    if run.themes:
        audit_log(
            organisation,
            "audience.theme_summary.corrected",
            data={"rows": run.themes, "seconds": seconds},
        )
    return ThemeSummaryResult(corrected=run.themes, seconds=seconds, phases=run.phases)


CONTACTS, THEMES = ("contacts",), ("themes",)


@dataclass
class _Run:
    """The statements of one run: `snapshot` fills the scratch tables, `write_back` copies
    what differs in chunks, `drop` removes the scratch tables. `parts` says which: the
    contacts' figures, the theme summary, or both."""

    organisation: Organisation
    dialect: _Dialect
    tables: dict[str, str]
    params: dict[str, Any]
    chunk_size: int
    parts: tuple[str, ...] = CONTACTS + THEMES
    updated: int = 0
    changed: int = 0
    themes: int = 0
    stages: dict[str, int] = field(default_factory=dict)
    phases: dict[str, float] = field(default_factory=dict)

    @classmethod
    def prepare(
        cls,
        *,
        organisation: Organisation,
        now: datetime,
        chunk_size: int,
        parts: tuple[str, ...] = CONTACTS + THEMES,
    ) -> _Run:
        settings_row = lifecycle_settings_get(organisation=organisation)
        connection = connections[router.db_for_write(Contact)]
        dialect = _Dialect(connection)
        dialect.check()
        quote = connection.ops.quote_name
        tables = {
            "contact": quote(Contact._meta.db_table),
            "interaction": quote(Interaction._meta.db_table),
            "change": quote(LifecycleChange._meta.db_table),
            "activity": quote(ContactThemeActivity._meta.db_table),
            "item_themes": quote(ProgrammeItem.themes.through._meta.db_table),
            "theme": quote(Theme._meta.db_table),
            "scratch": dialect.scratch(),
            "theme_scratch": dialect.scratch(THEME_SCRATCH),
        }
        params = _parameters(organisation, settings_row, now, dialect)
        return cls(organisation, dialect, tables, params, max(1, int(chunk_size)), parts)

    def cursor(self) -> CursorWrapper:
        return self.dialect.connection.cursor()

    def execute(self) -> None:
        with self.cursor() as cursor, self.dialect.one_at_a_time(cursor, self.organisation.pk):
            try:
                self.snapshot(cursor)
                self.write_back(cursor)
            finally:
                self.drop(cursor)

    def snapshot(self, cursor: CursorWrapper) -> None:
        """The figures of every contact and the theme rows that differ, from the timeline,
        each beside what is stored (one statement each, so one snapshot each)."""
        tables, dialect = self.tables, self.dialect
        for name in ("scratch", "theme_scratch"):
            cursor.execute(f"DROP TABLE IF EXISTS {tables[name]}")
        # Temporary tables: private to this connection, not logged, gone on disconnect.
        # CREATE TABLE AS lets PostgreSQL aggregate with parallel workers.
        if "contacts" in self.parts:
            mark = time.monotonic()
            with dialect.aggregating(cursor):
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {tables['scratch']} AS "
                    + dialect.scratch_select(tables),
                    self.params,
                )
            cursor.execute(dialect.index_scratch())
            if dialect.postgres:
                cursor.execute(f"ANALYZE {tables['scratch']}")
            self.phases["aggregate"] = round(time.monotonic() - mark, 2)
        if "themes" in self.parts:
            mark = time.monotonic()
            theme_select = THEME_SCRATCH_SELECT.format(
                last_differs=dialect.differs("MAX(u.last_attended)", "MAX(u.old_last)"),
                **tables,
            )
            # A row per contact and theme attended (3.4 per contact in the benchmark): more
            # memory keeps the grouping from spilling to disk.
            with dialect.aggregating(cursor, work_mem="256MB"):
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {tables['theme_scratch']} AS {theme_select}",
                    self.params,
                )
            cursor.execute(dialect.index_scratch(THEME_SCRATCH, "contact_id, theme_id"))
            if dialect.postgres:
                cursor.execute(f"ANALYZE {tables['theme_scratch']}")
            self.phases["themes"] = round(time.monotonic() - mark, 2)

    def write_back(self, cursor: CursorWrapper) -> None:
        """Chunk by chunk in id order: record stage changes and copy the figures of contacts
        whose figures differ; correct the theme rows that differ."""
        if "contacts" in self.parts:
            self._write_contacts(cursor)
        if "themes" in self.parts:
            self._write_themes(cursor)

    def _bounds(self, cursor: CursorWrapper, table: str, key: str) -> list[tuple[int, int]]:
        cursor.execute(
            CHUNK_BOUNDS_SQL.format(table=self.tables[table], key=key), {"chunk": self.chunk_size}
        )
        uppers = [int(row[0]) for row in cursor.fetchall()]
        return list(zip([0, *uppers], uppers, strict=False))

    def _chunk(self, lower: int, upper: int) -> dict[str, Any]:
        return {"org": self.organisation.pk, "now": self.params["now"], "lo": lower, "hi": upper}

    def _write_contacts(self, cursor: CursorWrapper) -> None:
        tables, dialect = self.tables, self.dialect
        quote = dialect.connection.ops.quote_name
        write_back = WRITE_BACK_SQL.format(
            assignments=",\n    ".join(
                f"{quote(col)} = {value.format(**tables)}" for col, value in COPIED
            ),
            differs=" OR ".join(
                dialect.differs(f"{tables['contact']}.{quote(col)}", value.format(**tables))
                for col, value in COPIED
            ),
            **tables,
        )
        record = RECORD_CHANGES_SQL.format(**tables)
        recording = 0.0
        started = time.monotonic()
        for lower, upper in self._bounds(cursor, "scratch", "id"):
            chunk = self._chunk(lower, upper)
            with transaction.atomic(using=dialect.connection.alias):
                mark = time.monotonic()
                cursor.execute(record, chunk)
                self.changed += max(cursor.rowcount, 0)
                recording += time.monotonic() - mark
                cursor.execute(write_back, chunk)
                self.updated += max(cursor.rowcount, 0)
        self.phases["changes"] = round(recording, 2)
        # Copying the figures to the contacts, with the chunks' commits.
        self.phases["update"] = round(time.monotonic() - started - recording, 2)
        cursor.execute(STAGE_COUNTS_SQL.format(**tables))
        self.stages = {str(stage): int(n) for stage, n in cursor.fetchall()}

    def _write_themes(self, cursor: CursorWrapper) -> None:
        statements = [
            sql.format(**self.tables)
            for sql in (THEME_DELETE_SQL, THEME_UPDATE_SQL, THEME_INSERT_SQL)
        ]
        started = time.monotonic()
        for lower, upper in self._bounds(cursor, "theme_scratch", "contact_id"):
            chunk = self._chunk(lower, upper)
            with transaction.atomic(using=self.dialect.connection.alias):
                for statement in statements:
                    cursor.execute(statement, chunk)
                    self.themes += max(cursor.rowcount, 0)
        self.phases["theme_update"] = round(time.monotonic() - started, 2)

    def drop(self, cursor: CursorWrapper) -> None:
        # Inside a failed outer transaction the drop fails too; the rollback removes the
        # tables then, and the next run drops any leftover before it starts.
        for name in ("scratch", "theme_scratch"):
            with contextlib.suppress(DatabaseError):
                cursor.execute(f"DROP TABLE IF EXISTS {self.tables[name]}")


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
