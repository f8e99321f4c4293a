"""The support console: server-rendered pages under /console (see pages)."""

from __future__ import annotations

from fastapi import FastAPI

from infra.entrypoints.api.console.pages import ConsolePorts, console_router

__all__ = ["ConsolePorts", "mount"]


def mount(app: FastAPI, ports: ConsolePorts) -> None:
    app.include_router(console_router(ports))
