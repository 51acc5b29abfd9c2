"""Requests whose bytes do not parse as their message: INVALID_ARGUMENT with an ErrorInfo,
like any other bad request, instead of gRPC's UNKNOWN naming the parser's exception.

gRPC parses the request before a handler runs, and an exception raised there always ends
as UNKNOWN; so the interceptor swaps in a parser that returns a marker, and the handler
answers the marker with the mapped error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from serve.errors import abort, bad_request, correlation_id_of


class _Unparsable:
    def __init__(self, error: DecodeError) -> None:
        self.error = error


def _parser(parse: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse_or_mark(data: bytes) -> Any:
        try:
            return parse(data)
        except DecodeError as exc:
            return _Unparsable(exc)

    return parse_or_mark


async def _reject(context: grpc.aio.ServicerContext, method: str) -> None:
    error = bad_request(f"the request bytes are not a valid message for {method}")
    await abort(context, error, correlation_id_of(context))


class MalformedRequestInterceptor(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        method = handler_call_details.method
        parse = _parser(handler.request_deserializer)
        if handler.unary_unary is not None:
            behavior = handler.unary_unary

            async def unary(request, context):
                if isinstance(request, _Unparsable):
                    await _reject(context, method)
                return await behavior(request, context)

            return grpc.unary_unary_rpc_method_handler(
                unary, request_deserializer=parse, response_serializer=handler.response_serializer
            )
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            async def streaming(request, context):
                if isinstance(request, _Unparsable):
                    await _reject(context, method)
                async for message in stream(request, context):
                    yield message

            return grpc.unary_stream_rpc_method_handler(
                streaming,
                request_deserializer=parse,
                response_serializer=handler.response_serializer,
            )
        return handler
