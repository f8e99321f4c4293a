"""Reading what a browser sends: query parameters and url-encoded forms.

Everything is refused with a ConsoleError, which becomes a page with a clear
message: hostile input never reaches a traceback.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from domain.rules import quoted

# The grant form has seven fields; a body with many more is not one of ours.
MAX_FIELDS = 20
_FORM_TYPE = "application/x-www-form-urlencoded"


class ConsoleError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


async def form_fields(request: Request) -> dict[str, str]:
    """The form's fields, the first value of each. The body's size is already
    bounded by the API's body limit, which runs in front of the console."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != _FORM_TYPE:
        raise ConsoleError(415, f"the form must be sent as {_FORM_TYPE}")
    body = await request.body()
    try:
        pairs = parse_qsl(
            body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS, errors="strict"
        )
    except (UnicodeDecodeError, ValueError):
        raise ConsoleError(
            400, "the form could not be read: it is not UTF-8 text or has too many fields"
        ) from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def required(fields: dict[str, str], name: str, label: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise ConsoleError(422, f"{label} is required")
    return value


def query(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise ConsoleError(422, f"{name} was given more than once")
    return values[0] if values else None


def page_size(request: Request, default: int, largest: int) -> int:
    given = query(request, "limit")
    if given is None or given == "":
        return default
    if (
        len(given) > len(str(largest))
        or not given.isascii()
        or not given.isdigit()
        or not 1 <= int(given) <= largest
    ):
        raise ConsoleError(422, f"limit must be a whole number from 1 to {largest}, got {quoted(given)}")
    return int(given)
