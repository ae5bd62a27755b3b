"""The local server's answers to malformed HTTP framing (``localservice.gateway``), sent as raw bytes."""

import json
import socket
import struct
import threading
import time

import pytest

from localservice import gateway
from localservice.redact import redact

#: Seconds a socket read may wait: generous for a loaded machine (a read ends as soon as bytes or EOF come).
READ_SECONDS = 60


@pytest.fixture
def server(capsys):
    """A development server with the local service's handler, for an app that echoes the body's length;
    yields ``(address, log)`` where ``log()`` is what the server wrote to stderr so far, through the
    local service's filter (``localservice.redact``)."""
    from chalice import Chalice
    from chalice.config import Config
    from chalice.local import create_local_server

    app = Chalice("framing")

    @app.route("/echo", methods=["POST", "GET"])
    def echo():
        return {"length": len(app.current_request.raw_body or b"")}

    config = Config()
    local = create_local_server(app, config, "127.0.0.1", 0)
    gateway.install(local, app, config)
    serving = threading.Thread(target=local.server.serve_forever, daemon=True)
    serving.start()

    captured = []

    def log() -> str:  # http.server and socketserver write to sys.stderr, which capsys holds in every thread
        captured.append(capsys.readouterr().err)
        return redact("".join(captured))

    try:
        yield local.server.server_address, log
    finally:
        local.server.shutdown()
        local.server.server_close()


def exchange(address, data: bytes, *, half_close: bool = True) -> bytes:
    """Send ``data`` and read every byte the server sends until it closes the connection."""
    with socket.create_connection(address, timeout=READ_SECONDS) as client:
        client.sendall(data)
        if half_close:
            client.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := client.recv(65536):
            received += chunk
    return received


def answers(raw: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Each answer in ``raw``: ``(status, headers (names in lower case), body)``, read by Content-Length."""
    found = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
        length = int(headers.get("content-length", "0"))
        found.append((int(status_line.split()[1]), headers, rest[:length]))
        raw = rest[length:]
    return found


MALFORMED_LENGTH = {
    "type": "/problems/malformed-body", "title": "Malformed request body", "status": 400,
    "detail": "The Content-Length header must be one whole number of bytes (RFC 9110, section 8.6).",
}


@pytest.mark.parametrize("lengths", [
    [b"abc"], [b"-1"], [b"1e3"], [b"+5"], [b"\xc2\xb2"], [b"5, 6"], [b"5", b"6"], [b""],
])
def test_a_content_length_that_is_not_a_byte_count_is_400_and_closes(server, lengths):
    """Was a ValueError traceback in the log and no answer at all."""
    address, log = server
    headers = b"".join(b"Content-Length: " + value + b"\r\n" for value in lengths)
    raw = exchange(address, b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + headers
                   + b"\r\n{\"a\": 1}GET /echo HTTP/1.1\r\n\r\n", half_close=False)
    [(status, headers, body)] = answers(raw)  # closed after it: nothing after it was read as a request
    assert (status, headers["content-type"], headers["connection"]) == (400, "application/problem+json", "close")
    assert (headers["cache-control"], headers["x-content-type-options"]) == ("no-store", "nosniff")  # as all answers
    assert json.loads(body) == MALFORMED_LENGTH
    assert "Traceback" not in log() and "Error" not in log()


def test_an_equal_repeated_content_length_is_one_length(server):
    address, _ = server
    raw = exchange(address, b"POST /echo HTTP/1.1\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n"
                            b"Connection: close\r\n\r\nabc")
    [(status, _, body)] = answers(raw)
    assert (status, json.loads(body)) == (200, {"length": 3})


def test_a_content_length_over_the_gateway_limit_is_413_unread(server):
    """99999999999999999999999 was an OverflowError traceback; API Gateway takes at most 10 MB."""
    address, log = server
    for length in (b"99999999999999999999999", str(gateway.GATEWAY_PAYLOAD_BYTES + 1).encode()):
        raw = exchange(address, b"POST /echo HTTP/1.1\r\nContent-Length: " + length + b"\r\n\r\n{}")
        [(status, headers, body)] = answers(raw)
        assert (status, headers["content-type"], headers["connection"]) == (413, "application/problem+json", "close")
        assert json.loads(body) == {
            "type": "/problems/body-too-large", "title": "Request body too large", "status": 413,
            "detail": f"The body is {length.decode()} bytes; at most 10485760 are accepted."}
    assert "Traceback" not in log()


def test_a_body_shorter_than_its_content_length_is_400(server):
    address, _ = server
    [(status, _, body)] = answers(exchange(address, b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"))
    assert (status, json.loads(body)["detail"]) == (400, "The body ended after 3 of the 10 bytes its Content-Length "
                                                         "announced.")


def test_a_chunked_body_is_411_and_its_chunks_are_never_read_as_a_request(server):
    """Was 400 for the request, then its chunk data read as the next request line (a second 400)."""
    address, log = server
    raw = exchange(address, b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"1c\r\n{\"email\": \"cl@example.org\"}\r\n0\r\n\r\n", half_close=False)
    [(status, headers, body)] = answers(raw)
    assert (status, headers["content-type"], headers["connection"]) == (411, "application/problem+json", "close")
    assert json.loads(body) == gateway.LENGTH_REQUIRED == {
        "type": "/problems/length-required", "title": "Length required", "status": 411,
        "detail": "Send the body with a Content-Length header and no Transfer-Encoding: a chunked body is not read."}
    lines = log().splitlines()
    assert len(lines) == 1 and lines[0].endswith('"POST /echo HTTP/1.1" 411 -'), lines


@pytest.mark.parametrize(("request_bytes", "status", "detail"), [
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", 414, "The URL is too long."),
    (b"GET /echo HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(101)) + b"\r\n", 431,
     "The request has too many header lines, or one too long."),
    (b"GET /echo HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n", 431,
     "The request has too many header lines, or one too long."),
    (b"GET /echo HTTP/2.0\r\n\r\n", 505, "Only HTTP/1.0 and HTTP/1.1 are served."),
    (b"\"email\": \"cl@example.org\"}\r\n\r\n", 400, "The request line or its headers could not be read."),
])
def test_what_the_server_cannot_read_is_problem_json_not_an_html_page(server, request_bytes, status, detail):
    address, log = server
    [(got, headers, body)] = answers(exchange(address, request_bytes))
    assert (got, headers["content-type"], headers["connection"]) == (status, "application/problem+json", "close")
    assert json.loads(body) == {"type": "/problems/bad-request", "title": "Request refused", "status": status,
                                "detail": detail}
    assert "example.org" not in log() and "Traceback" not in log()


def test_a_keep_alive_connection_still_serves_requests_one_after_another(server):
    address, _ = server
    raw = exchange(address, b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\n\r\nabGET /echo HTTP/1.1\r\n"
                            b"Connection: close\r\n\r\n")
    assert [(status, json.loads(body)) for status, _, body in answers(raw)] == [(200, {"length": 2}),
                                                                                 (200, {"length": 0})]


def test_a_client_that_resets_the_connection_leaves_one_short_line(server):
    """Was a ConnectionResetError traceback from the server's thread."""
    address, log = server
    client = socket.create_connection(address, timeout=READ_SECONDS)
    client.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"name\": ")
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends RST
    client.close()
    deadline = time.monotonic() + READ_SECONDS
    while "ConnectionResetError" not in log() and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = log().splitlines()
    assert len(lines) == 1 and lines[0].endswith("] connection closed by the client (ConnectionResetError)"), lines
