"""No registrant can make our emails reach anyone else (README, "Emails"): every send names its one
recipient, display names are encoded so no decoder reads an address or a header out of them, and a
message that fails the one-recipient check is never sent."""

from __future__ import annotations

import base64
import binascii
import email
import email.policy
import json
import re
from datetime import UTC, datetime
from email.utils import getaddresses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib import delivery, emails, publishing, store, tokens
from chalicelib.events import LineText, load_event_file
from tests.conftest import EVENTS_DIR, SEED_EVENT_ID, partos_registration, post_json, sent_messages

DEMO = "demo-small-workshop"
B_NAME = "=?utf-8?b?eCA8cjFAZXZpbC5leGFtcGxlPiwgeSA8cjJAZXZpbC5leGFtcGxlPg==?="  # x <r1@evil.example>, y <r2@...>
Q_NAME = "=?utf-8?q?a=0D=0ABcc:_evil@evil.example?="  # a CRLF Bcc: evil@evil.example
RECIPIENT_HEADERS = ("to", "cc", "bcc", "resent-to", "resent-cc", "resent-bcc", "apparently-to", "delivered-to",
                     "x-original-to", "envelope-to")
PROPERTY = settings(derandomize=True, database=None, deadline=None, max_examples=80,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])


def destinations(sent) -> set[str]:
    """The addresses SES was asked to deliver to (moto: ``Destination`` plus the header recipients)."""
    return {addr for _, addr in getaddresses(sent.destinations)}


def head_of(raw: bytes) -> str:
    return raw.partition(b"\r\n\r\n")[0].decode("ascii")


def assert_one_recipient(raw: bytes, recipient: str) -> None:
    """Independent of ``emails.check_message``: how a standard parser, a legacy one (as moto and many
    relays read headers) and a line-by-line reader see the recipients of ``raw``."""
    head = head_of(raw)
    # every header line is one of ours or a folded continuation; no bare CR or LF
    assert "\r" not in head.replace("\r\n", "") and "\n" not in head.replace("\r\n", "")
    for line in head.split("\r\n"):
        assert line[:1] in (" ", "\t") or line.split(":", 1)[0] in emails.TOP_LEVEL_HEADERS, line
    modern = email.message_from_bytes(raw, policy=email.policy.default)
    assert [n.lower() for n in modern if n.lower() in RECIPIENT_HEADERS] == ["to"]
    [to] = modern["To"].addresses
    assert to.addr_spec == recipient
    assert "@" not in to.display_name and "<" not in to.display_name and "=?" not in to.display_name
    legacy = email.message_from_bytes(raw, policy=email.policy.compat32)
    fields = [v for name in ("to", "cc", "bcc") for v in legacy.get_all(name, [])]
    assert [addr for _, addr in getaddresses(fields)] == [recipient]


def parsed(sent) -> email.message.EmailMessage:
    return email.message_from_string(sent.raw_data, policy=email.policy.default)


@pytest.fixture
def demo_event(aws):
    event = load_event_file(EVENTS_DIR / f"{DEMO}.yaml")
    store.put_event(event)
    return event


def register(client, name: str, address: str, event_id: str = DEMO) -> dict:
    answer = post_json(client, {"name": name, "email": address, "consent": True}, event_id=event_id)
    assert answer.status_code == 201, answer.body
    return json.loads(answer.body)


# ------------------------------------------------------------------ the inputs, every kind of email


@pytest.mark.case("encoded-word-recipients")
def test_encoded_word_names_reach_only_the_registrant_in_every_kind_of_email(client, demo_event, pump):
    a = register(client, B_NAME, "victim1@example.org")
    register(client, Q_NAME, "victim2@example.org")
    c = register(client, B_NAME, "victim3@example.org")
    assert c["status"] == "waitlisted"
    pump.pump_once()
    cancel = client.http.post(f"/registrations/{a['registration_id']}/cancel",
                              headers={"Content-Type": "application/json"},
                              body=json.dumps({"token": tokens.make_token(a["registration_id"], tokens.CANCEL)}))
    assert cancel.status_code == 200
    pump.pump_once()
    sent = sent_messages()
    kinds = [(parsed(m)["To"].addresses[0].addr_spec, parsed(m)["Subject"].split(":")[0]) for m in sent]
    assert sorted(kinds) == sorted([
        ("victim1@example.org", "Confirmed"), ("victim2@example.org", "Confirmed"),
        ("victim3@example.org", "On the waitlist"), ("victim1@example.org", "Registration cancelled"),
        ("victim3@example.org", "A seat is yours"),
    ])
    for message in sent:
        owner = parsed(message)["To"].addresses[0].addr_spec
        assert destinations(message) == {owner}  # what SES would really use
        assert_one_recipient(message.raw_data.encode(), owner)
        head = head_of(message.raw_data.encode())
        assert "evil" not in head and "Bcc" not in head
        assert f"\r\nTo: {owner}\r\n" in head  # a name that looks like an address or encoded-word is left out
        # neither is greeted: Q_NAME holds "@" and ":", B_NAME more digits than a name (README, "Emails")
        body = parsed(message).get_body(("plain",)).get_content()
        assert "=?utf-8?" not in body and "evil" not in body
        assert body.splitlines()[0] in ("Hello,", "Hallo,")


@pytest.mark.case("encoded-word-recipients")
def test_quoted_printable_crlf_name_yields_no_bcc_line(client, demo_event, pump):
    register(client, Q_NAME, "victim1@example.org")
    pump.pump_once()
    [sent] = sent_messages()
    assert destinations(sent) == {"victim1@example.org"}
    message = parsed(sent)
    assert message["Bcc"] is None and message["Cc"] is None
    assert [a.addr_spec for a in message["To"].addresses] == ["victim1@example.org"]


def test_plain_and_non_ascii_names_keep_their_display_name(client, seed_event, pump):
    post_json(client, partos_registration(name="Anna de Vries"))
    post_json(client, partos_registration(name='Zoë "Z" Ødegård, MSc (NL)', email="zoe@exämple.org"))
    pump.pump_once()
    to = {str(a.addr_spec): a.display_name for m in sent_messages() for a in parsed(m)["To"].addresses}
    assert to == {"anna@example.org": "Anna de Vries", "zoe@xn--exmple-cua.org": 'Zoë "Z" Ødegård, MSc (NL)'}
    zoe = next(m for m in sent_messages() if "zoe@" in m.raw_data)
    assert "\r\nTo: =?utf-8?" in head_of(zoe.raw_data.encode())  # one RFC 2047 encoded-word, nothing raw


@pytest.mark.parametrize("name", ["Anna\u2028Bcc: evil@evil.example", "Anna\u2029de Vries", "Anna\x85de Vries",
                                  "Anna\r\nBcc: evil@evil.example", "Anna\u202ede Vries"])
def test_names_with_line_separators_are_refused_at_registration(client, seed_event, name):
    answer = post_json(client, partos_registration(name=name, language="en"))
    assert answer.status_code == 422
    assert json.loads(answer.body)["errors"] == [
        {"field": "name", "code": "control_characters", "message": "Remove the control characters."}]


@pytest.mark.parametrize("address", ["=?utf-8?b?ZXZpbEBldmlsLmV4YW1wbGU+?=@example.org",
                                     "=?x?q?a=40evil.example?=@example.org", "a=?b@example.org"])
def test_addresses_holding_an_encoded_word_are_refused_at_registration(client, demo_event, address):
    """Some parsers decode an encoded-word even inside an address; no mailbox needs one."""
    answer = post_json(client, {"name": "Anna", "email": address, "consent": True}, event_id=DEMO)
    assert answer.status_code == 422
    assert [(e["field"], e["code"]) for e in json.loads(answer.body)["errors"]] == [("email", "invalid_email")]


# ------------------------------------------------------------------ the check before sending


def _raw(to: str, *extra: str) -> bytes:
    lines = ["From: Partos Events <events@partos.example.org>", f"To: {to}",
             "Reply-To: Partos <events@partos.example.org>",
             "Subject: Hi", "Date: Mon, 22 May 2023 07:00:00 +0000", "Message-ID: <1@partos.example.org>",
             "Auto-Submitted: auto-generated", "MIME-Version: 1.0", "Content-Type: text/plain", "Content-Language: en",
             *extra]
    return ("\r\n".join(lines) + "\r\n\r\nHello\r\n").encode()


@pytest.mark.parametrize("raw, reason", [
    # what Python 3.11.7's header registry made of the issue's names
    (_raw("x <r1@evil.example>, y <r2@evil.example> <victim1@example.org>"), "To holds 2 addresses, not 1"),
    (_raw("a", "Bcc: evil@evil.example <victim1@example.org>"),
     "header fields are not the expected ones (unexpected: bcc"),
    (_raw("victim1@example.org", "Cc: evil@evil.example"), "header fields are not the expected ones (unexpected: cc"),
    (_raw("victim1@example.org", "Resent-To: evil@evil.example"), "unexpected: resent-to"),
    (_raw("victim1@example.org", "To: evil@evil.example"), "header fields are not the expected ones (unexpected: none"),
    (_raw("undisclosed:; victim1@example.org"), "the message cannot be read back: AttributeError"),
    (_raw("undisclosed: victim1@example.org;"), "To holds a group"),
    (_raw("evil@evil.example"), "To is not the registrant's address"),
    (_raw("victim1@example.org\nBcc: evil@evil.example"), "bare CR or LF"),
    (_raw("Zoë <victim1@example.org>".encode().decode("latin-1")), "not ASCII"),
])
def test_message_that_could_reach_someone_else_fails_the_check(raw, reason):
    with pytest.raises(emails.UnsafeMessage) as refused:
        emails.OutgoingEmail(recipient="victim1@example.org", raw=raw, kind="confirmed")
    assert str(refused.value).startswith(reason) or reason in str(refused.value)
    assert "evil" not in str(refused.value) and "victim" not in str(refused.value)  # no address in the reason


def test_only_a_checked_message_can_be_sent(aws):
    with pytest.raises(TypeError):
        delivery._send(_raw("victim1@example.org"), "Partos Events <events@partos.example.org>")
    assert sent_messages() == []


def test_message_failing_the_check_is_never_sent_and_recorded_failed(client, demo_event, pump, monkeypatch):
    """Defence in depth: were the encoder to regress to writing names raw (as the header registry
    did), the check stops the message and the registration records why."""
    monkeypatch.setattr(emails, "mailbox", lambda header, name, addr: f"{emails.one_line(name)} <{addr}>")
    answer = register(client, "Jansen, Anna", "victim1@example.org")  # written raw: two mailboxes
    pump.pump_once()
    assert sent_messages() == []
    item = store.get_registration_in_event(DEMO, answer["registration_id"])
    assert item["status"] == "confirmed"
    assert item["email_state"] == "failed"
    assert item["notifications"]["registered"]["state"] == "failed"
    assert item["notifications"]["registered"]["reason"] == "UnsafeMessage: To holds 2 addresses, not 1"
    pump.pump_once()  # nothing to retry
    assert sent_messages() == []


# ------------------------------------------------------------------ properties over hostile names

CHARSETS = ["utf-8", "UTF-8", "us-ascii", "iso-8859-1", "iso-8859-15", "windows-1252", "koi8-r", "shift_jis",
            "euc-jp", "gb2312", "big5", "utf-16", "utf-16-le", "utf-7", "unknown-8bit", "x-no-such-charset",
            "utf-8*en"]
HOSTILE = ["<", ">", ",", ";", ":", "@", '"', "\\", "(", ")", "[", "]", " ", "\t", "\r\n", "\n", "\r", "\x85",
           "\u2028", "\u2029", "\x0b", "\x0c", "\x1c", "\x00", "\u202e", "\ud800", "=?", "?=", "_", "=0D=0A",
           "=0A", "evil@evil.example", "<r1@evil.example>", "x <r1@evil.example>, y <r2@evil.example>",
           "\r\nBcc: evil@evil.example", "\nCc: e2@evil.example", "Resent-To: e3@evil.example",
           "undisclosed-recipients:;", '"a@b" <c@d>', "Zoë", "Ødegård", "李小龍", "🙂", "\u200b", "\ufeff"]
pieces = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=8))
hostile_text = st.lists(pieces, max_size=10).map("".join)


@st.composite
def encoded_words(draw) -> str:
    """An RFC 2047 encoded-word of any charset and either encoding, carrying hostile text."""
    charset = draw(st.sampled_from(CHARSETS))
    encoding = draw(st.sampled_from("bBqQ"))
    text = draw(hostile_text)
    try:
        data = text.encode(charset.split("*")[0], errors="replace")
    except (LookupError, UnicodeError):
        data = text.encode("utf-8", errors="surrogatepass")
    if encoding in "bB":
        payload = base64.b64encode(data).decode()
    else:
        payload = binascii.b2a_qp(data, header=True).decode().replace("?", "=3F").replace("=\n", "")
    return f"=?{charset}?{encoding}?{draw(st.sampled_from([payload, payload + '=0D=0ABcc:_evil@evil.example']))}?="


names = st.one_of(
    hostile_text,
    encoded_words(),
    st.lists(st.one_of(encoded_words(), hostile_text), min_size=2, max_size=5).map(" ".join),
    st.text(),
    st.builds(lambda text, times: (text or "x <e@evil.example>, ") * times, hostile_text, st.integers(20, 300)),
)
addresses = st.sampled_from([("victim1@example.org", "victim1@example.org"),
                             ("Victim.Two+tag@Example.org", "Victim.Two+tag@example.org"),
                             ("zoe@exämple.org", "zoe@xn--exmple-cua.org")])
#: ``(change, status)`` of every email kind in the kinds table (a new kind is covered as soon as it is
#: there), and every case of calendar part (``updated`` while confirmed and while waiting, ...).
KINDS = list(dict.fromkeys([*emails.EMAIL_CASES, *(publishing.change_and_status(kind) for kind in emails.SUBJECTS)]))
NOW = datetime(2023, 5, 22, 7, 0, tzinfo=UTC)
SEED = load_event_file(EVENTS_DIR / f"{SEED_EVENT_ID}.yaml")


UPDATE = {"changes": ["time", "place"],
          "previous": {"starts_at": "2023-06-05T11:00:00Z", "ends_at": "2023-06-05T14:00:00Z",
                       "timezone": "Europe/Amsterdam", "place": "Elders, Straat 1, Utrecht", "country": "NL"}}


def build(name: str, address: str, change: str, status: str, event=SEED,
          sender="Partos Events <events@partos.example.org>"):
    registration = {"registration_id": "r-1", "name": name, "email": address, "language": "en", "status": status}
    return emails.build_email(event=event, registration=registration, change=change, sender=sender,
                              base_url="https://api.example.org", view_token="k1.abc", cancel_token="k1.def", now=NOW,
                              waitlist_position=3, sequence=1, update=UPDATE)


@PROPERTY
@given(name=names, address=addresses)
def test_any_name_gives_exactly_one_recipient_in_every_kind_of_email(name, address):
    """The builder is called directly, with names the registration model would refuse too."""
    typed, recipient = address
    for change, status in KINDS:
        outgoing = build(name, typed, change, status)
        assert outgoing.recipient == recipient
        assert_one_recipient(outgoing.raw, recipient)


def _no_surrogates(text: str) -> bool:
    return not any("\ud800" <= ch <= "\udfff" for ch in text)  # the event model refuses them


@PROPERTY
@given(title=(hostile_text | encoded_words()).filter(lambda t: t and _no_surrogates(t)),
       organiser=names.filter(_no_surrogates))
def test_hostile_event_titles_and_organiser_names_add_no_recipient(title, organiser):
    """Event files are the staff's, but a title or organiser name is text like a registrant's name.

    The event model refuses line breaks and control characters in them now (tests/test_publishing.py);
    a definition stored before that is read back as it is, so the emails must stay safe regardless:
    the title is built here without the model's checks."""
    event = SEED.model_copy(update={"title": LineText.model_construct(nl=title, en=title),
                                    "organiser": SEED.organiser.model_copy(update={"name": organiser})})
    for change, status in KINDS:
        outgoing = build("Anna", "anna@example.org", change, status, event=event)
        assert_one_recipient(outgoing.raw, "anna@example.org")
        message = email.message_from_bytes(outgoing.raw, policy=email.policy.default)
        assert [a.addr_spec for a in message["From"].addresses] == ["events@partos.example.org"]
        assert [a.addr_spec for a in message["Reply-To"].addresses] == ["events@partos.example.org"]


@settings(PROPERTY, max_examples=30)
@given(name=names, address=addresses)
def test_any_name_reaches_only_the_registrant_through_ses(aws, name, address):
    """Through the real SES call (moto): ``Destination`` plus whatever SES could read from the headers."""
    typed, recipient = address
    for change, status in KINDS:
        before = len(sent_messages())
        message_id = delivery._send(build(name, typed, change, status), aws["SENDER_EMAIL"])
        [sent] = sent_messages()[before:]
        assert sent.id == message_id
        assert destinations(sent) == {recipient}


ENCODED_WORD = re.compile(rb"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")


@settings(PROPERTY, max_examples=40)
@given(name=names, address=addresses, organiser=names.filter(_no_surrogates))
def test_every_line_keeps_the_rfc_limits_in_every_kind_of_email(name, address, organiser):
    """Header lines at most 78 characters (RFC 5322 2.1.1; the header's own name counted), encoded-words
    at most 75 (RFC 2047 section 2), quoted-printable lines at most 76 (RFC 2045 section 6.7). A tester
    found 79-83 character To/Reply-To lines, 77-character encoded-words in reminder subjects and
    78-character quoted-printable lines in every email."""
    event = SEED.model_copy(update={"organiser": SEED.organiser.model_copy(update={"name": organiser})})
    for change, status in KINDS:
        raw = build(name, address[0], change, status, event=event).raw
        head, _, _ = raw.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            assert len(line) <= 78, (change, line)
            assert all(len(word) <= 75 for word in ENCODED_WORD.findall(line)), (change, line)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        for part in message.walk():
            if part.get("Content-Transfer-Encoding", "").lower() == "quoted-printable":
                lines = part.get_payload(decode=False).splitlines()
                assert all(len(line) <= 76 for line in lines), (change, part.get_content_type())
