"""The built-in SMTP receiver of the inbox (aiosmtpd): `publikum serve --smtp-inbound PORT`.

Point the MX record of `PUBLIKUM_INBOUND_DOMAIN` at this port (usually behind a mail relay
that does TLS and spam filtering, see docs/inbox.md). Recipients that are not an inbox
address of that domain are refused at RCPT time; every accepted mail goes to
`inbound.inbound_mail`, and nothing it does can raise into the server: a mail that cannot be
filed is dropped with a log line, a failing database answers "try again later".
"""

from __future__ import annotations

import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from asgiref.sync import sync_to_async
from django.db import close_old_connections, connection

from publikum.core.mailsink import start_controller

logger = logging.getLogger("publikum.conversations.inbound")

# Larger mails (attachments) are refused by the server with 552.
MAX_MAIL_BYTES = 10 * 1024 * 1024


def _receive_in_worker_thread(recipients: list[str], raw: bytes) -> None:
    from publikum.conversations.inbound import inbound_mail

    close_old_connections()
    try:
        inbound_mail(raw, recipients=recipients)
    finally:
        connection.close()


class InboundHandler:
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        from publikum.conversations.inbound import parse_address

        if parse_address(address) is None:
            logger.info("inbound SMTP: refused recipient %s", address)
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if isinstance(raw, str):
            raw = raw.encode()
        try:
            await sync_to_async(_receive_in_worker_thread, thread_sensitive=False)(
                [str(r) for r in envelope.rcpt_tos], raw
            )
        except Exception:
            logger.exception("inbound SMTP: mail not filed, asking the sender to retry")
            return "451 4.3.0 Temporary failure, please try again later"
        return "250 Message accepted"


def start_inbound(host: str, port: int, **kwargs: Any) -> Controller:
    """Start the receiver in its own thread; `controller.stop()` ends it."""
    return start_controller(InboundHandler(), host, port, data_size_limit=MAX_MAIL_BYTES, **kwargs)
