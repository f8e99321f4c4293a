"""`promocredits serve` as a real process: tokens never reach its output."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.views_support import bearer, free_port

BIN = Path(sys.executable).parent / "promocredits"
SECRET = "s3cret-never-printed"


def env_for(tmp_path: Path, tokens: str, port: int = 8080) -> dict[str, str]:
    return {
        **os.environ,
        "PROMOCREDITS_DATABASE_URL": f"sqlite:///{tmp_path}/ledger.db",
        "PROMOCREDITS_VIEWS_DATABASE_URL": f"sqlite:///{tmp_path}/views.db",
        "PROMOCREDITS_API_TOKENS": tokens,
        "PROMOCREDITS_API_PORT": str(port),
    }


def test_a_token_with_an_unknown_role_is_refused_without_printing_the_token(tmp_path: Path) -> None:
    # when the tokens setting names a role that does not exist
    done = subprocess.run(
        [str(BIN), "serve"],
        env=env_for(tmp_path, orjson.dumps({SECRET: "admin"}).decode()),
        capture_output=True,
    )
    # then the service refuses to start with one line naming the setting, not the token
    assert done.returncode == 2
    assert b"PROMOCREDITS_API_TOKENS" in done.stderr and b"admin" in done.stderr
    assert SECRET.encode() not in done.stderr + done.stdout


def test_a_token_setting_of_the_wrong_shape_is_refused_in_one_line_without_the_token(tmp_path: Path) -> None:
    for tokens in (orjson.dumps({SECRET: 1}).decode(), "not json"):
        # when the tokens setting is not an object of token to role name
        done = subprocess.run(
            [str(BIN), "balance", "acct-x"], env=env_for(tmp_path, tokens), capture_output=True
        )
        # then any command refuses it as invalid input, in one line, never echoing a token
        assert done.returncode == 2
        assert done.stderr.count(b"\n") == 1 and b"PROMOCREDITS_API_TOKENS" in done.stderr
        assert SECRET.encode() not in done.stderr + done.stdout


def test_serve_answers_over_http_never_logs_tokens_and_stops_on_sigterm(tmp_path: Path) -> None:
    # given `promocredits serve` on a free port
    port = free_port()
    tokens = orjson.dumps({SECRET: "reader"}).decode()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN), "serve", "--port", str(port)], env=env_for(tmp_path, tokens), stdout=out, stderr=out
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        # when requests with right and wrong tokens arrive
        assert (
            httpx.get(
                f"{base}/v1/accounts/acct-alice/promotional-credits", headers=bearer(SECRET)
            ).status_code
            == 200
        )
        wrong = SECRET + "-almost"
        assert (
            httpx.get(f"{base}/v1/accounts/acct-alice/promotional-credits", headers=bearer(wrong)).status_code
            == 401
        )
        # and SIGTERM asks it to stop
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    # then the requests were logged, the tokens never
    text = log.read_text()
    assert "GET /v1/accounts/acct-alice/promotional-credits" in text
    assert SECRET not in text
