"""The assistant on the organisation's website: the widget script and a full page.

`/<org>/assistant.js` is the one `<script>` tag an institution puts on its pages (the
public pages of Publikum carry it too); it builds a launcher button and a chat panel.
`/<org>/assistant/` shows the same widget always open, as a page of its own. The script
carries the organisation, the API path and its labels in German and English (the
page's `lang` attribute chooses); it talks to the public API only, on the server its own
`src` points to, so it works on the institution's own site (another origin; the API answers
CORS) as on Publikum's public pages. The script is the same for every embedding site, so
shared caches may keep it.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.views.decorators.http import require_safe

from publikum.assistant.engine.phrases import say
from publikum.assistant.models import AssistantSettings
from publikum.conversations.models import MAX_TEXT
from publikum.core.models import Organisation
from publikum.programme.public_views import current_language, public_org

POLL_MS = 5000
SCRIPT_CACHE_SECONDS = 300


def _strings() -> dict[str, str | dict[str, str]]:
    return {
        "open": gettext("Questions? Ask us"),
        "title": gettext("Ask us"),
        "close": gettext("Close the chat"),
        "log": gettext("Conversation"),
        "label": gettext("Your message"),
        "placeholder": gettext("Type your question…"),
        "send": gettext("Send"),
        "hint": gettext("An automatic assistant answers; a person takes over when needed."),
        "error": gettext("Something went wrong. Please try again."),
        "invalid": gettext("Please write a message of at most 4000 characters."),
        "too_many": gettext("Too many messages. Please wait a minute."),
        "busy": gettext("One message at a time, please. Send this one again."),
        "offline": gettext("The server cannot be reached. Please check your connection."),
        "who": {
            "visitor": gettext("You"),
            "assistant": gettext("Assistant"),
            "staff": gettext("Our team"),
            "system": gettext("Notice"),
        },
    }


def _config(organisation: Organisation, settings: AssistantSettings | None) -> str:
    strings: dict[str, Any] = {}
    greeting: dict[str, str] = {}
    for language in ("de", "en"):
        with translation.override(language):
            strings[language] = _strings()
        custom = ""
        if settings is not None:
            custom = settings.greeting_en if language == "en" else settings.greeting_de
        greeting[language] = custom or say("greeting", language, org=organisation.name)
    config = {
        "org": organisation.slug,
        "enabled": settings is None or settings.enabled,
        "api": reverse("api-v1:assistant_public_message", kwargs={"org": organisation.slug}).rsplit(
            "messages", 1
        )[0],
        "language": organisation.language,
        "strings": strings,
        "greeting": greeting,
        "poll_ms": POLL_MS,
        "max_length": MAX_TEXT,
        "css": " ".join(render_to_string("assistant/public/widget.css").split()),
    }
    text = json.dumps(config, ensure_ascii=False)
    # Safe inside any script context: no "</script>", no HTML comment openers, no line
    # separators that end a JavaScript string.
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


@require_safe
def assistant_js(request: HttpRequest, org: str) -> HttpResponse:
    organisation = public_org(org)
    settings = AssistantSettings.objects.filter(organisation=organisation).first()
    response = render(
        request,
        "assistant/public/assistant.js",
        {"org": organisation.slug, "config": _config(organisation, settings)},
        content_type="text/javascript; charset=utf-8",
    )
    patch_cache_control(response, public=True, max_age=SCRIPT_CACHE_SECONDS)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def assistant_page(request: HttpRequest, org: str) -> HttpResponse:
    organisation = public_org(org)
    settings = AssistantSettings.objects.filter(organisation=organisation).first()
    return render(
        request,
        "assistant/public/page.html",
        {
            "public_org": organisation,
            "language": current_language(),
            "enabled": settings is None or settings.enabled,
        },
    )
