from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publikum.core import services
from publikum.core.errors import DomainError
from publikum.core.models import Organisation, Role


class Command(BaseCommand):
    help = "Manage API tokens: `token create --org SLUG [--role ROLE]` prints only the token."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; prints only the token")
        create.add_argument("--org", required=True, help="organisation slug")
        create.add_argument("--role", choices=Role.values, default=Role.VIEWER)
        create.add_argument("--name", default="command line")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(slug=options["org"]).first()
        if organisation is None:
            raise CommandError(f"There is no organisation '{options['org']}'.")
        try:
            _, plain = services.token_create(
                organisation=organisation, name=options["name"], role=options["role"], label="cli"
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(plain)
