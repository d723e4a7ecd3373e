"""Domain errors with messages fit for users, and the HTTP error pages and JSON errors."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException


class ComplianceError(Exception):
    """A failure with a message a user can act on."""

    status_code = 400

    def __init__(self, message: str, *, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []


class NotFound(ComplianceError):
    status_code = 404


class Conflict(ComplianceError):
    status_code = 409


class Invalid(ComplianceError):
    status_code = 422


class Forbidden(ComplianceError):
    status_code = 403


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def json_error(
    status: int,
    message: str,
    details: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    """Shape every API error the same way: {"error": {"status", "message", "details"}}."""
    body = {"error": {"status": status, "message": message, "details": details or []}}
    return body, status, headers or {}


def register_handlers(app: Flask) -> None:
    """Render HTTP errors as pages, or as JSON under /api/."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        status = error.code or 500
        message = error.description or error.name
        if _wants_json():
            # Keep the exception's own headers (Allow on a 405, WWW-Authenticate on a 401).
            headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
            return json_error(status, message, headers=headers)
        template = f"errors/{status}.html" if status in (403, 404, 500) else "errors/generic.html"
        return render_template(template, error=error, status=status), status

    @app.errorhandler(ComplianceError)
    def domain_error(error: ComplianceError) -> ResponseReturnValue:
        if _wants_json():
            return json_error(error.status_code, error.message, error.details)
        return (
            render_template("errors/generic.html", error=error, status=error.status_code),
            error.status_code,
        )
