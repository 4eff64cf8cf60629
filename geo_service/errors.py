"""Errors as JSON with a message that says what to fix; never a traceback, never a 500 for input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from boundaries.errors import BoundaryError
from pipelines.harm import HarmTableError


class NotFound(Exception):
    """A named thing (boundary set, area) that does not exist: 404."""


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in error.errors()
        ]
        return _error(422, "; ".join(problems) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return _error(error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return _error(404, str(error))

    @app.exception_handler(BoundaryError)
    async def boundary_error(_: Request, error: BoundaryError) -> JSONResponse:
        status = 404 if str(error).startswith("no boundary set named") else 400
        return _error(status, str(error))

    @app.exception_handler(HarmTableError)
    async def harm_error(_: Request, error: HarmTableError) -> JSONResponse:
        return _error(400, str(error))

    @app.exception_handler(ValueError)
    async def value_error(_: Request, error: ValueError) -> JSONResponse:
        # Pipelines raise ValueError subclasses (StudyError, MonthError, WindowError...) for input
        # that cannot be answered as asked; their messages say what to change.
        return _error(400, str(error))


def _error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)
