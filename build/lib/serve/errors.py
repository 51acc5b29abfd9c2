"""Synthos errors on the wire: the 1xxx-5xxx taxonomy mapped to gRPC status codes.

A failed call ends with a non-OK status whose rich details (google.rpc.Status in the
`grpc-status-details-bin` trailer) hold, in order: the `synthos.v1.ErrorInfo`, a
`google.rpc.RetryInfo` when a retry after a delay can help, and the RPC's response message
with its `error` field set. The `x-correlation-id` trailer and `ErrorInfo.correlation_id`
name the server log entry of the failure; no stack trace ever reaches a client.

    ===========================================  ====================  =========
    Synthos code                                 gRPC status           retryable
    ===========================================  ====================  =========
    1001 DATA_NOT_FOUND (also unknown ids)       NOT_FOUND             no
    1009 DATA_ACCESS (outside the data roots)    PERMISSION_DENIED     no
    1004 DATA_EMPTY, 1010 DATA_CORRUPT           FAILED_PRECONDITION   no
    other 1xxx (format, schema, value, ...)      INVALID_ARGUMENT      no
    2xxx model                                   ABORTED               yes
    3xxx resource (out of memory, busy)          RESOURCE_EXHAUSTED    yes, after retry_after
    4xxx timeout                                 DEADLINE_EXCEEDED     yes
    5xxx internal                                INTERNAL              no
    ===========================================  ====================  =========
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf import any_pb2, duration_pb2, struct_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from serve.generated import common_pb2
from synthos.errors import ErrorCode, SynthosError

log = logging.getLogger("serve")

CORRELATION_HEADER = "x-correlation-id"
DEFAULT_RESOURCE_RETRY_S = 30.0

_STATUS_BY_CODE = {
    ErrorCode.DATA_NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    ErrorCode.DATA_ACCESS: grpc.StatusCode.PERMISSION_DENIED,
    ErrorCode.DATA_EMPTY: grpc.StatusCode.FAILED_PRECONDITION,
    ErrorCode.DATA_CORRUPT: grpc.StatusCode.FAILED_PRECONDITION,
}
_STATUS_BY_CATEGORY = {
    "data": grpc.StatusCode.INVALID_ARGUMENT,
    "model": grpc.StatusCode.ABORTED,
    "resource": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "timeout": grpc.StatusCode.DEADLINE_EXCEEDED,
    "internal": grpc.StatusCode.INTERNAL,
}


class FailedPrecondition(SynthosError):
    """The request is valid but the server's state does not allow it yet (a cascade still
    running when its prediction is asked for)."""

    grpc_status = grpc.StatusCode.FAILED_PRECONDITION

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(ErrorCode.DATA_VALUE, message, details)


def bad_request(message: str, **details: Any) -> SynthosError:
    """A malformed request (missing or invalid field): 1005 DATA_VALUE, INVALID_ARGUMENT."""
    return SynthosError(ErrorCode.DATA_VALUE, message, details)


def grpc_status_of(error: SynthosError) -> grpc.StatusCode:
    override = getattr(error, "grpc_status", None)
    if override is not None:
        return override
    return _STATUS_BY_CODE.get(error.code, _STATUS_BY_CATEGORY[error.code.category])


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


def ok() -> common_pb2.ErrorInfo:
    return common_pb2.ErrorInfo(code=0, name="OK")


def struct_of(mapping: dict[str, Any] | None) -> struct_pb2.Struct:
    """A Struct of a JSON-like dict (anything JSON lacks becomes its str())."""
    message = struct_pb2.Struct()
    if mapping:
        message.update(json.loads(json.dumps(mapping, default=str)))
    return message


def error_info(error: SynthosError, correlation_id: str = "") -> common_pb2.ErrorInfo:
    retry_after = error.retry_after_seconds
    if error.code.category == "resource" and not retry_after:
        retry_after = DEFAULT_RESOURCE_RETRY_S
    return common_pb2.ErrorInfo(
        code=int(error.code),
        name=error.code.name,
        message=error.message,
        details=struct_of(error.details),
        retryable=error.retryable,
        retry_after_seconds=float(retry_after),
        correlation_id=correlation_id,
    )


def internal_error(correlation_id: str) -> SynthosError:
    return SynthosError(
        ErrorCode.INTERNAL,
        f"internal server error; the server logged it under correlation id {correlation_id}",
    )


def rich_status(
    status: grpc.StatusCode, info: common_pb2.ErrorInfo, response: Message | None = None
) -> grpc.Status:
    details = [_pack(info)]
    if info.retryable and info.retry_after_seconds > 0:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(info.retry_after_seconds * 1e9))
        details.append(_pack(error_details_pb2.RetryInfo(retry_delay=delay)))
    if response is not None:
        details.append(_pack(response))
    message = status_pb2.Status(code=status.value[0], message=info.message, details=details)
    return rpc_status.to_status(message)


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def describe_failure(exc: BaseException, correlation_id: str, rpc: str) -> SynthosError:
    """The error a client may see for `exc`; anything unexpected is logged with its trace."""
    if isinstance(exc, SynthosError):
        log.info("%s failed [%s]: %s", rpc, correlation_id, exc)
        return exc
    log.error("%s failed [%s] with an unexpected error", rpc, correlation_id, exc_info=exc)
    return internal_error(correlation_id)


async def abort(
    context: grpc.aio.ServicerContext,
    error: SynthosError,
    correlation_id: str,
    response: Message | None = None,
) -> None:
    info = error_info(error, correlation_id)
    if response is not None:
        response.error.CopyFrom(info)
    status = rich_status(grpc_status_of(error), info, response)
    await context.abort(
        status.code,
        status.details,
        trailing_metadata=(*status.trailing_metadata, (CORRELATION_HEADER, correlation_id)),
    )


def correlation_id_of(context: grpc.aio.ServicerContext) -> str:
    """The client's x-correlation-id when it sent one (kept short), else a new one."""
    for key, value in context.invocation_metadata() or ():
        if key == CORRELATION_HEADER and isinstance(value, str) and value:
            return value[:64]
    return new_correlation_id()


def unary_rpc(response_type: type[Message]) -> Callable:
    """Wraps a unary servicer method `(self, request, context, correlation_id)`: success
    gets `error` = OK, failure aborts with the mapped status and rich details."""

    def decorate(method: Callable) -> Callable:
        @functools.wraps(method)
        async def handler(self, request, context):
            correlation_id = correlation_id_of(context)
            try:
                response = await method(self, request, context, correlation_id)
            except Exception as exc:
                error = describe_failure(exc, correlation_id, method.__name__)
                await abort(context, error, correlation_id, response_type())
                return None
            response.error.CopyFrom(ok())
            return response

        return handler

    return decorate


def streaming_rpc(method: Callable) -> Callable:
    """Wraps a server-streaming servicer method like `unary_rpc`: a failure before or
    during the stream aborts it with the mapped status and rich details."""

    @functools.wraps(method)
    async def handler(self, request, context) -> AsyncIterator[Message]:
        correlation_id = correlation_id_of(context)
        try:
            async for message in method(self, request, context, correlation_id):
                yield message
        except Exception as exc:
            error = describe_failure(exc, correlation_id, method.__name__)
            await abort(context, error, correlation_id)

    return handler
