"""What the assistant says, in German and English side by side.

The assistant answers in the language of the visitor's message, not in the language of the
page or the request, and both versions of every sentence are kept together here so that
they stay in step (the widget's own buttons and labels go through Django's i18n). Dates,
times and prices are written out the way people read them: "Samstag, 28. November,
15:00 Uhr", "von 10 bis 18 Uhr", "7,50 €" / "Saturday, 28 November, 15:00", "€7.50".
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from publikum.assistant.nlu.dates import DAY_NAMES, MONTH_NAMES

PHRASES: dict[str, tuple[str, str]] = {
    # --- small talk ---
    "greeting": (
        "Hallo! Ich bin der digitale Assistent von {org}. Fragen Sie mich nach "
        "Öffnungszeiten, Preisen, Anfahrt oder Programm – ich helfe auch beim Buchen.",
        "Hello! I am the digital assistant of {org}. Ask me about opening hours, prices, "
        "how to get here or what is on – I can also help you book tickets.",
    ),
    "thanks": (
        "Gern geschehen! Kann ich noch etwas für Sie tun?",
        "You're welcome! Is there anything else I can do for you?",
    ),
    "goodbye": (
        "Auf Wiedersehen und bis bald bei {org}!",
        "Goodbye, and see you soon at {org}!",
    ),
    # --- not understood / hand-over ---
    "not_understood": (
        "Das habe ich leider nicht verstanden. Können Sie es anders formulieren? "
        "Oder soll ich Sie an eine Kollegin oder einen Kollegen weitergeben?",
        "Sorry, I did not understand that. Could you rephrase it? Or shall I pass you on "
        "to a colleague?",
    ),
    "ask_something_else": (
        "Gern. Was möchten Sie wissen?",
        "All right. What would you like to know?",
    ),
    "handover_personal": (
        "Darum kümmert sich bei uns gern ein Mensch: Ich habe Ihre Nachricht an unser "
        "Team weitergegeben.",
        "A person on our team will take care of this: I have passed your message on.",
    ),
    "handover_person": (
        "Gern, ich gebe Sie an eine Kollegin oder einen Kollegen weiter.",
        "Of course, I am passing you on to a colleague.",
    ),
    "handover_unsure": (
        "Da bin ich mir nicht sicher genug, deshalb habe ich Ihre Frage an unser Team "
        "weitergegeben.",
        "I am not sure enough about this, so I have passed your question on to our team.",
    ),
    "handover_other_language": (
        "",
        "Sorry, I can only answer in German or English. I have passed your message on to a "
        "colleague.",
    ),
    "handover_booking": (
        "Die Buchung hat leider nicht geklappt; ich habe Ihr Anliegen an unser Team weitergegeben.",
        "The booking did not work, I am afraid; I have passed your request on to our team.",
    ),
    "handover_when_mail": (
        "Sie bekommen {reply_time} eine Antwort per E-Mail an {email}.",
        "You will hear from us {reply_time} by e-mail at {email}.",
    ),
    "handover_when_nomail": (
        "Sie bekommen {reply_time} eine Antwort – hier im Chat, solange Sie da sind. "
        "Wenn Sie mir Ihre E-Mail-Adresse schreiben, antworten wir Ihnen auch per E-Mail.",
        "You will hear from us {reply_time} – here in the chat while you are here. If you "
        "write me your e-mail address, we will also answer you by e-mail.",
    ),
    "with_staff": (
        "Danke, Ihre Nachricht ist bei unserem Team angekommen. Eine Kollegin oder ein "
        "Kollege antwortet {reply_time} hier oder per E-Mail.",
        "Thank you, your message has reached our team. A colleague will answer {reply_time} "
        "here or by e-mail.",
    ),
    "with_staff_ask_mail": (
        "Danke, Ihre Nachricht ist bei unserem Team angekommen. Wenn Sie mir Ihre "
        "E-Mail-Adresse schreiben, antworten wir auch per E-Mail.",
        "Thank you, your message has reached our team. If you write me your e-mail "
        "address, we will also answer by e-mail.",
    ),
    "mail_linked": (
        "Danke! Wir antworten Ihnen {reply_time} per E-Mail an {email}.",
        "Thank you! We will answer you {reply_time} by e-mail at {email}.",
    ),
    # --- opening hours ---
    "open_on": ("{day} haben wir {spans} geöffnet", "{day} we are open {spans}"),
    "closed_on": ("{day} haben wir geschlossen", "{day} we are closed"),
    "day_today": ("Heute, {date},", "Today, {date},"),
    "day_tomorrow": ("Morgen, {date},", "Tomorrow, {date},"),
    "day_on": ("Am {date},", "On {date},"),
    "holiday_sunday": ("Feiertag: wie sonntags", "public holiday: Sunday hours"),
    "holiday_regular": ("Feiertag: reguläre Öffnungszeiten", "public holiday: regular hours"),
    "holiday_closed": ("Feiertag", "public holiday"),
    "regular_hours": ("Unsere regulären Öffnungszeiten: {week}.", "Our regular hours: {week}."),
    "closed_short": ("geschlossen", "closed"),
    "no_hours": (
        "Unsere Öffnungszeiten habe ich leider nicht parat.",
        "I do not have our opening hours at hand, I am afraid.",
    ),
    # --- prices ---
    "prices": ("Unsere Eintrittspreise: {list}.", "Our admission prices: {list}."),
    "free": ("frei", "free"),
    # --- address ---
    "address": ("Sie finden uns hier: {address}.", "You will find us at {address}."),
    # --- programme ---
    "programme_intro": ("Das steht auf dem Programm:", "This is what is on:"),
    "programme_none": (
        "Dazu habe ich in diesem Zeitraum leider nichts gefunden.",
        "I could not find anything matching that in this period.",
    ),
    "programme_instead": ("Das steht stattdessen als Nächstes an:", "Coming up instead:"),
    "programme_empty": (
        "Zurzeit sind keine Termine angekündigt.",
        "There are no dates announced at the moment.",
    ),
    "programme_more": (
        "Mehr im Programm auf unserer Website.",
        "More in the programme on our website.",
    ),
    "offer_booking": (
        "Möchten Sie Karten buchen? Nennen Sie mir einfach die Nummer.",
        "Would you like to book tickets? Just tell me the number.",
    ),
    "sold_out_tag": ("ausgebucht", "sold out"),
    "few_tag": ("nur noch wenige Plätze", "few seats left"),
    # --- booking dialogue ---
    "book_which": (
        "Welchen Termin möchten Sie buchen? Sie können die Nummer nennen oder mir Titel und "
        "Tag schreiben.",
        "Which date would you like to book? Tell me the number, or the title and the day.",
    ),
    "book_several": (
        "Ich habe mehrere passende Termine gefunden:",
        "I found several matching dates:",
    ),
    "book_none_found": (
        "Dafür habe ich keinen buchbaren Termin gefunden.",
        "I could not find a date that can be booked for that.",
    ),
    "book_next_dates": ("Diese Termine können Sie buchen:", "These dates can be booked:"),
    "book_nothing_bookable": (
        "Zurzeit gibt es keine Termine, die ich buchen kann.",
        "At the moment there are no dates I can book.",
    ),
    "book_chosen": ("Gern: {date}.", "Fine: {date}."),
    "book_sold_out_date": (
        "{date} ist leider ausgebucht. Auf der Website können Sie sich auf die Warteliste "
        "setzen lassen, oder Sie wählen einen anderen Termin.",
        "{date} is sold out, I am afraid. You can join the waiting list on our website, or "
        "choose another date.",
    ),
    "book_how_many": ("Wie viele Karten möchten Sie?", "How many tickets would you like?"),
    "book_how_many_categories": (
        "Wie viele Karten möchten Sie, und welche? Preise: {prices}. Schreiben Sie die "
        "Anzahl je Kategorie, zum Beispiel: „2 × {first}, 1 × {second}“.",
        "How many tickets would you like, and which? Prices: {prices}. Write the number per "
        "category, for example: “2 × {first}, 1 × {second}”.",
    ),
    "book_which_category": (
        "Welche Karten dürfen es sein? Preise: {prices}. Zum Beispiel: „{n} × {first}“.",
        "Which tickets would you like? Prices: {prices}. For example: “{n} × {first}”.",
    ),
    "book_name": ("Auf welchen Namen darf ich buchen?", "Which name shall I book under?"),
    "book_email": (
        "An welche E-Mail-Adresse soll die Bestätigung gehen?",
        "Which e-mail address shall I send the confirmation to?",
    ),
    "book_email_invalid": (
        "Das sieht nicht nach einer E-Mail-Adresse aus. Bitte schreiben Sie sie z. B. so: "
        "name@beispiel.de",
        "That does not look like an e-mail address. Please write it like this: name@example.com",
    ),
    "book_newsletter": (
        "Möchten Sie auch unseren Newsletter bekommen? Sie erhalten dann eine E-Mail, mit "
        "der Sie das bestätigen. (Ja/Nein)",
        "Would you also like to receive our newsletter? You will get an e-mail to confirm "
        "it. (Yes/No)",
    ),
    "book_summary": (
        "Bitte prüfen Sie: {date}. {lines}, zusammen {total}. Name: {name}, E-Mail: "
        "{email}, Newsletter: {newsletter}. Soll ich verbindlich buchen?",
        "Please check: {date}. {lines}, {total} in total. Name: {name}, e-mail: {email}, "
        "newsletter: {newsletter}. Shall I make the booking?",
    ),
    "book_what_change": (
        "Was möchten Sie ändern? Termin, Anzahl, Name, E-Mail oder Newsletter – oder "
        "schreiben Sie „abbrechen“.",
        "What would you like to change? Date, number of tickets, name, e-mail or "
        "newsletter – or write “cancel”.",
    ),
    "book_done": (
        "Ihre Buchung ist bestätigt! Ihr Buchungscode: {code}. Die Bestätigung geht an "
        "{email}. {date}, {lines}.",
        "Your booking is confirmed! Your booking code: {code}. The confirmation goes to "
        "{email}. {date}, {lines}.",
    ),
    "book_newsletter_done": (
        "Für den Newsletter bekommen Sie eine eigene E-Mail zur Bestätigung.",
        "You will receive a separate e-mail to confirm the newsletter.",
    ),
    "book_cancelled": (
        "In Ordnung, ich habe die Buchung abgebrochen. Kann ich sonst noch helfen?",
        "All right, I have cancelled the booking. Can I help with anything else?",
    ),
    "book_sold_out": (
        "Leider sind nicht mehr genug Plätze frei: {detail} Sie können weniger Karten oder "
        "einen anderen Termin wählen; auf der Website gibt es eine Warteliste.",
        "Unfortunately there are not enough seats left: {detail} You can choose fewer "
        "tickets or another date; there is a waiting list on our website.",
    ),
    "book_not_bookable": (
        "Dieser Termin kann leider nicht gebucht werden ({detail}). Möchten Sie einen "
        "anderen Termin?",
        "This date cannot be booked, I am afraid ({detail}). Would you like another date?",
    ),
    "book_invalid": (
        "Da stimmt etwas nicht: {detail}",
        "Something is not right: {detail}",
    ),
    "book_busy": (
        "Gerade buchen sehr viele gleichzeitig. Bitte bestätigen Sie noch einmal mit „Ja“.",
        "Many people are booking right now. Please confirm once more with “yes”.",
    ),
    "book_back": ("Zurück zur Buchung: {question}", "Back to your booking: {question}"),
    "book_no_date_that_day": (
        "An diesem Tag gibt es keinen Termin davon; es bleibt bei {date}.",
        "There is no date of it on that day; I am keeping {date}.",
    ),
    "yes": ("Ja", "Yes"),
    "no": ("Nein", "No"),
    "yes_book": ("Ja, buchen", "Yes, book"),
    "cancel": ("Abbrechen", "Cancel"),
    "talk_to_person": ("Mit einem Menschen sprechen", "Talk to a person"),
    "newsletter_yes": ("ja", "yes"),
    "newsletter_no": ("nein", "no"),
}


def say(key: str, language: str, **values: Any) -> str:
    de, en = PHRASES[key]
    template = en if language == "en" or not de else de
    return template.format(**values) if values else template


# Weekday and month names: the ones the date parser reads (one list for both).
WEEKDAYS = DAY_NAMES
WEEKDAYS_SHORT = {
    "de": ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
MONTHS = MONTH_NAMES


def _lang(language: str) -> str:
    return "en" if language == "en" else "de"


def date_words(day: date, language: str, *, today: date | None = None) -> str:
    """ "Samstag, 28. November" / "Saturday, 28 November" (with the year when not this
    year's)."""
    lang = _lang(language)
    weekday = WEEKDAYS[lang][day.weekday()]
    month = MONTHS[lang][day.month - 1]
    text = f"{weekday}, {day.day}. {month}" if lang == "de" else f"{weekday}, {day.day} {month}"
    if today is not None and day.year != today.year:
        text += f" {day.year}"
    return text


def time_words(at: time, language: str) -> str:
    return f"{at:%H:%M} Uhr" if _lang(language) == "de" else f"{at:%H:%M}"


def datetime_words(moment: datetime, language: str, *, today: date | None = None) -> str:
    """ "Samstag, 28. November, 15:00 Uhr" for a local date and time."""
    return (
        f"{date_words(moment.date(), language, today=today)}, {time_words(moment.time(), language)}"
    )


def short_datetime(moment: datetime, language: str) -> str:
    """ "Sa 28.11. 15:00" / "Sat 28 Nov 15:00": for quick-reply buttons."""
    lang = _lang(language)
    weekday = WEEKDAYS_SHORT[lang][moment.weekday()]
    if lang == "de":
        return f"{weekday} {moment.day}.{moment.month}. {moment:%H:%M}"
    return f"{weekday} {moment.day} {MONTHS['en'][moment.month - 1][:3]} {moment:%H:%M}"


def _clock(at: time, language: str) -> str:
    if _lang(language) == "de":
        return str(at.hour) if at.minute == 0 else f"{at.hour}:{at.minute:02d}"
    return f"{at:%H:%M}"


def span_words(opens: time, closes: time, language: str) -> str:
    """ "von 10 bis 18 Uhr" / "from 10:00 to 18:00"."""
    if _lang(language) == "de":
        return f"von {_clock(opens, 'de')} bis {_clock(closes, 'de')} Uhr"
    return f"from {_clock(opens, 'en')} to {_clock(closes, 'en')}"


def short_span(opens: time, closes: time, language: str) -> str:
    """ "10–18 Uhr" / "10:00–18:00"."""
    if _lang(language) == "de":
        return f"{_clock(opens, 'de')}–{_clock(closes, 'de')} Uhr"
    return f"{_clock(opens, 'en')}–{_clock(closes, 'en')}"


def and_words(parts: list[str], language: str) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    joiner = " und " if _lang(language) == "de" else " and "
    return ", ".join(parts[:-1]) + joiner + parts[-1]


def money(amount: Decimal, language: str) -> str:
    """ "12 €", "7,50 €" / "€12", "€7.50"; nothing to pay reads "frei"/"free"."""
    if amount == 0:
        return say("free", language)
    whole = amount == amount.to_integral_value()
    number = f"{int(amount)}" if whole else f"{amount:.2f}"
    if _lang(language) == "de":
        return f"{number.replace('.', ',')} €"
    return f"€{number}"
