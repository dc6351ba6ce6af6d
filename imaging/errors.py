"""The one exception type raised by imaging code, carrying a machine-readable reason code."""


class ImageError(Exception):
    """An image that cannot be processed; `code` is stable and safe to show or store."""

    def __init__(self, code: str, message: str = "") -> None:
        super().__init__(message or code)
        self.code = code
