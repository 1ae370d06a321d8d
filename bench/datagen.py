"""Generate a large, realistic audience: contacts, interests, consents, interactions.

Run by `bench.audience` in a subprocess whose environment points Django at the database
(DATABASE_URL for PostgreSQL, PUBLIKUM_DATA_DIR for SQLite), after `publikum migrate`:

    python -m bench.datagen --contacts 1000000 --interactions 20000000

PostgreSQL: set-based, `INSERT ... SELECT` over `generate_series`, chunked by contact so
progress shows; secondary indexes are dropped before the load and rebuilt after it (timed
on their own), foreign-key triggers are skipped during the load (the rows are consistent
by construction), then VACUUM ANALYZE. SQLite: the same distributions drawn in Python and
written with `executemany` in large transactions.

The distributions: German names (frequent surnames more often), 94 % with an e-mail address,
86 % German-speaking, postcodes clustered around the house (Köln) and its region, tags on
about a third, birthdays on 60 %, contacts created over seven years; e-mail newsletter
consent granted for about 55 % of all contacts (plus withdrawn ones and other purposes);
0 to 3 interests, popular themes more often. Interactions spread over the last two years
with a skewed number per contact (about a quarter have none, the most active have four
times the mean), a per-contact share of visits and bookings, and 55 % of contacts who
stopped coming at some point, so that lifecycle stages come out varied.

A second, small organisation (1 % of the size) is generated beside the main one: the
baseline that the main figures are compared with in the same run.

Derived tables are filled the way the product keeps them when data comes in through it:
the contact list's search table (`audience_contactsearch`, which database triggers fill on
every new contact; PostgreSQL's load skips triggers, so it is filled set-based) and the
contact × theme summary of the segments (`audience_contactthemeactivity`, which the
interaction import and `interaction_record` keep). The lifecycle figures and stages are
left for the first recompute, as after an import of contacts and their history.

Prints one line `RESULT {json}` with timings, row counts and sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

MAIN_SLUG = "bench"
SMALL_SLUG = "bench-klein"
BENCH_USER = "bench@publikum.example"
SEED = 0.4242  # PostgreSQL setseed(); the Python generator uses SEED_INT
SEED_INT = 4242
SMALL_FRACTION = 100  # the baseline organisation has 1/100 of the main one's rows

FIRST_NAMES = [
    "Anna",
    "Maria",
    "Laura",
    "Julia",
    "Sophie",
    "Lena",
    "Lea",
    "Hannah",
    "Sarah",
    "Katharina",
    "Lisa",
    "Johanna",
    "Marie",
    "Emma",
    "Clara",
    "Charlotte",
    "Paula",
    "Greta",
    "Ida",
    "Mia",
    "Emilia",
    "Mila",
    "Frieda",
    "Luise",
    "Helene",
    "Ursula",
    "Monika",
    "Petra",
    "Sabine",
    "Gabriele",
    "Andrea",
    "Claudia",
    "Susanne",
    "Birgit",
    "Karin",
    "Renate",
    "Christine",
    "Elke",
    "Heike",
    "Anja",
    "Nicole",
    "Stefanie",
    "Martina",
    "Silke",
    "Barbara",
    "Ingrid",
    "Gisela",
    "Helga",
    "Brigitte",
    "Erika",
    "Doris",
    "Jutta",
    "Michael",
    "Thomas",
    "Andreas",
    "Stefan",
    "Christian",
    "Peter",
    "Wolfgang",
    "Klaus",
    "Jürgen",
    "Frank",
    "Uwe",
    "Bernd",
    "Markus",
    "Matthias",
    "Alexander",
    "Martin",
    "Tobias",
    "Sebastian",
    "Jan",
    "Lukas",
    "Felix",
    "Jonas",
    "Leon",
    "Paul",
    "Max",
    "Finn",
    "Noah",
    "Elias",
    "Ben",
    "Luis",
    "Tim",
    "Niklas",
    "Philipp",
    "Florian",
    "Daniel",
    "David",
    "Simon",
    "Moritz",
    "Julian",
    "Hans",
    "Dieter",
    "Günter",
    "Horst",
    "Manfred",
    "Helmut",
    "Gerhard",
    "Werner",
    "Karl",
    "Heinz",
    "Rolf",
    "Rainer",
    "Ralf",
    "Jörg",
    "Dirk",
    "Holger",
    "Sven",
    "Oliver",
    "Jens",
    "Björn",
    "René",
    "Zoë",
    "Aylin",
    "Elif",
    "Mehmet",
    "Emre",
    "Can",
    "Deniz",
    "Luca",
    "Marco",
    "Giulia",
    "Ana",
    "Olga",
    "Katarzyna",
    "Piotr",
    "Ivan",
    "Nikolai",
    "Fatma",
    "Ayşe",
]
# Roughly in the order of their frequency in Germany; drawn with a skew towards the front.
LAST_NAMES = [
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Schäfer",
    "Koch",
    "Bauer",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "Schwarz",
    "Zimmermann",
    "Braun",
    "Krüger",
    "Hofmann",
    "Hartmann",
    "Lange",
    "Schmitt",
    "Werner",
    "Schmitz",
    "Krause",
    "Meier",
    "Lehmann",
    "Schmid",
    "Schulze",
    "Maier",
    "Köhler",
    "Herrmann",
    "König",
    "Walter",
    "Mayer",
    "Huber",
    "Kaiser",
    "Fuchs",
    "Peters",
    "Lang",
    "Scholz",
    "Möller",
    "Weiß",
    "Jung",
    "Hahn",
    "Schubert",
    "Vogel",
    "Friedrich",
    "Keller",
    "Günther",
    "Frank",
    "Berger",
    "Winkler",
    "Roth",
    "Beck",
    "Lorenz",
    "Baumann",
    "Franke",
    "Albrecht",
    "Schuster",
    "Simon",
    "Ludwig",
    "Böhm",
    "Winter",
    "Kraus",
    "Martin",
    "Schumacher",
    "Krämer",
    "Vogt",
    "Stein",
    "Jäger",
    "Otto",
    "Sommer",
    "Groß",
    "Seidel",
    "Heinrich",
    "Brandt",
    "Haas",
    "Schreiber",
    "Graf",
    "Schulte",
    "Dietrich",
    "Ziegler",
    "Kuhn",
    "Kühn",
    "Pohl",
    "Engel",
    "Horn",
    "Busch",
    "Bergmann",
    "Thomas",
    "Voigt",
    "Sauer",
    "Arnold",
    "Wolff",
    "Pfeiffer",
    "Yılmaz",
    "Kaya",
    "Demir",
    "Şahin",
    "Nowak",
    "Kowalski",
    "Wiśniewski",
    "Rossi",
    "Russo",
    "Ferrari",
    "Papadopoulos",
    "Ivanov",
    "Petrović",
    "Nguyen",
    "Kim",
    "Smith",
    "Jones",
    "García",
    "Martínez",
    "Dubois",
    "Janssen",
    "Hansen",
    "Jansen",
    "Brinkmann",
    "Overbeck",
    "Kortmann",
    "Esser",
    "Hilgers",
    "Pütz",
    "Kreuzer",
    "Odenthal",
    "Büchel",
]
ORG_WORDS = [
    "Gymnasium",
    "Grundschule",
    "Gesamtschule",
    "Realschule",
    "Kulturverein",
    "Reisen",
    "Seniorenclub",
    "Kita",
    "Volkshochschule",
    "Förderverein",
]
EMAIL_DOMAINS = [
    "gmail.com",
    "web.de",
    "gmx.de",
    "t-online.de",
    "gmx.net",
    "outlook.de",
    "yahoo.de",
    "icloud.com",
    "posteo.de",
    "freenet.de",
    "mailbox.org",
    "hotmail.com",
    "arcor.de",
    "uni-koeln.de",
]
LOCAL_PREFIXES = ["50", "51"]  # the house is in Köln
REGION_PREFIXES = ["40", "41", "42", "45", "47", "52", "53", "57", "58", "59"]
THEMES = [
    ("fotografie", "Fotografie", "Photography"),
    ("stadtgeschichte", "Stadtgeschichte", "City history"),
    ("moderne-kunst", "Moderne Kunst", "Modern art"),
    ("design", "Design", "Design"),
    ("architektur", "Architektur", "Architecture"),
    ("klassik", "Klassische Musik", "Classical music"),
    ("jazz", "Jazz", "Jazz"),
    ("theater", "Theater", "Theatre"),
    ("film", "Film", "Film"),
    ("kinder", "Für Kinder", "For children"),
    ("literatur", "Literatur", "Literature"),
    ("wissenschaft", "Wissenschaft", "Science"),
]
ITEM_KINDS = ["exhibition", "tour", "tour", "workshop", "talk", "concert", "performance"]
PRICES = [Decimal(p) for p in ("8.00", "12.00", "15.00", "18.00", "24.00", "32.00", "45.00")]
CONSENT_SOURCES = [
    "Anmeldeformular Website",
    "Kasse Foyer",
    "Ticketshop Online",
    "Import Eventim 2024",
]
CONSENT_WORDING = (
    "Ja, ich möchte Neuigkeiten des Museums per E-Mail erhalten. "
    "Abmeldung jederzeit über den Link in jeder E-Mail."
)
# (channel, purpose, share granted, share withdrawn, only contacts with an e-mail address)
CONSENT_PLAN = [
    ("email", "newsletter", 0.585, 0.065, True),  # 0.585 of the 94 % with e-mail: 55 %
    ("email", "offers", 0.23, 0.03, True),
    ("email", "feedback", 0.12, 0.01, True),
    ("post", "newsletter", 0.08, 0.01, False),
]
NO_EMAIL = 0.06
ORG_SHARE = 0.03
ACTIVE_SHARE = 0.45  # contacts still coming today; the others stopped at some point
ITEMS_PER_ORG = 400
ASCII = str.maketrans("äöüßéèıçşśńćğëï", "aouseeicssncgei")
# The same translation in SQL: translate(lower(x), from, to)
SQL_FROM, SQL_TO = "äöüßéèıçşśńćğëï", "aouseeicssncgei"


def log(message: str) -> None:
    sys.stderr.write(f"  [datagen] {message}\n")
    sys.stderr.flush()


@dataclass
class OrgInfo:
    id: int
    slug: str
    item_ids: list[int]
    theme_ids: list[int]


# --- the parts every database shares: organisations, staff user, themes, programme -----------


def setup_organisation(slug: str, name: str) -> OrgInfo:
    from publikum.audience.models import AudienceSettings
    from publikum.core.models import Membership, Organisation, Role, User
    from publikum.programme.models import PriceCategory, ProgrammeItem, Theme

    org = Organisation.objects.create(slug=slug, name=name, city="Köln", region="NW")
    AudienceSettings.objects.get_or_create(organisation=org)
    user = User.objects.filter(email=BENCH_USER).first()
    if user is None:
        user = User.objects.create_user(BENCH_USER, None, name="Bench")
    Membership.objects.create(organisation=org, user=user, role=Role.OWNER)
    themes = Theme.objects.bulk_create(
        [Theme(organisation=org, slug=s, name_de=de, name_en=en) for s, de, en in THEMES]
    )
    rng = random.Random(f"{SEED_INT}-{slug}")
    items = ProgrammeItem.objects.bulk_create(
        [
            ProgrammeItem(
                organisation=org,
                slug=f"programm-{i:04d}",
                kind=ITEM_KINDS[i % len(ITEM_KINDS)],
                title_de=f"Programmpunkt {i}",
                title_en=f"Programme item {i}",
            )
            for i in range(ITEMS_PER_ORG)
        ]
    )
    PriceCategory.objects.bulk_create(
        [
            PriceCategory(
                organisation=org,
                item=item,
                name_de="Regulär",
                name_en="Regular",
                price_eur=rng.choice(PRICES),
            )
            for item in items
        ]
    )
    through = ProgrammeItem.themes.through
    links = set()
    for item in items:
        # The first theme skewed towards the front of the list (photography is popular).
        links.add((item.pk, themes[int(rng.random() ** 1.6 * len(themes))].pk))
        if rng.random() < 0.4:
            links.add((item.pk, themes[rng.randrange(len(themes))].pk))
    through.objects.bulk_create([through(programmeitem_id=i, theme_id=t) for i, t in sorted(links)])
    return OrgInfo(org.pk, slug, [i.pk for i in items], [t.pk for t in themes])


# --- PostgreSQL: set-based --------------------------------------------------------------------

PG_CONTACTS = """
INSERT INTO audience_contact (
    organisation_id, kind, first_name, last_name, organisation_name, email, phone, language,
    postcode, birthday, tags, notes, email_status, max_mails_per_month, paused_until,
    lifecycle_stage, stage_changed_at, first_visit_at, last_visit_at, visits_12m,
    bookings_12m, spend_12m, rfm_recency, rfm_frequency, rfm_monetary, erased_at,
    created_at, updated_at)
SELECT
    %(org)s,
    CASE WHEN s.is_org THEN 'organisation' ELSE 'person' END,
    CASE WHEN s.is_org THEN '' ELSE s.fn END,
    CASE WHEN s.is_org THEN '' ELSE s.ln END,
    CASE WHEN s.is_org THEN s.orgword || ' ' || s.ln ELSE '' END,
    CASE
        WHEN s.r_mail < %(no_email)s THEN ''
        WHEN s.is_org THEN 'info' || s.g || '@'
            || translate(lower(s.orgword || '-' || s.ln), %(tr_from)s, %(tr_to)s) || '.de'
        ELSE translate(lower(s.fn || '.' || s.ln), %(tr_from)s, %(tr_to)s)
            || s.g || '@' || s.dom
    END,
    CASE WHEN random() < 0.35
        THEN '+49 1' || (50 + floor(random() * 30))::int || ' '
            || lpad(floor(random() * 10000000)::int::text, 7, '0')
        ELSE '' END,
    CASE WHEN random() < 0.86 THEN 'de' ELSE 'en' END,
    CASE
        WHEN s.r_pc < 0.40 THEN (%(local)s::text[])[1 + floor(random() * %(n_local)s)::int]
            || lpad(floor(random() * 1000)::int::text, 3, '0')
        WHEN s.r_pc < 0.70 THEN (%(region)s::text[])[1 + floor(random() * %(n_region)s)::int]
            || lpad(floor(random() * 1000)::int::text, 3, '0')
        WHEN s.r_pc < 0.92 THEN lpad((1000 + floor(random() * 98000))::int::text, 5, '0')
        ELSE '' END,
    CASE WHEN NOT s.is_org AND random() < 0.6
        THEN date '1938-01-01' + floor(random() * 25000)::int END,
    (CASE
        WHEN s.is_org THEN CASE WHEN s.r_tag < 0.6 THEN '["schule"]' ELSE '["gruppe"]' END
        WHEN s.r_tag < 0.66 THEN '[]'
        WHEN s.r_tag < 0.78 THEN '["abonnement"]'
        WHEN s.r_tag < 0.84 THEN '["förderverein"]'
        WHEN s.r_tag < 0.87 THEN '["abonnement", "förderverein"]'
        WHEN s.r_tag < 0.90 THEN '["presse"]'
        WHEN s.r_tag < 0.92 THEN '["vip"]'
        WHEN s.r_tag < 0.97 THEN '["familienkarte"]'
        ELSE '["ehrenamt"]' END)::jsonb,
    '',
    CASE WHEN s.r_mail > 0.98 THEN 'bounced' WHEN s.r_mail > 0.9985 THEN 'complained'
        ELSE 'ok' END,
    0, NULL, 'none', NULL, NULL, NULL, 0, 0, 0, 0, 0, 0, NULL,
    s.created, s.created
FROM (
    SELECT
        g,
        random() < %(org_share)s AS is_org,
        (%(first)s::text[])[1 + floor(random() * %(n_first)s)::int] AS fn,
        (%(last)s::text[])[1 + floor(power(random(), 2.2) * %(n_last)s)::int] AS ln,
        (%(orgwords)s::text[])[1 + floor(random() * %(n_orgwords)s)::int] AS orgword,
        (%(domains)s::text[])[1 + floor(power(random(), 1.6) * %(n_domains)s)::int] AS dom,
        random() AS r_mail,
        random() AS r_pc,
        random() AS r_tag,
        CASE WHEN random() < 0.55
            THEN %(now)s::timestamptz - (730 + random() * 2190) * interval '1 day'
            ELSE %(now)s::timestamptz - power(random(), 1.3) * 730 * interval '1 day'
        END AS created
    FROM generate_series(%(lo)s::int, %(hi)s::int) AS g
    OFFSET 0
) s
"""

PG_INTERESTS = """
INSERT INTO audience_contact_interests (contact_id, theme_id)
SELECT DISTINCT c.id, (%(themes)s::bigint[])[1 + floor(power(random(), 1.7) * %(n_themes)s)::int]
FROM (
    SELECT id, floor(power(random(), 2) * 3.99)::int AS k
    FROM audience_contact WHERE organisation_id = %(org)s
    OFFSET 0
) c
CROSS JOIN LATERAL generate_series(1, c.k)
"""

PG_CONSENTS = """
INSERT INTO audience_consent (
    organisation_id, contact_id, channel, purpose, granted, source, wording, granted_at,
    withdrawn_at, created_at, updated_at)
SELECT
    %(org)s, s.id, %(channel)s, %(purpose)s, s.r < %(p_granted)s,
    (%(sources)s::text[])[1 + floor(random() * %(n_sources)s)::int], %(wording)s,
    s.at,
    CASE WHEN s.r >= %(p_granted)s THEN s.at + (%(now)s::timestamptz - s.at) * random() END,
    s.at, s.at
FROM (
    SELECT id, random() AS r,
        created_at + (%(now)s::timestamptz - created_at) * 0.3 * random() AS at
    FROM audience_contact
    WHERE organisation_id = %(org)s AND (email <> '' OR NOT %(needs_email)s)
    OFFSET 0
) s
WHERE s.r < %(p_total)s
"""

PG_INTERACTIONS = """
INSERT INTO audience_interaction (
    organisation_id, contact_id, kind, occurred_at, item_id, occurrence_id, quantity,
    amount_eur, summary, data)
SELECT
    %(org)s, a.id, x.kind,
    a.t0 + (a.t1 - a.t0) * x.r_t,
    CASE WHEN x.kind IN ('visit', 'booking')
        THEN (%(items)s::bigint[])[1 + floor(power(x.r_item, 1.5) * %(n_items)s)::int] END,
    NULL,
    CASE WHEN x.kind = 'booking' THEN x.qty ELSE 1 END,
    CASE WHEN x.kind = 'booking'
        THEN x.qty * (%(prices)s::numeric[])[1 + floor(x.r_price * %(n_prices)s)::int]
        ELSE 0 END,
    '', '{}'::jsonb
FROM (
    SELECT b.id, b.n, b.vshare, b.t0,
        CASE WHEN b.r_active < %(active)s THEN %(now)s::timestamptz
            ELSE b.t0 + (%(now)s::timestamptz - b.t0) * power(b.r_stop, 0.8) END AS t1
    FROM (
        SELECT c.id,
            floor(%(mean)s * 4 * power(random(), 3) + 0.5)::int AS n,
            0.05 + 0.5 * random() AS vshare,
            greatest(c.created_at, %(now)s::timestamptz - interval '730 days') AS t0,
            random() AS r_active,
            random() AS r_stop
        FROM audience_contact c
        WHERE c.organisation_id = %(org)s AND c.id BETWEEN %(lo)s AND %(hi)s
        OFFSET 0
    ) b
) a
CROSS JOIN LATERAL (
    SELECT
        CASE
            WHEN y.r < a.vshare * 0.72 THEN 'visit'
            WHEN y.r < a.vshare THEN 'booking'
            WHEN y.r < a.vshare + (1 - a.vshare) * 0.6 THEN 'email_sent'
            WHEN y.r < a.vshare + (1 - a.vshare) * 0.88 THEN 'email_opened'
            ELSE 'email_clicked'
        END AS kind,
        y.r_t, y.r_item, y.r_price,
        (1 + floor(y.r_q * y.r_q * 4))::int AS qty
    FROM (
        SELECT random() AS r, random() AS r_t, random() AS r_item, random() AS r_price,
            random() AS r_q
        FROM generate_series(1, a.n)
        OFFSET 0
    ) y
) x
"""

LOADED_TABLES = [
    "audience_contact",
    "audience_contact_interests",
    "audience_consent",
    "audience_interaction",
    "audience_contactsearch",
    "audience_contactthemeactivity",
]

# The search table as the contact triggers fill it (migration audience 0006).
FILL_SEARCH = """
INSERT INTO audience_contactsearch (contact_id, organisation_id, postcode, text)
SELECT c.id, c.organisation_id, c.postcode,
    c.first_name || ' ' || c.last_name || ' ' || c.email || ' ' || c.organisation_name
FROM audience_contact c WHERE c.organisation_id = %s AND c.erased_at IS NULL
"""
# The summary as audience.activity keeps it: per contact and theme, the last visit and the
# number of visits.
FILL_THEME_ACTIVITY = """
INSERT INTO audience_contactthemeactivity
    (organisation_id, contact_id, theme_id, last_attended_at, visits)
SELECT i.organisation_id, i.contact_id, t.theme_id, MAX(i.occurred_at), COUNT(*)
FROM audience_interaction i
JOIN programme_programmeitem_themes t ON t.programmeitem_id = i.item_id
WHERE i.organisation_id = %s AND i.kind = 'visit'
GROUP BY i.organisation_id, i.contact_id, t.theme_id
"""


def _common_params(now: datetime) -> dict[str, Any]:
    return {
        "now": now,
        "tr_from": SQL_FROM,
        "tr_to": SQL_TO,
        "no_email": NO_EMAIL,
        "org_share": ORG_SHARE,
        "first": FIRST_NAMES,
        "n_first": len(FIRST_NAMES),
        "last": LAST_NAMES,
        "n_last": len(LAST_NAMES),
        "orgwords": ORG_WORDS,
        "n_orgwords": len(ORG_WORDS),
        "domains": EMAIL_DOMAINS,
        "n_domains": len(EMAIL_DOMAINS),
        "local": LOCAL_PREFIXES,
        "n_local": len(LOCAL_PREFIXES),
        "region": REGION_PREFIXES,
        "n_region": len(REGION_PREFIXES),
        "prices": PRICES,
        "n_prices": len(PRICES),
        "sources": CONSENT_SOURCES,
        "n_sources": len(CONSENT_SOURCES),
        "wording": CONSENT_WORDING,
        "active": ACTIVE_SHARE,
    }


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start


LOAD_SESSION = (
    "SET synchronous_commit = off",
    "SET session_replication_role = replica",  # no foreign-key triggers while loading
    "SET work_mem = '256MB'",  # the theme summary groups millions of rows
)


def _pg_parallel(statements: list[tuple[str, Any, str]], jobs: int) -> None:
    """Run INSERT statements on `jobs` connections, each seeded by its place in the list."""
    from django.db import connection, transaction

    def run(numbered: tuple[int, tuple[str, Any, str]]) -> None:
        number, (sql, params, label) = numbered
        try:
            with connection.cursor() as cur:
                for setting in LOAD_SESSION:
                    cur.execute(setting)
                cur.execute("SELECT setseed(%s)", [(SEED + number * 0.0001) % 1])
                with transaction.atomic():
                    cur.execute(sql, params)
        finally:
            connection.close()  # each thread has its own connection
        log(label)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(run, enumerate(statements)))


def generate_postgres(
    orgs: list[tuple[OrgInfo, int, int]], now: datetime, timings: dict[str, float], jobs: int
) -> dict[str, Any]:
    from django.db import connection

    chunk = 50_000
    with connection.cursor() as cur:
        cur.execute("SET maintenance_work_mem = '1GB'")
        cur.execute(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = current_schema() AND tablename = ANY(%s) "
            "AND indexdef NOT LIKE 'CREATE UNIQUE INDEX%%' ORDER BY tablename, indexname",
            [LOADED_TABLES],
        )
        indexes = cur.fetchall()
        with _timed(timings, "drop_indexes"):
            for _table, name, _definition in indexes:
                cur.execute(f'DROP INDEX "{name}"')
        log(f"dropped {len(indexes)} secondary indexes for the load")
        base = _common_params(now)
        with _timed(timings, "contacts"):
            _pg_parallel(
                [
                    (
                        PG_CONTACTS,
                        {**base, "org": org.id, "lo": lo, "hi": min(lo + chunk - 1, n)},
                        f"{org.slug}: contacts {min(lo + chunk - 1, n):,}/{n:,}",
                    )
                    for org, n, _m in orgs
                    for lo in range(1, n + 1, chunk)
                ],
                jobs,
            )
        with _timed(timings, "search_table"):
            _pg_parallel(
                [(FILL_SEARCH, [org.id], f"{org.slug}: search table") for org, *_ in orgs], jobs
            )
        with _timed(timings, "interests_consents"):
            statements = []
            for org, _n, _m in orgs:
                statements.append(
                    (
                        PG_INTERESTS,
                        {"org": org.id, "themes": org.theme_ids, "n_themes": len(org.theme_ids)},
                        f"{org.slug}: interests",
                    )
                )
                for channel, purpose, p_granted, p_withdrawn, needs_email in CONSENT_PLAN:
                    params = {
                        **base,
                        "org": org.id,
                        "channel": channel,
                        "purpose": purpose,
                        "p_granted": p_granted,
                        "p_total": p_granted + p_withdrawn,
                        "needs_email": needs_email,
                    }
                    statements.append(
                        (PG_CONSENTS, params, f"{org.slug}: consents {channel}/{purpose}")
                    )
            _pg_parallel(statements, jobs)
        statements = []
        for org, n_contacts, n_interactions in orgs:
            cur.execute(
                "SELECT min(id), max(id) FROM audience_contact WHERE organisation_id = %s",
                [org.id],
            )
            first_id, last_id = cur.fetchone()
            params = {
                **base,
                "org": org.id,
                "items": org.item_ids,
                "n_items": len(org.item_ids),
                "mean": n_interactions / max(n_contacts, 1),
            }
            for lo in range(first_id, last_id + 1, chunk):
                hi = min(lo + chunk - 1, last_id)
                label = f"{org.slug}: interactions of contacts {hi - first_id + 1:,}/{n_contacts:,}"
                statements.append((PG_INTERACTIONS, {**params, "lo": lo, "hi": hi}, label))
        with _timed(timings, "interactions"):
            _pg_parallel(statements, jobs)
        with _timed(timings, "theme_summary"):
            # Statistics first: without them the planner groups the fresh table badly.
            cur.execute("ANALYZE audience_interaction")
            _pg_parallel(
                [(FILL_THEME_ACTIVITY, [org.id], f"{org.slug}: theme summary") for org, *_ in orgs],
                jobs,
            )
        index_times: dict[str, float] = {}
        with _timed(timings, "create_indexes"):
            for _table, name, definition in indexes:
                start = time.perf_counter()
                cur.execute(definition)
                index_times[name] = round(time.perf_counter() - start, 2)
                log(f"index {name}: {index_times[name]:.1f} s")
        with _timed(timings, "vacuum_analyze"):
            for table in [*LOADED_TABLES, "audience_segment", "programme_programmeitem"]:
                cur.execute(f"VACUUM (ANALYZE) {table}")
        log("VACUUM ANALYZE done")
        cur.execute(
            "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
            "WHERE relname = ANY(%s) ORDER BY relname",
            [LOADED_TABLES],
        )
        sizes = dict(cur.fetchall())
    return {"index_seconds": index_times, "table_bytes": sizes}


# --- SQLite: the same distributions drawn in Python ---------------------------------------------


def _sqlite_dt(value: datetime) -> str:
    return str(value.astimezone(UTC).replace(tzinfo=None))


def _email_local(text: str) -> str:
    return text.lower().translate(ASCII)


def _contact_rows(
    rng: random.Random, org: OrgInfo, n: int, now: datetime
) -> tuple[list[tuple[Any, ...]], list[datetime]]:
    rows: list[tuple[Any, ...]] = []
    created_list: list[datetime] = []
    r = rng.random
    for g in range(1, n + 1):
        is_org = r() < ORG_SHARE
        fn = FIRST_NAMES[int(r() * len(FIRST_NAMES))]
        ln = LAST_NAMES[int(r() ** 2.2 * len(LAST_NAMES))]
        orgword = ORG_WORDS[int(r() * len(ORG_WORDS))]
        dom = EMAIL_DOMAINS[int(r() ** 1.6 * len(EMAIL_DOMAINS))]
        r_mail, r_pc, r_tag = r(), r(), r()
        if r() < 0.55:
            created = now - timedelta(days=730 + r() * 2190)
        else:
            created = now - timedelta(days=r() ** 1.3 * 730)
        if r_mail < NO_EMAIL:
            email = ""
        elif is_org:
            email = f"info{g}@{_email_local(orgword + '-' + ln)}.de"
        else:
            email = f"{_email_local(fn + '.' + ln)}{g}@{dom}"
        phone = f"+49 1{50 + int(r() * 30)} {int(r() * 10_000_000):07d}" if r() < 0.35 else ""
        language = "de" if r() < 0.86 else "en"
        if r_pc < 0.40:
            postcode = LOCAL_PREFIXES[int(r() * len(LOCAL_PREFIXES))] + f"{int(r() * 1000):03d}"
        elif r_pc < 0.70:
            postcode = REGION_PREFIXES[int(r() * len(REGION_PREFIXES))] + f"{int(r() * 1000):03d}"
        elif r_pc < 0.92:
            postcode = f"{1000 + int(r() * 98000):05d}"
        else:
            postcode = ""
        birthday = (
            (date(1938, 1, 1) + timedelta(days=int(r() * 25000))).isoformat()
            if not is_org and r() < 0.6
            else None
        )
        if is_org:
            tags = ["schule"] if r_tag < 0.6 else ["gruppe"]
        else:
            tags = next(
                t
                for limit, t in (
                    (0.66, []),
                    (0.78, ["abonnement"]),
                    (0.84, ["förderverein"]),
                    (0.87, ["abonnement", "förderverein"]),
                    (0.90, ["presse"]),
                    (0.92, ["vip"]),
                    (0.97, ["familienkarte"]),
                    (2.0, ["ehrenamt"]),
                )
                if r_tag < limit
            )
        status = "bounced" if r_mail > 0.98 else "ok"
        stamp = _sqlite_dt(created)
        rows.append(
            (
                org.id,
                "organisation" if is_org else "person",
                "" if is_org else fn,
                "" if is_org else ln,
                f"{orgword} {ln}" if is_org else "",
                email,
                phone,
                language,
                postcode,
                birthday,
                json.dumps(tags),
                "",
                status,
                stamp,
                stamp,
            )
        )
        created_list.append(created)
    return rows, created_list


SQLITE_CONTACT_INSERT = """
INSERT INTO audience_contact (
    organisation_id, kind, first_name, last_name, organisation_name, email, phone, language,
    postcode, birthday, tags, notes, email_status, created_at, updated_at,
    max_mails_per_month, lifecycle_stage, visits_12m, bookings_12m, spend_12m, rfm_recency,
    rfm_frequency, rfm_monetary)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, 'none', 0, 0, 0, 0, 0, 0)
"""
SQLITE_INTERACTION_INSERT = """
INSERT INTO audience_interaction (
    organisation_id, contact_id, kind, occurred_at, item_id, occurrence_id, quantity,
    amount_eur, summary, data)
VALUES (%s, %s, %s, %s, %s, NULL, %s, %s, '', '{}')
"""


def _interaction_rows(
    rng: random.Random,
    org: OrgInfo,
    contacts: list[tuple[int, datetime]],
    mean: float,
    now: datetime,
) -> Iterator[tuple[Any, ...]]:
    r = rng.random
    window_start = now - timedelta(days=730)
    n_items = len(org.item_ids)
    for contact_id, created in contacts:
        n = int(mean * 4 * r() ** 3 + 0.5)
        vshare = 0.05 + 0.5 * r()
        t0 = max(created, window_start)
        r_active, r_stop = r(), r()
        t1 = now if r_active < ACTIVE_SHARE else t0 + (now - t0) * (r_stop**0.8)
        span = t1 - t0
        for _ in range(n):
            x, r_t, r_item, r_price, r_q = r(), r(), r(), r(), r()
            if x < vshare * 0.72:
                kind = "visit"
            elif x < vshare:
                kind = "booking"
            elif x < vshare + (1 - vshare) * 0.6:
                kind = "email_sent"
            elif x < vshare + (1 - vshare) * 0.88:
                kind = "email_opened"
            else:
                kind = "email_clicked"
            item = (
                org.item_ids[int(r_item**1.5 * n_items)] if kind in ("visit", "booking") else None
            )
            qty = 1 + int(r_q * r_q * 4) if kind == "booking" else 1
            amount = str(qty * PRICES[int(r_price * len(PRICES))]) if kind == "booking" else "0"
            yield (org.id, contact_id, kind, _sqlite_dt(t0 + span * r_t), item, qty, amount)


def _consent_rows(
    rng: random.Random,
    org: OrgInfo,
    contact_rows: list[tuple[int, str]],
    created: list[datetime],
    now: datetime,
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for channel, purpose, p_granted, p_withdrawn, needs_email in CONSENT_PLAN:
        for (contact_id, email), made in zip(contact_rows, created, strict=True):
            if needs_email and not email:
                continue
            x = rng.random()
            if x >= p_granted + p_withdrawn:
                continue
            at = made + (now - made) * 0.3 * rng.random()
            source = CONSENT_SOURCES[int(rng.random() * len(CONSENT_SOURCES))]
            withdrawn = _sqlite_dt(at + (now - at) * rng.random()) if x >= p_granted else None
            rows.append(
                (
                    org.id, contact_id, channel, purpose, int(x < p_granted), source,
                    CONSENT_WORDING, _sqlite_dt(at), withdrawn, _sqlite_dt(at), _sqlite_dt(at),
                )
            )  # fmt: skip
    return rows


def _sqlite_drop_indexes(cur: Any) -> list[tuple[str, str, str]]:
    """Drop the non-unique indexes of the loaded tables; returns (table, name, definition)."""
    cur.execute(
        "SELECT tbl_name, name, sql FROM sqlite_master WHERE type = 'index' "
        "AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%%'"
    )
    indexes = [row for row in cur.fetchall() if row[0] in LOADED_TABLES]
    for _table, name, _sql in indexes:
        cur.execute(f'DROP INDEX "{name}"')
    return indexes


def generate_sqlite(
    orgs: list[tuple[OrgInfo, int, int]], now: datetime, timings: dict[str, float]
) -> dict[str, Any]:
    from django.db import connection, transaction

    rng = random.Random(SEED_INT)
    with connection.cursor() as cur:
        with _timed(timings, "drop_indexes"):
            indexes = _sqlite_drop_indexes(cur)
        log(f"dropped {len(indexes)} secondary indexes for the load")
        for org, n_contacts, n_interactions in orgs:
            with _timed(timings, "contacts"):
                rows, created = _contact_rows(rng, org, n_contacts, now)
                with transaction.atomic():
                    cur.executemany(SQLITE_CONTACT_INSERT, rows)
                cur.execute(
                    "SELECT id, email FROM audience_contact WHERE organisation_id = %s ORDER BY id",
                    [org.id],
                )
                contact_rows = cur.fetchall()
            log(f"{org.slug}: {len(contact_rows):,} contacts")
            with _timed(timings, "interests_consents"):
                links = set()
                for contact_id, _email in contact_rows:
                    for _ in range(int(rng.random() ** 2 * 3.99)):
                        theme = org.theme_ids[int(rng.random() ** 1.7 * len(org.theme_ids))]
                        links.add((contact_id, theme))
                with transaction.atomic():
                    cur.executemany(
                        "INSERT INTO audience_contact_interests (contact_id, theme_id) "
                        "VALUES (%s, %s)",
                        sorted(links),
                    )
            with _timed(timings, "interests_consents"):
                consent_rows = _consent_rows(rng, org, contact_rows, created, now)
                with transaction.atomic():
                    cur.executemany(
                        "INSERT INTO audience_consent (organisation_id, contact_id, channel, "
                        "purpose, granted, source, wording, granted_at, withdrawn_at, "
                        "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, "
                        "%s, %s)",
                        consent_rows,
                    )
            log(f"{org.slug}: interests and consents")
            with _timed(timings, "interactions"):
                pairs = [(cid, made) for (cid, _e), made in zip(contact_rows, created, strict=True)]
                generator = _interaction_rows(
                    rng, org, pairs, n_interactions / max(n_contacts, 1), now
                )
                batch: list[tuple[Any, ...]] = []
                written = 0
                for row in generator:
                    batch.append(row)
                    if len(batch) >= 500_000:
                        with transaction.atomic():
                            cur.executemany(SQLITE_INTERACTION_INSERT, batch)
                        written += len(batch)
                        batch.clear()
                        log(f"{org.slug}: {written:,} interactions")
                with transaction.atomic():
                    cur.executemany(SQLITE_INTERACTION_INSERT, batch)
            # The search table filled itself through the contact triggers.
            with _timed(timings, "theme_summary"), transaction.atomic():
                cur.execute(FILL_THEME_ACTIVITY, [org.id])
        index_times: dict[str, float] = {}
        with _timed(timings, "create_indexes"):
            for _table, name, definition in indexes:
                start = time.perf_counter()
                cur.execute(definition)
                index_times[name] = round(time.perf_counter() - start, 2)
        log("indexes rebuilt")
        with _timed(timings, "vacuum_analyze"):
            cur.execute("ANALYZE")
    path = connection.settings_dict["NAME"]
    return {"index_seconds": index_times, "file_bytes": os.path.getsize(path)}


# --- a CSV file as a ticketing system exports it ------------------------------------------------

IMPORT_HEADER = [
    "Kundennummer", "Anrede", "Vorname", "Nachname", "E-Mail", "Straße", "PLZ", "Ort",
    "Telefon", "Geburtsdatum", "Sprache", "Interessen", "Newsletter", "Einwilligungsdatum",
]  # fmt: skip
STREETS = [
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Schulstraße",
    "Kirchgasse",
    "Lindenallee",
    "Domplatz",
]
CITIES = [
    "Köln",
    "Bonn",
    "Düsseldorf",
    "Leverkusen",
    "Bergisch",
    "Gladbach",
    "Aachen",
    "Hürth",
    "Frechen",
]


def write_import_csv(
    path: str, rows: int, existing_emails: list[str], *, seed: int, tag: str
) -> dict[str, int]:
    """An Eventim-style contact export: semicolon-separated, Windows-1252, German columns,
    some columns the importer ignores, about 1 % bad rows (invalid e-mail address or date),
    and `existing_emails` (already in the organisation) mixed in so that they are updates.

    `tag` makes the new addresses unique to this run, so that a kept database still sees
    new contacts on the next run.
    """
    import csv

    rng = random.Random(seed)
    first = [n for n in FIRST_NAMES if _cp1252(n)]
    last = [n for n in LAST_NAMES if _cp1252(n)]
    themes = [slug for slug, _de, _en in THEMES]
    existing = list(existing_emails)
    rng.shuffle(existing)
    plan = {"rows": rows, "existing": 0, "bad": 0}
    with open(path, "w", encoding="cp1252", newline="") as fh:
        writer = csv.writer(fh, delimiter=";", lineterminator="\r\n")
        writer.writerow(IMPORT_HEADER)
        for n in range(1, rows + 1):
            fn, ln = rng.choice(first), last[int(rng.random() ** 2.2 * len(last))]
            if existing and rng.random() < len(existing_emails) / rows:
                email = existing.pop()
                plan["existing"] += 1
            else:
                email = (
                    f"{_email_local(fn)}.{_email_local(ln)}.{tag}{n}@{rng.choice(EMAIL_DOMAINS)}"
                )
            birthday = (date(1938, 1, 1) + timedelta(days=int(rng.random() * 25000))).strftime(
                "%d.%m.%Y"
            )
            bad = rng.random()
            if bad < 0.005:
                email = email.replace("@", " (at) ")
                plan["bad"] += 1
            elif bad < 0.01:
                birthday = f"31.02.{1940 + rng.randrange(60)}"
                plan["bad"] += 1
            consent = rng.random() < 0.55
            consent_at = date(2020, 1, 1) + timedelta(days=int(rng.random() * 2000))
            writer.writerow(
                [
                    f"K{700000 + n}",
                    rng.choice(["Frau", "Herr", "", "Divers"]),
                    fn,
                    ln,
                    email,
                    f"{rng.choice(STREETS)} {rng.randrange(1, 120)}",
                    f"{rng.choice(LOCAL_PREFIXES + REGION_PREFIXES)}{rng.randrange(1000):03d}",
                    rng.choice(CITIES),
                    f"0221 {rng.randrange(1000000, 9999999)}" if rng.random() < 0.4 else "",
                    birthday if rng.random() < 0.7 else "",
                    "Deutsch" if rng.random() < 0.86 else "Englisch",
                    ", ".join(sorted({rng.choice(themes) for _ in range(rng.randrange(0, 3))})),
                    "ja" if consent else "nein",
                    consent_at.strftime("%d.%m.%Y") if consent else "",
                ]
            )
    return plan


def _cp1252(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


# --- entry point ------------------------------------------------------------------------------


def generate(contacts: int, interactions: int, jobs: int = 2) -> dict[str, Any]:
    from django.db import connection

    from publikum.audience.models import Consent, Contact, Interaction

    assert Contact._meta.db_table == "audience_contact"
    assert Interaction._meta.db_table == "audience_interaction"
    assert Consent._meta.db_table == "audience_consent"
    assert Contact.interests.through._meta.db_table == "audience_contact_interests"
    timings: dict[str, float] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    with _timed(timings, "setup"):
        main = setup_organisation(MAIN_SLUG, "Stadtmuseum Benchhausen")
        small = setup_organisation(SMALL_SLUG, "Kleines Museum Benchhausen")
    small_contacts = max(contacts // SMALL_FRACTION, 100)
    small_interactions = max(interactions // SMALL_FRACTION, 100)
    plan = [(main, contacts, interactions), (small, small_contacts, small_interactions)]
    start = time.perf_counter()
    if connection.vendor == "postgresql":
        extra = generate_postgres(plan, now, timings, jobs)
    else:
        extra = generate_sqlite(plan, now, timings)
    total = time.perf_counter() - start
    counts = {}
    with connection.cursor() as cur:
        for table in LOADED_TABLES:
            cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed table names
            counts[table] = cur.fetchone()[0]
    return {
        "now": now.isoformat(),
        "organisations": {
            MAIN_SLUG: {"id": main.id, "contacts": contacts, "interactions": interactions},
            SMALL_SLUG: {
                "id": small.id,
                "contacts": small_contacts,
                "interactions": small_interactions,
            },
        },
        "seconds": {k: round(v, 2) for k, v in timings.items()} | {"total": round(total, 2)},
        "rows": counts,
        **extra,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contacts", type=int, required=True)
    parser.add_argument("--interactions", type=int, required=True)
    parser.add_argument("--jobs", type=int, default=2, help="parallel loaders (PostgreSQL)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "publikum.settings")
    import django

    django.setup()
    result = generate(args.contacts, args.interactions, args.jobs)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
