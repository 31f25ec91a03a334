"""The one error shape of the run server: ``{"error": {"code": ..., "message": ...}}`` with a 4xx/5xx status."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """Raised anywhere below the routes; the app turns it into a JSON error response (nothing written before)."""

    def __init__(self, status: int, code: str, message: str, details: Any = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers  # e.g. Retry-After of a 429

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message, self.details)


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        err["details"] = details
    return {"error": err}


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what}_not_found", f"{what} {ident!r} not found")
