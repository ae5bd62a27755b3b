"""No link token (nor thank-you page receipt), no query value but the language, no address in a path,
and no request line the server could not read, in any line the local service writes.

A registrant's link token (``<key id>.<HMAC-SHA256, base64url>``, README "Seats,
waitlist and cancellation") is as good as a password for their registration.
The Chalice development server logs every request line, query string included
(``GET /registrations/<id>?token=...``), and an error message may quote a link
from an email. :func:`install` wraps ``sys.stdout`` and ``sys.stderr`` so that
every line, whoever writes it (access log, stream poller, outbox, the app's
logger, moto), is passed through :func:`redact` first.

The server (``http.server``, under Chalice's handler) reads a request's body by its
``Content-Length``; what a client sent beyond it is read as the next request line and
logged, twice, when it cannot be parsed: ``code 400, message Bad request syntax
('"email":"cl@example.org"}')`` and ``"<that line>" 400 -``. That is a registrant's personal
data, so such a line is shown as ``[unreadable request line]`` with its status: in an access
log line, any request line that is not ``METHOD target HTTP/x.y`` (or HTTP/0.9's ``GET target``),
and in the server's error line, whatever it quotes in parentheses.

Deployed, API Gateway's access log holds the path and never the query string (README "Logs"). The
local access log keeps the request's shape and hides what a registrant may have typed into it
(:func:`request_target`): every query parameter's value but ``lang``'s
(``?name=[redacted]&email=[redacted]&lang=en``), and every path segment that holds an address
(``/events/[redacted]/registrations`` for ``/events/x@example.org/registrations``, ``%40`` too).
"""

from __future__ import annotations

import io
import re
import sys
import threading
from typing import TextIO

#: What a redacted value is replaced with.
REDACTED = "[redacted]"

#: Query and form parameters whose value is a secret: ``token`` (a link token, README "Seats, waitlist
#: and cancellation") and ``ref`` (the thank-you page's receipt, README "The registration page": for an
#: hour it shows whose registration it is and the address the email went to).
SECRET_PARAMETERS = ("token", "ref")

# A percent-encoding at any depth: %2E, %252E (a URL inside a parameter), ...
_ENCODED = "%(?:25)*"


def _spelled(name: str) -> str:
    """A pattern for ``name`` with each character as it is or percent-encoded, any depth (with re.I: any case)."""
    return "".join(f"(?:{re.escape(c)}|{_ENCODED}(?:{ord(c.lower()):02X}|{ord(c.upper()):02X}))" for c in name)


# ``token=<value>`` in a query string or form body, the name in any case, any of its characters
# percent-encoded, the ``=`` too (``token%3D``: a query string inside a parameter). The value is everything
# up to the next ``&``, ASCII white space or ``"`` (what ends it in a request line or a log), whatever it
# holds: ``local1%2E<signature>`` is read by the server as ``local1.<signature>``. Behind an encoded ``=``
# that is also the rest of the inner query string (its ``%26`` is not a stop): more is hidden, never less.
_TOKEN_PARAMETER = re.compile(
    rf"((?:^|[^A-Za-z0-9_%]|{_ENCODED}(?:3F|26))"  # start, or what comes before a parameter (?, &, encoded)
    rf"(?:{'|'.join(_spelled(name) for name in SECRET_PARAMETERS)})"
    rf"(?:=|{_ENCODED}3D))"
    r"[^&\"\t\n\v\f\r ]+",
    re.IGNORECASE,
)
# ``"token": "<value>"`` in JSON, and ``'token': '<value>'`` in a Python dict's repr.
_TOKEN_JSON = re.compile(rf"(?i)(([\"'])(?:{'|'.join(SECRET_PARAMETERS)})\2\s*:\s*([\"']))(?:(?!\3).)*(\3)")
# A token standing alone: key id, a dot, 43 base64url characters (32 bytes of HMAC-SHA256, no padding);
# a longer run is redacted too (a token with text glued to it).
_TOKEN_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{1,64}\.[A-Za-z0-9_-]{43,}")


#: What a request line the server could not read is shown as.
UNREADABLE = "[unreadable request line]"

# http.server's log lines: "<client> - - [<time>] <message>"; the access line's message is
# '"<request line>" <status> <size>' (the request line may hold any character, quotes too), an
# error's 'code <status>, message <text>', where the text quotes what could not be read:
# "Bad request syntax ('...')", "Bad request version ('...')", "Unsupported method ('...')", ...
_SERVER_LOG = r"^(?P<head>\S+ - - \[[^\]\n]*\] )"
_ACCESS_LINE = re.compile(_SERVER_LOG + r'"(?P<request>.*)" (?P<tail>(?:\d{3}|-) \S+)$', re.MULTILINE)
_ERROR_LINE = re.compile(_SERVER_LOG + r"(?P<code>code \d{3}, message )(?P<text>[^(\n]*?) ?\(.*$", re.MULTILINE)
# A request line the server read: a method, a target without spaces, the version (HTTP/0.9: GET and a path).
# (A line that matches with no version is HTTP/0.9's only when its method is GET.)
_READABLE_REQUEST = re.compile(r"(?:(?P<method>[A-Z]+) (?P<target>\S+)(?P<version> HTTP/\d\.\d)?)?")


#: Query parameters whose value the access log shows: the page's language (README "The registration page").
SHOWN_PARAMETERS = ("lang",)
# An address's "@", as it is or percent-encoded at any depth (%40, %2540, ...).
_ADDRESS_SIGN = re.compile(rf"@|{_ENCODED}40")
# A value of lang= worth showing: a language tag (RFC 5646's shape), nothing a person typed.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*")


def request_target(target: str) -> str:
    """A request target (``/path?query``) as the access log shows it: a path segment holding an ``@``
    (or ``%40``, any depth of percent-encoding) becomes :data:`REDACTED`, and so does every query
    parameter's value except a language tag in one of :data:`SHOWN_PARAMETERS`; the names stay
    (one that holds an ``@`` goes too, and a parameter without ``=`` is a value). Empty values stay empty.
    """
    path, question, query = target.partition("?")
    shown = "/".join(REDACTED if _ADDRESS_SIGN.search(segment) else segment for segment in path.split("/"))
    if not question:
        return shown
    parameters = []
    for parameter in query.split("&"):
        name, equals, value = parameter.partition("=")
        if not equals or _ADDRESS_SIGN.search(name):
            parameters.append(REDACTED if parameter else "")
        elif not value or (name.lower() in SHOWN_PARAMETERS and _LANGUAGE_TAG.fullmatch(value)):
            parameters.append(parameter)
        else:
            parameters.append(f"{name}={REDACTED}")
    return f"{shown}?{'&'.join(parameters)}"


def _access_line(line: re.Match[str]) -> str:
    """An access log line: the request as :func:`request_target` shows it, or :data:`UNREADABLE`."""
    request = _READABLE_REQUEST.fullmatch(line["request"])
    if request is None or (request["target"] and not request["version"] and request["method"] != "GET"):
        return f"{line['head']}{UNREADABLE} {line['tail']}"
    if not request["target"]:
        return line[0]  # an empty request line (414): nothing to hide
    shown = f"{request['method']} {request_target(request['target'])}{request['version'] or ''}"
    return f"{line['head']}\"{shown}\" {line['tail']}"


def _readable_requests_only(text: str) -> str:
    """``text`` with every request line the server could not read shown as :data:`UNREADABLE`, and the
    target of every one it read as :func:`request_target` shows it."""
    text = _ERROR_LINE.sub(lambda m: f"{m['head']}{m['code']}{m['text']} {UNREADABLE}", text)
    return _ACCESS_LINE.sub(_access_line, text)


def redact(text: str) -> str:
    """``text`` with every request line the server could not read replaced by ``[unreadable request line]``
    (a body beyond its ``Content-Length`` may hold personal data), the target of every access log line it
    read as :func:`request_target` shows it (query values but ``lang``'s, path segments holding an
    address), and every link token and receipt by ``[redacted]``: the whole value of a
    :data:`SECRET_PARAMETERS` parameter (however its name or value is percent-encoded), of such a JSON
    field, and anything shaped like a token; nothing else changes."""
    text = _readable_requests_only(text)
    text = _TOKEN_PARAMETER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _TOKEN_JSON.sub(lambda m: m.group(1) + REDACTED + m.group(4), text)
    return _TOKEN_SHAPE.sub(REDACTED, text)


class RedactingStream(io.TextIOBase):
    """A text stream that writes whole lines of ``target`` through :func:`redact`.

    Text is held until its line ends (so a token split over two ``write`` calls is
    still seen whole); ``flush()`` writes a held partial line too. Safe to share
    between threads (the server answers each request in its own thread).
    """

    def __init__(self, target: TextIO):
        super().__init__()
        self.target = target
        self._pending = ""
        self._lock = threading.Lock()

    def write(self, text: str) -> int:  # io.TextIOBase
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, _, self._pending = self._pending.rpartition("\n")
                self.target.write(redact(complete + "\n"))
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self.target.write(redact(self._pending))
                self._pending = ""
            self.target.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")


def install() -> None:
    """Route ``sys.stdout`` and ``sys.stderr`` through :func:`redact` (idempotent).

    Call it before anything creates a logging handler, which keeps the stream it was given.
    """
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream))
