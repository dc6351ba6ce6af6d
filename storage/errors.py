"""Domain errors: one base carrying an HTTP status and a machine-readable code.

The API maps them to JSON responses; nothing here knows about HTTP frameworks.
"""


class DomainError(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details or {}


class NotFoundError(DomainError):
    status_code = 404
    code = "not_found"


class ConflictError(DomainError):
    status_code = 409
    code = "conflict"


class IllegalTransitionError(ConflictError):
    code = "illegal_transition"


class AuthenticationError(DomainError):
    status_code = 401
    code = "not_authenticated"


class PermissionDeniedError(DomainError):
    status_code = 403
    code = "forbidden"


class InvalidInputError(DomainError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLargeError(DomainError):
    status_code = 413
    code = "file_too_large"
