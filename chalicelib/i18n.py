"""Words the service shows people, in each supported language (``nl``, ``en``).

Field error messages are keyed by the error ``code`` of the problem+json
``errors`` list; page and email phrases by a short key. Dates and times are not
formatted here: ``chalicelib.dates`` uses Babel for that.
"""

from __future__ import annotations

from typing import Literal

from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header

FIELD_ERRORS: dict[str, dict[str, str]] = {
    "required": {"en": "This field is required.", "nl": "Dit veld is verplicht."},
    "too_short": {"en": "This field is required.", "nl": "Dit veld is verplicht."},
    "too_long": {"en": "At most {limit} characters.", "nl": "Maximaal {limit} tekens."},
    "control_characters": {
        "en": "Remove the control characters.",
        "nl": "Verwijder de stuurtekens.",
    },
    "invalid_email": {
        "en": "Enter a valid email address, like name@example.org.",
        "nl": "Vul een geldig e-mailadres in, zoals naam@voorbeeld.nl.",
    },
    "non_ascii_email": {
        "en": "Use an address with only Latin letters, digits and punctuation before the @; "
              "we cannot deliver email to this one.",
        "nl": "Gebruik een adres met alleen Latijnse letters, cijfers en leestekens vóór de @; "
              "naar dit adres kunnen we niet mailen.",
    },
    "invalid_choice": {"en": "Choose one of the options.", "nl": "Kies een van de opties."},
    "repeated_choice": {"en": "Choose each option at most once.", "nl": "Kies elke optie hooguit één keer."},
    "invalid_phone": {
        "en": "Enter a phone number of digits, spaces and an optional leading +.",
        "nl": "Vul een telefoonnummer in met cijfers, spaties en eventueel een + vooraan.",
    },
    "must_accept": {
        "en": "You need to agree to the privacy statement to register.",
        "nl": "Je moet akkoord gaan met de privacyverklaring om je in te schrijven.",
    },
    "unknown_field": {"en": "This field is not part of the form.", "nl": "Dit veld hoort niet bij het formulier."},
    "unknown_fields": {"en": "These {count} fields are not part of the form: {names}.",
                       "nl": "Deze {count} velden horen niet bij het formulier: {names}."},
    "invalid_type": {"en": "This value has the wrong type.", "nl": "Deze waarde heeft het verkeerde type."},
    "out_of_range": {"en": "This number is out of range.", "nl": "Dit getal valt buiten het toegestane bereik."},
    "search_too_short": {"en": "Type at least 2 letters of a name or address.",
                         "nl": "Typ minstens 2 letters van een naam of adres."},
    "too_fast": {
        "en": "Please check your answers and send the form again.",
        "nl": "Controleer je antwoorden en verstuur het formulier opnieuw.",
    },
}

#: The answer to "send my email again" (README, "HTTP API"), the same whether or not the address is registered.
RESEND_ANSWER: dict[str, tuple[str, str]] = {
    "en": ("Check your mailbox", "If this address is registered for this event, its latest email is on its way "
           "again; it can take a few minutes, and may land in your spam folder. One such email goes out every "
           "10 minutes at most."),
    "nl": ("Kijk in je mailbox", "Als dit adres voor dit evenement is ingeschreven, is de laatste e-mail opnieuw "
           "onderweg; dat kan een paar minuten duren, en hij kan in je spammap terechtkomen. Er gaat hooguit één "
           "zo'n e-mail per 10 minuten uit."),
}

#: The answer to "send my email again" once the event has ended (public knowledge, so it reveals nothing).
RESEND_OVER: dict[str, tuple[str, str]] = {
    "en": ("This event has ended", "No emails go out for it any more. Questions? Write to the organiser."),
    "nl": ("Dit evenement is voorbij", "Er gaan geen e-mails meer over uit. Vragen? Schrijf de organisator."),
}

PROBLEMS: dict[str, dict[str, tuple[str, str]]] = {
    # code: {language: (title, detail)}
    "malformed-body": {
        "en": ("Malformed request body", "The body could not be read as {expected}."),
        "nl": ("Onleesbaar verzoek", "De inhoud kon niet worden gelezen als {expected}."),
    },
    "not-found": {
        "en": ("Not found", "There is no {what} with this id."),
        "nl": ("Niet gevonden", "Er is geen {what} met deze id."),
    },
    "already-registered": {
        "en": ("Already registered", "This email address is already registered for this event."),
        "nl": ("Al ingeschreven", "Dit e-mailadres is al ingeschreven voor dit evenement."),
    },
    "registration-closed": {
        "en": ("Registration closed", "Registration for this event is {state}."),
        "nl": ("Inschrijving gesloten", "De inschrijving voor dit evenement is {state}."),
    },
    "event-over": {
        "en": ("Event over", "This event is over, so the registration can no longer be cancelled."),
        "nl": ("Evenement voorbij", "Dit evenement is voorbij; de inschrijving kan niet meer worden geannuleerd."),
    },
    "event-full": {
        "en": ("Event full", "All seats are taken and this event has no waitlist."),
        "nl": ("Vol", "Alle plaatsen zijn bezet en dit evenement heeft geen wachtlijst."),
    },
    "body-too-large": {
        "en": ("Request body too large", "The body is {size} bytes; at most {limit} are accepted."),
        "nl": ("Verzoek te groot", "De inhoud is {size} bytes; maximaal {limit} is toegestaan."),
    },
    "unsupported-media-type": {
        "en": ("Unsupported media type", "Send {accepted}, not {got}."),
        "nl": ("Niet-ondersteund type", "Stuur {accepted}, niet {got}."),
    },
    "form-from-another-site": {
        "en": ("Form from another site", "This form was sent from a site that may not register people for this "
               "event. Register on the organiser's site or on this service's own form."),
        "nl": ("Formulier van een andere site", "Dit formulier is verstuurd vanaf een site die geen mensen voor dit "
               "evenement mag inschrijven. Schrijf je in op de site van de organisator of op het formulier van "
               "deze dienst zelf."),
    },
    "validation-failed": {
        "en": ("Invalid fields", "One or more fields are invalid; see errors."),
        "nl": ("Ongeldige velden", "Een of meer velden zijn ongeldig; zie errors."),
    },
    "registration-erased": {
        "en": ("Registration erased", "The data of this registration has been removed. Questions? Write to the "
               "organiser of the event."),
        "nl": ("Inschrijving verwijderd", "De gegevens van deze inschrijving zijn verwijderd. Vragen? Schrijf de "
               "organisator van het evenement."),
    },
    "invalid-token": {
        "en": ("Invalid link", "This link is not valid. Use the link from your most recent email."),
        "nl": ("Ongeldige link", "Deze link is niet geldig. Gebruik de link uit je meest recente e-mail."),
    },
    # The door page's API (README, "Check-in at the door").
    "door-link-invalid": {
        "en": (
            "Invalid door link",
            "This door link is not valid: mistyped, or its key was retired. Ask the organiser for a new one.",
        ),
        "nl": (
            "Ongeldige link voor de ingang",
            "Deze link voor de ingang is niet geldig: verkeerd overgenomen, "
            "of de sleutel is ingetrokken. Vraag de organisator om een nieuwe.",
        ),
    },
    "door-link-expired": {
        "en": ("Link expired", "This door link expired at {expired}. Ask the organiser for a new one."),
        "nl": (
            "Link verlopen",
            "Deze link voor de ingang is verlopen op {expired}. Vraag de organisator om een nieuwe.",
        ),
    },
    "checkin-busy": {
        "en": ("Busy", "Too many check-ins at once; try again in a second."),
        "nl": ("Druk", "Te veel check-ins tegelijk; probeer het over een seconde opnieuw."),
    },
    "busy": {
        "en": ("Busy", "Too many registrations at once for this event; try again in a second."),
        "nl": ("Druk", "Te veel inschrijvingen tegelijk voor dit evenement; probeer het over een seconde opnieuw."),
    },
    "unavailable": {
        "en": ("Try again shortly", "We could not reach our storage just now; please try again in a few seconds. "
               "If you were registering, check your email first: it may have gone through, and sending the "
               "form again will not register you twice."),
        "nl": ("Probeer het zo opnieuw", "We konden onze opslag even niet bereiken; probeer het over een paar "
               "seconden opnieuw. Was je je aan het inschrijven, kijk dan eerst in je e-mail: het kan gelukt zijn, "
               "en het formulier nog eens versturen schrijft je niet twee keer in."),
    },
    "internal-error": {
        "en": ("Internal error", "Something went wrong on our side. Please try again later."),
        "nl": ("Interne fout", "Er ging bij ons iets mis. Probeer het later opnieuw."),
    },
    "method-not-allowed": {
        "en": ("Method not allowed", "This address does not accept {method}."),
        "nl": ("Methode niet toegestaan", "Dit adres accepteert geen {method}."),
    },
}

#: Words put into problem details, so a Dutch detail has no English in it.
DETAIL_WORDS: dict[str, dict[str, str]] = {
    "json": {"en": "a JSON object", "nl": "een JSON-object"},
    "form": {"en": "a URL-encoded form", "nl": "een URL-gecodeerd formulier"},
    "event": {"en": "event", "nl": "evenement"},
    "registration": {"en": "registration", "nl": "inschrijving"},
    "file": {"en": "file", "nl": "bestand"},
    "route": {"en": "page or endpoint", "nl": "pagina of endpoint"},
    "closed": {"en": "closed", "nl": "gesloten"},
    "not_yet_open": {"en": "not open yet", "nl": "nog niet geopend"},
}


#: The sentence a ``registration-closed`` problem adds before registration opens (``when``: Babel's
#: date and time in the event's zone with its abbreviation, ``chalicelib.pages.opens_text``).
OPENS_ON = {"en": "It opens on {when}.", "nl": "De inschrijving opent op {when}."}


def opens_on(language: str, when: str) -> str:
    """``"It opens on 22 May 2023 09:00 CEST."`` in ``language`` (English if unknown)."""
    return OPENS_ON.get(language, OPENS_ON["en"]).format(when=when)


#: "and N more" at the end of a shortened list (:func:`more_text`); its keys are the languages of
#: :func:`joined` and :func:`number` (others are written in English).
MORE = {"en": "{count} more", "nl": "{count} andere"}


def _locale(language: str) -> str:
    return language if language in MORE else "en"


def joined(items: list[str], language: str, style: Literal["standard", "or"] = "standard") -> str:
    """``items`` as a sentence writes them in ``language`` (Babel's ``format_list``, CLDR's patterns):
    ``a, b and c`` / ``a, b en c``; with ``style="or"``, ``a or b`` / ``a of b``."""
    from babel.lists import format_list  # on first use: only error answers need it

    return format_list(items, style=style, locale=_locale(language))


def number(count: int, language: str) -> str:
    """A whole number as ``language`` writes it (Babel): ``1,995`` / ``1.995``."""
    from babel.numbers import format_decimal

    return format_decimal(count, locale=_locale(language))


def more_text(count: int, language: str) -> str:
    """``"1,995 more"`` / ``"1.995 andere"``: the rest of a list cut short."""
    return MORE[_locale(language)].format(count=number(count, language))


def field_error(code: str, language: str, **params: object) -> str:
    """The message for a field error ``code`` in ``language`` (English if unknown)."""
    table = FIELD_ERRORS.get(code, FIELD_ERRORS["invalid_type"])
    return table.get(language, table["en"]).format(**params)


def problem_text(code: str, language: str, **params: object) -> tuple[str, str]:
    """``(title, detail)`` of a problem ``code`` in ``language`` (English if unknown)."""
    table = PROBLEMS[code]
    title, detail = table.get(language, table["en"])
    words = {k: DETAIL_WORDS[v].get(language, DETAIL_WORDS[v]["en"]) if isinstance(v, str) and v in DETAIL_WORDS else v
             for k, v in params.items()}
    return title, detail.format(**words)


def negotiate(candidates: tuple[str, ...], explicit: str | None, accept_language: str | None) -> str:
    """Pick the language of a page or answer.

    ``explicit`` (``?lang=`` or the body's ``language``) wins when it is one of
    ``candidates``; else the best match of the ``Accept-Language`` header
    (RFC 9110 section 12.5.4, parsed by Werkzeug); else ``candidates[0]``.
    """
    if explicit in candidates:
        return explicit
    if accept_language:
        accepted = parse_accept_header(accept_language, LanguageAccept)
        best = accepted.best_match(candidates)
        if best:
            return best.split("-")[0].lower()
    return candidates[0]
