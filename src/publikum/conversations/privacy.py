"""What the inbox keeps about a person, for the export and the erasure of one contact."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from publikum.audience.models import Contact
from publikum.audience.privacy import register_personal_data
from publikum.conversations.models import Conversation


def _conversations(contact: Contact) -> QuerySet[Conversation]:
    mine = Q(contact=contact)
    if contact.email:
        # Conversations with the address that were never linked (e.g. erased links).
        mine |= Q(visitor_email__iexact=contact.email)
    return Conversation.objects.filter(mine, organisation_id=contact.organisation_id)


def export_conversations(contact: Contact) -> dict[str, Any]:
    conversations = _conversations(contact).prefetch_related("messages", "notes")
    return {
        "conversations": [
            {
                "channel": c.channel,
                "status": c.status,
                "subject": c.subject,
                "name": c.visitor_name,
                "email": c.visitor_email,
                "language": c.language,
                "created_at": c.created_at.isoformat(),
                "messages": [
                    {"author": m.author, "text": m.text, "at": m.created_at.isoformat()}
                    for m in c.messages.all()
                ],
                "staff_notes": [
                    {"text": n.text, "at": n.created_at.isoformat()} for n in c.notes.all()
                ],
            }
            for c in conversations.order_by("created_at", "pk")
        ]
    }


def erase_conversations(contact: Contact) -> None:
    """Conversations are the person's own words: they are deleted, not blanked."""
    _conversations(contact).delete()


register_personal_data("conversations", export=export_conversations, erase=erase_conversations)
