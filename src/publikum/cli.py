"""The `publikum` command: Django's management commands under the project's own names."""

from __future__ import annotations

import os
import sys

# Our names for commands whose Django name is taken (Django's own `check` stays available
# as `publikum django-check`).
ALIASES = {"check": "publikum_check", "django-check": "check", "import": "publikum_import"}

USAGE = """usage: publikum <command> [options]

Commands:
  serve [--host H] [--port P] [--smtp-sink]   web server + background worker (+ local mail sink)
  worker                                       background worker with the periodic tick
  migrate                                      create or update the database tables
  demo [--contacts N] [--seed S]               create the demo institution (if missing)
  org create SLUG --name NAME                  create an organisation
  user create --email E [--org SLUG --role R]  create a staff user
  token create --org SLUG [--role ROLE]        create an API token (prints only the token)
  check                                        configuration and connectivity
  import contacts|interactions FILE --org SLUG import a CSV file (--map COL=FIELD, --dry-run)
  import programme FILE --org SLUG --capacity N
                                               import a programme (.ics or CSV, --dry-run)
  discovery evaluate --interactions F --items F [--split S --k 10 --horizon 0,0.3,0.6 --json]
                                               check the recommender offline on your own CSVs
  assistant evaluate --org SLUG [--cases F.yaml --json --calibrate --verbose]
                                               check the assistant on question and dialogue cases

Every command has --help. All Django management commands work too (publikum help).
"""


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "publikum.settings")
    args = list(sys.argv if argv is None else argv)
    args[0] = "publikum"
    if len(args) == 1 or args[1] in {"-h", "--help"}:
        sys.stdout.write(USAGE)
        return
    args[1] = ALIASES.get(args[1], args[1])
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
