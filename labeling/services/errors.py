"""Domain errors raised by services; ``labeling.api.errors`` maps them to HTTP statuses.

Invalid input is Django's ``ValidationError`` (→ 400); the classes below cover the rest.
"""


class ServiceError(Exception):
    """Base class: ``message`` is safe to show to the user."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class Conflict(ServiceError):
    """The request is well-formed but contradicts what is stored (→ 409)."""


class PayloadTooLarge(ServiceError):
    """An upload is over its size limit (→ 413)."""


class ImportRejected(ServiceError):
    """A prompt file had bad lines; nothing was imported (→ 400 with ``errors``).

    ``errors`` is a list of ``{"line": n, "reason": "..."}``, capped at ``MAX_REPORTED``;
    ``bad_lines`` is the full count.
    """

    MAX_REPORTED = 200

    def __init__(self, *, errors: list[dict], bad_lines: int | None = None):
        self.bad_lines = bad_lines if bad_lines is not None else len(errors)
        noun = "bad line" if self.bad_lines == 1 else "bad lines"
        super().__init__(f"nothing was imported: {self.bad_lines} {noun}")
        self.errors = errors[: self.MAX_REPORTED]
