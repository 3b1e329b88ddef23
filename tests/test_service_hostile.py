"""The digit service against a hostile client: every attack gets a JSON error, and the service keeps serving.

The service runs as ``python -m course_utils.serve`` in its own process on a free loopback port (127.0.0.1 only),
so its memory can be read from /proc. Each attack is sent over a raw socket or urllib, bounded in count and time,
and after each one a good request must still get the same correct answer. The attacks that need other limits
(a slow client against the request deadline, too many connections) run against an in-process server.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from course_utils import data, deployment, serve

ROOT = Path(__file__).resolve().parents[1]
# Peak memory (VmHWM) may grow by at most this much over the whole attack run, whatever was sent.
MEMORY_BOUND_MB = 300


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """The served CNN with seeded, untrained weights: enough to check that answers stay the same."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("hostile") / "served.pt"
    deployment.save_model(deployment.build_served_cnn(), path, test_accuracy=None)
    return path


@pytest.fixture(scope="module")
def service(model_path):
    """(host, port, pid) of ``python -m course_utils.serve`` on a free loopback port."""
    process = subprocess.Popen([sys.executable, "-m", "course_utils.serve", "--model", str(model_path), "--port", "0"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = process.stdout.readline()
        match = re.search(r"http://(127\.0\.0\.1):(\d+)", line)
        assert match, f"the service did not start: {line!r}"
        yield match.group(1), int(match.group(2)), process.pid
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def good_request():
    image = data.load_mnist().test_images[0]
    return json.dumps(serve.images_payload(image)).encode()


def raw_request(host: str, port: int, request: bytes, *, timeout: float = 15) -> tuple[int, dict, bytes]:
    """Send raw bytes, read the answer until the server closes: (status, decoded JSON body or {}, raw headers)."""
    with socket.create_connection((host, port), timeout=timeout) as connection:
        try:
            connection.sendall(request)
        except OSError:  # the server answered and closed before reading everything: read its answer
            pass
        answer = b""
        try:
            while chunk := connection.recv(1 << 16):
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head.startswith(b"HTTP/") else 0
    try:
        content = json.loads(body) if body else {}
    except ValueError:
        content = {"not json": body[:200].decode(errors="replace")}
    return status, content, head


def post(host: str, port: int, body: bytes, headers: str | None = None) -> tuple[int, dict, bytes]:
    headers = headers if headers is not None else f"Content-Length: {len(body)}\r\n"
    request = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{headers}\r\n".encode()
    return raw_request(host, port, request + body)


def peak_memory_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def assert_still_serving(host, port, good_request, expected=None):
    status, answer, _ = post(host, port, good_request)
    assert status == 200, f"after the attack the service answered {status}: {answer}"
    if expected is not None:
        assert answer == expected, "after the attack the service answered differently"
    return answer


ATTACKS = {
    "a 309-digit pixel": lambda: b'{"image": [[' + b"9" * 309 + b"]]}",
    "a 4,300-digit pixel": lambda: b'{"image": [[' + b"9" * 4300 + b"]]}",
    "a 5,000-digit pixel": lambda: b'{"image": [[' + b"9" * 5000 + b"]]}",
    "JSON nested 1,000 deep": lambda: b"[" * 1000 + b"]" * 1000,
    "JSON nested 100,000 deep": lambda: b'{"image": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    "a 7 MB pixel string": lambda: b'{"image": [["' + b"7" * 7_000_000 + b'"]]}',
    "8 MB of [] under an ignored key": lambda: b'{"image": [], "junk": [' + b"[]," * 2_700_000 + b"[]]}",
    "1e999 as a pixel": lambda: b'{"image": [[1e999]]}',
    "NaN as a pixel": lambda: b'{"image": [[NaN]]}',
    "not UTF-8": lambda: b'{"image": "\xff\xfe"}',
    "a JSON list": lambda: b"[1, 2, 3]",
    # raw drawings ("format": "drawing"), prepared by the service: still bounded, still a 400 or 422
    "an empty drawing": lambda: b'{"format": "drawing", "image": [' + b",".join([b"[" + b"0," * 111 + b"0]"] * 112) + b"]}",
    "a drawing of 100,000 columns": lambda: b'{"format": "drawing", "image": [[' + b"255," * 99_999 + b"255]]}",
    "4 drawings of 512×512": lambda: (b'{"format": "drawing", "images": ['
                                      + b",".join([b"[" + b",".join([b"[" + b"9," * 511 + b"9]"] * 512) + b"]"] * 4) + b"]}"),
    "a drawing nested 6 deep": lambda: b'{"format": "drawing", "image": [[[[[1]]]]]}',
    "an unknown format": lambda: b'{"format": "jpeg", "image": "/9j/4AAQSkZJRgABAQ"}',
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_malformed_bodies_get_a_json_400_or_422_and_the_service_survives(service, good_request, attack):
    host, port, _ = service
    expected = assert_still_serving(host, port, good_request)
    status, answer, _ = post(host, port, ATTACKS[attack]())
    assert status in (400, 422), f"{attack}: status {status}, {answer}"
    assert "error" in answer and len(answer["error"]) < 400, f"{attack}: {answer}"
    assert "set_int_max_str_digits" not in answer["error"]
    assert_still_serving(host, port, good_request, expected)


@pytest.mark.parametrize("value", [" +5", "1_0", "5 ", "-1", "0x10", "１０"])
def test_a_lenient_content_length_is_400(service, good_request, value):
    host, port, _ = service
    status, answer, _ = post(host, port, b"[1, 2]", headers=f"Content-Length: {value}\r\n")
    assert status == 400 and "Content-Length" in answer["error"]
    assert_still_serving(host, port, good_request)


def test_two_content_length_headers_are_400(service, good_request):
    host, port, _ = service
    status, answer, _ = post(host, port, b"[1, 2]", headers="Content-Length: 6\r\nContent-Length: 2\r\n")
    assert status == 400 and "exactly one Content-Length" in answer["error"]
    assert_still_serving(host, port, good_request)


@pytest.mark.parametrize("method", ["HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "FOO"])
def test_every_other_method_gets_a_json_405(service, good_request, method):
    host, port, _ = service
    status, answer, head = raw_request(host, port, f"{method} /predict HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert status == 405
    assert b"application/json" in head and b"Allow: GET, POST" in head
    if method != "HEAD":
        assert "not allowed" in answer["error"]
    assert_still_serving(host, port, good_request)


def test_protocol_errors_are_json(service, good_request):
    host, port, _ = service
    status, answer, _ = raw_request(host, port, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n")
    assert status == 414 and "error" in answer
    many_headers = "".join(f"X-{number}: 1\r\n" for number in range(120))
    status, answer, _ = raw_request(host, port, f"GET /health HTTP/1.1\r\n{many_headers}\r\n".encode())
    assert status == 431 and "error" in answer
    status, answer, _ = raw_request(host, port, b"garbage\r\n\r\n")
    assert status == 400 and "error" in answer
    assert_still_serving(host, port, good_request)


def test_the_server_header_does_not_name_python(service):
    host, port, _ = service
    _, _, head = raw_request(host, port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    server_line = [line for line in head.split(b"\r\n") if line.lower().startswith(b"server:")]
    assert server_line and b"Python" not in server_line[0], server_line


def test_memory_stays_bounded_under_concurrent_oversized_bodies(service, good_request):
    """8 clients at once each send 8 MB of [] (which once cost ~120 MB each to decode)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("/proc is missing on this system: the server's memory cannot be read")
    host, port, pid = service
    assert_still_serving(host, port, good_request)
    before = peak_memory_mb(pid)
    body = ATTACKS["8 MB of [] under an ignored key"]()
    statuses = []
    clients = [threading.Thread(target=lambda: statuses.append(post(host, port, body)[0])) for _ in range(8)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(timeout=60)
    assert statuses == [400] * 8, statuses
    growth = peak_memory_mb(pid) - before
    print(f"peak memory before {before:.0f} MB, growth {growth:.0f} MB under 8 concurrent 8 MB bodies")
    assert growth < MEMORY_BOUND_MB / 2, f"peak memory grew by {growth:.0f} MB"
    assert_still_serving(host, port, good_request)


def test_memory_of_the_whole_attack_run_is_bounded(service, good_request):
    if not Path("/proc/self/status").exists():
        pytest.skip("/proc is missing on this system: the server's memory cannot be read")
    host, port, pid = service
    status = Path(f"/proc/{pid}/status").read_text()
    resident = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024
    print(f"service resident memory after the attacks: {resident:.0f} MB, peak {peak_memory_mb(pid):.0f} MB")
    assert resident < 700 + MEMORY_BOUND_MB
    assert_still_serving(host, port, good_request)


@pytest.fixture()
def strict_server(model_path):
    """An in-process server with small limits: a 2-second request deadline and 4 connections."""
    server = serve.make_server(model_path)
    server.request_deadline = 2.0
    server.connection_slots = threading.BoundedSemaphore(4)
    thread = serve.start_in_background(server)
    yield server
    serve.stop(server, thread)


def test_a_slow_client_is_cut_off_at_the_deadline(strict_server, good_request):
    host, port = strict_server.server_address[:2]
    started = time.perf_counter()
    with socket.create_connection((host, port), timeout=10) as connection:
        request = f"POST /predict HTTP/1.1\r\nContent-Length: {len(good_request)}\r\n\r\n".encode() + good_request
        try:
            for byte in request[:40]:               # one byte every 0.25 s: each resets a per-read timeout
                connection.sendall(bytes([byte]))
                time.sleep(0.25)
        except OSError:
            pass
        try:
            closed = connection.recv(1) == b""
        except OSError:
            closed = True
    assert closed and time.perf_counter() - started < 12, "the slow client was not cut off at the deadline"
    assert_still_serving(host, port, good_request)


def test_connections_beyond_the_limit_get_503_quickly(strict_server, good_request):
    host, port = strict_server.server_address[:2]
    idle = [socket.create_connection((host, port), timeout=5) for _ in range(4)]   # hold every slot
    try:
        time.sleep(0.3)
        started = time.perf_counter()
        status, answer, _ = raw_request(host, port, b"GET /health HTTP/1.1\r\n\r\n", timeout=5)
        assert status == 503 and "busy" in answer["error"]
        assert time.perf_counter() - started < 2
    finally:
        for connection in idle:
            connection.close()
    time.sleep(0.5)
    assert_still_serving(host, port, good_request)


def test_many_concurrent_good_requests_all_succeed(service, good_request):
    host, port, _ = service
    expected = assert_still_serving(host, port, good_request)
    answers = []

    def client():
        for _ in range(10):
            answers.append(post(host, port, good_request)[:2])

    clients = [threading.Thread(target=client) for _ in range(8)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join(timeout=120)
    assert len(answers) == 80 and all(answer == (200, expected) for answer in answers)

