"""The service under bad input and bad clients: the malformed-input corpus, wrong content
types and path traversal through the ASGI test client; slow or silent connections, oversized
request heads and SIGTERM against a real `sketchcolor serve` on a loopback port."""

import asyncio
import http.client
import io
import os
import signal
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from corpus import encoded, hint_corpus, image_corpus, random_hint_model, sketch
from sketchcolor.serve import Settings, create_app
from sketchcolor.serve.launch import start_serving

SKETCH_PNG = encoded(sketch(), "PNG")
TIMEOUT_S = 1  # the header and body timeouts of the real server: short, so the tests are quick


@pytest.fixture(scope="module")
def hint_model(tmp_path_factory) -> Path:
    """A tiny random-weight model that takes color hints."""
    return random_hint_model(tmp_path_factory.mktemp("hint-model"))


@pytest.fixture(scope="module")
def client(hint_model):
    with TestClient(create_app(Settings(backend="torch", model=str(hint_model)))) as client:
        yield client


def is_json_error(reply) -> bool:
    """A 4xx whose body is our JSON error: one sentence and the status."""
    body = reply.json() if reply.headers.get("content-type") == "application/json" else {}
    status = reply.status_code
    return 400 <= status < 500 and isinstance(body.get("error"), str) and body.get("status") == status


def colorize(client, data: bytes = SKETCH_PNG, name: str = "sketch.png", layer: bytes | None = None, **fields):
    files = {"file": (name, data, "application/octet-stream")}
    if layer is not None:
        files["hint_layer"] = ("layer.png", layer, "image/png")
    return client.post("/api/colorize", files=files, data=fields)


def test_every_corpus_page_is_colorized_or_refused_with_a_json_sentence(client, tmp_path):
    uploadable = [item for item in image_corpus(tmp_path) if item.uploadable]
    assert sum(item.valid for item in uploadable) >= 5 and sum(not item.valid for item in uploadable) >= 5
    for item in uploadable:
        reply = colorize(client, item.path.read_bytes(), item.path.name)
        if item.valid:
            assert reply.status_code == 200, (item.name, reply.text)
            result = Image.open(io.BytesIO(reply.content))
            assert result.format == "PNG" and result.size == Image.open(item.path).size, item.name
        else:
            assert is_json_error(reply) and item.path.name in reply.json()["error"], (item.name, reply.text)
        layered = colorize(client, layer=item.path.read_bytes())  # the same file as a hint layer
        assert is_json_error(layered) or layered.status_code == 200, (item.name, layered.text)
    assert client.get("/api/health").status_code == 200


def test_every_corpus_hint_is_used_or_refused_with_a_json_sentence(client, tmp_path):
    items = hint_corpus(tmp_path)
    assert any(item.valid for item in items) and any(item.path.name.endswith(".hints.png") for item in items)
    for item in items:
        if item.path.name.endswith(".hints.png"):
            reply = colorize(client, layer=item.path.read_bytes())
        else:
            reply = colorize(client, hints=item.path.read_text())
        if item.valid:
            assert reply.status_code == 200, (item.name, reply.text)
        else:  # the sentence names the field
            assert is_json_error(reply) and "hint" in reply.json()["error"], (item.name, reply.text)
    both = colorize(client, layer=encoded(Image.new("RGBA", (64, 64)), "PNG"), hints='{"points": []}')
    assert is_json_error(both) and "not both" in both.json()["error"]
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize("content_type, body", [
    ("application/json", b'{"file": "sketch.png"}'),
    ("text/plain", b"a sketch, in words"),
    ("multipart/form-data", SKETCH_PNG),  # no boundary
    ("multipart/form-data; boundary=elsewhere", b"--other\r\n\r\n" + SKETCH_PNG),
    ("application/x-www-form-urlencoded", b"file=sketch.png&lines=keep"),
    (None, b""),
])
def test_wrong_content_types_get_a_json_sentence(client, content_type, body):
    headers = {"content-type": content_type} if content_type else {}
    reply = client.post("/api/colorize", content=body, headers=headers)
    assert is_json_error(reply), reply.text


def test_a_request_cancelled_by_the_shutdown_gets_503(hint_model, monkeypatch):
    app = create_app(Settings(backend="torch", model=str(hint_model), retry_after_s=3))

    async def cancelled(*_args):  # what uvicorn does to requests that outlast its shutdown grace
        raise asyncio.CancelledError

    monkeypatch.setattr(app.state.service.pool, "run", cancelled)
    with TestClient(app) as client:
        reply = colorize(client)
    assert reply.status_code == 503 and reply.headers["retry-after"] == "3"
    assert reply.json()["error"] == "the server is stopping; try again shortly"


# --- a real server: what only shows on the socket -----------------------------------------


def start(model: Path, spool: Path) -> tuple[subprocess.Popen, int]:
    """`sketchcolor serve` with short timeouts and its temporary files in `spool`: the process, its port."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(spool)}
    process, base = start_serving("--model", str(model), "--backend", "torch", "--header-timeout", str(TIMEOUT_S),
                                  "--body-timeout", str(TIMEOUT_S), env=env)
    return process, int(base.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def servers(hint_model, tmp_path_factory):
    """Two servers, started at once (each spends seconds importing torch): "shared" by the socket
    tests, none of which stops it, and "stopped" by the SIGTERM test. name -> (process, port, spool)."""
    spools = {name: tmp_path_factory.mktemp(name) for name in ("shared", "stopped")}
    with ThreadPoolExecutor(len(spools)) as pool:
        futures = {name: pool.submit(start, hint_model, spool) for name, spool in spools.items()}
    try:
        yield {name: (*future.result(), spools[name]) for name, future in futures.items()}
    finally:
        for future in futures.values():
            process = None if future.exception() else future.result()[0]
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(servers) -> int:
    """The port of the shared server."""
    return servers["shared"][1]


def request(port: int, method: str, target: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """One request sent as given (http.client neither normalises nor re-encodes the target)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, reply.read()
    finally:
        connection.close()


def raw_reply(sock: socket.socket) -> bytes:
    """Everything the server writes before it closes (or 30 s pass)."""
    sock.settimeout(30)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_silent_and_slow_clients_cannot_starve_the_service(server):
    stalled = (b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
               b"boundary=zz\r\nContent-Length: 100000\r\n\r\n--zz\r\n")  # a body that stops
    partial = b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "  # headers never finished
    sockets = []
    try:
        for _ in range(4):  # first, while there is room: the app takes these requests and waits for their bodies
            sockets.append(socket.create_connection(("127.0.0.1", server)))
            sockets[-1].sendall(stalled)
        # A barrier: once another request is answered, the server has read what was sent before it.
        assert request(server, "GET", "/api/health")[0] == 200
        for index in range(76):  # 80 in all, over the 64 connections the server keeps
            sockets.append(socket.create_connection(("127.0.0.1", server)))
            if index % 4:
                sockets[-1].sendall(partial)  # 1 in 4 sends nothing at all
        # Others get 503 while the slow ones hold every connection, then 200 once they are cut off.
        deadline, status = time.monotonic() + 30 * TIMEOUT_S, None
        while status != 200 and time.monotonic() < deadline:
            status, _ = request(server, "GET", "/api/health")
            time.sleep(0.2)
        assert status == 200
        replies = [raw_reply(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(reply.startswith(b"HTTP/1.1 408 ") for reply in replies), {reply[:40] for reply in replies}
    assert all(b"application/json" in reply for reply in replies)
    assert all(b'"error":"the upload stalled: nothing arrived for 1 s"' in reply for reply in replies[:4])
    assert all(b"headers did not arrive within 1 s" in reply for reply in replies[4:])


@pytest.mark.parametrize("target, headers", [
    ("/api/health?q=" + "a" * 100_000, {}),  # a 100 kB URL
    ("/api/health", {"X-Big": "b" * 20_000}),  # one header over the limit
    ("/api/health", {f"X-Many-{i}": "v" for i in range(3000)}),  # too many headers
])
def test_oversized_request_heads_get_a_4xx(server, target, headers):
    status, body = request(server, "GET", target, headers=headers)
    assert status in (400, 414, 431) and b'"error":' in body
    assert request(server, "GET", "/api/health")[0] == 200


@pytest.mark.parametrize("sent, answer", [
    (b"GET /api/health HTTP/1.1\r\nX-Long: " + b"a" * 20_000, b"HTTP/1.1 431 "),  # h11's limit, head unfinished
    (b"NOT AN HTTP REQUEST\r\n\r\n", b"HTTP/1.1 400 "),
])
def test_requests_h11_cannot_read_get_a_json_sentence(server, sent, answer):
    with socket.create_connection(("127.0.0.1", server)) as sock:
        sock.sendall(sent)
        reply = raw_reply(sock)
    assert reply.startswith(answer) and b"application/json" in reply and b'"error":' in reply, reply[:200]


TRAVERSALS = [
    "/static/../app.py", "/static/%2e%2e/app.py", "/static/%2E%2E%2Fapp.py", "/static/..%2fapp.py",
    "/static/%252e%252e%252fapp.py", "/static/..\\app.py", "/static/..%5capp.py", "/static/%5c..%5capp.py",
    "/static/../../../../../../../../etc/passwd", "/static//etc/passwd", "/static/%2fetc%2fpasswd",
    "//etc/passwd", "/static/....//app.py", "/static/%c0%ae%c0%ae/app.py", "/static/..%00/app.py",
    "/static/app.js%00.png", "/api/study/images/..%2f..%2fapp.py", "/api/study/sketches/..%2f1",
]


def test_path_traversal_reaches_no_file_outside_static(server):
    inside = request(server, "GET", "/static/app.js")
    assert inside[0] == 200  # the route serves its own files ...
    for target in TRAVERSALS:  # ... and nothing else
        status, body = request(server, "GET", target)
        assert status in (400, 404), (target, status, body[:80])
        assert b"import" not in body and b"root:" not in body, target


def noise_png(side: int) -> bytes:
    """A PNG over 1 MB (noise does not compress): its part of a form spools to a file."""
    return encoded(Image.fromarray(np.random.default_rng(side).integers(0, 255, (side, side), dtype=np.uint8)), "PNG")


def test_sigterm_finishes_the_request_in_flight_and_removes_the_spool(servers):
    page = noise_png(1100)
    boundary = "sigterm-test"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="noise.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode() + page + f"\r\n--{boundary}--\r\n".encode()
    head = (f"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\n\r\n").encode()
    assert len(page) > 1024 * 1024
    process, port, spool = servers["stopped"]
    assert list(spool.glob("sketchcolor-serve-*"))
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(head + body[: len(body) // 2])
        # A barrier: once another request is answered, the server has read what was sent before it.
        assert request(port, "GET", "/api/health")[0] == 200
        process.send_signal(signal.SIGTERM)  # the upload is in flight
        sock.sendall(body[len(body) // 2:])
        reply = raw_reply(sock)
    assert process.wait(timeout=15) == 0
    status_line = reply.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 200 OK" and b"image/png" in reply, reply[:200]
    assert not list(spool.iterdir())  # the spool folder and its files are gone
