"""The project's error hierarchy: domain errors are values with a stable ``code``.

Services raise these; one DRF exception handler turns them into problem+json and HTML
views turn them into form errors and messages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ApplicationError(Exception):
    """A refusal the caller can act on. ``code`` is stable and machine-readable."""

    code = "application_error"
    status = 400
    title = "Request refused"

    def __init__(self, detail: str | None = None, *, extra: dict[str, Any] | None = None):
        self.detail = detail or self.title
        self.extra = extra or {}
        # Work to do once the failed transaction has rolled back (e.g. record the attempt).
        self.after_rollback: list[Callable[[], None]] = []
        super().__init__(self.detail)

    def run_after_rollback(self) -> None:
        hooks, self.after_rollback = self.after_rollback, []
        for hook in hooks:
            hook()


class NotFoundError(ApplicationError):
    code = "not_found"
    status = 404
    title = "Not found"


class ConflictError(ApplicationError):
    code = "conflict"
    status = 409
    title = "Conflict"


class UnprocessableError(ApplicationError):
    """The request was well-formed but the business rules refuse it."""

    code = "unprocessable"
    status = 422
    title = "Unprocessable request"
