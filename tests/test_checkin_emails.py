"""The check-in code in the emails (README, "Check-in at the door"), on the real delivery path.

Registration, stream record, ``DeliverEmails``, moto's SES: the confirmation and the promotion
carry the code as an inline PNG QR code (``multipart/related``, ``cid:``) and in groups for
reading aloud; the waitlist and cancellation emails carry none. The code in the email checks the
person in at the door.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import UTC

from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json, sent_messages

SPOKEN = re.compile(r"\b([A-Z2-7]{4}(?: [A-Z2-7]{4}){5})\b")


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_string(message.raw_data, policy=email.policy.default)


def register_and_deliver(client, pump, **fields) -> str:
    answer = post_json(client, partos_registration(**fields))
    assert answer.status_code == 201, answer.body
    pump.pump_once()
    return json.loads(answer.body)["registration_id"]


def code_parts(message: email.message.EmailMessage):
    """``(spoken code in the text, the HTML, the related PNG part)``; asserts the structure on the way."""
    text = message.get_body(("plain",)).get_content()
    html_part = message.get_body(("html",))
    html = html_part.get_content()
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    found = SPOKEN.search(text)
    return (found.group(1) if found else None), html, images


def structure(message: email.message.EmailMessage) -> list[tuple[int, str]]:
    out = []

    def walk(part, depth):
        out.append((depth, part.get_content_type()))
        if part.is_multipart():
            for sub in part.iter_parts():
                walk(sub, depth + 1)

    walk(message, 0)
    return out


def test_the_confirmation_carries_the_code_as_an_inline_qr_and_for_reading_aloud(client, seed_event, pump):
    from chalicelib import checkin, qrcodes

    registration_id = register_and_deliver(client, pump)
    [sent] = sent_messages()
    message = parsed(sent)
    assert structure(message) == [
        (0, "multipart/mixed"), (1, "multipart/alternative"), (2, "text/plain"), (2, "multipart/related"),
        (3, "text/html"), (3, "image/png"), (2, "text/calendar"), (1, "application/ics"),
    ]  # the iTIP REQUEST stays the last alternative (README, "Emails"); the QR code sits beside the HTML only
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    assert related.get_param("type") == "text/html"  # RFC 2387: the root's type
    spoken, html, [image] = code_parts(message)
    code = spoken.replace(" ", "")
    assert code == checkin.make_code(SEED_EVENT_ID, registration_id)
    assert checkin.find_registration(SEED_EVENT_ID, spoken)["registration_id"] == registration_id
    cid = image["Content-ID"]
    assert re.fullmatch(r"<checkin\.[0-9a-f]{16}@partos\.example\.org>", cid)
    assert image.get_content_disposition() == "inline"
    png = image.get_content()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png == qrcodes.qr_png(code).png  # segno's QR of exactly the code
    shown = qrcodes.qr_png(code).shown
    assert f'src="cid:{cid[1:-1]}"' in html
    assert f'alt="QR-code om in te checken: {spoken}"' in html and f'width="{shown}" height="{shown}"' in html
    assert spoken in html and "Je code voor de ingang" in html
    assert "data:" not in html and "<svg" not in html


def test_the_english_email_says_it_in_english(client, seed_event, pump):
    register_and_deliver(client, pump, language="en")
    message = parsed(sent_messages()[0])
    text = message.get_body(("plain",)).get_content()
    assert "Your code for the door (have the QR code in this email scanned, or read out the code):" in text
    assert "Your code for the door" in message.get_body(("html",)).get_content()


def test_waitlisted_and_cancelled_emails_carry_no_code_and_the_promotion_does(client, aws, pump):
    from chalicelib import checkin, lifecycle, store
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update={"capacity": 1})
    store.put_event(event)
    seated = register_and_deliver(client, pump, email="seat@example.org")
    waiting = register_and_deliver(client, pump, email="wait@example.org")
    lifecycle.cancel(SEED_EVENT_ID, seated, by="staff")
    pump.pump_once()
    pump.pump_once()
    by_kind = {}
    for sent in sent_messages():
        message = parsed(sent)
        by_kind.setdefault(message["Subject"].split(":")[0], []).append(message)
    assert sorted(by_kind) == ["Bevestiging", "Er is een plek voor je", "Inschrijving geannuleerd", "Op de wachtlijst"]
    for kind in ("Op de wachtlijst", "Inschrijving geannuleerd"):
        spoken, html, images = code_parts(by_kind[kind][0])
        assert spoken is None and images == [] and "cid:" not in html
        assert "multipart/related" not in [t for _, t in structure(by_kind[kind][0])]
    spoken, html, [_image] = code_parts(by_kind["Er is een plek voor je"][0])
    assert spoken.replace(" ", "") == checkin.make_code(SEED_EVENT_ID, waiting)
    assert checkin.check_in_code(SEED_EVENT_ID, spoken, store_now()).outcome == "checked_in"


def test_an_event_change_carries_the_code_to_a_seat_holder_not_to_the_waitlisted(client, aws, pump):
    """The change email is the latest: a staff resend after an address is corrected sends it, with the code."""
    from datetime import timedelta

    from chalicelib import checkin, lifecycle, store
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml").model_copy(update={"capacity": 1})
    store.put_event(event)
    seated = register_and_deliver(client, pump, email="seat@example.org")
    register_and_deliver(client, pump, email="wait@example.org")
    moved = event.model_copy(update={"starts_at": event.starts_at + timedelta(hours=1),
                                     "ends_at": event.ends_at + timedelta(hours=1)})
    store.put_event(moved)
    lifecycle.announce_schedule(SEED_EVENT_ID)
    pump.pump_once()
    changed = {parsed(m)["To"].addresses[0].addr_spec: parsed(m) for m in sent_messages()
               if parsed(m)["Subject"].startswith("Gewijzigd")}
    assert sorted(changed) == ["seat@example.org", "wait@example.org"]
    spoken, html, [_image] = code_parts(changed["seat@example.org"])
    assert spoken.replace(" ", "") == checkin.make_code(SEED_EVENT_ID, seated) and "cid:" in html
    spoken, html, images = code_parts(changed["wait@example.org"])
    assert spoken is None and images == [] and "cid:" not in html


def store_now():
    from chalicelib import clock

    return clock.now()


def test_every_email_with_a_code_passes_the_recipient_check(aws):
    """The related part sits inside the body: the top-level headers the recipient check reads are unchanged."""
    from datetime import datetime

    from chalicelib import checkin, emails
    from chalicelib.events import load_event_file

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    for change, status in (("registered", "confirmed"), ("promoted", "confirmed")):
        registration = {"registration_id": "Ab3xYz0000000000000001", "name": "Zoë <x@evil.example>",
                        "email": "zoe@example.org", "language": "en", "status": status}
        code = checkin.code_for_delivery(change, {**registration, "event_id": event.id})
        outgoing = emails.build_email(event=event, registration=registration, change=change,
                                      sender="Partos Events <events@partos.example.org>", base_url="https://api.example.org",
                                      view_token="k1.view", cancel_token="k1.cancel",
                                      now=datetime(2023, 5, 22, 7, 0, tzinfo=UTC),
                                      checkin_code=code)
        message = emails.check_message(outgoing.raw, "zoe@example.org")
        assert code and checkin.spoken(code) in message.get_body(("plain",)).get_content()
    for change, status in (("registered", "waitlisted"), ("cancelled", "cancelled")):
        assert checkin.code_for_delivery(change, {"event_id": event.id, "registration_id": "Ab3xYz0000000000000001",
                                                  "status": status}) is None
