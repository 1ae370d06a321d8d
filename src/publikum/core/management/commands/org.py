from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publikum.core import services
from publikum.core.errors import DomainError
from publikum.core.models import OrganisationKind


class Command(BaseCommand):
    help = "Manage organisations: `org create SLUG --name NAME`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create an organisation")
        create.add_argument("slug", help="short name used in URLs, e.g. stadtmuseum")
        create.add_argument("--name", required=True, help="the organisation's name")
        create.add_argument("--kind", choices=OrganisationKind.values, default="museum")
        create.add_argument("--language", choices=["de", "en"], default="de")
        create.add_argument("--city", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            org = services.organisation_create(
                slug=options["slug"],
                name=options["name"],
                kind=options["kind"],
                language=options["language"],
                city=options["city"],
                label="cli",
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Created organisation {org.slug} ({org.name}).")
