from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from publikum.core import services
from publikum.core.errors import DomainError
from publikum.core.models import Organisation, Role


class Command(BaseCommand):
    help = "Manage staff users: `user create --email E [--org SLUG --role ROLE]`."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user, optionally a member of an org")
        create.add_argument("--email", required=True)
        create.add_argument("--name", default="")
        create.add_argument(
            "--password",
            help="the password; better: set PUBLIKUM_PASSWORD, or omit both to be asked",
        )
        create.add_argument("--org", help="organisation slug to add the user to")
        create.add_argument("--role", choices=Role.values, default=Role.OWNER)
        create.add_argument("--language", choices=["de", "en"], default="de")
        create.add_argument("--superuser", action="store_true", help="operator of the instance")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = None
        if options["org"]:
            organisation = Organisation.objects.filter(slug=options["org"]).first()
            if organisation is None:
                raise CommandError(f"There is no organisation '{options['org']}'.")
        password = options["password"] or os.environ.get("PUBLIKUM_PASSWORD")
        if not password:
            if not sys.stdin.isatty():
                raise CommandError("No password: give --password or set PUBLIKUM_PASSWORD.")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The two passwords differ.")
        try:
            user = services.user_create(
                email=options["email"],
                password=password,
                name=options["name"],
                language=options["language"],
                is_superuser=options["superuser"],
            )
            if organisation is not None:
                services.membership_set(
                    organisation=organisation, user=user, role=options["role"], label="cli"
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        where = f" as {options['role']} of {organisation.slug}" if organisation else ""
        self.stdout.write(f"Created user {user.email}{where}.")
