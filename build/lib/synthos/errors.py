"""The Synthos error taxonomy (DESIGN section 8).

Every failure a user or a client can cause or meet is one of these, carrying a
numeric code whose thousands digit is its category. The category decides
whether a retry can help: data errors never heal by retrying, model and
resource errors may.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    # 1xxx data: the input is wrong; not retryable.
    DATA_NOT_FOUND = 1001
    DATA_FORMAT = 1002
    DATA_SCHEMA = 1003
    DATA_EMPTY = 1004
    DATA_VALUE = 1005
    DATA_TOO_LARGE = 1006
    SEQUENCE_TOO_LONG = 1007
    DATA_ENCODING = 1008
    DATA_ACCESS = 1009  # cannot be read: permission denied, storage unreachable
    DATA_CORRUPT = 1010  # a recognised format, but damaged or truncated
    # 2xxx model: training or inference went wrong; retryable.
    MODEL_DIVERGED = 2001
    MODEL_CONFIG = 2002
    CHECKPOINT = 2003
    # 3xxx resource: out of memory, no device; retryable after a wait.
    OUT_OF_MEMORY = 3001
    RESOURCE_BUSY = 3002
    # 4xxx timeout; retryable.
    TIMEOUT = 4001
    # 5xxx internal: a bug; not retryable.
    INTERNAL = 5001

    @property
    def category(self) -> str:
        return {1: "data", 2: "model", 3: "resource", 4: "timeout", 5: "internal"}[self // 1000]

    @property
    def retryable(self) -> bool:
        return self.category in ("model", "resource", "timeout")


class SynthosError(Exception):
    """Base of all errors; `message` is safe to show a user or client."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        details: dict[str, Any] | None = None,
        retry_after_seconds: float = 0.0,
    ) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.details = dict(details or {})
        self.retry_after_seconds = retry_after_seconds

    def __reduce__(self):
        # Rebuild through the base class so errors survive process boundaries (DDP, launchers).
        return (
            _rebuild_error,
            (type(self), self.code, self.message, self.details, self.retry_after_seconds),
        )

    def __str__(self) -> str:
        return f"[{int(self.code)} {self.code.name}] {self.message}"

    @property
    def retryable(self) -> bool:
        return self.code.retryable

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": int(self.code),
            "name": self.code.name,
            "message": self.message,
            "details": self.details,
            "retryable": self.retryable,
            "retry_after_seconds": self.retry_after_seconds,
        }


class DataError(SynthosError):
    """Bad input data: names the file, the position where known, and what was expected."""

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode = ErrorCode.DATA_FORMAT,
        path: str | None = None,
        row: int | None = None,
        byte_offset: int | None = None,
        column: str | None = None,
        expected: str | None = None,
    ) -> None:
        if code // 1000 != 1:
            raise ValueError(f"DataError needs a 1xxx code, got {int(code)}")
        details = {
            key: value
            for key, value in {
                "path": path,
                "row": row,
                "byte_offset": byte_offset,
                "column": column,
                "expected": expected,
            }.items()
            if value is not None
        }
        where = ", ".join(f"{k}={v}" for k, v in details.items() if k != "expected")
        text = message
        if where:
            text += f" ({where})"
        if expected:
            text += f"; expected {expected}"
        super().__init__(code=code, message=text, details=details)


class ModelError(SynthosError):
    """Training or inference failed in a way a retry (perhaps with other settings) may fix."""

    def __init__(
        self, message: str, *, code: ErrorCode = ErrorCode.MODEL_DIVERGED, **details: Any
    ) -> None:
        if code // 1000 != 2:
            raise ValueError(f"ModelError needs a 2xxx code, got {int(code)}")
        super().__init__(code=code, message=message, details=details)


def _rebuild_error(cls, code, message, details, retry_after_seconds):
    error = Exception.__new__(cls)
    SynthosError.__init__(error, code, message, details, retry_after_seconds)
    return error
