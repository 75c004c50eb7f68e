"""The FastAPI application factory and its lifespan.

``uvicorn --factory api.main:create_app`` serves it with settings from the environment;
tests call ``create_app(settings, temporal_client=...)`` and enter the lifespan themselves.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version

import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from api.audit import AuditMiddleware
from api.errors import install_error_handlers
from api.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from api.openapi import install_problem_openapi
from api.routes import ROUTERS
from api.routes.codec import CodecCORSMiddleware
from api.temporal_client import ensure_temporal, init_temporal_state
from api.web import STATIC_DIR, STATIC_PATH
from core.config import Settings, get_settings
from core.crypto import FieldCipher
from core.keys import load_keyring
from core.logging import configure_logging
from db.session import make_engine, make_session_factory

log = structlog.get_logger("api")

DOCS_URL = "/docs"
REDOC_URL = "/redoc"
OPENAPI_URL = "/openapi.json"

DESCRIPTION = """
InsureFlow runs an insurance agency's processes (enrollment, claims, ...) as durable
Temporal workflows. Sign in at `POST /v1/auth/token` and send the token as
`Authorization: Bearer <token>`. Every error is `application/problem+json` with a stable
`code`; money is a decimal string in CNY (`"250000.00"`).
"""


def _package_version() -> str:
    try:
        return version("insureflow")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "0.0.0"


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start-up: logging, database engine, Temporal client. Shutdown: dispose the engine.

    What the caller already put on ``app.state`` (a session factory, a Temporal client)
    is used as is and left alone at shutdown.
    """
    settings: Settings = app.state.settings
    configure_logging(settings)
    # Configuration errors should stop the start-up, not surface on the first request.
    settings.resolved_jwt_secret()
    settings.trusted_proxy_networks  # noqa: B018 - a malformed address fails here
    app.state.field_cipher = FieldCipher(load_keyring(settings))

    engine = None
    if getattr(app.state, "session_factory", None) is None:
        engine = make_engine(
            settings.effective_database_url,
            pool_timeout=settings.db_pool_timeout,
            busy_timeout=settings.sqlite_busy_timeout,
        )
        app.state.session_factory = make_session_factory(engine)
    if app.state.temporal is None:
        # Failure is logged and tolerated: /readyz says 503 and requests retry lazily.
        await ensure_temporal(app, force=True)
    log.info("api_started", environment=settings.environment)
    try:
        yield
    finally:
        if engine is not None:
            await engine.dispose()
            app.state.session_factory = None


def create_app(
    settings: Settings | None = None, *, temporal_client: Client | None = None
) -> FastAPI:
    """The InsureFlow API. `settings` default to the environment's; `temporal_client`,
    if given, is used instead of connecting one at start-up."""
    settings = settings or get_settings()
    app = FastAPI(
        title="InsureFlow",
        version=_package_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=DOCS_URL,
        redoc_url=REDOC_URL,
        openapi_url=OPENAPI_URL,
    )
    app.state.settings = settings
    app.state.session_factory = None
    init_temporal_state(app, temporal_client)

    install_error_handlers(app)
    install_problem_openapi(app)
    # Added innermost first: the last one added wraps all the others.
    app.add_middleware(AuditMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    app.add_middleware(
        SecurityHeadersMiddleware,
        docs_paths=(DOCS_URL, REDOC_URL, f"{DOCS_URL}/oauth2-redirect"),
    )
    # Outermost: the Temporal UI (another origin) calls /codec, and must read its errors too.
    app.add_middleware(CodecCORSMiddleware, settings=settings)
    for router in ROUTERS:
        app.include_router(router)
    # The console's CSS and script (api.web): the pages' CSP allows no inline ones.
    app.mount(STATIC_PATH, StaticFiles(directory=STATIC_DIR), name="ui-static")
    return app
