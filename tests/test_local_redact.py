"""No link token in the local service's output (``localservice.redact``; issue 9, "Small leaks")."""

import io
import json
import string
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localservice.redact import REDACTED, RedactingStream, redact

TOKEN = "local1.z4UxL96j3VSi5Lw2_h-Oafv4tiQ0e1jZWe48hbuKNiA"


def test_the_access_log_line_keeps_everything_but_the_token():
    line = f'127.0.0.1 - - [22/May/2023 09:00:01] "GET /registrations/79mOZtVpOXeYKmPtj9_tmw?token={TOKEN}&lang=en HTTP/1.1" 200 -\n'
    assert redact(line) == ('127.0.0.1 - - [22/May/2023 09:00:01] '
                            '"GET /registrations/79mOZtVpOXeYKmPtj9_tmw?token=[redacted]&lang=en HTTP/1.1" 200 -\n')


def test_form_bodies_json_percent_encoding_and_bare_tokens():
    assert redact(f"token={TOKEN}") == "token=[redacted]"
    assert redact(f"next=%2Fx%3Ftoken%3D{TOKEN}%26lang%3Den") == "next=%2Fx%3Ftoken%3D[redacted]%26lang%3Den"
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
@given(registration_id=st.text(min_size=1, max_size=40), key_id=st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
       before=st.text(alphabet=string.printable + "é\u2028\x85", max_size=20),
       after=st.text(alphabet=string.printable + "é\u2028\x85", max_size=20),
       shape=st.sampled_from(["?token={t}&lang=nl", "token={t}", "{t}", '{{"token": "{t}"}}', " {t} ", "/{t}/", "({t})"]))
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
