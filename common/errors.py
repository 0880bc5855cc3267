"""RFC 9457 problem details (``application/problem+json``) for every error."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

from common.outage import is_outage
from common.responses import OrjsonResponse

PROBLEM = "application/problem+json"
TYPE_BASE = "https://paystream.dev/problems/"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """Raise to answer with a problem document; ``code`` is stable for clients."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or code)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def unhandled(exc: BaseException) -> Problem:
    """The answer to an error no handler took: a lost store or Kafka is no fault of the
    request, so 503 with Retry-After (the client tries again); anything else a 500 that
    shows nothing of the error (it is logged)."""
    if is_outage(exc):
        return Problem(503, "dependency_unavailable", headers={"Retry-After": "1"})
    return Problem(500, "internal_error")


def problem_body(
    status: int, code: str, detail: str | None = None, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The RFC 9457 document every paystream error is answered with."""
    body: dict[str, Any] = {
        "type": TYPE_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def problem_response(
    status: int,
    code: str,
    detail: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> OrjsonResponse:
    body = problem_body(status, code, detail, instance, **extra)
    return OrjsonResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def validation_errors(errors: Any, prefix: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """pydantic/FastAPI validation errors as ``[{loc, msg}]`` for a 422 document."""
    return [
        {"loc": [*prefix, *(str(p) for p in e.get("loc", ()))], "msg": e.get("msg", "")}
        for e in errors
    ]


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of every route whose template matches ``path`` (included routers too)."""
    methods: set[str] = set()
    for context in iter_route_contexts(app.routes):
        template = context.path_format
        if template and context.methods and compile_path(template)[0].match(path):
            methods |= context.methods
    return sorted(methods)


def _code_for(status: int) -> str:
    return _TITLES.get(status, "error").lower().replace(" ", "_")


def install_problem_handlers(app: FastAPI) -> None:
    """Every error the app raises leaves as problem+json (an unhandled one as a 500 from
    :class:`common.context.RequestContextMiddleware`, which logs it in the request's
    context)."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> OrjsonResponse:
        return problem_response(
            exc.status, exc.code, exc.detail, request.url.path, exc.headers, **exc.extra
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> OrjsonResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path takes, not one route's
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return problem_response(
            exc.status_code,
            _code_for(exc.status_code),
            detail,
            request.url.path,
            headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> OrjsonResponse:
        errors = validation_errors(exc.errors())
        return problem_response(
            422, "validation_error", "the request is not valid", request.url.path, errors=errors
        )
