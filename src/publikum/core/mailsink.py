"""A local SMTP sink (aiosmtpd): every mail is stored for the staff "Outbox" page.

Used by `publikum serve --smtp-sink` (demo, development) and by the tests as the real SMTP
server on loopback. Nothing is relayed: mails never leave the machine.
"""

from __future__ import annotations

import email
import logging
from email import policy
from email.utils import getaddresses
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

logger = logging.getLogger("publikum.mailsink")

ORG_HEADER = "X-Publikum-Organisation"


def _text(value: object) -> str:
    # PostgreSQL cannot store NUL in text or JSON; a mail that carries one is kept anyway.
    return str(value).replace("\x00", "\ufffd")


def store_message(mail_from: str, recipients: list[str], raw: bytes) -> int:
    """Store one received message; returns its id. Links it to the organisation header."""
    from publikum.core.models import Organisation, ReceivedMail

    # The sink runs in its own thread: drop a stale connection first. Not inside a
    # transaction (a caller's, or a test's), where this would close the caller's connection.
    if not connection.in_atomic_block:
        close_old_connections()
    text = raw.decode("utf-8", errors="replace")
    message = email.message_from_bytes(raw, policy=policy.default)
    slug = str(message.get(ORG_HEADER, "")).strip()
    organisation = Organisation.objects.filter(slug=_text(slug)).first() if slug else None
    to = [addr for _, addr in getaddresses([str(message.get("To", ""))]) if addr]
    mail = ReceivedMail.objects.create(
        organisation=organisation,
        mail_from=_text(mail_from)[:320],
        recipients=[_text(r) for r in recipients or to],
        subject=_text(message.get("Subject", ""))[:998],
        message_id=_text(message.get("Message-ID", ""))[:998],
        raw=_text(text),
    )
    logger.info("mail sink: %s → %s: %s", mail_from, ", ".join(recipients), mail.subject)
    return mail.pk


def _store_in_worker_thread(mail_from: str, recipients: list[str], raw: bytes) -> int:
    """Store from an executor thread and close that thread's connection: mails are rare, and
    a connection left open in a pool thread outlives the database it points to (tests)."""
    try:
        return store_message(mail_from, recipients, raw)
    finally:
        connection.close()


class SinkHandler:
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        await sync_to_async(_store_in_worker_thread, thread_sensitive=False)(
            str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], raw
        )
        return "250 Message accepted for delivery"


def start_sink(host: str, port: int, **kwargs: Any) -> Controller:
    return start_controller(SinkHandler(), host, port, **kwargs)


def start_controller(handler: Any, host: str, port: int, **kwargs: Any) -> Controller:
    """Start an aiosmtpd server with `handler` in its own thread (the sink, the inbox's
    receiver); `controller.stop()` ends it."""
    controller = Controller(handler, hostname=host, port=port, **kwargs)
    try:
        controller.start()
    except BaseException:
        # aiosmtpd leaves its event loop open when it cannot bind; left to the garbage
        # collector, the loop's __del__ may print a traceback at exit (seen as a flaky
        # "Invalid file descriptor" under `publikum serve` refusing a busy port).
        thread = controller._thread
        if thread is not None:
            thread.join(timeout=5)
        if not controller.loop.is_running() and not controller.loop.is_closed():
            controller.loop.close()
        raise
    return controller
