"""Helpers for the hostile-input tests of the HTTP API: raw requests that no
client library rewrites, and the API as a process of its own."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson

from tests.views_support import free_port, views_url_for

BIN = Path(sys.executable).parent / "promocredits"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        parsed: dict[str, object] = orjson.loads(self.body)
        return parsed


def raw_request(
    base: str,
    method: str,
    target: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10,
) -> Answer:
    """``target`` goes on the request line exactly as given: http.client, unlike
    httpx and browsers, neither removes dot segments nor re-encodes it."""
    where = urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=timeout)
    try:
        connection.request(method, target, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


@dataclass(frozen=True)
class ServedApi:
    base: str
    port: int
    pid: int


@contextmanager
def api_process(
    tmp_path: Path, tokens: Mapping[str, str], store_url: str | None = None
) -> Iterator[ServedApi]:
    """`promocredits serve` on a free port, as its own process, so that its
    memory can be measured apart from the client's; over ``store_url`` (a
    SQLite ledger in ``tmp_path`` by default), with the views beside it."""
    port = free_port()
    store_url = store_url or f"sqlite:///{tmp_path}/ledger.db"
    env = {
        **os.environ,
        "PROMOCREDITS_DATABASE_URL": store_url,
        "PROMOCREDITS_VIEWS_DATABASE_URL": views_url_for(store_url, str(tmp_path)),
        "PROMOCREDITS_API_TOKENS": orjson.dumps(dict(tokens)).decode(),
    }
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(BIN), "serve", "--port", str(port)], env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        yield ServedApi(base, port, process.pid)
    finally:
        stop_process(process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, and SIGKILL if that has not stopped it within 15 s."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass(frozen=True)
class StreamedRefusal:
    status: int
    seconds_to_status: float
    body: bytes


def stream_body(
    base: str, path: str, headers: Mapping[str, str], total_bytes: int, chunk: bytes = b"[" * 65536
) -> StreamedRefusal:
    """POST a ``total_bytes`` body, streamed in chunks from a thread while
    this one waits for the answer; time from the headers sent to the status
    line received. The body is a 30 MB-deep nesting of JSON arrays: costly
    for any server that reads and parses it before deciding."""
    where = urlsplit(base)
    connection = http.client.HTTPConnection(where.hostname or "", where.port, timeout=30)
    connection.putrequest("POST", path)
    for name, value in {**headers, "Content-Type": "application/json"}.items():
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(total_bytes))
    connection.endheaders()
    sock = connection.sock
    assert sock is not None

    def send_all() -> None:
        sent = 0
        try:
            while sent < total_bytes:
                piece = chunk[: total_bytes - sent]
                sock.sendall(piece)
                sent += len(piece)
        except OSError:
            pass  # the server may close once it has answered

    started = time.perf_counter()
    sender = threading.Thread(target=send_all, name="body-sender", daemon=True)
    sender.start()
    try:
        response = connection.getresponse()
        seconds = time.perf_counter() - started
        body = response.read()
        sender.join(timeout=60)
    finally:
        connection.close()
    return StreamedRefusal(response.status, seconds, body)
