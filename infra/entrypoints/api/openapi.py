"""The OpenAPI description, corrected where FastAPI cannot say it right."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from infra.entrypoints.api.problems import PROBLEM_JSON


def _as_problems(schema: dict[str, Any]) -> dict[str, Any]:
    # FastAPI files every modelled answer under the route's media type,
    # application/json; errors are sent as application/problem+json, and
    # clients (and schema checkers) go by the declared type.
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if status[:1] in "45" and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
    return schema


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _as_problems(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
