"""Typed errors carrying the gRPC status code.

Every failure a Herald call reports (a failed RPC, an in-band error on a stream,
a client-side limit) is raised as a :class:`HeraldError` subclass chosen by its
gRPC code, so callers can ``except TopicNotFoundError`` or inspect ``err.code``.
"""

from __future__ import annotations

from typing import Dict, Optional, Type

import grpc


class HeraldError(Exception):
    """Base class of every Herald client error.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``).
        message: the server's (or client's) description.
    """

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(self, message: str, code: Optional[grpc.StatusCode] = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} ({self.code.name})"


class CancelledError(HeraldError):
    code = grpc.StatusCode.CANCELLED


class InvalidArgumentError(HeraldError):
    """The request was malformed (bad topic name, partition out of range...)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class DeadlineExceededError(HeraldError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class NotFoundError(HeraldError):
    """The topic, partition or group does not exist."""

    code = grpc.StatusCode.NOT_FOUND


# NOT_FOUND is what the broker answers for an unknown topic; the alias lets
# callers say what they mean without a second code mapping.
TopicNotFoundError = NotFoundError


class AlreadyExistsError(HeraldError):
    code = grpc.StatusCode.ALREADY_EXISTS


TopicAlreadyExistsError = AlreadyExistsError


class PermissionDeniedError(HeraldError):
    code = grpc.StatusCode.PERMISSION_DENIED


class ResourceExhaustedError(HeraldError):
    """A bound was hit: the producer buffer is full, or the broker pushes back."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class FailedPreconditionError(HeraldError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class AbortedError(HeraldError):
    """Retry at a higher level (e.g. a stale group generation)."""

    code = grpc.StatusCode.ABORTED


class OutOfRangeError(HeraldError):
    code = grpc.StatusCode.OUT_OF_RANGE


class ProducerFencedError(AbortedError):
    """A newer producer with the same ``transactional_id`` took over (the
    broker rejected this one's epoch); the producer stops accepting sends."""


class OutOfOrderSequenceError(OutOfRangeError):
    """The broker saw a gap in an idempotent producer's sequence numbers for a
    partition (records may have been lost); the batch was not written."""


class UnimplementedError(HeraldError):
    code = grpc.StatusCode.UNIMPLEMENTED


class InternalError(HeraldError):
    code = grpc.StatusCode.INTERNAL


class UnavailableError(HeraldError):
    """The broker could not be reached; safe to retry."""

    code = grpc.StatusCode.UNAVAILABLE


class DataLossError(HeraldError):
    code = grpc.StatusCode.DATA_LOSS


class ClosedError(HeraldError):
    """The client was closed before the operation finished."""

    code = grpc.StatusCode.CANCELLED


_BY_CODE: Dict[grpc.StatusCode, Type[HeraldError]] = {
    cls.code: cls
    for cls in (
        CancelledError,
        InvalidArgumentError,
        DeadlineExceededError,
        NotFoundError,
        AlreadyExistsError,
        PermissionDeniedError,
        ResourceExhaustedError,
        FailedPreconditionError,
        AbortedError,
        OutOfRangeError,
        UnimplementedError,
        InternalError,
        UnavailableError,
        DataLossError,
    )
}

_CODE_BY_NUMBER: Dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


def error_for_code(code: grpc.StatusCode, message: str) -> HeraldError:
    """Returns the HeraldError subclass instance for a gRPC code."""
    cls = _BY_CODE.get(code, HeraldError)
    return cls(message, code)


def error_from_number(code_number: int, message: str) -> HeraldError:
    """Converts an in-band ``herald.v1.Error`` (numeric google.rpc.Code)."""
    code = _CODE_BY_NUMBER.get(code_number, grpc.StatusCode.UNKNOWN)
    return error_for_code(code, message)


def error_from_rpc(err: grpc.RpcError) -> HeraldError:
    """Converts a grpc.RpcError (which is also a grpc.Call) to a HeraldError."""
    code = err.code() if hasattr(err, "code") else grpc.StatusCode.UNKNOWN
    details = err.details() if hasattr(err, "details") else str(err)
    return error_for_code(code or grpc.StatusCode.UNKNOWN, details or "")
