"""No link token in the local service's output (``localservice.redact``; issue 9, "Small leaks")."""

import io
import json
import socket
import string
import sys
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localservice.redact import REDACTED, RedactingStream, redact

TOKEN = "local1.z4UxL96j3VSi5Lw2_h-Oafv4tiQ0e1jZWe48hbuKNiA"


def test_the_access_log_line_keeps_everything_but_the_token():
    line = (f'127.0.0.1 - - [22/May/2023 09:00:01] "GET /registrations/79mOZtVpOXeYKmPtj9_tmw?token={TOKEN}&lang=en '
            'HTTP/1.1" 200 -\n')
    assert redact(line) == ('127.0.0.1 - - [22/May/2023 09:00:01] '
                            '"GET /registrations/79mOZtVpOXeYKmPtj9_tmw?token=[redacted]&lang=en HTTP/1.1" 200 -\n')


def test_form_bodies_json_percent_encoding_and_bare_tokens():
    assert redact(f"token={TOKEN}") == "token=[redacted]"
    assert redact(f"next=%2Fx%3Ftoken%3D{TOKEN}%26lang%3Den&a=b") == "next=%2Fx%3Ftoken%3D[redacted]&a=b"
    assert redact(json.dumps({"token": TOKEN, "lang": "en"})) == '{"token": "[redacted]", "lang": "en"}'
    assert redact(f"failed: bad link http://127.0.0.1:8000/x/{TOKEN}/y") == "failed: bad link http://127.0.0.1:8000/x/[redacted]/y"


def test_lines_without_tokens_are_unchanged():
    for line in [
        '127.0.0.1 - - [22/May/2023 09:00:01] "POST /events/demo-small-workshop/registrations HTTP/1.1" 201 -',
        "[outbox] 20230522T070001-0001-abc.eml: Confirmed: Workshop Best Practices ‘Engagement and mobilisation’",
        '{"level":"INFO","message":"email sent","registration_id":"79mOZtVpOXeYKmPtj9_tmw","change":"registered"}',
        "Serving on http://127.0.0.1:8000",
    ]:
        assert redact(line) == line


@settings(max_examples=200, deadline=None)
@given(
    registration_id=st.text(min_size=1, max_size=40),
    key_id=st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
    before=st.text(alphabet=string.printable + "é\u2028\x85", max_size=20),
    after=st.text(alphabet=string.printable + "é\u2028\x85", max_size=20),
    shape=st.sampled_from(["?token={t}&lang=nl", "token={t}", "{t}", '{{"token": "{t}"}}', " {t} ", "/{t}/", "({t})"]),
)
def test_no_token_survives_in_any_line(registration_id, key_id, before, after, shape):
    from chalicelib import tokens

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKEN_KEYS", f"{key_id}:a-local-secret")
        token = tokens.make_token(registration_id, tokens.VIEW)
    signature = token.split(".", 1)[1]
    line = before + shape.format(t=token) + after
    assert signature not in redact(line)


def test_the_stream_redacts_a_token_split_over_writes_and_lines_from_threads():
    target = io.StringIO()
    stream = RedactingStream(target)
    stream.write("GET /registrations/x?tok")
    stream.write(f"en={TOKEN[:10]}")
    stream.write(f"{TOKEN[10:]}&lang=en HTTP/1.1\n")
    assert target.getvalue() == f"GET /registrations/x?token={REDACTED}&lang=en HTTP/1.1\n"

    def log(n):
        for _ in range(50):
            stream.write(f"thread {n} ?token={TOKEN}\n")

    threads = [threading.Thread(target=log, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stream.flush()
    lines = target.getvalue().splitlines()[1:]
    assert len(lines) == 200 and TOKEN not in target.getvalue()
    assert all(line.endswith(f"?token={REDACTED}") for line in lines)


SIGNATURE = TOKEN.split(".", 1)[1]


@pytest.mark.parametrize(("line", "shown"), [
    # the server reads %2E as ".": the whole value goes, not only what comes before the first %
    (f"GET /registrations/x?token=local1%2E{SIGNATURE}&lang=en HTTP/1.1",
     "GET /registrations/x?token=[redacted]&lang=en HTTP/1.1"),
    (f"GET /registrations/x?token=local1%2e{SIGNATURE[:9]}%5F{SIGNATURE[10:]} HTTP/1.1",
     "GET /registrations/x?token=[redacted] HTTP/1.1"),
    # the name percent-encoded or in another case
    (f"GET /r/x?%74oken={TOKEN}&lang=nl HTTP/1.1", "GET /r/x?%74oken=[redacted]&lang=nl HTTP/1.1"),
    (f"GET /r/x?lang=nl&%54%4F%4b%45%4e={TOKEN}", "GET /r/x?lang=nl&%54%4F%4b%45%4e=[redacted]"),
    (f'"GET /r/x?ToKeN={TOKEN}" 200', '"GET /r/x?ToKeN=[redacted]" 200'),
    # a query string inside a parameter: the rest of it goes too, up to the next & of the line
    (f"next=%2Fr%3F%2574oken%253Dlocal1%25252E{SIGNATURE}%2526lang%253Den&x=1",
     "next=%2Fr%3F%2574oken%253D[redacted]&x=1"),
    # the thank-you page's receipt: registration id, expiry, key, signature: all of it
    (f"GET /events/e/thanks?ref=79mOZtVpOXeYKmPtj9_tmw.1684739100.local1.{SIGNATURE}&lang=nl HTTP/1.1",
     "GET /events/e/thanks?ref=[redacted]&lang=nl HTTP/1.1"),
    ('{"thanks_url": "/events/e/thanks?ref=79mOZtVpOXeYKmPtj9_tmw.1684739100.local1.x"}',
     '{"thanks_url": "/events/e/thanks?ref=[redacted]"}'),
    (f"{{'token': '{TOKEN}', 'lang': 'nl'}}", "{'token': '[redacted]', 'lang': 'nl'}"),
    # names that only end or start like one are someone else's
    ("GET /x?mytoken=abc&refresh=1&preference=2 HTTP/1.1", "GET /x?mytoken=abc&refresh=1&preference=2 HTTP/1.1"),
])
def test_the_whole_value_of_a_token_or_ref_parameter_is_redacted(line, shown):
    assert redact(line) == shown


def _percent(character: str, depth: int, lower: bool) -> str:
    code = f"{ord(character):02X}"
    return "%" + "25" * depth + (code.lower() if lower else code)


@st.composite
def spelled(draw, text: str) -> str:
    """``text`` with each character as is, in the other case, or percent-encoded (any depth, hex in any case)."""
    out = []
    for character in text:
        how = draw(st.sampled_from(["as is", "swapped", "encoded", "encoded"]))
        if how == "as is":
            out.append(character)
        elif how == "swapped":
            out.append(character.swapcase())
        else:
            out.append(_percent(character, draw(st.integers(0, 2)), draw(st.booleans())))
    return "".join(out)


HOSTILE = string.printable + "é\u2028\x85\u202e%&=?#;'\"+"
# what may sit inside a value: anything but what ends it (&, ASCII white space, ")
INSIDE = st.one_of(st.text(alphabet=st.characters(blacklist_characters='&" \t\n\r\x0b\x0c'), max_size=6),
                   st.sampled_from(["%26", "%2526", "%", "%%", "#", "'", "=", "?", "\u2028", "\x85", "\u3000"]))


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    registration_id=st.from_regex(r"[A-Za-z0-9_-]{22}", fullmatch=True),
    key_id=st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
    before=st.text(alphabet=HOSTILE, max_size=20),
    after=st.text(alphabet=HOSTILE, max_size=20),
    separator=st.sampled_from(["?", "&", " ", '"', "%3F", "%26", "%253f", "(", "\n"]),
    equals=st.sampled_from(["=", "%3D", "%3d", "%253D"]),
    end=st.sampled_from(["&", " ", '"', "\n", ""]),
    junk=INSIDE,
)
def test_no_line_holds_a_signature_however_the_parameter_is_encoded(
    data, registration_id, key_id, before, after, separator, equals, end, junk
):
    """``token=`` or ``ref=`` (name in any case, any character percent-encoded at any depth, also the ``=``)
    with a link token or receipt, its characters percent-encoded at will and hostile text glued inside:
    no line the filter writes holds the signature, nor the value as written."""
    from chalicelib import tokens

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOKEN_KEYS", f"{key_id}:a-local-secret")
        name, secret = data.draw(st.sampled_from([
            ("token", tokens.make_token(registration_id, tokens.VIEW)),
            ("ref", tokens.make_receipt("an-event", registration_id, 1684739100)),
        ]))
    signature = secret.rsplit(".", 1)[1]
    value = data.draw(spelled(secret))
    at = data.draw(st.integers(0, len(value)))
    value = value[:at] + junk + value[at:]
    line = before + separator + data.draw(spelled(name)) + equals + value + end + after
    for shown in (redact(line), _through_stream(line + "\n")):
        assert signature not in shown and value not in shown
        assert REDACTED in shown


def _through_stream(text: str) -> str:
    target = io.StringIO()
    stream = RedactingStream(target)
    stream.write(text)
    stream.flush()
    return target.getvalue()


def test_a_body_longer_than_its_content_length_never_reaches_the_log(monkeypatch):
    """The development server reads a body by its Content-Length and the rest as the next request line,
    which it cannot parse and logs (the registrant's address): the filter shows the status only."""
    from chalice import Chalice
    from chalice.config import Config
    from chalice.local import LocalDevServer

    app = Chalice("overlong-body")

    @app.route("/events/e/registrations", methods=["POST"])
    def register():
        return {"status": "confirmed"}

    captured = io.StringIO()
    monkeypatch.setattr(sys, "stderr", RedactingStream(captured))  # where http.server logs, read at each call
    server = LocalDevServer(app, Config(), "127.0.0.1", 0)
    serving = threading.Thread(target=server.server.serve_forever, daemon=True)
    serving.start()
    body = b'{"name": "Cl", "email": "cl@example.org", "organisation": "Wilde Ganzen"}'
    try:
        with socket.create_connection(server.server.server_address, timeout=30) as client:
            client.sendall(b"POST /events/e/registrations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 12\r\n\r\n" + body)
            client.shutdown(socket.SHUT_WR)  # the rest is read as a request line, up to the end
            answers = b""
            while chunk := client.recv(65536):
                answers += chunk
    finally:
        server.server.shutdown()
        server.server.server_close()
    sys.stderr.flush()
    log = captured.getvalue()
    assert answers.startswith(b"HTTP/1.1 200 ") and b"Error code explanation: 400" in answers  # the app's, the server's
    lines = log.splitlines()
    assert any(line.endswith('"POST /events/e/registrations HTTP/1.1" 200 -') for line in lines), log  # readable
    assert any(line.endswith("] code 400, message Bad request version [unreadable request line]") for line in lines)
    assert any(line.endswith("] [unreadable request line] 400 -") for line in lines), log
    assert "example.org" not in log and "Ganzen" not in log and "organisation" not in log


@pytest.mark.parametrize(("line", "shown"), [
    ('127.0.0.1 - - [22/May/2023 09:00:01] "GET /events/e HTTP/1.1" 200 -', None),
    ('127.0.0.1 - - [22/May/2023 09:00:01] "GET /events/e" 200 -', None),  # HTTP/0.9
    ('127.0.0.1 - - [22/May/2023 09:00:01] "" 414 -', None),  # Request-URI Too Long: nothing to hide
    ('127.0.0.1 - - [22/May/2023 09:00:01] code 431, message Line too long', None),
    ('127.0.0.1 - - [22/May/2023 09:00:01] "e": "cl@example.org", "x": "y HTTP/1.1" 400 -',
     "127.0.0.1 - - [22/May/2023 09:00:01] [unreadable request line] 400 -"),
    ('127.0.0.1 - - [22/May/2023 09:00:01] "anna cl@example.org HTTP/1.1" 405 -',  # a method of lowercase letters
     "127.0.0.1 - - [22/May/2023 09:00:01] [unreadable request line] 405 -"),
    ('127.0.0.1 - - [22/May/2023 09:00:01] "POST /x HTTP/1.1 cl@example.org" 400 -',
     "127.0.0.1 - - [22/May/2023 09:00:01] [unreadable request line] 400 -"),
    ("127.0.0.1 - - [22/May/2023 09:00:01] code 400, message Bad request version ('\"cl@example.org\"}')",
     "127.0.0.1 - - [22/May/2023 09:00:01] code 400, message Bad request version [unreadable request line]"),
    ("127.0.0.1 - - [22/May/2023 09:00:01] code 501, message Unsupported method ('{\"email\":')",
     "127.0.0.1 - - [22/May/2023 09:00:01] code 501, message Unsupported method [unreadable request line]"),
])
def test_only_request_lines_the_server_read_are_shown(line, shown):
    assert redact(line + "\n") == (shown or line) + "\n"


HEAD = "127.0.0.1 - - [22/May/2023 09:00:01] "


@pytest.mark.parametrize(("request_line", "shown"), [
    # the tester's lines: a form's fields sent as a query string, an address as an event id
    ("GET /events/partos-engagement-mobilisatie-2023/registrations?name=Secret+Person"
     "&email=secret.person%40example.org HTTP/1.1",
     "GET /events/partos-engagement-mobilisatie-2023/registrations?name=[redacted]&email=[redacted] HTTP/1.1"),
    ("GET /events/e/register?email=secret2@example.org&name=Secret2 HTTP/1.1",
     "GET /events/e/register?email=[redacted]&name=[redacted] HTTP/1.1"),
    ("POST /events/nonexistent-x@example.org/registrations HTTP/1.1", "POST /events/[redacted]/registrations HTTP/1.1"),
    ("POST /events/x%2540example.org/registrations HTTP/1.1", "POST /events/[redacted]/registrations HTTP/1.1"),
    # lang's value is shown while it is a language tag; names stay, unless a name holds an address or has no value
    ("GET /events/e/register?name=A&email=a%40b.org&lang=en HTTP/1.1",
     "GET /events/e/register?name=[redacted]&email=[redacted]&lang=en HTTP/1.1"),
    ("GET /e?LANG=nl-BE&lang=a%40b&lang=Secret+Person HTTP/1.1",
     "GET /e?LANG=nl-BE&lang=[redacted]&lang=[redacted] HTTP/1.1"),
    ("GET /e?secret@example.org&a%40b=1&Secret HTTP/1.1", "GET /e?[redacted]&[redacted]&[redacted] HTTP/1.1"),
    ("GET /e?a=&&b HTTP/1.1", "GET /e?a=&&[redacted] HTTP/1.1"),
    ("GET http://me@127.0.0.1:8000/e?x=1 HTTP/1.1", "GET http://[redacted]/e?x=[redacted] HTTP/1.1"),
    ("GET /e?x=1", "GET /e?x=[redacted]"),  # HTTP/0.9
    ("GET /events/demo-small-workshop/register?lang=nl HTTP/1.1", None),  # nothing to hide
])
def test_the_access_log_shows_query_names_and_the_language_only(request_line, shown):
    """As deployed (API Gateway logs no query string), no value a person typed reaches the access log."""
    line = f'{HEAD}"{request_line}" 200 -\n'
    assert redact(line) == f'{HEAD}"{shown or request_line}" 200 -\n'


@settings(max_examples=300, deadline=None)
@given(
    name=st.text(alphabet=string.ascii_letters + " éØ'-", min_size=3, max_size=30).filter(lambda t: t.strip()),
    local=st.from_regex(r"[A-Za-z0-9._+-]{3,20}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9-]{3,15}\.[a-z]{2,6}", fullmatch=True),
    depth=st.integers(0, 2),
    safe=st.sampled_from(["", "@", "@+"]),
    where=st.sampled_from(["query", "path", "both"]),
)
def test_no_name_or_address_survives_in_an_access_line(name, local, domain, depth, safe, where):
    from urllib.parse import quote, quote_plus

    address = f"{local}@{domain}"
    encoded_address = quote(address, safe=safe)
    encoded_name = quote_plus(name, safe=safe)
    for _ in range(depth):  # a URL inside a parameter, encoded again
        encoded_address, encoded_name = quote(encoded_address, safe=""), quote(encoded_name, safe="")
    path = f"/events/{encoded_address}/registrations" if where != "query" else "/events/e/registrations"
    query = f"?name={encoded_name}&email={encoded_address}&lang=en" if where != "path" else ""
    shown = redact(f'{HEAD}"POST {path}{query} HTTP/1.1" 201 -\n')
    assert local not in shown and domain not in shown and encoded_name not in shown
    assert shown.endswith(' HTTP/1.1" 201 -\n') and ("&lang=en " in shown) == (where != "path")
