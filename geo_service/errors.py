"""Errors as JSON with a message that says what to fix; the status follows from the exception's
type (``pipelines/errors.py`` names the kinds), never from its words.

    InputError (and FastAPI's own request checks)  -> 422
    NotFoundError                                  -> 404
    ConflictError                                  -> 409
    UnavailableError (a broken store)              -> 503
    HTTPException (auth, body limit)               -> its own status
    anything else: a bug                           -> 500 "internal error", traceback in the log

One status for one fault, wherever it is found: a month the service cannot read is a 422 on a
map page, a hotspot list or a comparison alike. Every answer goes through ``error_response``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo_service.error_page import error_page, is_page_request
from pipelines.errors import ConflictError, InputError, NotFoundError, UnavailableError
from pipelines.quoting import quoted, shortened

logger = logging.getLogger(__name__)

# The service's name for a missing thing; routers raise it (or any NotFoundError).
NotFound = NotFoundError

STATUS_BY_TYPE: dict[type[Exception], int] = {
    InputError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    UnavailableError: 503,
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> Response:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {_problem(e)}"
            for e in error.errors()
        ]
        return error_response(request, 422, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        headers = getattr(error, "headers", None)
        # FastAPI answers a body it cannot parse (bytes that are not JSON text) with a 400: the
        # same fault as malformed JSON, so the same 422.
        status = 422 if error.status_code == 400 else error.status_code
        return error_response(request, status, str(error.detail), headers)

    for kind, status in STATUS_BY_TYPE.items():
        app.add_exception_handler(kind, _answer_with(status))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, error: Exception) -> Response:
        # Starlette re-raises after this answer, so the server logs the traceback; the client
        # gets no internals (paths, library messages).
        logger.error("internal error on %s %s: %r", request.method, request.url.path, error)
        return error_response(request, 500, "internal error; the server log has the details")


def _problem(error: dict) -> str:
    """One validation error in words; a non-finite number ("nan", "inf") is told a finite number
    is needed, whatever range the parameter has."""
    if error.get("type") == "finite_number":
        return f"a finite number is required, got {quoted(error.get('input'))}"
    return str(error.get("msg"))


def _answer_with(status: int) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(request: Request, error: Exception) -> Response:
        return error_response(request, status, str(error), getattr(error, "headers", None))

    return answer


def error_response(
    request: Request, status: int, message: str, headers: dict | None = None
) -> Response:
    """The one place an error becomes a response: ``{"error": message}`` with ``status``, or for
    a page request (a map, a profile) a readable HTML page (geo_service/error_page.py)."""
    message = shortened(message)  # input is quoted shortened (pipelines.quoting); the guard
    if is_page_request(request):
        return error_page(request, status, message, headers)
    return JSONResponse({"error": message}, status_code=status, headers=headers)


ERROR_SCHEMA_REF = {"$ref": "#/components/schemas/ErrorResponse"}


def install_error_documentation(app: FastAPI) -> None:
    """Every error answer in the schema as it is sent: ``{"error": ...}`` JSON (routes that
    answer with a page would otherwise document their errors as text/html only), and beside it
    the HTML error page where a request can ask for a page (error_page.is_page_request)."""
    build = app.openapi

    def openapi() -> dict:
        schema = build()
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                # As is_page_request decides: a page route, or any ?format=html.
                pages = "text/html" in responses.get("200", {}).get("content", {}) or any(
                    p["name"] == "format" for p in operation.get("parameters", [])
                )
                for status, response in responses.items():
                    if status[0] not in "45":
                        continue
                    content = {"application/json": {"schema": ERROR_SCHEMA_REF}}
                    if pages:
                        content["text/html"] = {"schema": {"type": "string"}}
                    response["content"] = content
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
