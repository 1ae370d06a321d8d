"""The demo institution "Stadtmuseum Beispielstadt": a deterministic generator.

`build_demo` creates the organisation, one user per role and then hands over to the
populators of the modules (`POPULATORS`), in order. Every module that has something to show
adds its own `populate` to the list, so the demo grows with the product.

Determinism: everything is drawn from `random.Random(seed)`; dates are offsets from a fixed
reference `now` (the current time rounded down to the hour). Two builds with the same seed
therefore have the same content and structure; only the calendar position moves, so that
"upcoming" dates really are upcoming.
"""

from __future__ import annotations

import random
import re
import time
import unicodedata
from datetime import datetime
from typing import IO, Any, Protocol

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from publikum.core.models import Organisation, OrganisationKind, Role, User
from publikum.core.services import audit_log, membership_set, organisation_create

DEMO_SLUG = "stadtmuseum"
DEMO_PASSWORD = "publikum-demo"  # noqa: S105 (public on purpose: the demo login)
DEMO_LOGIN = ("demo@publikum.example", DEMO_PASSWORD)

# One user per role; the owner is the login shown on the start page.
DEMO_USERS: tuple[tuple[str, str, str, str], ...] = (
    ("demo@publikum.example", "Anna Becker", Role.OWNER, "de"),
    ("manager@publikum.example", "Jonas Hartmann", Role.MANAGER, "de"),
    ("editor@publikum.example", "Leyla Demir", Role.EDITOR, "de"),
    ("front_desk@publikum.example", "Peter Kowalski", Role.FRONT_DESK, "de"),
    ("viewer@publikum.example", "Emily Clarke", Role.VIEWER, "en"),
)

# Module populators, called in this order with the same keyword arguments. Later modules
# append theirs; each one may read what the earlier ones wrote.
POPULATORS: list[str] = [
    "publikum.programme.demo.populate",
    "publikum.audience.demo.populate",
    "publikum.audience.lifecycle.populate",
    "publikum.bookings.demo.populate",
    "publikum.journeys.demo.populate",
    "publikum.discovery.demo.populate",
    "publikum.conversations.demo.populate",
    "publikum.assistant.demo.populate",
]

DESCRIPTION_DE = (
    "Das Stadtmuseum Beispielstadt erzählt in einem ehemaligen Kornspeicher am Fluss die "
    "Geschichte der Stadt vom Mittelalter über Bergbau und Textilindustrie bis in die "
    "Gegenwart. Wechselausstellungen zu Fotografie, Design und Kunst, Führungen, "
    "Werkstätten für Familien und Schulen sowie Konzerte und Vorträge im Großen Saal machen "
    "das Haus zu einem Treffpunkt für alle Generationen. Das Museum ist barrierefrei "
    "zugänglich; Dienstag bis Sonntag 10–18 Uhr, donnerstags bis 20 Uhr."
)
DESCRIPTION_EN = (
    "Housed in a former granary by the river, Stadtmuseum Beispielstadt tells the story of "
    "the town from the Middle Ages through mining and the textile industry to the present "
    "day. Temporary exhibitions on photography, design and art, guided tours, workshops for "
    "families and schools, concerts and talks in the Great Hall make the museum a meeting "
    "place for all generations. The museum is fully accessible; open Tuesday to Sunday "
    "10 am–6 pm, Thursdays until 8 pm."
)


class Populator(Protocol):
    def __call__(
        self,
        *,
        organisation: Organisation,
        rng: random.Random,
        now: datetime,
        contacts: int,
        stdout: IO[str] | None,
    ) -> None: ...


def progress(stdout: IO[str] | Any | None, message: str) -> None:
    """Write one progress line; works with `sys.stdout` and Django's `OutputWrapper`."""
    if stdout is not None:
        stdout.write(message + "\n")
        if hasattr(stdout, "flush"):
            stdout.flush()


_TRANSLIT = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"}
)


def ascii_slug(text: str, *, max_length: int = 100) -> str:
    """A slug in the German way (ä -> ae), which Django's `slugify` would turn into a."""
    text = unicodedata.normalize("NFKD", text.translate(_TRANSLIT))
    text = text.encode("ascii", "ignore").decode().lower()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:max_length].rstrip("-")


def reference_now() -> datetime:
    """The reference time of a build: now, rounded down to the hour."""
    return timezone.now().replace(minute=0, second=0, microsecond=0)


def build_demo(*, seed: int = 20261123, contacts: int = 20000, stdout: Any = None) -> Organisation:
    """Create the demo organisation with all its data; return it unchanged if it exists."""
    existing = Organisation.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        progress(stdout, f"The demo organisation '{DEMO_SLUG}' exists already; nothing to do.")
        return existing

    started = time.monotonic()
    rng = random.Random(seed)
    now = reference_now()
    with transaction.atomic():
        org = organisation_create(
            slug=DEMO_SLUG,
            name="Stadtmuseum Beispielstadt",
            label="demo",
            kind=OrganisationKind.MUSEUM,
            language="de",
            city="Beispielstadt",
            region="NW",
            country="DE",
            website="https://stadtmuseum.example",
            reply_to_email="info@stadtmuseum.example",
            description_de=DESCRIPTION_DE,
            description_en=DESCRIPTION_EN,
        )
        _create_users(org)
        progress(stdout, f"Organisation {org.name} and {len(DEMO_USERS)} users created.")
        for path in POPULATORS:
            populate: Populator = import_string(path)
            step_started = time.monotonic()
            populate(organisation=org, rng=rng, now=now, contacts=contacts, stdout=stdout)
            progress(stdout, f"  {path}: {time.monotonic() - step_started:.1f} s")
        elapsed = time.monotonic() - started
        audit_log(
            org,
            "core.demo.created",
            label="demo",
            obj=org,
            data={"seed": seed, "contacts": contacts, "seconds": round(elapsed, 1)},
        )
    progress(stdout, f"Demo '{DEMO_SLUG}' built in {time.monotonic() - started:.1f} s.")
    return org


def _create_users(org: Organisation) -> None:
    """One member per role. Existing users (from an earlier, deleted demo) are reused."""
    # One hash for all five: hashing is deliberately slow and the password is public anyway.
    password_hash = make_password(DEMO_PASSWORD)
    for email, name, role, language in DEMO_USERS:
        user = User.objects.filter(email=email).first()
        if user is None:
            # Created directly, not through `user_create`: the demo password would fail the
            # password validators, and that is fine for a public demo login.
            user = User.objects.create_user(email, None, name=name, language=language)
            user.password = password_hash
            user.save(update_fields=["password"])
        membership_set(organisation=org, user=user, role=role, label="demo")
