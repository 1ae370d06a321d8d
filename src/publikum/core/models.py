"""Organisations (tenants), users, memberships with roles, API tokens, audit log, jobs."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Role(models.TextChoices):
    """Roles from most to least powerful; `rank` orders them."""

    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    EDITOR = "editor", _("Editor")
    FRONT_DESK = "front_desk", _("Front desk")
    VIEWER = "viewer", _("Viewer")


ROLE_RANK: dict[str, int] = {
    Role.OWNER: 50,
    Role.MANAGER: 40,
    Role.EDITOR: 30,
    Role.FRONT_DESK: 20,
    Role.VIEWER: 10,
}


def role_at_least(role: str, minimum: str) -> bool:
    return ROLE_RANK.get(role, 0) >= ROLE_RANK[minimum]


RESERVED_SLUGS = frozenset(
    {
        "o",
        "api",
        "static",
        "media",
        "admin",
        "accounts",
        "i18n",
        "healthz",
        "login",
        "logout",
        "anymail",  # the webhooks of email services (bounces, complaints)
    }
)

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$",
    _("Use 1 to 50 lower-case letters, digits and hyphens; no hyphen at either end."),
)


class OrganisationKind(models.TextChoices):
    MUSEUM = "museum", _("Museum")
    THEATRE = "theatre", _("Theatre")
    ORCHESTRA = "orchestra", _("Orchestra")
    FESTIVAL = "festival", _("Festival")
    LIBRARY = "library", _("Library")
    VENUE = "venue", _("Venue")
    OTHER = "other", _("Other")


class Organisation(TimestampedModel):
    """A cultural institution: the tenant every row of data belongs to."""

    slug = models.SlugField(max_length=50, unique=True, validators=[slug_validator])
    name = models.CharField(max_length=200)
    kind = models.CharField(
        max_length=20, choices=OrganisationKind.choices, default=OrganisationKind.MUSEUM
    )
    language = models.CharField(
        max_length=2, choices=[("de", "Deutsch"), ("en", "English")], default="de"
    )
    timezone = models.CharField(max_length=64, default="Europe/Berlin")
    country = models.CharField(max_length=2, default="DE")
    # Subdivision for public holidays (e.g. "NW" for Nordrhein-Westfalen).
    region = models.CharField(max_length=10, blank=True)
    city = models.CharField(max_length=100, blank=True)
    website = models.URLField(blank=True)
    description_de = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    reply_to_email = models.EmailField(blank=True)

    class Meta:
        ordering: ClassVar = ["name"]

    def __str__(self) -> str:
        return self.name

    def description(self, language: str) -> str:
        return (
            self.description_en if language == "en" and self.description_en else self.description_de
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        # Addresses are stored in lower case; people type them as they like ("Anna@...").
        return self.get(email=self.normalize_email(username or "").lower())

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A member of staff. Logs in with the e-mail address."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=200, blank=True)
    language = models.CharField(
        max_length=2, choices=[("de", "Deutsch"), ("en", "English")], default="de"
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.name or self.email


class Membership(TimestampedModel):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["organisation", "user"], name="membership_unique"),
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organisation} ({self.role})"


TOKEN_PREFIX = "pk_"  # noqa: S105


class ApiToken(TimestampedModel):
    """A bearer token bound to one organisation and one role. Only its hash is stored."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.VIEWER)
    # The first characters of the token, shown in the UI so a token can be recognised.
    prefix = models.CharField(max_length=16, db_index=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=models.Q(role__in=[r.value for r in Role]), name="apitoken_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new token: (plain text, prefix, hash). The plain text is shown once."""
        plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
        return plain, plain[:10], ApiToken.hash(plain)

    @staticmethod
    def hash(plain: str) -> str:
        return hashlib.sha256(plain.encode()).hexdigest()

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """Who did what, when, in which organisation. Never holds personal data of contacts."""

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="audit_entries"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    action = models.CharField(max_length=100, db_index=True)
    actor_user = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL)
    actor_token = models.ForeignKey(ApiToken, null=True, blank=True, on_delete=models.SET_NULL)
    # A readable actor label kept when the user or token is deleted ("system", "cli", ...).
    actor_label = models.CharField(max_length=200, blank=True)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-id"]
        indexes: ClassVar = [models.Index(fields=["organisation", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.action}"


class FailedJob(models.Model):
    """A background job that failed after its last retry, kept for staff to see."""

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="failed_jobs"
    )
    task_path = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    attempts = models.PositiveSmallIntegerField()
    error = models.TextField()
    failed_at = models.DateTimeField(default=timezone.now, db_index=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-failed_at"]

    def __str__(self) -> str:
        return f"{self.task_path} failed after {self.attempts} attempts"


class PeriodicRun(models.Model):
    """Last enqueue time of a periodic job. A conditional update makes one worker the leader."""

    name = models.CharField(max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class ReceivedMail(models.Model):
    """A message caught by the local SMTP sink (demo and development): the Outbox."""

    organisation = models.ForeignKey(
        Organisation, null=True, blank=True, on_delete=models.CASCADE, related_name="received_mails"
    )
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    mail_from = models.CharField(max_length=320)
    recipients = models.JSONField(default=list)
    subject = models.CharField(max_length=998, blank=True)
    message_id = models.CharField(max_length=998, blank=True, db_index=True)
    raw = models.TextField()

    class Meta:
        ordering: ClassVar = ["-received_at", "-id"]

    def __str__(self) -> str:
        return self.subject
