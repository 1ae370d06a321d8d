"""Writing precomputed lists: one upsert per chunk of contacts, overlapping the computation
on PostgreSQL.

`lists_write` inserts or replaces the `StoredList` rows of a chunk in one transaction;
`ListsWriter` hands chunk after chunk to it, on PostgreSQL in a thread with its own
connection so that the database turns one chunk's JSON into jsonb while the batch computes
the next (`discovery.precompute`). The rows' JSON comes from `discovery.stored`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction

from publikum.discovery.models import StoredList

# One stored list as the columns `lists_write` takes, in this order.
ListRow = tuple[int, int, float, str, str, str, int, str, datetime]
COLUMNS = (
    "organisation_id",
    "contact_id",
    "horizon",
    "basis",
    "items",
    "programme_version",
    "history_mark",
    "interests",
    "computed_at",
)
WRITE_BATCH = 1000  # rows per INSERT: 9,000 parameters, below SQLite's limit


def lists_write(rows: Sequence[ListRow], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Insert or replace one list per contact (`INSERT ... ON CONFLICT (contact_id) DO
    UPDATE`), in one transaction.

    On PostgreSQL the rows go into a temporary table by COPY first and are upserted from
    there in one statement; elsewhere by multi-row INSERTs. Raw SQL with the JSON
    serialised here: `bulk_create(update_conflicts=True)` inserts through `UNNEST` of a
    jsonb array on PostgreSQL, whose parameter psycopg quotes in Python character by
    character (49 s for 20,000 lists), and COPY takes half the time of the INSERTs
    (measured; docs/discovery.md, "Precomputed lists").
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(StoredList._meta.db_table)
    # Names are the model's own, quoted; every value is a parameter or COPY data.
    columns = ", ".join(map(quote, COLUMNS))
    upsert = f" ON CONFLICT ({quote('contact_id')}) DO UPDATE SET " + ", ".join(
        f"{quote(c)} = excluded.{quote(c)}" for c in COLUMNS[2:]
    )
    with transaction.atomic(using=using), connection.cursor() as cursor:
        raw: Any = getattr(cursor, "cursor", None)  # psycopg's own cursor, under Django's
        if connection.vendor == "postgresql" and hasattr(raw, "copy"):
            incoming = quote("discovery_storedlist_incoming")
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {incoming} ON COMMIT DROP AS "  # noqa: S608
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            cursor.execute(f"TRUNCATE {incoming}")
            with raw.copy(f"COPY {incoming} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {incoming}"  # noqa: S608
                + upsert
            )
            return
        one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
        head = f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608
        for start in range(0, len(rows), WRITE_BATCH):
            part = rows[start : start + WRITE_BATCH]
            params: list[Any] = []
            for row in part:
                params.extend(row[:-1])
                params.append(connection.ops.adapt_datetimefield_value(row[-1]))
            cursor.execute(head + ", ".join([one] * len(part)) + upsert, params)


class ListsWriter:
    """Writes chunks of lists (`lists_write`), on PostgreSQL outside a transaction one chunk
    behind the computation: a thread with its own connection writes chunk n while chunk
    n + 1 is computed, and the database builds the jsonb on the other core. Elsewhere (and
    inside a transaction, which another connection could not see) each chunk is written
    when it is handed over. `seconds`: time spent writing, wherever it ran."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS) -> None:
        connection = connections[using]
        self.using = using
        self.seconds = 0.0
        self._thread: ThreadPoolExecutor | None = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lists-write")
        self._pending: Future[float] | None = None

    def write(self, rows: Sequence[ListRow]) -> None:
        """Write these rows, or hand them to the thread once the chunk before is written."""
        if self._thread is None:
            self.seconds += _timed_write(rows, self.using)
            return
        self._wait()
        self._pending = self._thread.submit(_timed_write, rows, self.using)

    def close(self) -> None:
        """Wait for the last chunk (raising what its write raised) and end the thread."""
        if self._thread is None:
            return
        try:
            self._wait()
        finally:
            self._thread.submit(_close_connection, self.using).result()
            self._thread.shutdown()
            self._thread = None

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self.seconds += pending.result()


def _timed_write(rows: Sequence[ListRow], using: str) -> float:
    clock = time.perf_counter()
    lists_write(rows, using=using)
    return time.perf_counter() - clock


def _close_connection(using: str) -> None:
    connections[using].close()
