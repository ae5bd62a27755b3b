"""Confirmation emails, delivered from the table's stream records into moto's SES."""

import email
import email.policy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from email.headerregistry import Address
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib import registrations, store, tokens
from tests.conftest import SEED_EVENT_ID, partos_registration, post_json, sent_messages


def parsed(message) -> email.message.EmailMessage:
    return email.message_from_string(message.raw_data, policy=email.policy.default)


def register_and_deliver(client, pump, **fields):
    answer = post_json(client, partos_registration(**fields))
    assert answer.status_code == 201, answer.body
    pump.pump_once()
    return json.loads(answer.body)["registration_id"]


def parts(message):
    """``(text, html, invites)``: ``invites`` the calendar parts inside ``multipart/alternative``."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    invites = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    return text, html, invites


@pytest.mark.case("dst-invite")
def test_confirmation_with_invite_in_cest(client, seed_event, pump):
    registration_id = register_and_deliver(client, pump)
    [sent] = sent_messages()
    message = parsed(sent)
    assert message["Subject"] == "Bevestiging: Workshop Best Practices ‘Engagement en mobilisatie’"
    # From: the sending identity (SENDER_EMAIL) with the organiser's name; replies go to the organiser.
    assert message["From"] == "Partos <events@partos.example.org>"
    assert message["Reply-To"] == "Partos <events@partos.example.org>"
    assert message["To"] == "Anna de Vries <anna@example.org>"
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain", "html")) is not None
    # multipart/mixed [multipart/alternative [text/plain, multipart/related [text/html, the check-in QR code],
    # text/calendar; method=REQUEST], invite.ics] (README, "Check-in at the door")
    alternative, attachment = message.get_payload()
    assert [p.get_content_type() for p in alternative.get_payload()] == [
        "text/plain",
        "multipart/related",
        "text/calendar",
    ]
    assert [p.get_content_type() for p in alternative.get_payload()[1].get_payload()] == ["text/html", "image/png"]
    text, html, [invite] = parts(message)
    assert "Wanneer: maandag 5 juni 2023, 14:00-17:00 CEST" in text
    assert "Waar: Partos, Ellermanstraat 18b, Amsterdam" in text
    assert "14:00-17:00 CEST" in html
    assert invite.get_param("method") == "REQUEST" and invite.get_content_charset() == "utf-8"
    assert invite["Content-Transfer-Encoding"] == "quoted-printable"  # never 8bit
    assert attachment.get_content_type() == "application/ics" and attachment.get_filename() == "invite.ics"
    assert attachment.get_content_disposition() == "attachment"
    ics = invite.get_content()
    assert attachment.get_content().decode("utf-8") == ics
    assert "DTSTART;TZID=Europe/Amsterdam:20230605T140000" in ics
    assert "DTEND;TZID=Europe/Amsterdam:20230605T170000" in ics
    assert "BEGIN:VTIMEZONE" in ics and "TZID:Europe/Amsterdam" in ics and "TZNAME:CEST" in ics
    assert f"UID:{registration_id}@event-registration" in ics
    assert "LOCATION:Partos\\, Ellermanstraat 18b\\, Amsterdam" in ics
    assert "METHOD:REQUEST" in ics and "SEQUENCE:0" in ics
    assert "ORGANIZER;CN=Partos:mailto:events@partos.example.org" in ics
    unfolded = ics.replace("\r\n ", "")
    assert ('ATTENDEE;CN="Anna de Vries";CUTYPE=INDIVIDUAL;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT;RSVP=FALSE:'
            "mailto:anna@example.org") in unfolded
    # the calendar entry links to the status page with a view token, never with one that can cancel
    [url] = [line[4:] for line in unfolded.splitlines() if line.startswith("URL:")]
    token = parse_qs(urlsplit(url).query)["token"][0]
    assert tokens.verify_token(registration_id, token, tokens.VIEW)
    assert not tokens.verify_token(registration_id, token, tokens.CANCEL)

    item = store.get_registration_in_event(SEED_EVENT_ID, registration_id)
    assert item["email_state"] == "sent"
    assert item["email_message_id"] == sent.id
    assert item["notifications"]["registered"]["state"] == "sent"


def test_english_registrant_gets_english_email(client, seed_event, pump):
    register_and_deliver(client, pump, language="en")
    message = parsed(sent_messages()[0])
    text, _, _ = parts(message)
    assert message["Subject"] == "Confirmed: Workshop Best Practices ‘Engagement and mobilisation’"
    assert "When: Monday, June 5, 2023, 14:00-17:00 CEST" in text


@pytest.mark.case("html-in-name")
def test_markup_in_name_is_text_everywhere(client, seed_event, pump):
    name = '<a onmouseover="alert(1)">Piet</a> & Zn'
    registration_id = register_and_deliver(client, pump, name=name)
    assert store.get_registration_in_event(SEED_EVENT_ID, registration_id)["name"] == name
    text, html, _ = parts(parsed(sent_messages()[0]))
    assert f"Beste {name}," in text  # plain text: & stays &
    assert "&amp;" not in text
    assert ">Beste &lt;a onmouseover=&#34;alert(1)&#34;&gt;Piet&lt;/a&gt; &amp; Zn,</p>" in html
    assert "<a onmouseover" not in html
    # the form, re-rendered with the typed name, shows it as text too
    page = client.http.post(
        f"/events/{SEED_EVENT_ID}/registrations",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"name=%3Ca+onmouseover%3D%22alert(1)%22%3EPiet%3C%2Fa%3E+%26+Zn&email=bad",
    ).body.decode()
    assert 'value="&lt;a onmouseover=&#34;alert(1)&#34;&gt;Piet&lt;/a&gt; &amp; Zn"' in page
    assert "<a onmouseover" not in page


@pytest.mark.case("display-name-encoding")
def test_a_name_carrying_a_link_is_stored_but_not_greeted(client, seed_event, pump):
    """The public form cannot make the organiser's email carry a stranger's link (README, "Emails")."""
    name = "Anna. URGENT: your seat expires, pay EUR 25 at https://partos-payments.example/pay to keep it"
    registration_id = register_and_deliver(client, pump, name=name, language="en", email="victim@example.org")
    assert store.get_registration_in_event(SEED_EVENT_ID, registration_id)["name"] == name
    message = parsed(sent_messages()[0])
    text, html, invites = parts(message)
    assert text.splitlines()[0] == "Hello,"
    assert '<p style="margin: 0 0 12px 0;">Hello,</p>' in html
    for part in (text, html, message["To"], *(i.get_content() for i in invites)):
        assert "partos-payments" not in part and "URGENT" not in part


@pytest.mark.parametrize(("name", "greeting"), [
    ("Anna de Vries", "Dear Anna de Vries,"),
    ("Zoë Ødegård, MSc", "Dear Zoë Ødegård, MSc,"),
    ("J.R.R. Tolkien", "Dear J.R.R. Tolkien,"),
    ("anna@example.org", "Hello,"),
    ("Anna www.example", "Hello,"),
    ("Anna (pay.example)", "Hello,"),
    ("Anna, call 020 123 4567", "Hello,"),
    ("A" * 81, "Hello,"),
    # initials and titles, written without spaces, are names (round-2 tester's find) ...
    ("J.P.Balkenende", "Dear J.P.Balkenende,"),
    ("Jan de Vries, M.Sc.", "Dear Jan de Vries, M.Sc.,"),
    ("Mw.Drs. de Boer", "Dear Mw.Drs. de Boer,"),
    ("Dr.Mo Ibrahim", "Dear Dr.Mo Ibrahim,"),
    # ... a number in pairs, a full-width or ideographic dot, a capitalised domain are not
    ("Win! Bel 06 12 34 56 78", "Hello,"),
    ("Anna example．com", "Hello,"),
    ("Anna bit。ly", "Hello,"),
    ("Anna Evil.Com", "Hello,"),
    ("Anna Ev.Com/pay", "Hello,"),
])
def test_the_greeting_says_a_name_only_when_nothing_in_it_can_become_a_link(client, seed_event, pump, name, greeting):
    register_and_deliver(client, pump, name=name, language="en")
    assert parts(parsed(sent_messages()[0]))[0].splitlines()[0] == greeting


@given(st.text(max_size=60), st.sampled_from(["https://", "@", "www.", "x.example", "123", "06 12 34", "x。com",
                                             "Ｘ．ｃｏｍ", "Evil.Com"]), st.text(max_size=19))
@settings(max_examples=300, deadline=None)
def test_no_greeting_name_holds_a_link_or_a_phone_number(before, link, after):
    from chalicelib.emails import GREETING_NAME_MAX, greeting_name

    shown = greeting_name(before + link + after)
    assert shown == ""
    clean = greeting_name(before)
    assert len(clean) <= GREETING_NAME_MAX and not any(mark in clean for mark in ("@", "://", "www."))


def test_display_name_is_encoded_and_quoted(client, seed_event, pump):
    register_and_deliver(client, pump, name="Zoë Ødegård, MSc", email="zoe@example.org")
    [sent] = sent_messages()  # SES accepted it
    raw_to = re.search(r"^To: (.*(?:\n .*)*)", sent.raw_data, re.M).group(1)
    assert raw_to.isascii() and "=?utf-8?" in raw_to  # RFC 2047 encoded word
    [address] = parsed(sent)["To"].addresses
    assert address == Address("Zoë Ødegård, MSc", "zoe", "example.org")


def test_idn_domain_is_sent_in_ascii(client, seed_event, pump):
    register_and_deliver(client, pump, email="zoe@exämple.org")
    [address] = parsed(sent_messages()[0])["To"].addresses
    assert address.domain == "xn--exmple-cua.org"


@pytest.mark.case("plus-address")
def test_plus_address_accepted_and_links_work(client, seed_event, pump):
    registration_id = register_and_deliver(client, pump, email="a.devries+workshop@example.org")
    item = store.get_registration_in_event(SEED_EVENT_ID, registration_id)
    assert item["email"] == "a.devries+workshop@example.org"
    text, _html, _ = parts(parsed(sent_messages()[0]))
    urls = re.findall(r"http://127\.0\.0\.1:8000/\S+", text)  # the personal links (the others are calendar links)
    assert len(urls) == 2
    for url in urls:
        assert "devries" not in url and "%2B" not in url and "+" not in url
        parts_of_url = urlsplit(url)
        answer = client.http.get(f"{parts_of_url.path}?{parts_of_url.query}", headers={"Accept": "text/html"})
        assert answer.status_code == 200, url
        assert "Je inschrijving is bevestigd" in answer.body.decode()


@pytest.mark.case("double-submit")
def test_double_submit_stores_one_and_sends_one(client, seed_event, pump):
    body = partos_registration()
    first = post_json(client, body)
    second = post_json(client, body)
    assert (first.status_code, second.status_code) == (201, 409)
    pump.pump_once()
    pump.pump_once()
    assert len(list(store.iter_registrations(SEED_EVENT_ID, consistent=True))) == 1
    assert len(sent_messages()) == 1


def test_ten_concurrent_posts_with_the_same_address_store_one(seed_event, pump):
    def attempt(i):
        try:
            return registrations.register(
                SEED_EVENT_ID, partos_registration(email="Same@Example.org" if i % 2 else "same@example.ORG"), "en"
            )
        except store.AlreadyRegistered:
            return "409"

    with ThreadPoolExecutor(max_workers=10) as pool:
        outcomes = list(pool.map(attempt, range(10)))
    assert sum(1 for o in outcomes if o != "409") == 1
    assert len(list(store.iter_registrations(SEED_EVENT_ID, consistent=True))) == 1
    assert store.get_counters(SEED_EVENT_ID, consistent=True).seats_taken == 1
    pump.pump_once()
    assert len(sent_messages()) == 1


def test_ses_failure_keeps_registration_with_failed_state(client, seed_event, pump, monkeypatch):
    monkeypatch.setenv("SENDER_EMAIL", "Nobody <nobody@unverified.example>")  # not an SES identity: rejected
    registration_id = register_and_deliver(client, pump)
    assert sent_messages() == []
    item = store.get_registration_in_event(SEED_EVENT_ID, registration_id)
    assert item["status"] == "confirmed"
    assert item["email_state"] == "failed"
    assert item["notifications"]["registered"]["state"] == "failed"
    assert item["email_error"].startswith("MessageRejected")
    pump.pump_once()  # nothing left to retry, nothing resent
    assert store.get_registration_in_event(SEED_EVENT_ID, registration_id)["email_state"] == "failed"


# ------------------------------------------------------------------ the look (issue 15)


def test_links_are_buttons_and_short_texts_and_the_text_part_keeps_them_whole(client, seed_event, pump):
    registration_id = register_and_deliver(client, pump)
    text, html, _ = parts(parsed(sent_messages()[0]))
    assert not re.search(r">\s*https?://", html)  # no URL shown as link text
    status = re.search(r'<a href="([^"]+)"[^>]*>Je inschrijving bekijken</a>', html).group(1)
    cancel = re.search(r'<a href="([^"]+)"[^>]*>Annuleer je inschrijving</a>', html).group(1)
    assert status.replace("&amp;", "&") in text and cancel.replace("&amp;", "&") in text
    assert f"/registrations/{registration_id}/cancel?token=" in cancel
    assert 'bgcolor="#24306b"' in html  # the button in the seed's accent colour
    assert '<img src="http://127.0.0.1:8000/static/assets/partos-placeholder.svg" alt="Partos"' in html
    assert '<a href="https://www.partos.nl/"' in html
    assert "font-size: 0." not in html and not re.search(r"font-size:\s*(?:[0-9]|1[01])px", html)  # nothing tiny


def test_calendar_links_carry_the_event_in_utc(client, seed_event, pump):
    from urllib.parse import parse_qs, urlsplit

    register_and_deliver(client, pump, language="en")
    text, html, _ = parts(parsed(sent_messages()[0]))
    google = re.search(r'<a href="([^"]+)"[^>]*>Add to Google Calendar</a>', html).group(1).replace("&amp;", "&")
    outlook = re.search(r'<a href="([^"]+)"[^>]*>Add to Outlook</a>', html).group(1).replace("&amp;", "&")
    assert google.startswith("https://calendar.google.com/calendar/render?action=TEMPLATE&")
    assert "dates=20230605T120000Z/20230605T150000Z" in google  # 14:00-17:00 CEST
    assert outlook.startswith("https://outlook.office.com/calendar/0/deeplink/compose?")
    assert "startdt=2023-06-05T12:00:00Z" in outlook and "enddt=2023-06-05T15:00:00Z" in outlook
    g = parse_qs(urlsplit(google).query)
    assert g["text"] == ["Workshop Best Practices ‘Engagement and mobilisation’"]
    assert g["location"] == ["Partos, Ellermanstraat 18b, Amsterdam"]
    assert "token" not in google and "token" not in outlook  # no personal link in a third party's URL
    assert google in text and outlook in text


def test_waitlist_and_cancel_emails_have_no_calendar_links(client, seed_event, pump):
    from tests.test_capacity import small_event

    small_event(1)
    register_and_deliver(client, pump, email="first@example.org")
    register_and_deliver(client, pump, email="second@example.org")
    text, html, invites = parts(parsed(sent_messages()[1]))
    assert invites == [] and "calendar.google.com" not in html
    assert re.search(r'>Meld je af voor de wachtlijst</a>', html)
    # The status page tells a waitlisted registrant to use the link 'Meld je af voor de wachtlijst' in the
    # email: the text part names it so too (it said "Annuleer dan hier").
    assert "Wil je niet langer op de wachtlijst staan? Meld je af voor de wachtlijst:\r\n" in text
    assert text.rstrip().splitlines()[-1] == "Je ontvangt deze e-mail omdat je je hebt ingeschreven voor dit evenement."


@given(title=st.text(min_size=1, max_size=80).filter(lambda t: t.strip()),
       place=st.text(min_size=1, max_size=60).filter(lambda t: t.strip()))
@settings(max_examples=60, deadline=None)
def test_calendar_links_keep_any_text_exactly(title, place):
    from urllib.parse import parse_qs, urlsplit

    from chalicelib.calendar_links import google_calendar_url, outlook_calendar_url
    from chalicelib.events import load_event_file
    from tests.conftest import EVENTS_DIR

    event = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")
    event = event.model_copy(update={"title": event.title.model_copy(update={"en": title}),
                                     "location": event.location.model_copy(update={"name": place})})
    for url, key in ((google_calendar_url(event, "en"), "text"), (outlook_calendar_url(event, "en"), "subject")):
        parts_of_url = urlsplit(url)
        assert parts_of_url.scheme == "https" and parts_of_url.fragment == ""
        assert not any(c in url for c in " \r\n\"<>")
        query = parse_qs(parts_of_url.query, keep_blank_values=True, errors="strict")
        assert query[key] == [title] and query["location"] == [event.location.one_line()]


@pytest.mark.case("double-submit")
def test_a_repeated_form_post_shows_the_form_with_already_registered_at_the_address(client, seed_event, pump):
    """The second post of the same form (a double click) is refused 409 with the form again and the
    message at the email field; the page never says the event is closed while it is open."""
    from urllib.parse import urlencode

    body = urlencode({"name": "Anna de Vries", "email": "anna@example.org", "language": "nl", "consent": "true",
                      "organisation": "Wilde Ganzen", "role": "campaigner"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "text/html"}
    url = f"/events/{SEED_EVENT_ID}/registrations?lang=nl"
    first = client.http.post(url, headers=headers, body=body)
    second = client.http.post(url, headers=headers, body=body)
    assert (first.status_code, second.status_code) == (303, 409)
    page = second.body.decode()
    assert "Dit e-mailadres is al ingeschreven voor dit evenement." in page
    assert "gesloten" not in page.lower()
    assert '<form' in page and 'value="anna@example.org"' in page
    pump.pump_once()
    assert len(sent_messages()) == 1
