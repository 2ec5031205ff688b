"""The HTTP application: `create_app` and its lifespan, which builds the engines once per process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import console
from api.console.auth import LoginRequired
from api.console.pages import STATIC_DIR, error_page
from api.console.session import login_redirect
from api.routes import analytics, answers, compliance, health, knowledge, templates, transparency, webhooks
from api.runtime import Runtime
from compliance.retention import RetentionSchedule
from core import migrate
from core.errors import InvalidInput, WeposError
from core.logs import configure_logging
from core.memory import scrub_freed_memory
from core.settings import load_settings

log = logging.getLogger(__name__)

# Every response is JSON or plain text for machines: nothing may be sniffed, framed, cached or referred.
# How long a stop waits for open connections before it closes them: a webhook or a page in flight ends well
# within it, while a console's event stream (open up to 25 s, then renewed) would hold the stop that long; the
# browser reconnects to the next process by itself.
GRACEFUL_SHUTDOWN_S = 3
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),  # /v1 answers carry personal data (exports, masked passages)
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
]
# The console's pages load their own stylesheet and script and nothing else: no inline code, no third party.
CONSOLE_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    b"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# FastAPI's interactive docs are HTML that loads Swagger UI / ReDoc from a CDN: no CSP there.
_DOCS_PATHS = ("/docs", "/redoc")


# Within the console a browser names the page a form came from (`Origin`), and sends `null` for one from
# another site: what `check_origin` relies on. Nothing is referred to other sites.
CONSOLE_REFERRER_POLICY = b"same-origin"
_CONSOLE_HEADERS = {b"content-security-policy": CONSOLE_CSP, b"referrer-policy": CONSOLE_REFERRER_POLICY}


class SecurityHeaders:
    """Adds `SECURITY_HEADERS` to every HTTP response (pure ASGI: request bodies stream through untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"].startswith(_DOCS_PATHS)
        console = scope["path"].startswith("/console")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [
                    (name, value)
                    for name, value in SECURITY_HEADERS
                    if name not in present and not (docs and name == b"content-security-policy")
                ]
                if console:
                    extra = [(n, _CONSOLE_HEADERS.get(n, v)) for n, v in extra]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(runtime: Runtime | None = None, *, run_worker: bool = True) -> FastAPI:
    """The app; without a runtime, settings are read from the environment now and the runtime is built from
    them at start-up (neither at import).

    With `run_worker` the turn worker runs as a thread of this process (the embedded default); without it,
    separate `wepos worker` processes answer, and this process only verifies and stores webhooks."""

    settings = runtime.settings if runtime is not None else load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        scrub_freed_memory()  # before any request puts personal data on the heap (see core.memory)
        rt = runtime or Runtime(settings)
        configure_logging(rt.settings.log_level, rt.settings.log_dir)
        migrate.ensure_current(rt.engine)
        app.state.runtime = rt
        app.state.run_worker = run_worker
        if run_worker:
            await run_in_threadpool(rt.build)
            rt.worker.start()
            # Knowledge uploads are processed where turns are answered (the `wepos worker` processes
            # otherwise): their masking and embedding never hold the CPU the acknowledgements need.
            rt.ingest_jobs.start()
        retention = RetentionSchedule(rt.engine)  # daily purge of conversations past their retention
        retention.start()
        log.info("wepos started", extra={"data_dir": str(rt.settings.data_dir)})
        try:
            yield
        finally:
            await run_in_threadpool(retention.stop)
            await run_in_threadpool(rt.close)

    # Without the schema FastAPI serves neither /openapi.json nor the /docs and /redoc pages built on it.
    docs = settings.api_docs_enabled
    app = FastAPI(
        title="Wepos", version="0.1.0", lifespan=lifespan, openapi_url="/openapi.json" if docs else None
    )
    app.add_middleware(SecurityHeaders)
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(knowledge.router)
    app.include_router(answers.router)
    app.include_router(compliance.router)
    app.include_router(transparency.router)
    app.include_router(analytics.router)
    app.include_router(templates.router)
    app.include_router(console.router)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")

    @app.exception_handler(WeposError)
    async def wepos_error(request: Request, exc: WeposError) -> Response:
        if request.url.path.startswith("/console"):
            # The console answers people: a page saying what went wrong, or the login form.
            return login_redirect(request) if isinstance(exc, LoginRequired) else error_page(request, exc)
        return JSONResponse({"error": exc.code, "detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        fields = [".".join(str(p) for p in e["loc"]) for e in exc.errors()]
        detail = f"invalid fields: {', '.join(fields)}"
        if request.url.path.startswith("/console"):
            return error_page(request, InvalidInput(detail), status=422)
        return JSONResponse({"error": "invalid_input", "detail": detail}, 422)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", extra={"error": type(exc).__name__})
        # This handler runs outside the middleware stack, so it adds the security headers itself.
        return JSONResponse(
            {"error": "internal_error", "detail": "something went wrong; it was logged"},
            500,
            headers={name.decode(): value.decode() for name, value in SECURITY_HEADERS},
        )

    return app
