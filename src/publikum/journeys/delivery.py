"""Delivery: the send service with its guardrails, and exactly-once sending of messages.

A `Message` row is written first (`message_queue`, idempotent on its key); after commit a
delivery job runs (`delivery_kick`). The job claims a batch of due messages, checks the
guardrails of every one just before sending (consent may have changed since queueing),
sends the rest over one connection of the configured e-mail backend in id order, and records
each one right after the server accepted it. A worker killed mid-batch leaves a claim whose
lease runs out; the reaper puts it back, flagging the one message that may have been in
flight. docs/delivery.md explains the design and its one limit.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import re
import smtplib
import uuid
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from email.utils import formataddr, parseaddr
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, IntegrityError, transaction
from django.db import connection as db_connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    F,
    PositiveSmallIntegerField,
    Q,
    Value,
    When,
)
from django.urls import reverse
from django.utils import timezone

from publikum.audience.consent import LinkInvalid, preference_link, unsubscribe_everything
from publikum.audience.models import Channel, Consent, Contact, EmailStatus, InteractionKind
from publikum.audience.services import interaction_record
from publikum.core.errors import Conflict, ValidationFailed
from publikum.core.mailsink import ORG_HEADER
from publikum.core.models import Organisation
from publikum.core.services import audit_log
from publikum.journeys.content import RenderedEmail, TemplateProblem, render_email, rewrite_links
from publikum.journeys.models import (
    DeliverySettings,
    EmailTemplate,
    Journey,
    JourneyRun,
    Message,
    MessageKind,
    MessageStatus,
    Newsletter,
    SuppressionReason,
)

logger = logging.getLogger("publikum.journeys.delivery")

# Messages claimed at once. Small enough that a claim is sent in well under a second at the
# target rate (and little waits for a dead worker's lease), large enough that the claim
# and the bulk reads of contacts, consents and cap counts cost little per message.
BATCH_SIZE = 100
# How long a claim is a worker's alone. Renewed while it sends (at half-time), so only a
# dead or frozen worker's claim expires; then the reaper puts its messages back.
LEASE = timedelta(minutes=5)
# Attempts before a message that keeps failing temporarily is marked failed.
MAX_ATTEMPTS = 5
# A preference-centre limit "per month" counts the last 30 days.
MONTH = timedelta(days=30)
IDEMPOTENCY_HEADER = "X-Publikum-Idempotency-Key"
ONE_CLICK_POST = "List-Unsubscribe=One-Click"
UNSUBSCRIBE_SALT = "publikum.journeys.mail-unsubscribe"
CLICK_SALT = "publikum.journeys.mail-click"
MAX_CONTEXT_BYTES = 4000
_ENHANCED_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def retry_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed try: 2 min, 10 min, 50 min, 4 h 10 min (capped at
    6 h), so that a mail server that is down for a few hours loses nothing."""
    return timedelta(seconds=min(6 * 3600, 120 * 5 ** max(0, attempts - 1)))


# --- queueing ------------------------------------------------------------------------------


def _check_queue(  # noqa: PLR0917
    organisation: Organisation,
    contact: Contact,
    template: EmailTemplate,
    key: str,
    context: dict[str, Any],
    others: Iterable[Journey | JourneyRun | Newsletter | None],
) -> None:
    errors: dict[str, list[str]] = {}
    if not key or len(key) > Message._meta.get_field("key").max_length:  # type: ignore[operator]
        errors["key"] = ["between 1 and 200 characters"]
    if contact.organisation_id != organisation.pk:
        errors["contact"] = ["a contact of another organisation"]
    if template.organisation_id != organisation.pk:
        errors["template"] = ["a template of another organisation"]
    if any(o is not None and o.organisation_id != organisation.pk for o in others):
        errors["source"] = ["a journey, run or newsletter of another organisation"]
    try:
        size = len(json.dumps(context))
    except (TypeError, ValueError):
        errors["context"] = ["ids and plain values only (JSON)"]
    else:
        if size > MAX_CONTEXT_BYTES:
            errors["context"] = [f"at most {MAX_CONTEXT_BYTES} bytes: ids, never whole rows"]
    if errors:
        summary = "; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items())
        raise ValidationFailed(f"The message cannot be queued ({summary}).", fields=errors)


def message_queue(
    *,
    organisation: Organisation,
    contact: Contact,
    template: EmailTemplate,
    key: str,
    context: dict[str, Any] | None = None,
    journey: Journey | None = None,
    run: JourneyRun | None = None,
    step_id: str = "",
    newsletter: Newsletter | None = None,
    due_at: datetime | None = None,
) -> Message:
    """Queue one mail for `contact`; idempotent on `key` (a second call returns the first
    row and queues nothing). Call inside the transaction that decides to send; delivery
    starts after commit. Kind and purpose come from the template. Guardrails are checked
    when the message is sent, not here (consent may change meanwhile)."""
    context = context or {}
    _check_queue(organisation, contact, template, key, context, (journey, run, newsletter))
    existing = Message.objects.filter(key=key).first()
    if existing is not None:
        return _same_house(existing, organisation)
    now = timezone.now()
    message = Message(
        organisation=organisation,
        contact=contact,
        key=key,
        kind=template.kind,
        purpose=template.purpose,
        template=template,
        context=context,
        journey=journey,
        run=run,
        step_id=step_id,
        newsletter=newsletter,
        created_at=now,
        due_at=due_at or now,
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        # Another transaction queued the same key meanwhile: the unique key is the guard.
        existing = Message.objects.filter(key=key).first()
        if existing is None:
            raise
        return _same_house(existing, organisation)
    delivery_kick(due_at=message.due_at)
    return message


def _same_house(message: Message, organisation: Organisation) -> Message:
    if message.organisation_id != organisation.pk:
        raise Conflict("This message key is already used by another organisation.")
    return message


class _Kick:
    """The delivery run one transaction asks for, however many messages it queued."""

    def __init__(self, due_at: datetime | None) -> None:
        self.due_at = due_at

    def merge(self, due_at: datetime | None) -> None:
        if due_at is None or self.due_at is None:
            self.due_at = None
        else:
            self.due_at = min(self.due_at, due_at)

    def __call__(self) -> None:
        enqueue_delivery(run_after=self.due_at)


def delivery_kick(*, due_at: datetime | None = None) -> None:
    """Start a delivery run after the current transaction commits (at once outside one).

    One run per transaction: a newsletter batch of a thousand messages enqueues one job.
    `due_at`: when the earliest of the queued messages is due (None: now).
    """
    connection = transaction.get_connection()
    if connection.in_atomic_block:
        for _savepoints, callback, _robust in connection.run_on_commit:
            if isinstance(callback, _Kick):
                callback.merge(due_at)
                return
    transaction.on_commit(_Kick(due_at))


def enqueue_delivery(*, run_after: datetime | None = None) -> None:
    """Enqueue the delivery job, now or (where the task backend can wait) at `run_after`.
    A backend that cannot defer leaves a later message to the sweep (every minute)."""
    from publikum.journeys.tasks import deliver_due

    if run_after is not None and run_after > timezone.now():
        if not deliver_due.get_backend().supports_defer:
            return
        deliver_due.using(run_after=run_after).enqueue()
        return
    deliver_due.enqueue()


# --- signed links in the mails --------------------------------------------------------------


def _absolute(path: str) -> str:
    """Mails are read outside any request: links start with PUBLIKUM_PUBLIC_URL (https in
    production, which RFC 8058 requires of a one-click URL)."""
    return (settings.PUBLIC_URL or "").rstrip("/") + path


def unsubscribe_path(message: Message, organisation: Organisation) -> str:
    """The one-click unsubscribe of one message: records which mail made someone leave."""
    token = signing.Signer(salt=UNSUBSCRIBE_SALT).sign_object(
        {"o": organisation.pk, "m": message.pk, "c": message.contact_id}
    )
    return reverse("public_mail_unsubscribe", kwargs={"org": organisation.slug, "token": token})


def click_path(message: Message, organisation: Organisation, url: str) -> str:
    """A signed redirect to `url`: it can only ever lead to the URL it was made for."""
    token = signing.Signer(salt=CLICK_SALT).sign_object(
        {"o": organisation.pk, "m": message.pk, "u": url}, compress=True
    )
    return reverse("public_mail_click", kwargs={"org": organisation.slug, "token": token})


def _trackable(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _payload(token: str, salt: str, organisation: Organisation) -> dict[str, Any]:
    try:
        payload = signing.Signer(salt=salt).unsign_object(token)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise LinkInvalid("This link is not valid.") from exc
    if (
        not isinstance(payload, dict)
        or payload.get("o") != organisation.pk
        or not isinstance(payload.get("m"), int)
    ):
        raise LinkInvalid("This link is not valid.")
    return payload


def message_for_unsubscribe(*, organisation: Organisation, token: str) -> Message:
    """The message an unsubscribe link was sent in; LinkInvalid for a forged link, one of
    another house, or one whose person was erased meanwhile."""
    payload = _payload(token, UNSUBSCRIBE_SALT, organisation)
    message = (
        Message.objects.filter(organisation=organisation, pk=payload["m"])
        .select_related("contact", "contact__organisation")
        .first()
    )
    if (
        message is None
        or message.contact is None
        or message.contact_id != payload.get("c")
        or message.contact.erased_at is not None
    ):
        raise LinkInvalid("This link is not valid.")
    return message


def message_unsubscribe(*, message: Message, at: datetime | None = None) -> int:
    """Withdraw every consent of the message's contact (RFC 8058 one-click, or the button on
    the page behind the link) and note on the message that it made the person leave.
    Safe to repeat; returns how many consents were withdrawn."""
    at = at or timezone.now()
    contact = message.contact
    if contact is None:
        raise LinkInvalid("This link is not valid.")
    with transaction.atomic():
        withdrawn = unsubscribe_everything(contact=contact, via="one-click unsubscribe", at=at)
        Message.objects.filter(pk=message.pk, unsubscribed_at__isnull=True).update(
            unsubscribed_at=at
        )
    return withdrawn


def message_click(*, organisation: Organisation, token: str, at: datetime | None = None) -> str:
    """Record a click on a tracked link; returns the URL to redirect to, which is only ever
    the one inside the signed token (no open redirect). The first click of a message sets
    `clicked_at`; each link leaves one timeline entry however often it is clicked."""
    payload = _payload(token, CLICK_SALT, organisation)
    url = payload.get("u")
    if not isinstance(url, str) or not _trackable(url):
        raise LinkInvalid("This link is not valid.")
    at = at or timezone.now()
    message = (
        Message.objects.filter(organisation=organisation, pk=payload["m"])
        .select_related("contact")
        .first()
    )
    if message is None:  # a genuine link of a message deleted since: just go on
        return url
    with transaction.atomic():
        Message.objects.filter(pk=message.pk, clicked_at__isnull=True).update(clicked_at=at)
        contact = message.contact
        if contact is not None and contact.erased_at is None:
            seen = contact.interactions.filter(
                kind=InteractionKind.EMAIL_CLICKED, data__message=message.pk, data__url=url
            ).exists()
            if not seen:
                interaction_record(
                    contact=contact,
                    kind=InteractionKind.EMAIL_CLICKED,
                    occurred_at=at,
                    summary=url,
                    data=_source_data(message) | {"url": url},
                )
    return url


def _source_data(message: Message) -> dict[str, Any]:
    data: dict[str, Any] = {"message": message.pk}
    if message.journey_id:
        data["journey"] = message.journey_id
        data["step"] = message.step_id
    if message.newsletter_id:
        data["newsletter"] = message.newsletter_id
    return data


# --- guardrails ----------------------------------------------------------------------------


def _zone(organisation: Organisation) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(organisation.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def quiet_hours_end(
    *, start: time, end: time, at: datetime, zone: zoneinfo.ZoneInfo
) -> datetime | None:
    """The end of the quiet hours `at` falls into (wall clock of `zone`), None outside them.
    Equal start and end: no quiet hours. Hours may span midnight (21:00 to 08:00)."""
    if start == end:
        return None
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    day = local.date()
    if start < end:
        inside = start <= now < end
    else:
        inside = now >= start or now < end
        if now >= start:
            day += timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=zone)


@dataclass
class _Batch:
    """What the guardrails of one claim read, loaded in a handful of queries."""

    houses: dict[int, DeliverySettings]  # organisation → its delivery settings
    # contact → purpose → (granted, ever withdrawn)
    consents: dict[int, dict[str, tuple[bool, bool]]]
    # contact → [marketing mails sent in the org's cap window, in the last 30 days]
    sent: dict[int, list[int]]

    @classmethod
    def load(cls, messages: list[Message], at: datetime) -> _Batch:
        org_ids = {m.organisation_id for m in messages}
        found = {
            s.organisation_id: s
            for s in DeliverySettings.objects.filter(organisation_id__in=org_ids)
        }
        # A house that never opened its settings gets the defaults, without a write here.
        houses = {o: found.get(o) or DeliverySettings(organisation_id=o) for o in org_ids}
        marketing: dict[int, set[int]] = defaultdict(set)
        for m in messages:
            if m.kind == MessageKind.MARKETING and m.contact_id is not None:
                marketing[m.organisation_id].add(m.contact_id)
        contact_ids = set().union(*marketing.values()) if marketing else set()
        consents: dict[int, dict[str, tuple[bool, bool]]] = defaultdict(dict)
        rows = Consent.objects.filter(contact_id__in=contact_ids, channel=Channel.EMAIL)
        for contact_id, purpose, granted, withdrawn_at in rows.values_list(
            "contact_id", "purpose", "granted", "withdrawn_at"
        ):
            consents[contact_id][purpose] = (granted, withdrawn_at is not None)
        sent: dict[int, list[int]] = {}
        for org_id, ids in marketing.items():
            cap_since = at - timedelta(days=houses[org_id].cap_days)
            counts = (
                Message.objects.filter(
                    contact_id__in=ids,
                    kind=MessageKind.MARKETING,
                    status=MessageStatus.SENT,
                    sent_at__gt=min(cap_since, at - MONTH),
                )
                .values("contact_id")
                .annotate(
                    cap=Count("pk", filter=Q(sent_at__gt=cap_since)),
                    month=Count("pk", filter=Q(sent_at__gt=at - MONTH)),
                )
            )
            for row in counts:
                sent[row["contact_id"]] = [row["cap"], row["month"]]
        return cls(houses=houses, consents=consents, sent=sent)

    def count_sent(self, contact_id: int) -> None:
        """A marketing mail of this batch went out: the next one to the contact sees it."""
        counts = self.sent.setdefault(contact_id, [0, 0])
        counts[0] += 1
        counts[1] += 1


@dataclass(frozen=True)
class Verdict:
    """Send, suppress with a reason, or wait until `defer_until` (quiet hours)."""

    reason: str = ""
    defer_until: datetime | None = None


def _verdict(message: Message, batch: _Batch, at: datetime) -> Verdict:  # noqa: PLR0911
    """The guardrails in their order (docs/delivery.md); the first that applies decides:
    one return per guardrail, read top to bottom."""
    contact = message.contact
    if contact is None or contact.erased_at is not None:
        return Verdict(SuppressionReason.ERASED)
    if not contact.email:
        return Verdict(SuppressionReason.NO_ADDRESS)
    if contact.email_status == EmailStatus.BOUNCED:
        return Verdict(SuppressionReason.BOUNCED)
    if contact.email_status == EmailStatus.COMPLAINED:
        return Verdict(SuppressionReason.COMPLAINED)
    marketing = message.kind != MessageKind.TRANSACTIONAL
    if marketing:
        granted, withdrawn = batch.consents.get(contact.pk, {}).get(message.purpose, (False, False))
        if not granted:
            return Verdict(
                SuppressionReason.UNSUBSCRIBED if withdrawn else SuppressionReason.NO_CONSENT
            )
    organisation = message.organisation
    zone = _zone(organisation)
    if contact.paused_until is not None and contact.paused_until >= at.astimezone(zone).date():
        return Verdict(SuppressionReason.PAUSED)
    if not marketing:
        return Verdict()
    house = batch.houses[message.organisation_id]
    in_window, in_month = batch.sent.get(contact.pk, [0, 0])
    if (house.cap_mails and house.cap_days and in_window >= house.cap_mails) or (
        contact.max_mails_per_month and in_month >= contact.max_mails_per_month
    ):
        return Verdict(SuppressionReason.FREQUENCY_CAP)
    end = quiet_hours_end(
        start=_as_time(house.quiet_start), end=_as_time(house.quiet_end), at=at, zone=zone
    )
    if end is not None:
        return Verdict(defer_until=end)
    return Verdict()


def _as_time(value: time | str) -> time:
    # An unsaved DeliverySettings carries its field defaults as written: "21:00".
    return value if isinstance(value, time) else time.fromisoformat(value)


# --- the connection and what can go wrong on it ----------------------------------------------


@dataclass(frozen=True)
class _Failure:
    error: str
    permanent: bool = False  # the server said no for good: failed, no retry
    bounced: bool = False  # ... because the mailbox does not exist: the contact bounces
    broken: bool = False  # the connection is unusable: open a new one
    uncertain: bool = False  # the server may have taken the mail: flag it interrupted


def _reply_text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


def _no_such_user(code: int, text: str) -> bool:
    """A 550-style "no such user": enhanced status 5.1.x (bad address) or 5.2.1 (disabled),
    or, without enhanced status, 550/551/553. Policy refusals (5.7.x) are not bounces."""
    found = _ENHANCED_STATUS.search(text)
    if found is not None:
        klass, subject, detail = found.groups()
        return klass == "5" and (subject == "1" or (subject, detail) == ("2", "1"))
    return code in {550, 551, 553}


def _failure(exc: BaseException) -> _Failure:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, raw = next(iter(exc.recipients.values()), (0, b""))
        text = f"{code} {_reply_text(raw)}"
        if code >= 500:
            return _Failure(text, permanent=True, bounced=_no_such_user(code, text))
        return _Failure(text)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Failure(f"connection lost: {exc}", broken=True, uncertain=True)
    if isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"
        # A 5xx after the data: this mail is refused (content, size). A refused sender or
        # login is the server's configuration, for staff to fix: retried, then failed.
        permanent = isinstance(exc, smtplib.SMTPDataError) and exc.smtp_code >= 500
        return _Failure(text, permanent=permanent, broken=exc.smtp_code == 421)
    # A timeout or reset mid-send, or an e-mail service's API error: whether the mail got
    # through is unknown.
    return _Failure(f"{type(exc).__name__}: {exc}", broken=True, uncertain=True)


class _Connection:
    """The one connection of a delivery run to the configured e-mail backend."""

    def __init__(self) -> None:
        self.backend = get_connection(fail_silently=False)
        self.is_open = False

    def open(self) -> None:
        if not self.is_open:
            self.backend.open()
            self.is_open = True

    def send(self, mail: EmailMultiAlternatives) -> None:
        self.open()
        if not self.backend.send_messages([mail]):
            raise smtplib.SMTPException("the e-mail backend did not send the message")

    def close(self) -> None:
        if self.is_open:
            self.is_open = False
            try:
                self.backend.close()
            except Exception:  # closing a broken connection may fail again; it is gone
                logger.debug("closing the mail connection failed", exc_info=True)


# --- sending -------------------------------------------------------------------------------


class ClaimLost(Exception):
    """The reaper took this worker's claim (its lease ran out): stop sending from it."""


@dataclass
class DeliveryReport:
    claims: int = 0
    sent: int = 0
    suppressed: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    reaped: int = 0
    next_due: datetime | None = None
    stopped: str = ""  # why the run stopped before nothing was due (the server is down)
    reasons: dict[str, int] = field(default_factory=dict)

    def later(self, due: datetime) -> None:
        self.next_due = due if self.next_due is None else min(self.next_due, due)


def _now(fixed: datetime | None) -> datetime:
    return fixed or timezone.now()


def message_id_for(message: Message) -> str:
    """Derived from the key alone, so a resend carries the same Message-ID and mailbox
    providers show one mail."""
    digest = hashlib.sha256(f"publikum:{message.key}".encode()).hexdigest()[:40]
    domain = _from_address(settings.DEFAULT_FROM_EMAIL).rpartition("@")[2] or "publikum.localhost"
    return f"<{digest}@{domain}>"


@functools.lru_cache(maxsize=8)
def _from_address(default_from: str) -> str:
    # Parsing an address costs more than the rest of the headers: once per setting.
    return parseaddr(default_from)[1]


def _claim(at: datetime, batch_size: int, lease: timedelta) -> uuid.UUID | None:
    """Take up to `batch_size` due messages for this worker; None when nothing is due.

    PostgreSQL: rows other workers are claiming right now are skipped, never waited for.
    SQLite: the transaction holds the database's write lock from its start (IMMEDIATE),
    so claims are one after the other.
    """
    with transaction.atomic():
        due = Message.objects.filter(status=MessageStatus.QUEUED, due_at__lte=at).order_by(
            "due_at", "id"
        )
        if transaction.get_connection().features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:batch_size])
        if not ids:
            return None
        claim = uuid.uuid4()
        Message.objects.filter(pk__in=ids, status=MessageStatus.QUEUED).update(
            status=MessageStatus.SENDING, claim=claim, claimed_until=at + lease
        )
    return claim


def messages_deliver(
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    lease: timedelta = LEASE,
) -> DeliveryReport:
    """Send every message that is due, batch after batch, until nothing is due.

    `now` fixes the clock (tests); by default each step reads the real time. Several runs
    at once (workers on PostgreSQL) never send the same message twice.
    """
    report = DeliveryReport()
    report.reaped = claims_reap(now=now)
    connection = _Connection()
    try:
        _commit_without_waiting_for_disk()
        while not report.stopped:
            claim = _claim(_now(now), batch_size, lease)
            if claim is None:
                break
            report.claims += 1
            try:
                _deliver_claim(claim, connection, report, now, lease)
            except ClaimLost:
                logger.error("claim %s was taken over (lease ran out); stopping this run", claim)
                break
    finally:
        connection.close()
        _commit_waiting_for_disk()
    if report.next_due is not None:
        # Quiet hours or a retry: a run at that time instead of waiting for the sweep.
        enqueue_delivery(run_after=report.next_due)
    return report


def _commit_without_waiting_for_disk() -> None:
    """PostgreSQL: during a delivery run, a commit returns before the server has flushed it
    to disk (`synchronous_commit = off`), which halves the wait of the one commit per mail.

    A killed worker loses nothing by it (the server has the commit); only a crash of the
    database server itself can lose the last fraction of a second of "sent" records, and
    those mails are then sent again after the lease, flagged like any interrupted one
    (docs/delivery.md, "Exactly once").
    """
    if db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
        with db_connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO OFF")


def _commit_waiting_for_disk() -> None:
    if db_connection.vendor == "postgresql" and not db_connection.in_atomic_block:
        with contextlib.suppress(DatabaseError), db_connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _deliver_claim(
    claim: uuid.UUID,
    connection: _Connection,
    report: DeliveryReport,
    fixed_now: datetime | None,
    lease: timedelta,
) -> None:
    messages = list(
        Message.objects.filter(claim=claim, status=MessageStatus.SENDING)
        .select_related("organisation", "template", "contact")
        .prefetch_related("contact__interests")  # the events block reads them
        .order_by("id")
    )
    at = _now(fixed_now)
    batch = _Batch.load(messages, at)
    to_send: list[Message] = []
    suppressed: dict[str, list[int]] = defaultdict(list)
    deferred: dict[datetime, list[int]] = defaultdict(list)
    for message in messages:
        verdict = _verdict(message, batch, at)
        if verdict.reason:
            suppressed[verdict.reason].append(message.pk)
        elif verdict.defer_until is not None:
            deferred[verdict.defer_until].append(message.pk)
        else:
            to_send.append(message)
            if message.kind == MessageKind.MARKETING and message.contact_id is not None:
                batch.count_sent(message.contact_id)
    # Decisions that need no send are written at once, in one transaction: what stays
    # 'sending' in the claim is exactly what is sent next, in id order (the reaper's rule).
    with transaction.atomic():
        for reason, ids in suppressed.items():
            Message.objects.filter(pk__in=ids, claim=claim, status=MessageStatus.SENDING).update(
                status=MessageStatus.SUPPRESSED, reason=reason, claim=None, claimed_until=None
            )
            report.suppressed += len(ids)
            report.reasons[reason] = report.reasons.get(reason, 0) + len(ids)
        for until, ids in deferred.items():
            Message.objects.filter(pk__in=ids, claim=claim, status=MessageStatus.SENDING).update(
                status=MessageStatus.QUEUED, due_at=until, claim=None, claimed_until=None
            )
            report.deferred += len(ids)
            report.later(until)
    claimed_until = at + lease
    for index, message in enumerate(to_send):
        at = _now(fixed_now)
        if at >= claimed_until - lease / 2:
            claimed_until = _renew(claim, at, lease, remaining=len(to_send) - index)
        try:
            connection.open()
        except Exception as exc:
            # The server cannot be reached: the rest of the claim waits, and so does the run.
            failure = _Failure(f"cannot connect: {_failure(exc).error}")
            for waiting in to_send[index:]:
                _record_retry(waiting, claim, failure, at, report)
            logger.warning("%s; %d messages wait for a retry", failure.error, len(to_send) - index)
            report.stopped = failure.error
            return
        _send_one(message, claim, connection=connection, batch=batch, report=report, at=at)


def _renew(claim: uuid.UUID, at: datetime, lease: timedelta, *, remaining: int) -> datetime:
    until = at + lease
    renewed = Message.objects.filter(claim=claim, status=MessageStatus.SENDING).update(
        claimed_until=until
    )
    if renewed < remaining:
        raise ClaimLost(str(claim))
    return until


def _links(message: Message, organisation: Organisation, contact: Contact) -> dict[str, str]:
    links = {"preferences": _absolute(preference_link(contact))}
    if message.kind == MessageKind.MARKETING:
        links["unsubscribe"] = _absolute(unsubscribe_path(message, organisation))
    return links


def _tracked(message: Message, organisation: Organisation) -> Callable[[str], str]:
    """Each link of the mail becomes its signed redirect; the preference and unsubscribe
    links are not among `RenderedEmail.links` and stay direct."""

    def replace(url: str) -> str:
        return _absolute(click_path(message, organisation, url)) if _trackable(url) else url

    return replace


def _sender(organisation: Organisation) -> str:
    return formataddr((organisation.name, _from_address(settings.DEFAULT_FROM_EMAIL)))


def _compose(
    message: Message, connection: _Connection, batch: _Batch
) -> tuple[EmailMultiAlternatives, RenderedEmail]:
    """Render the message for its contact now (TemplateProblem when it cannot be)."""
    organisation = message.organisation
    contact = message.contact
    assert contact is not None  # the guardrails suppressed messages without a contact
    contact.organisation = organisation  # the links below read its slug: no query
    if message.template is None:
        raise TemplateProblem("The template of this message was deleted.")
    links = _links(message, organisation, contact)
    rendered = render_email(
        message.template,
        organisation=organisation,
        contact=contact,
        context=message.context,
        links=links,
    )
    if batch.houses[message.organisation_id].click_tracking:
        rendered = rewrite_links(rendered, _tracked(message, organisation))
    headers = {
        "Message-ID": message_id_for(message),
        ORG_HEADER: organisation.slug,
        IDEMPOTENCY_HEADER: message.key,
        "Auto-Submitted": "auto-generated",
    }
    if message.kind == MessageKind.MARKETING:
        # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" to this https URL.
        headers["List-Unsubscribe"] = f"<{links['unsubscribe']}>"
        headers["List-Unsubscribe-Post"] = ONE_CLICK_POST
    mail = EmailMultiAlternatives(
        rendered.subject,
        rendered.text,
        _sender(organisation),
        [contact.email],
        reply_to=[organisation.reply_to_email] if organisation.reply_to_email else None,
        headers=headers,
        connection=connection.backend,
    )
    mail.attach_alternative(rendered.html, "text/html")
    # E-mail services (anymail backends) send this along and echo it in their bounce and
    # complaint webhooks, which names the message (journeys.bounces); SMTP ignores it.
    mail.metadata = {"publikum": message.key, "org": organisation.slug}  # type: ignore[attr-defined]
    return mail, rendered


def _send_one(
    message: Message,
    claim: uuid.UUID,
    *,
    connection: _Connection,
    batch: _Batch,
    report: DeliveryReport,
    at: datetime,
) -> None:
    try:
        mail, rendered = _compose(message, connection, batch)
    except TemplateProblem as exc:
        _record_failed(message, claim, f"template: {exc}", report)
        return
    except Exception as exc:
        logger.exception("message %s could not be rendered", message.pk)
        _record_retry(message, claim, _Failure(f"rendering: {exc}"), at, report)
        return
    try:
        connection.send(mail)
    except Exception as exc:
        failure = _failure(exc)
        if failure.broken:
            connection.close()
        if failure.permanent:
            _record_failed(message, claim, failure.error, report, bounced=failure.bounced)
        else:
            _record_retry(message, claim, failure, at, report)
        return
    _record_sent(message, claim, rendered, mail, at)
    report.sent += 1


def _record_sent(
    message: Message,
    claim: uuid.UUID,
    rendered: RenderedEmail,
    mail: EmailMultiAlternatives,
    at: datetime,
) -> None:
    """Right after the server accepted the mail, in one short transaction: the state and
    the contact's timeline entry. Until this commits, the message is the claim's lowest
    'sending' one: the one the reaper flags if this worker dies now."""
    contact = message.contact
    assert contact is not None
    with transaction.atomic():
        done = Message.objects.filter(
            pk=message.pk, claim=claim, status=MessageStatus.SENDING
        ).update(
            status=MessageStatus.SENT,
            sent_at=at,
            to_email=contact.email,
            subject=rendered.subject[:300],
            language=rendered.language[:2],
            message_id=mail.extra_headers["Message-ID"],
            attempts=F("attempts") + 1,
            last_error="",
            claim=None,
            claimed_until=None,
        )
        if not done:
            raise ClaimLost(str(claim))
        interaction_record(
            contact=contact,
            kind=InteractionKind.EMAIL_SENT,
            occurred_at=at,
            summary=rendered.subject,
            data=_source_data(message),
        )
        if rendered.offers:
            _record_offers(message, contact, rendered, at)


def _record_offers(
    message: Message, contact: Contact, rendered: RenderedEmail, at: datetime
) -> None:
    """The recommendations of the mail's "for you" blocks, as offers (the filter-bubble
    meter's data). Call inside `_record_sent`'s transaction; a mail without such a block
    never gets here, so it costs nothing. A failure is logged and the offers lost: the mail
    went out, and its record as sent must not be rolled back for them."""
    from publikum.discovery.models import OfferChannel
    from publikum.discovery.offers import OfferedItem, offers_record

    by_horizon: dict[float | None, list[OfferedItem]] = defaultdict(list)
    for offer in rendered.offers:
        by_horizon[offer.horizon].append(
            OfferedItem(
                item_id=offer.item_id,
                occurrence_id=offer.occurrence_id,
                rank=offer.rank,
                relevance=offer.relevance,
            )
        )
    channel = OfferChannel.NEWSLETTER if message.newsletter_id else OfferChannel.JOURNEY
    try:
        with transaction.atomic():  # a savepoint: a failed write leaves the rest intact
            for horizon, items in by_horizon.items():
                offers_record(
                    organisation=message.organisation,
                    contact=contact,
                    items=items,
                    channel=channel,
                    horizon=horizon,
                    at=at,
                    message_id=message.pk,
                )
    except Exception:
        logger.exception("the offers of message %s could not be recorded", message.pk)


def _record_failed(
    message: Message, claim: uuid.UUID, error: str, report: DeliveryReport, *, bounced: bool = False
) -> None:
    with transaction.atomic():
        done = Message.objects.filter(
            pk=message.pk, claim=claim, status=MessageStatus.SENDING
        ).update(
            status=MessageStatus.FAILED,
            attempts=F("attempts") + 1,
            last_error=error[:500],
            claim=None,
            claimed_until=None,
        )
        if not done:
            raise ClaimLost(str(claim))
        if bounced and message.contact_id is not None:
            # The address does not exist: no further mail of any kind goes to it.
            marked = Contact.objects.filter(
                pk=message.contact_id, email_status=EmailStatus.OK
            ).update(email_status=EmailStatus.BOUNCED)
            if marked:
                audit_log(
                    message.organisation,
                    "audience.contact.bounced",
                    obj=message,
                    data={"contact_id": message.contact_id},
                )
    report.failed += 1
    logger.warning("message %s failed: %s", message.pk, error)


def _record_retry(
    message: Message, claim: uuid.UUID, failure: _Failure, at: datetime, report: DeliveryReport
) -> None:
    """Back to the queue with a later due time, or failed after MAX_ATTEMPTS. An uncertain
    failure (the connection broke during the send) may have delivered the mail: the retry
    is flagged interrupted, like a message in flight when a worker died."""
    attempts = message.attempts + 1
    changes: dict[str, Any] = {
        "attempts": attempts,
        "last_error": failure.error[:500],
        "claim": None,
        "claimed_until": None,
    }
    if failure.uncertain:
        changes["interrupted"] = True
    if attempts >= MAX_ATTEMPTS:
        changes["status"] = MessageStatus.FAILED
    else:
        changes["status"] = MessageStatus.QUEUED
        changes["due_at"] = at + retry_delay(attempts)
    done = Message.objects.filter(pk=message.pk, claim=claim, status=MessageStatus.SENDING).update(
        **changes
    )
    if not done:
        raise ClaimLost(str(claim))
    if attempts >= MAX_ATTEMPTS:
        report.failed += 1
        logger.warning("message %s failed after %d attempts: %s", message.pk, attempts,
                       failure.error)  # fmt: skip
    else:
        report.retried += 1
        report.later(changes["due_at"])


# --- crashed workers -------------------------------------------------------------------------


def claims_reap(*, now: datetime | None = None) -> int:
    """Put back the messages of claims whose lease ran out (their worker died or froze).

    In each claim the lowest-id message still 'sending' is the one that was in flight: the
    worker sends in id order and records each mail before the next. It may have reached the
    mailbox already, so it is flagged `interrupted` (and counts as an attempt); the others
    were never tried. All go back to the queue and are sent again with the same Message-ID.
    Returns how many messages were put back.
    """
    at = _now(now)
    expired = (
        Message.objects.filter(status=MessageStatus.SENDING, claimed_until__lt=at)
        .order_by("claim", "id")
        .values_list("claim", "id", "attempts")
    )
    first: dict[uuid.UUID, tuple[int, int]] = {}
    for claim, pk, attempts in expired.iterator():
        if claim is not None and claim not in first:
            first[claim] = (pk, attempts)
    reaped = 0
    for claim, (pk, attempts) in first.items():
        # A message that keeps killing its worker ends as failed, not in a crash loop.
        in_flight_status = (
            MessageStatus.FAILED if attempts + 1 >= MAX_ATTEMPTS else MessageStatus.QUEUED
        )
        in_flight = Q(pk=pk)
        with transaction.atomic():
            # One statement per claim, conditional on the lease still being expired: a
            # worker that renewed its claim meanwhile keeps it.
            reaped += Message.objects.filter(
                claim=claim, status=MessageStatus.SENDING, claimed_until__lt=at
            ).update(
                status=Case(
                    When(in_flight, then=Value(in_flight_status)),
                    default=Value(MessageStatus.QUEUED),
                    output_field=CharField(),
                ),
                interrupted=Case(
                    When(in_flight, then=Value(True)),
                    default=F("interrupted"),
                    output_field=BooleanField(),
                ),
                attempts=Case(
                    When(in_flight, then=F("attempts") + 1),
                    default=F("attempts"),
                    output_field=PositiveSmallIntegerField(),
                ),
                last_error=Case(
                    When(in_flight, then=Value("the worker stopped while sending this mail")),
                    default=F("last_error"),
                    output_field=CharField(),
                ),
                claim=None,
                claimed_until=None,
            )
        logger.warning("reaped expired claim %s; message %s flagged interrupted", claim, pk)
    return reaped


def delivery_sweep(*, now: datetime | None = None) -> bool:
    """The periodic safety net: reap dead claims, and start a run if anything is due (a
    retry or the end of quiet hours on a task backend that cannot defer, a lost enqueue).
    Returns whether a run was started."""
    at = _now(now)
    claims_reap(now=at)
    due = Message.objects.filter(status=MessageStatus.QUEUED, due_at__lte=at).exists()
    if due:
        enqueue_delivery()
    return due
