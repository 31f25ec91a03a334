"""The ASGI app of ``ncd-run serve``: ``create_app(...)`` builds a FastAPI app; ``serve(...)`` runs it with uvicorn.

Everything the app needs (store, plan registry, run manager, tokens) lives on the app instance (``app.state``);
this module keeps no mutable state, so several apps can live in one process (tests).

HTTP API (JSON; errors are ``{"error": {"code": ..., "message": ...}}`` with a 4xx/5xx status):

=======  ==============================  =====================================================================
POST     /api/runs                       ``{plan_id, inputs, run_id?, model?, max_llm_calls?, max_cost_usd?}`` → 201
GET      /api/runs                       ``?status=&plan_id=&parent_run_id=&limit=&offset=`` → ``{runs, total}``
GET      /api/runs/{id}                  status, outcome, per-step statuses, usage
GET      /api/runs/{id}/result           ``{run_id, outcome, final, cycles, executed, reasons}`` (409 while running)
POST     /api/runs/{id}/cancel           202; the run ends ``interrupted`` (resumable)
POST     /api/runs/{id}/resume           ``{mode, cycle?, plan_id?}`` → 202 (same id) or 201 (it forked, §9.1)
POST     /api/runs/{id}/fork             ``{cycle?, mode?, run_id?, plan_id?}`` → 201, the new run
GET      /api/runs/{id}/events           ``text/event-stream``: one event per step state change, then ``end``
GET      /api/plans, /api/plans/{id}     registered plans; one plan's ground inputs, inferences and graph
GET      /healthz                        liveness, no token needed
GET      /                               the read-only web page; ``/openapi.json``, ``/docs``
=======  ==============================  =====================================================================
"""

from __future__ import annotations

import importlib.resources
import json
import logging
import socket
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Body, Depends, FastAPI, Header, Query, Request, Security
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from runtime.orchestrator import as_store
from runtime.server.auth import Authenticator
from runtime.server.errors import ApiError, error_body
from runtime.server.events import StreamLimiter, encode_replay, replay, sse_response, stream
from runtime.server.guards import HostCheck, PathScrub, PathScrubber, SecurityHeaders, default_allowed_hosts
from runtime.server.plans import ID_PATTERN, PlanRegistry, plan_detail, plan_summary
from runtime.server.runs import RunManager, TenantLimits
from runtime.store import Store, open_store
from runtime.store.base import RUN_STATUSES
from runtime.store.lease import DEFAULT_LEASE_SECONDS

log = logging.getLogger("ncd.server")

STATIC = Path(__file__).with_name("static")
# Swagger UI's dist files from the fastapi-offline package, so /docs works offline and under the CSP
DOCS_ASSETS = Path(str(importlib.resources.files("fastapi_offline") / "static"))
MAX_BODY_BYTES = 1 << 20
_STATUS_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "body_too_large",
                 415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
                 500: "internal_error",
                 503: "unavailable"}


# ---------------------------------------------------------------- request and response models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _WithCycle(_Strict):
    @field_validator("cycle", mode="before", check_fields=False)
    @classmethod
    def _integral(cls, value: Any) -> Any:
        """JSON Schema's ``integer`` (the document's type of ``cycle``) is any number without a fractional part, so
        ``3.0`` is valid; pydantic's strict int (which keeps out ``"3"`` and ``true``) would refuse it."""
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value


class CreateRun(_Strict):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"plan_id": "base_x_addition", "inputs": {"{number a}": "ffff", "{number b}": "1", "{base}": 16}}]})
    plan_id: str = Field(pattern=ID_PATTERN, description="a plan id of GET /api/plans")
    inputs: dict[str, Any] = Field(description="ground data by concept name (RUNTIME §3.3); `_` keys are comments")
    run_id: str | None = Field(default=None, pattern=ID_PATTERN, description="the new run's id (default: fresh)")
    model: str | None = Field(default=None, min_length=1, max_length=256, description="LLM model of the run")
    max_llm_calls: int | None = Field(default=None, ge=1, le=10**9, strict=True,
                                      description="budget: model calls of the run (at most the server's cap)")
    max_cost_usd: float | None = Field(default=None, gt=0, le=10**9,
                                       description="budget: model cost of the run in USD (at most the server's cap)")


class ResumeRun(_WithCycle):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"mode": "patch"}]})
    mode: Literal["patch", "overwrite", "fill-gaps"] = Field(description="reconciliation mode (RUNTIME §9.3-§9.5)")
    cycle: int | None = Field(default=None, ge=0, le=2**31, strict=True,
                              description="resume from this cycle's checkpoint (another checkpoint than the "
                                          "latest forks, §9.1)")
    plan_id: str | None = Field(default=None, pattern=ID_PATTERN,
                                description="resume against this plan (default: the run's own plan)")


class ForkRun(_WithCycle):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"cycle": 1, "mode": "patch"}]})
    cycle: int | None = Field(default=None, ge=0, le=2**31, strict=True,
                              description="fork from this cycle's checkpoint (default: the latest)")
    mode: Literal["patch", "overwrite", "fill-gaps"] = "patch"
    run_id: str | None = Field(default=None, pattern=ID_PATTERN, description="the new run's id (default: fresh)")
    plan_id: str | None = Field(default=None, pattern=ID_PATTERN,
                                description="fork against this plan (default: the run's own plan)")


class CancelRun(_Strict):
    """No fields: the body is ``{}`` (a POST must be JSON, see ``require_json``)."""


# Body-less POSTs still carry JSON (``{}``): the document says so, so that clients send the Content-Type the server
# requires of every POST; the server also takes an empty JSON body.
_BODY_REQUIRED: dict[str, Any] = {"requestBody": {"required": True}}


def require_json(request: Request) -> None:
    """Every POST says ``Content-Type: application/json`` (else 415), a body-less one too: an HTML form or a
    "simple" cross-site ``fetch`` cannot send that type without a CORS preflight, which this server never grants,
    so another web site cannot start, cancel or fork runs from a browser that can reach the server."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        shown = ctype if ctype.isascii() and ctype.isprintable() and len(ctype) <= 100 else "(unreadable)"
        raise ApiError(415, "unsupported_media_type",
                       f"a POST needs Content-Type: application/json (got {shown or 'none'})")


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class RunSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    run_id: str
    plan_id: str | None = None
    plan_hash: str | None = None
    status: str
    active: bool = False
    queued: bool = False
    owner: str | None = None
    parent_run_id: str | None = None
    parent_seq: int | None = None
    created_at: str | None = None
    finished_at: str | None = None


class RunList(BaseModel):
    runs: list[RunSummary]
    total: int
    limit: int
    offset: int


class RunDetail(RunSummary):
    outcome: dict[str, Any] | None = None
    counts: dict[str, int]
    executions: int
    steps: list[dict[str, Any]]
    usage: dict[str, Any]


class RunResult(BaseModel):
    run_id: str
    outcome: str
    final: dict[str, Any]
    cycles: int | None = None
    executed: int | None = None
    reasons: list[Any]


class PlanSummary(BaseModel):
    model_config = ConfigDict(extra="allow")
    plan_id: str
    ok: bool
    kind: str
    source: str
    plan_hash: str | None = None
    error: str | None = None
    content_hash: str | None = None
    ground: list[dict[str, Any]]
    final_concepts: list[str]
    inference_count: int


class PlanList(BaseModel):
    plans: list[PlanSummary]


class PlanDetail(PlanSummary):
    inferences: list[dict[str, Any]]
    graph: dict[str, Any]
    warnings: list[str]


class Health(BaseModel):
    status: str
    active_runs: int
    queued_runs: int
    open_streams: int = Field(description="event streams open now (GET /api/runs/{id}/events), all owners")


class StepEvent(BaseModel):
    """The ``data`` of a progress event (``runtime.server.events.row_event``): one result row's state, no values."""
    model_config = ConfigDict(extra="allow")
    n: int = Field(ge=1, description="the run's own result rows numbered from 1; also the SSE id")
    run_id: str
    kind: str | None
    flow_index: str | None
    inference_id: str | None
    iteration: str
    status: str | None
    concept: str | None
    cycle: int | None
    errors: list[Any]
    position: Any = Field(default=None, description="loop iterations: the iteration's position")


class AttemptEvent(BaseModel):
    """The ``data`` of an ``attempt`` event (``runtime.server.events.attempt_event``): a step's cell started
    (``running``) or one of its attempts failed (it may be retried); the step's result event supersedes it."""
    model_config = ConfigDict(extra="allow")
    run_id: str
    kind: Literal["attempt"]
    flow_index: str | None
    inference_id: str | None
    iteration: str
    status: str | None
    cell: list[Any]
    attempt: int | None
    cycle: int | None
    error_kind: str | None = None


class EndEvent(BaseModel):
    """The ``data`` of the final ``end`` event: the run's stored status and outcome once it has ended."""
    run_id: str
    status: str | None
    outcome: dict[str, Any] | None


def _sse_event_schema() -> dict[str, Any]:
    """The schema of one server-sent event as OpenAPI 3.1 tools read ``schema`` of ``text/event-stream`` (one event,
    parsed into its fields ``event`` (default ``message``), ``data``, ``id``, ``retry``); ``data`` is JSON."""
    def data(model: type[BaseModel]) -> dict[str, Any]:
        return {"type": "string", "contentMediaType": "application/json", "contentSchema": model.model_json_schema()}

    return {"oneOf": [
        {"type": "object", "title": "progress event", "required": ["event", "data", "id"],
         "properties": {"event": {"const": "message"}, "id": {"type": "string", "pattern": "^[1-9][0-9]*$"},
                        "data": data(StepEvent)}},
        {"type": "object", "title": "attempt event", "required": ["event", "data"],
         "properties": {"event": {"const": "attempt"}, "data": data(AttemptEvent)}},
        {"type": "object", "title": "end event", "required": ["event", "data"],
         "properties": {"event": {"const": "end"}, "data": data(EndEvent)}},
    ]}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    out: dict[int | str, dict[str, Any]] = {
        code: {"model": ErrorBody, "description": _STATUS_CODES.get(code, "error")} for code in codes}
    if 401 in out:
        out[401]["headers"] = {"WWW-Authenticate": {"description": "`Bearer realm=\"ncd-run\"`",
                                                    "schema": {"type": "string"}}}
    if 429 in out:
        out[429]["headers"] = {"Retry-After": {"description": "seconds to wait before trying again",
                                               "schema": {"type": "string", "pattern": "^[0-9]+$"}}}
    return out


def _created(description: str) -> dict[str, Any]:
    """A 201/202 answer naming the run in ``Location``."""
    return {"description": description,
            "headers": {"Location": {"description": "the run: `/api/runs/{run_id}`", "required": True,
                                     "schema": {"type": "string", "pattern": "^/api/runs/[^/]+$"}}}}


RunId = PathParam(pattern=ID_PATTERN, description="a run id (letters, digits, '-', '_', '.')")


# ---------------------------------------------------------------- middleware (pure ASGI)


async def _send_error(send: Any, status: int, code: str, message: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error_body(code, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413 before the app sees them (Content-Length or counted)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
                if size < 0:
                    raise ValueError
            except ValueError:
                await _send_error(send, 400, "bad_request", "the Content-Length header is not a number")
                return
            if size > self.limit:
                await _send_error(send, 413, "body_too_large",
                                  f"the request body has {size} bytes; the limit is {self.limit}")
                return
        chunks, total = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > self.limit:
                await _send_error(send, 413, "body_too_large", f"the request body exceeds {self.limit} bytes")
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body, given = b"".join(chunks), False

        async def replayed() -> dict:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replayed, send)


class BearerAuth:
    """With tokens: every ``/api/`` request needs ``Authorization: Bearer TOKEN`` (else 401); the owner is put in
    ``scope["ncd_owner"]``. Without tokens: the owner is None and nothing is checked."""

    def __init__(self, app: Any, auth: Authenticator) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            scope["ncd_owner"] = None
            if self.auth.enabled and scope["path"].startswith("/api/"):
                header = dict(scope.get("headers") or []).get(b"authorization")
                owner = self.auth.owner_of(header.decode("latin-1") if header is not None else None)
                if owner is None:
                    await _send_error(send, 401, "unauthorized",
                                      "a valid bearer token is required (Authorization: Bearer TOKEN)",
                                      [(b"www-authenticate", b'Bearer realm="ncd-run"')])
                    return
                scope["ncd_owner"] = owner
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- the app


def _allowed_methods(app: Any, scope: dict) -> list[str]:
    """Every method of the routes whose path matches ``scope`` (a route matching the path but not the method is a
    partial match)."""
    methods: set[str] = set()
    for route in app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(scope)[0] != Match.NONE:
            methods |= set(route_methods)
    return sorted(methods)


def _open_store(spec: Any) -> tuple[Store, bool]:
    """(store, whether the app owns it). ``spec``: a Store, ``{"db": FILE}`` / ``{"runs_dir": DIR}``, or a path
    (an existing directory is a runs directory, anything else a database file, as RUNTIME §13)."""
    if isinstance(spec, dict):
        return open_store(db=spec.get("db"), runs_dir=spec.get("runs_dir"),
                          busy_timeout_ms=int(spec.get("busy_timeout", 5000))), True
    return as_store(spec), spec is None or isinstance(spec, (str, Path))


def create_app(plans_dir: str | Path, store_spec: Any = None, tokens: dict[str, str] | None = None,
               max_runs: int = 4, per_run_concurrency: int = 4, max_body_bytes: int = MAX_BODY_BYTES,
               shutdown_grace_s: float = 30.0, limits: TenantLimits | None = None,
               max_streams_per_owner: int = 16, input_files_dir: str | Path | None = None,
               allowed_hosts: tuple[str, ...] | None = None,
               lease_seconds: float = DEFAULT_LEASE_SECONDS) -> FastAPI:
    """The run server app. ``tokens``: token → owner (``auth.read_token_file``); None or empty: an open server.
    ``input_files_dir``: where file signs of HTTP inputs are read (None: such signs are refused, server/inputs.py).
    ``allowed_hosts``: accepted ``Host`` header names (None: loopback names, ``*``: any)."""
    auth = Authenticator(tokens)
    files_dir = Path(input_files_dir).resolve() if input_files_dir is not None else None
    registry = PlanRegistry(plans_dir)
    plans_root = Path(plans_dir)
    # one scrubber for the JSON answers (the PathScrub middleware) and the events (scrubbed once when encoded)
    scrubber = PathScrubber(_server_roots(plans_root, files_dir, store_spec))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        store, owned = _open_store(store_spec)
        await run_in_threadpool(registry.refresh)
        manager = RunManager(store, registry, max_runs=max_runs, per_run_concurrency=per_run_concurrency,
                             shutdown_grace_s=shutdown_grace_s, limits=limits, input_files_dir=files_dir,
                             input_files_limit=max_body_bytes, lease_seconds=lease_seconds,
                             event_scrub=scrubber.scrub if scrubber.pairs else None)
        app.state.manager = manager
        await run_in_threadpool(manager.start)
        try:
            yield
        finally:
            finished = await run_in_threadpool(manager.close)
            if owned and finished:
                store.close()

    # docs_url/redoc_url None: FastAPI's pages load Swagger UI from a CDN; /docs below serves it from a package
    app = FastAPI(title="ncd-run serve", version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Multi-tenant run server for NormCode plans: start, watch, cancel, resume and fork "
                              "runs of shared plans. Errors: {\"error\": {\"code\", \"message\"}}.")
    app.state.registry = registry
    app.state.auth = auth
    streams = StreamLimiter(max_streams_per_owner)
    app.state.streams = streams
    bearer = [Security(HTTPBearer(auto_error=False, description="TOKEN of the server's --token-file"))] \
        if auth.enabled else []
    json_post = Depends(require_json)

    # ------------------------------------------------------------ errors

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))} for e in errors]
        bad_json = [e for e in errors if e.get("type") == "json_invalid"]
        if bad_json:
            ctx = bad_json[0].get("ctx") or {}
            return JSONResponse(error_body("malformed_json", f"the request body is not valid JSON: "
                                                             f"{ctx.get('error', bad_json[0].get('msg'))}"),
                                status_code=400)
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype and ctype != "application/json" and not ctype.endswith("+json") \
                and any(d["loc"][:1] == ["body"] for d in details):
            return JSONResponse(error_body("unsupported_media_type",
                                           f"the request body must be application/json, not {ctype}"),
                                status_code=415)
        if not ctype and any(d["loc"] == ["body"] and d["type"] == "model_attributes_type" for d in details):
            return JSONResponse(error_body("unsupported_media_type", "send the request body as application/json "
                                                                     "(Content-Type header missing)"),
                                status_code=415)
        message = "; ".join(f"{'.'.join(d['loc'])}: {d['msg']}" for d in details) or "invalid request"
        return JSONResponse(error_body("invalid_request", message, details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        if exc.status_code == 400 and message == "There was an error parsing the body":
            code, message = "malformed_json", "the request body cannot be parsed as JSON (nested too deeply?)"
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            # Starlette's router names only the methods of the first route whose path matches (POST of /api/runs,
            # not GET); Allow must list every method of the resource (RFC 9110 §15.5.6)
            allowed = _allowed_methods(request.app, request.scope)
            if allowed:
                headers["Allow"] = ", ".join(allowed)
                message = f"{request.method} is not allowed on {request.url.path} (allowed: {headers['Allow']})"
        return JSONResponse(error_body(code, message), status_code=exc.status_code, headers=headers or None)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("internal_error", f"internal error: {type(exc).__name__}"), status_code=500)

    # ------------------------------------------------------------ helpers

    def manager(request: Request) -> RunManager:
        found = getattr(request.app.state, "manager", None)
        if found is None:
            raise ApiError(503, "unavailable", "the server is starting")
        return found

    def viewer(request: Request) -> str | None:
        """Whose runs this request sees: its token's owner, or None (everything) on an open server."""
        return request.scope.get("ncd_owner")

    # ------------------------------------------------------------ pages

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> FileResponse:
        return FileResponse(STATIC / "docs.html", media_type="text/html; charset=utf-8")

    @app.get("/healthz", response_model=Health, tags=["server"])
    async def healthz(request: Request) -> dict[str, Any]:
        # async: answered on the event loop, never queued behind blocking handlers for a worker thread
        m = getattr(request.app.state, "manager", None)
        running, queued = m.counts() if m is not None else (0, 0)
        return {"status": "ok" if m is not None and not m.closing else "unavailable",
                "active_runs": running, "queued_runs": queued, "open_streams": streams.total}

    # ------------------------------------------------------------ plans

    @app.get("/api/plans", response_model=PlanList, tags=["plans"], dependencies=bearer,
             responses=_errors(401))
    def list_plans() -> dict[str, Any]:
        return {"plans": [plan_summary(e, plans_root) for e in registry.list()]}

    @app.get("/api/plans/{plan_id}", response_model=PlanDetail, tags=["plans"], dependencies=bearer,
             responses=_errors(401, 404, 422))
    def get_plan(plan_id: str = PathParam(pattern=ID_PATTERN)) -> dict[str, Any]:
        entry = registry.get(plan_id)
        if entry is None:
            raise ApiError(404, "plan_not_found", f"plan {plan_id!r} not found")
        return plan_detail(entry, plans_root)

    # ------------------------------------------------------------ runs

    @app.post("/api/runs", status_code=201, response_model=RunSummary, tags=["runs"],
              dependencies=[*bearer, json_post],
              responses={201: _created("the run was stored and queued"),
                         **_errors(400, 401, 409, 413, 415, 422, 429, 500, 503)})
    def create_run(request: Request, body: Annotated[CreateRun, Body()]) -> JSONResponse:
        doc = manager(request).create(plan_id=body.plan_id, inputs=body.inputs, run_id=body.run_id,
                                      model=body.model, owner=viewer(request),
                                      budgets={"max_llm_calls": body.max_llm_calls, "max_cost_usd": body.max_cost_usd})
        return JSONResponse(doc, status_code=201, headers={"Location": f"/api/runs/{doc['run_id']}"})

    @app.get("/api/runs", response_model=RunList, tags=["runs"], dependencies=bearer, responses=_errors(401, 422))
    def list_runs(request: Request,
                  status: Literal[RUN_STATUSES] | None = Query(default=None),  # type: ignore[valid-type]
                  plan_id: str | None = Query(default=None, pattern=ID_PATTERN),
                  parent_run_id: str | None = Query(default=None, pattern=ID_PATTERN),
                  limit: int = Query(default=100, ge=1, le=1000),
                  offset: int = Query(default=0, ge=0, le=10**9)) -> dict[str, Any]:
        return manager(request).list(viewer(request), status=status, plan_id=plan_id, parent_run_id=parent_run_id,
                                     limit=limit, offset=offset)

    @app.get("/api/runs/{run_id}", response_model=RunDetail, tags=["runs"], dependencies=bearer,
             responses=_errors(401, 404, 422))
    def get_run(request: Request, run_id: str = RunId) -> dict[str, Any]:
        return manager(request).detail(run_id, viewer(request))

    @app.get("/api/runs/{run_id}/result", response_model=RunResult, tags=["runs"], dependencies=bearer,
             responses=_errors(401, 404, 409, 422))
    def get_result(request: Request, run_id: str = RunId) -> dict[str, Any]:
        return manager(request).result(run_id, viewer(request))

    @app.post("/api/runs/{run_id}/cancel", status_code=202, response_model=RunSummary, tags=["runs"],
              dependencies=[*bearer, json_post], responses=_errors(400, 401, 404, 409, 413, 415, 422),
              openapi_extra=_BODY_REQUIRED)
    def cancel_run(request: Request, body: Annotated[CancelRun | None, Body()] = None,
                   run_id: str = RunId) -> dict[str, Any]:
        return manager(request).cancel(run_id, viewer(request))

    @app.post("/api/runs/{run_id}/resume", status_code=202, response_model=RunSummary, tags=["runs"],
              dependencies=[*bearer, json_post],
              responses={202: _created("the run continues under its id"),
                         201: {"model": RunSummary,
                               **_created("the resume forked a new run (RUNTIME §9.1)")},
                         **_errors(400, 401, 404, 409, 413, 415, 422, 429, 500, 503)})
    def resume_run(request: Request, body: Annotated[ResumeRun, Body()], run_id: str = RunId) -> JSONResponse:
        forked, doc = manager(request).resume(run_id, viewer(request), mode=body.mode, cycle=body.cycle,
                                              plan_id=body.plan_id)
        return JSONResponse(doc, status_code=201 if forked else 202,
                            headers={"Location": f"/api/runs/{doc['run_id']}"})

    @app.post("/api/runs/{run_id}/fork", status_code=201, response_model=RunSummary, tags=["runs"],
              dependencies=[*bearer, json_post], openapi_extra=_BODY_REQUIRED,
              responses={201: _created("the new run was stored and queued"),
                                              **_errors(400, 401, 404, 409, 413, 415, 422, 429, 500, 503)})
    def fork_run(request: Request, body: Annotated[ForkRun | None, Body()] = None,
                 run_id: str = RunId) -> JSONResponse:
        body = body or ForkRun()
        doc = manager(request).fork(run_id, viewer(request), viewer(request), cycle=body.cycle, mode=body.mode,
                                    new_run_id=body.run_id, plan_id=body.plan_id)
        return JSONResponse(doc, status_code=201, headers={"Location": f"/api/runs/{doc['run_id']}"})

    @app.get("/api/runs/{run_id}/events", tags=["runs"], dependencies=bearer, response_class=StreamingResponse,
             responses={200: {"description": "server-sent events: one per step state change — `attempt` "
                                             "(a step started; no id) and one per result row (`id` = `n`) — "
                                             "then one `end` event; `data` is JSON. The schema describes one "
                                             "event.",
                              "content": {"text/event-stream": {"schema": _sse_event_schema()}}},
                        **_errors(401, 404, 422, 429)})
    async def run_events(request: Request, run_id: str = RunId,
                         last_event_id: str | None = Header(default=None)) -> StreamingResponse:
        m = manager(request)
        try:
            after = max(0, int(last_event_id)) if last_event_id else 0
        except ValueError:
            after = 0
        owner = viewer(request)
        live, stored, end = await run_in_threadpool(m.events_source, run_id, owner)
        streams.acquire(owner)  # 429 past --max-streams-per-owner; released when the response is over
        if live is not None:
            body = stream(live, after)
        else:  # encoded (and scrubbed) in a worker thread, not in the event loop
            try:
                chunks = await run_in_threadpool(encode_replay, stored, end, after,
                                                 scrubber.scrub if scrubber.pairs else None)
            except BaseException:
                streams.release(owner)
                raise
            body = replay(chunks)
        return sse_response(body, lambda: streams.release(owner))

    # outermost first: tokens are checked before a body is read
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.add_middleware(BearerAuth, auth=auth)
    app.add_middleware(HostCheck, allowed_hosts=allowed_hosts or default_allowed_hosts("127.0.0.1"))
    app.add_middleware(PathScrub, scrubber=scrubber)
    app.add_middleware(SecurityHeaders)  # outermost: every answer carries the headers, errors of the others too
    return app


def _server_roots(plans_root: Path, files_dir: Path | None, store_spec: Any) -> list[tuple[Path, str]]:
    """Absolute server paths no answer may show, with what each becomes: plan paths become relative to the plans
    directory (as plan sources are shown), the rest a placeholder."""
    roots = [(Path.cwd(), "."), (plans_root.absolute(), ".")]
    if files_dir is not None:
        roots.append((files_dir, "<input-files-dir>"))
    spec = store_spec.get("db") or store_spec.get("runs_dir") if isinstance(store_spec, dict) else store_spec
    where = spec if isinstance(spec, (str, Path)) else getattr(spec, "path", None) or getattr(spec, "directory", None)
    if where is not None:
        roots.append((Path(where).absolute(), "<store>"))
    return roots


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, *, log_level: str = "info",
          graceful_timeout_s: int = 10, sock: socket.socket | None = None) -> None:
    """Run ``app`` under uvicorn until SIGINT/SIGTERM. On the signal, active runs are cancelled at once (so event
    streams end), then uvicorn stops and the lifespan waits for the runs to record ``interrupted``. ``sock``: an
    already bound socket (``server.listen``) to serve on instead of binding ``host``:``port``."""
    import uvicorn

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            manager = getattr(app.state, "manager", None)
            if manager is not None:
                manager.begin_shutdown()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="on",
                            timeout_graceful_shutdown=graceful_timeout_s)
    _Server(config).run(sockets=[sock] if sock is not None else None)
