"""The API server as a component: uvicorn in a thread, stopped by an Event."""

from __future__ import annotations

import logging
import threading

import uvicorn

from infra.entrypoints.api.app import ApiPorts
from infra.wiring.components import ComponentCannotRunError

log = logging.getLogger("promocredits.api")


class ApiServerError(ComponentCannotRunError):
    """The API server could not start (the port is taken, for one)."""


class ApiComponent:
    """Serves the HTTP API until ``stop`` is set (a Component of `promocredits run`)."""

    name = "api"

    def __init__(self, ports: ApiPorts, host: str, port: int) -> None:
        self.ports = ports
        self.host = host
        self.port = port
        self.server: uvicorn.Server | None = None

    def build(self) -> uvicorn.Server:
        from infra.entrypoints.api.app import create_app
        from infra.entrypoints.api.limits import MAX_HEADER_BYTES
        from infra.entrypoints.api.lingering import LingeringH11Protocol

        config = uvicorn.Config(
            create_app(self.ports),
            host=self.host,
            port=self.port,
            log_level="info",
            # h11, not httptools: httptools buffers request headers of any
            # size (megabytes of them), while h11 refuses a request head that
            # grows past this limit before it is complete. A head that
            # arrives whole is held to the same budget by HeaderLimit.
            http=LingeringH11Protocol,
            h11_max_incomplete_event_size=MAX_HEADER_BYTES,
            # Logging is the host process's business; uvicorn's access log
            # shows method, path and status, never headers (so never tokens).
            log_config=None,
        )
        return uvicorn.Server(config)

    def run(self, stop: threading.Event) -> None:
        server = self.server = self.build()

        def exit_when_stopped() -> None:
            stop.wait()
            server.should_exit = True

        threading.Thread(target=exit_when_stopped, name="api-stop", daemon=True).start()
        log.info("HTTP API on http://%s:%d (OpenAPI at /docs)", self.host, self.port)
        try:
            server.run()
        except SystemExit:  # uvicorn exits when it cannot bind
            # uvicorn has logged why (the port is taken, most often).
            raise ApiServerError(f"cannot listen on {self.host}:{self.port}") from None
        if not server.started and not stop.is_set():
            raise ApiServerError(f"cannot serve on {self.host}:{self.port}")
