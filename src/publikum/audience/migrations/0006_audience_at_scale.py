"""The audience at scale (issue 3): a summary of themes attended per contact for segments, a
search table for the contact list, and fewer indexes on the busy tables.

- ContactThemeActivity: filled here from the timeline (existing installations), kept by
  `audience.theme_activity` and the daily lifecycle recompute from then on.
- ContactSearch: filled here, kept in step with the contact by database triggers (on
  PostgreSQL and SQLite alike); on PostgreSQL a trigram index (pg_trgm) serves the search
  and a pattern index the postcode prefix. docs/operations.md says that the database user
  must be allowed to create the pg_trgm extension.
- Single-column indexes that a composite index covers are dropped without rebuilding the
  tables (SQLite would copy each table to change a field): the state changes through
  AlterField, the database through DROP INDEX.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# Indexes that Django created for `db_index=True` (foreign keys, lifecycle_stage); the names
# are the same on every database.
DROPPED_INDEXES = [
    "audience_contact_organisation_id_75369380",
    "audience_contact_lifecycle_stage_5807b9df",
    "audience_contact_lifecycle_stage_5807b9df_like",  # PostgreSQL only
    "audience_consent_contact_id_12d7c009",
    "audience_consent_organisation_id_520720d9",
    "audience_interaction_contact_id_6a0108d3",
    "audience_interaction_organisation_id_876c97d5",
    "audience_lifecyclechange_organisation_id_7f325ea3",
]
RESTORED_INDEXES = [
    ("audience_contact_organisation_id_75369380", "audience_contact", "organisation_id"),
    ("audience_contact_lifecycle_stage_5807b9df", "audience_contact", "lifecycle_stage"),
    ("audience_consent_contact_id_12d7c009", "audience_consent", "contact_id"),
    ("audience_consent_organisation_id_520720d9", "audience_consent", "organisation_id"),
    ("audience_interaction_contact_id_6a0108d3", "audience_interaction", "contact_id"),
    ("audience_interaction_organisation_id_876c97d5", "audience_interaction", "organisation_id"),
    (
        "audience_lifecyclechange_organisation_id_7f325ea3",
        "audience_lifecyclechange",
        "organisation_id",
    ),
]

SEARCH_TEXT = (
    "{row}.first_name || ' ' || {row}.last_name || ' ' || {row}.email || ' ' || "
    "{row}.organisation_name"
)
WATCHED = "organisation_id, first_name, last_name, email, organisation_name, postcode, erased_at"


def _changed(distinct: str) -> str:
    return " OR ".join(
        f"OLD.{column} {distinct} NEW.{column}" for column in WATCHED.split(", ")
    )


POSTGRES_FORWARD = [
    f"""
    CREATE FUNCTION audience_contact_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.erased_at IS NOT NULL THEN
            DELETE FROM audience_contactsearch WHERE contact_id = NEW.id;
        ELSE
            INSERT INTO audience_contactsearch (contact_id, organisation_id, postcode, text)
            VALUES (NEW.id, NEW.organisation_id, NEW.postcode, {SEARCH_TEXT.format(row="NEW")})
            ON CONFLICT (contact_id) DO UPDATE SET organisation_id = EXCLUDED.organisation_id,
                postcode = EXCLUDED.postcode, text = EXCLUDED.text;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER audience_contact_search_insert AFTER INSERT ON audience_contact
    FOR EACH ROW EXECUTE FUNCTION audience_contact_search_sync()
    """,
    f"""
    CREATE TRIGGER audience_contact_search_update AFTER UPDATE OF {WATCHED}
    ON audience_contact FOR EACH ROW WHEN ({_changed("IS DISTINCT FROM")})
    EXECUTE FUNCTION audience_contact_search_sync()
    """,
]
POSTGRES_INDEXES = [
    # Substrings of names and addresses, case-insensitively (`icontains` is UPPER ... LIKE).
    "CREATE INDEX audience_contactsearch_text_trgm ON audience_contactsearch "
    "USING gin ((UPPER(text)) gin_trgm_ops)",
    # The postcode as a prefix (LIKE '50%'), whatever the collation of the database.
    "CREATE INDEX audience_contactsearch_postcode ON audience_contactsearch "
    "(organisation_id, postcode varchar_pattern_ops)",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS audience_contact_search_update ON audience_contact",
    "DROP TRIGGER IF EXISTS audience_contact_search_insert ON audience_contact",
    "DROP FUNCTION IF EXISTS audience_contact_search_sync()",
]

SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER audience_contact_search_insert AFTER INSERT ON audience_contact
    WHEN NEW.erased_at IS NULL
    BEGIN
        INSERT OR REPLACE INTO audience_contactsearch (contact_id, organisation_id, postcode, text)
        VALUES (NEW.id, NEW.organisation_id, NEW.postcode, {SEARCH_TEXT.format(row="NEW")});
    END
    """,
    f"""
    CREATE TRIGGER audience_contact_search_update AFTER UPDATE OF {WATCHED}
    ON audience_contact WHEN {_changed("IS NOT")}
    BEGIN
        DELETE FROM audience_contactsearch WHERE contact_id = NEW.id;
        INSERT INTO audience_contactsearch (contact_id, organisation_id, postcode, text)
        SELECT NEW.id, NEW.organisation_id, NEW.postcode, {SEARCH_TEXT.format(row="NEW")}
        WHERE NEW.erased_at IS NULL;
    END
    """,
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS audience_contact_search_update",
    "DROP TRIGGER IF EXISTS audience_contact_search_insert",
]

FILL_SEARCH = f"""
    INSERT INTO audience_contactsearch (contact_id, organisation_id, postcode, text)
    SELECT c.id, c.organisation_id, c.postcode, {SEARCH_TEXT.format(row="c")}
    FROM audience_contact c WHERE c.erased_at IS NULL
"""
# Every visit of a non-erased contact to a programme item, per theme of the item.
FILL_THEME_ACTIVITY = """
    INSERT INTO audience_contactthemeactivity
        (organisation_id, contact_id, theme_id, last_attended_at, visits)
    SELECT c.organisation_id, i.contact_id, t.theme_id, MAX(i.occurred_at), COUNT(*)
    FROM audience_interaction i
    JOIN programme_programmeitem_themes t ON t.programmeitem_id = i.item_id
    JOIN audience_contact c ON c.id = i.contact_id
    WHERE i.kind = 'visit' AND c.erased_at IS NULL
    GROUP BY c.organisation_id, i.contact_id, t.theme_id
"""


class TrigramOnPostgres(TrigramExtension):
    """pg_trgm on PostgreSQL, nothing elsewhere; kept when migrating back (others may use it)."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql, params=None)


# Foreign keys of the lifecycle changes, which the recompute writes in bulk. SQLite keeps
# them in the table definition (they are cheap there), PostgreSQL checks each row at commit.
DROPPED_FOREIGN_KEYS = [
    (
        "audience_lifecyclech_contact_id_17b02954_fk_audience_",
        "contact_id",
        "audience_contact",
    ),
    (
        "audience_lifecyclech_organisation_id_7f325ea3_fk_core_orga",
        "organisation_id",
        "core_organisation",
    ),
]


def drop_indexes(apps, schema_editor):
    _run(schema_editor, [f"DROP INDEX IF EXISTS {name}" for name in DROPPED_INDEXES])
    if schema_editor.connection.vendor == "postgresql":
        _run(
            schema_editor,
            [
                f"ALTER TABLE audience_lifecyclechange DROP CONSTRAINT IF EXISTS {name}"
                for name, _column, _table in DROPPED_FOREIGN_KEYS
            ],
        )


def restore_indexes(apps, schema_editor):
    _run(
        schema_editor,
        [f"CREATE INDEX {name} ON {table} ({column})" for name, table, column in RESTORED_INDEXES],
    )
    if schema_editor.connection.vendor == "postgresql":
        _run(
            schema_editor,
            [
                f"ALTER TABLE audience_lifecyclechange ADD CONSTRAINT {name} FOREIGN KEY "
                f"({column}) REFERENCES {table} (id) DEFERRABLE INITIALLY DEFERRED"
                for name, column, table in DROPPED_FOREIGN_KEYS
            ],
        )


def search_forward(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRES_FORWARD if postgres else SQLITE_FORWARD)
    _run(schema_editor, [FILL_SEARCH, FILL_THEME_ACTIVITY])
    if postgres:
        _run(schema_editor, POSTGRES_INDEXES)


def search_backward(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    _run(schema_editor, POSTGRES_BACKWARD if postgres else SQLITE_BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ("audience", "0005_contact_email_upper_index"),
        ("core", "0001_initial"),
        ("programme", "0001_initial"),
    ]

    operations = [
        TrigramOnPostgres(),
        migrations.CreateModel(
            name="ContactSearch",
            fields=[
                (
                    "contact",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search_entry",
                        serialize=False,
                        to="audience.contact",
                    ),
                ),
                ("postcode", models.CharField(blank=True, max_length=10)),
                ("text", models.TextField(blank=True)),
                (
                    "organisation",
                    models.ForeignKey(
                        db_index=False,
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ContactThemeActivity",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("last_attended_at", models.DateTimeField()),
                ("visits", models.PositiveIntegerField(default=0)),
                (
                    "contact",
                    models.ForeignKey(
                        db_index=False,
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="theme_activity",
                        to="audience.contact",
                    ),
                ),
                (
                    "organisation",
                    models.ForeignKey(
                        db_index=False,
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
                (
                    "theme",
                    models.ForeignKey(
                        db_index=False,
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="programme.theme",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("contact", "theme"), name="theme_activity_unique"
                    )
                ],
                "indexes": [
                    models.Index(
                        fields=["theme", "last_attended_at", "contact"],
                        name="theme_activity_by_theme",
                    )
                ],
            },
        ),
        migrations.RemoveIndex(model_name="contact", name="audience_co_organis_55b48f_idx"),
        migrations.RemoveIndex(model_name="contact", name="audience_co_organis_9302f5_idx"),
        migrations.RemoveIndex(model_name="contact", name="audience_co_organis_ff9df1_idx"),
        migrations.AddIndex(
            model_name="contact",
            index=models.Index(
                condition=models.Q(("erased_at__isnull", True)),
                fields=["organisation", "last_name", "first_name", "id"],
                name="contact_list_order",
            ),
        ),
        migrations.AddIndex(
            model_name="consent",
            index=models.Index(
                condition=models.Q(("granted", True)),
                fields=["channel", "purpose", "contact"],
                name="consent_granted",
            ),
        ),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="consent",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="consents",
                        to="audience.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="consent",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="lifecycle_stage",
                    field=models.CharField(
                        choices=[
                            ("none", "No visit yet"),
                            ("new", "New"),
                            ("regular", "Regular"),
                            ("loyal", "Loyal"),
                            ("lapsing", "Lapsing"),
                            ("lapsed", "Lapsed"),
                        ],
                        default="none",
                        max_length=20,
                    ),
                ),
                migrations.AlterField(
                    model_name="contact",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="contacts",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="interaction",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="interactions",
                        to="audience.contact",
                    ),
                ),
                migrations.AlterField(
                    model_name="interaction",
                    name="organisation",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="lifecyclechange",
                    name="organisation",
                    field=models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.organisation",
                    ),
                ),
                migrations.AlterField(
                    model_name="lifecyclechange",
                    name="contact",
                    field=models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="stage_changes",
                        to="audience.contact",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop_indexes, restore_indexes)],
        ),
        migrations.RunPython(search_forward, search_backward),
    ]
