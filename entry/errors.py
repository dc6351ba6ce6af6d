"""Domain errors of keying: lease and token conflicts, refused values, ineligible keyers."""

from storage.errors import ConflictError, InvalidInputError, NotFoundError, PermissionDeniedError


class StaleTokenError(ConflictError):
    code = "stale_token"


class LeaseLostError(ConflictError):
    code = "lease_lost"


class TaskClosedError(ConflictError):
    code = "task_closed"


class KeyRefusedError(InvalidInputError):
    """The keyed value failed validation (or carries an unconfirmed warning)."""

    code = "invalid_value"


class TaskNotFoundError(NotFoundError):
    code = "task_not_found"


class NotLeaseHolderError(PermissionDeniedError):
    code = "not_lease_holder"


class ExceptionReviewError(ConflictError):
    code = "not_in_exception_review"
